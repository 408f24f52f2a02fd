import Foundation
import GRDB
import LoyaltyEvents
import Synchronization

/// Events a plugin emits outside `apply`, from a service handler (a redemption): written to the
/// runtime's outbox in the handler's own transaction, so the event exists if and only if the
/// change it announces was committed. The bus link sends it and deletes it once acknowledged.
public enum Outbox {
    /// Set when a handler queued an event, so the bus link sends it at once instead of at its
    /// next periodic scan.
    static let queuedByHandler = Atomic<Bool>(false)

    /// Queues an event; a second event with the same id is ignored (the first one stands). An id
    /// longer than the bus accepts is shortened as derived ids are (`DerivedEventId`).
    public static func enqueue(_ db: Database, eventId: String, type: String, plugin: String,
                               occurredAt: Timestamp, payload: JSONObject) throws {
        let eventId = DerivedEventId.make(eventId)
        let envelope = EventEnvelope(version: 1, eventId: eventId, type: type, occurredAt: occurredAt,
                                     source: "plugin/\(plugin)", seq: nil, payload: .derived(payload))
        try db.execute(sql: "INSERT INTO runtime_outbox (eventId, body) VALUES (?, ?) ON CONFLICT(eventId) DO NOTHING",
                       arguments: [eventId, Data(EventCodec.encode(envelope))])
        queuedByHandler.store(true, ordering: .releasing)
    }
}
