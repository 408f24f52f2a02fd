import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime
@testable import RewardRules

/// The plugin on a real SQLite file, fed events one at a time as the runtime would (each in its
/// own transaction), with what it emits collected.
final class Harness {
    let folder: String
    let pool: DatabasePool
    let plugin: RewardRulesPlugin
    let book: RuleBook
    var emitted: [(eventId: String, type: String, payload: JSONObject)] = []
    /// Every input event, in order: the journal a replay reads.
    var journal: [EventEnvelope] = []
    private var seq: Int64 = 0
    private var counter = 0

    static let header = "currency: NOK\ntimezone: UTC\n"

    init(rules: String, wallClock: @escaping @Sendable () -> Int64 = { start }) throws {
        folder = NSTemporaryDirectory() + "reward-rules-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        pool = try DatabasePool(path: folder + "/reward-rules.sqlite", configuration: configuration)
        let result = RuleLoader.load(sources: [("rewards.yaml", Self.header + rules)])
        guard let book = result.book else { throw HarnessError(message: "rules: \(result.diagnostics.map(\.description))") }
        self.book = book
        let live = LiveRules()
        live.install(book)
        plugin = RewardRulesPlugin(rules: live, wallClock: wallClock)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("runtime outbox") { db in
            try db.execute(sql: "CREATE TABLE runtime_outbox (position INTEGER PRIMARY KEY AUTOINCREMENT, eventId TEXT NOT NULL UNIQUE, body BLOB NOT NULL)")
        }
        plugin.registerMigrations(&migrator)
        try migrator.migrate(pool)
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    func apply(_ envelope: EventEnvelope) throws {
        seq += 1
        journal.append(envelope)
        let event = StoredEvent(seq: seq, envelope: envelope)
        let produced = try pool.write { db -> [(String, String, [UInt8])] in
            var emitter = Emitter(pluginName: plugin.name, input: envelope)
            try plugin.apply(event, in: db, emit: &emitter)
            return emitter.pending.map { ($0.eventId, $0.type, $0.body) }
        }
        for (id, type, body) in produced {
            guard case .derived(let payload) = try EventCodec.decode(body).payload else { continue }
            emitted.append((id, type, payload))
        }
    }

    func nextId(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)-\(counter)"
    }

    static func purchaseEvent(id: String, customer: String, at: Int64, amount: Int64 = 10_000, category: String = "coffee",
                              store: String = "S001") -> EventEnvelope {
        let line = PurchaseLine(sku: "SKU-\(category)", category: category, quantity: 1, unitPrice: amount)
        return EventEnvelope(eventId: id, occurredAt: Timestamp(epochMilliseconds: at), source: "pos/\(store)/T1",
                             payload: .purchase(Purchase(storeId: store, terminalId: "T1", receiptId: id, customerId: customer,
                                                         currency: .NOK, lines: [line])!))
    }

    @discardableResult
    func purchase(customer: String, at: Int64, amount: Int64 = 10_000, category: String = "coffee") throws -> String {
        let id = nextId("purchase")
        try apply(Self.purchaseEvent(id: id, customer: customer, at: at, amount: amount, category: category))
        return id
    }

    func returned(customer: String, original: String, at: Int64, amount: Int64) throws {
        let id = nextId("return")
        try apply(EventEnvelope(eventId: id, occurredAt: Timestamp(epochMilliseconds: at), source: "pos/S001/T1",
                                payload: .return(Return(storeId: "S001", terminalId: "T1", receiptId: id, customerId: customer,
                                                        originalEventId: original, currency: .NOK,
                                                        lines: [ReturnLine(sku: "SKU-coffee", quantity: 1, unitPrice: amount)], total: amount))))
    }

    func survey(_ nps: Int, customer: String, at: Int64) throws {
        try apply(EventEnvelope(eventId: nextId("survey"), occurredAt: Timestamp(epochMilliseconds: at), source: "pos/S001/T1",
                                payload: .survey(Survey(storeId: "S001", customerId: customer, nps: nps, drivers: [:], comment: nil))))
    }

    func derived(_ type: String, at: Int64, _ payload: JSONObject) throws {
        try apply(EventEnvelope(version: 1, eventId: nextId(type), type: type, occurredAt: Timestamp(epochMilliseconds: at),
                                source: "plugin/test", seq: nil, payload: .derived(payload)))
    }

    /// A `customer.scored` event, as the customer-scoring plugin emits it.
    func scored(_ customer: String, clv: Int64, percentile: Int64 = 50, pAlive: Double = 0.9, profit: Int64? = nil, at: Int64) throws {
        var payload: JSONObject = ["customerId": .string(customer), "clv": .int(clv), "clvPercentile": .int(percentile),
                                   "pAlive": .double(pAlive), "expectedPurchases": .double(1.5), "segment": .string("champions")]
        if let profit { payload["profitClv"] = .int(profit) }
        try derived("customer.scored", at: at, payload)
    }

    /// A `points.accrued` event, as the points plugin emits it.
    func accrued(_ customer: String, points: Int64, purchase: String, at: Int64, pendingUntil: Int64? = nil) throws {
        try derived("points.accrued", at: at, [
            "customerId": .string(customer), "purchaseEventId": .string(purchase), "points": .int(points),
            "pendingUntil": .string(Timestamp(epochMilliseconds: pendingUntil ?? at).rfc3339), "rulesVersion": .string("test"),
        ])
    }

    func events(_ type: String, rule: String? = nil, customer: String? = nil) -> [JSONObject] {
        emitted.filter { $0.type == type }.map(\.payload)
            .filter { rule == nil || $0.string("rule") == rule }
            .filter { customer == nil || $0.string("customerId") == customer }
    }

    func granted(_ rule: String? = nil, customer: String? = nil) -> [JSONObject] { events("reward.granted", rule: rule, customer: customer) }

    func tierChanges(_ customer: String? = nil) -> [JSONObject] { events("tier.changed", customer: customer) }

    func tier(_ customer: String) throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT tier FROM rr_customers WHERE customerId = ?", arguments: [customer]) }
    }

    func redeem(_ body: String, now: Int64? = nil) throws -> (ok: Bool, payload: JSONObject) {
        let response = try Redemption.handle(Array(body.utf8), pool: pool, plugin: plugin.name, now: now ?? plugin.wallClock())
        switch response {
        case .ok(let bytes):
            guard case .object(let object) = try JSONParser.parse(bytes) else { return (true, JSONObject()) }
            return (true, object)
        case .error(let message):
            return (false, ["error": .string(message)])
        }
    }

    /// The rewards table, in a stable order, for comparing two databases.
    func rewardRows() throws -> [String] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT rewardId, customerId, ruleId, rulesVersion, kind, value, sentence, grantedAt, expiresAt, status FROM rr_rewards ORDER BY rewardId
                """).map { $0.description }
        }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

let hour: Int64 = 3_600_000
let day: Int64 = 86_400_000
/// 2026-11-02T00:00:00Z, a Monday.
let start: Int64 = 1_793_577_600_000

extension JSONObject {
    func string(_ key: String) -> String? {
        if case .string(let text)? = self[key] { return text }
        return nil
    }

    func number(_ key: String) -> Double? {
        switch self[key] {
        case .int(let value)?: Double(value)
        case .double(let value)?: value
        default: nil
        }
    }
}
