import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyTestSupport
@testable import PluginRuntime
import Testing

/// The plugin store's outbox as the bus link and the janitor use it: read forward by position,
/// and deleted by position once acknowledged, acks arriving in any order.
@Suite struct OutboxStoreTests {
    /// A store with `count` derived events queued by one run of purchases, positions 1...count.
    static func store(events count: Int, in directory: TemporaryDirectory) throws -> PluginStore {
        let store = try PluginStore(path: directory.path + "/plugin.sqlite", plugin: CountingPlugin())
        let events = (1...count).map { seq in
            StoredEvent(seq: Int64(seq), envelope: EventEnvelope(
                version: 1, eventId: "S001-T1-\(seq)", type: "purchase", occurredAt: Timestamp(epochMilliseconds: 1_767_225_600_000),
                source: "pos/S001/T1", seq: nil, payload: .derived(["n": .int(Int64(seq))])))
        }
        let queued = try store.apply(events, through: Int64(count), plugin: CountingPlugin()) { _, _ in }
        #expect(queued == count)
        return store
    }

    @Test func readsForwardFromAPositionWithTheStoredBytes() throws {
        let directory = try TemporaryDirectory("outbox-store")
        defer { directory.remove() }
        let store = try Self.store(events: 5, in: directory)
        let all = try store.outbox(after: 0, limit: 100)
        #expect(all.map(\.position) == [1, 2, 3, 4, 5])
        #expect(all.map(\.eventId) == (1...5).map { "S001-T1-\($0)/counting/seen" })
        for entry in all {
            let envelope = try EventCodec.decode(entry.body)
            #expect(envelope.eventId == entry.eventId)
            #expect(envelope.type == "test.seen")
        }
        #expect(try store.outbox(after: 3, limit: 1).map(\.position) == [4])
        #expect(try store.outbox(after: 5, limit: 10).isEmpty)
    }

    @Test func deletesExactlyTheAcknowledgedPositionsInAnyOrder() throws {
        let directory = try TemporaryDirectory("outbox-store")
        defer { directory.remove() }
        let store = try Self.store(events: 10, in: directory)
        // Out of order, with repeats and gaps: runs 1...3, 5, 7...8 and 10.
        try store.removeFromOutbox(positions: [8, 2, 10, 1, 3, 7, 5, 2])
        #expect(try store.outbox(after: 0, limit: 100).map(\.position) == [4, 6, 9])
        try store.removeFromOutbox(positions: [])
        #expect(try store.outbox(after: 0, limit: 100).map(\.position) == [4, 6, 9])
        // A position deleted before (an ack repeated after a resend) changes nothing else.
        try store.removeFromOutbox(positions: [1, 6])
        #expect(try store.outbox(after: 0, limit: 100).map(\.position) == [4, 9])
    }
}
