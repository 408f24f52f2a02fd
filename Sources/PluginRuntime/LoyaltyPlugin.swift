import GRDB
import LoyaltyEvents
import LoyaltyRules

/// What a plugin is: the events it applies, its own tables, and the services it answers.
/// The runtime calls `apply` inside the transaction that also records "applied up to seq N",
/// so an effect is never lost or doubled, whatever process dies at whatever instant.
public protocol LoyaltyPlugin: Sendable {
    /// The plugin's name, as in `plugins/<name>/plugin.yaml`.
    var name: String { get }
    /// Event types (topics) the plugin applies. Others are skipped.
    var topics: Set<String> { get }
    /// Registers the plugin's own migrations, in order.
    func registerMigrations(_ migrator: inout DatabaseMigrator)
    /// Applies one stored event. Throwing rolls back this event's writes only; the runtime
    /// records the failure and goes on (a plugin bug must not stop the chain's other effects).
    /// To get there the runtime may roll back a whole run and apply it again, so anything a
    /// plugin keeps in memory beside its tables must follow the transaction's fate
    /// (`Database.afterNextTransaction(onCommit:onRollback:)`, registered once per transaction:
    /// GRDB asks every registered hook about each later statement, and a catch-up run holds
    /// thousands of events).
    func apply(_ event: StoredEvent, in db: Database, emit: inout Emitter) throws
    /// Service name → handler, e.g. `store-counter.count`.
    var services: [String: ServiceHandler] { get }
    /// The rules this plugin evaluates, if it reads rule files. The runtime loads them from the
    /// configured rules folder before the first event, reloads them when the files change, and
    /// keeps the last good rules when a change has errors.
    var liveRules: LiveRules? { get }
}

extension LoyaltyPlugin {
    public var services: [String: ServiceHandler] { [:] }
    public var liveRules: LiveRules? { nil }
}

/// An event as the plugin sees it: its place in the journal and its decoded envelope.
public struct StoredEvent: Sendable {
    public let seq: Int64
    public let envelope: EventEnvelope

    public init(seq: Int64, envelope: EventEnvelope) {
        self.seq = seq
        self.envelope = envelope
    }
}

/// Events a plugin derives from the one it applies. Their ids are made from the input's id,
/// their time is the input's time, so re-deriving after a crash yields the same bytes and the
/// bus stores them once.
public struct Emitter {
    let pluginName: String
    let input: EventEnvelope
    /// What was emitted so far: the runtime writes it to the outbox; tests read it.
    public private(set) var pending: [(eventId: String, type: String, body: [UInt8])] = []

    public init(pluginName: String, input: EventEnvelope) {
        self.pluginName = pluginName
        self.input = input
    }

    /// - Parameter key: distinguishes several events derived from one input (e.g. a rule id).
    public mutating func emit(type: String, key: String, payload: JSONObject) {
        let eventId = DerivedEventId.make("\(input.eventId)/\(pluginName)/\(key)")
        let envelope = EventEnvelope(version: 1, eventId: eventId, type: type, occurredAt: input.occurredAt,
                                     source: "plugin/\(pluginName)", seq: nil, payload: .derived(payload))
        pending.append((eventId, type, EventCodec.encode(envelope)))
    }
}

/// A service request as the plugin sees it.
public struct ServiceRequest: Sendable {
    public let service: String
    public let body: [UInt8]

    public init(service: String, body: [UInt8]) {
        self.service = service
        self.body = body
    }
}

/// The answer: ok with a body, or a refusal with a reason the caller can act on.
public enum ServiceResponse: Sendable {
    case ok([UInt8])
    case error(String)
}

/// Handlers run on the runtime's worker thread with the plugin's database.
public typealias ServiceHandler = @Sendable (ServiceRequest, DatabasePool) throws -> ServiceResponse
