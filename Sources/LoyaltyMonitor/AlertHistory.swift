import LoyaltyEvents
import LoyaltyWire
import ZeroMQ

/// An alert event (`alert.raised`, `alert.resolved`, `alert.config`) read back from the bus, as
/// `loyalty alerts` prints it and the dashboard shows it.
public struct AlertRecord: Sendable, Equatable {
    public static let topics = ["alert.raised", "alert.resolved", "alert.config"]

    public var seq: Int64
    public var type: String
    public var eventId: String
    public var occurredAt: Timestamp
    /// The event's payload as the plugin wrote it.
    public var payload: JSONObject

    /// nil for an event that is not a decodable alert.
    public init?(_ event: PublishedEvent) {
        guard let envelope = try? EventCodec.decode(event.envelope), case .derived(let payload) = envelope.payload,
              envelope.type.hasPrefix("alert.") else { return nil }
        seq = event.seq
        type = envelope.type
        eventId = envelope.eventId
        occurredAt = envelope.occurredAt
        self.payload = payload
    }

    public func text(_ key: String) -> String? {
        if case .string(let value)? = payload[key] { return value }
        return nil
    }

    /// survey, nps-below, churn-risk, ... or "config" for a refused rules file.
    public var kind: String { type == "alert.config" ? "config" : text("kind") ?? "?" }
    public var severity: String? { text("severity") }
    public var storeId: String? { text("storeId") }
    public var customerId: String? { text("customerId") }
    public var rule: String? { text("rule") }
    public var message: String? { text("message") }
    /// What to do about it (raised alerts).
    public var action: String? { text("action") }
    /// Why it no longer stands (resolved alerts).
    public var reason: String? { text("reason") }
    /// RAISED, RESOLVED or CONFIG.
    public var state: String {
        switch type {
        case "alert.raised": "RAISED"
        case "alert.resolved": "RESOLVED"
        default: "CONFIG"
        }
    }
    /// The store, "chain" for a chain-wide alert, nil when neither applies.
    public var place: String? { storeId ?? (text("scope") == "chain" ? "chain" : nil) }
}

/// What one replay request came back with.
public enum ReplayOutcome: Sendable {
    case batch(ReplayBatch)
    /// The bus answered with an error (e.g. a malformed request); the text says why.
    case refused(String)
    /// No answer in time, or the caller asked to stop.
    case noAnswer
}

/// The replay endpoint's client side: "the events of these topics after seq N". Blocking; use it
/// on the thread that owns the socket (a DEALER connected to `bus.replay`).
public enum ReplayFetch {
    public static func fetch(_ replay: Socket, after: Int64, topics: [String], limit: Int = 1000, timeoutMilliseconds: Int = 3000,
                             shouldStop: () -> Bool = { false }) throws(ZMQError) -> ReplayOutcome {
        _ = try replay.send(ReplayRequest(after: after, limit: limit, topics: topics).frames)
        var poller = Poller()
        poller.add(replay)
        let deadline = Monotonic.now + timeoutMilliseconds
        while let remaining = Monotonic.remaining(until: deadline), !shouldStop() {
            guard try poller.poll(timeoutMilliseconds: min(remaining, 200))[0].contains(.readable),
                  let frames = try replay.receive(dontWait: true) else { continue }
            guard let batch = ReplayBatch(frames: frames) else {
                return .refused(frames.dropFirst().map(\.frameText).joined(separator: ": "))
            }
            // A late answer to an earlier request that timed out.
            if batch.scannedThrough < min(after, batch.head) { continue }
            return .batch(batch)
        }
        return .noAnswer
    }
}

public enum AlertHistory {
    /// The seq just before the `count` latest alert events of the journal, read from the file
    /// read-only (the `type, seq` index makes it a short walk), so a reader can replay only
    /// those; 0 when the journal holds fewer, nil when it cannot be read. Blocking (SQLite).
    public static func startOfLatest(_ count: Int, journalPath: String) -> Int64? {
        let topics = AlertRecord.topics.map { "'\($0)'" }.joined(separator: ",")
        guard let found = EngineStatus.readInt(path: journalPath, sql: """
            SELECT COALESCE((SELECT seq FROM journal WHERE type IN (\(topics)) ORDER BY seq DESC LIMIT 1 OFFSET \(max(0, count))), 0)
            """) else { return nil }
        return found
    }
}
