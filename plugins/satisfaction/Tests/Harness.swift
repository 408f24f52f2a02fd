import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime
@testable import Satisfaction

/// The plugin on a real SQLite file, fed events one at a time as the runtime would (each in its
/// own transaction), with what it emits collected.
final class Harness {
    let folder: String
    let pool: DatabasePool
    let plugin: SatisfactionPlugin
    var emitted: [(eventId: String, type: String, payload: JSONObject)] = []
    private var seq: Int64 = 0
    private var counter = 0

    static let header = "currency: NOK\ntimezone: UTC\n"

    init(rules: String) throws {
        folder = NSTemporaryDirectory() + "satisfaction-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        pool = try DatabasePool(path: folder + "/satisfaction.sqlite")
        let result = RuleLoader.load(sources: [("alerts.yaml", Self.header + rules)])
        guard let book = result.book else { throw HarnessError(message: "rules: \(result.diagnostics.map(\.description))") }
        let live = LiveRules()
        live.install(book)
        plugin = SatisfactionPlugin(rules: live)
        var migrator = DatabaseMigrator()
        plugin.registerMigrations(&migrator)
        try migrator.migrate(pool)
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    func apply(_ envelope: EventEnvelope) throws {
        seq += 1
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

    /// A survey answer at `at` (epoch ms).
    func survey(_ nps: Int, store: String = "S001", customer: String? = nil, at: Int64, drivers: [String: Int] = [:], comment: String? = nil) throws {
        try apply(EventEnvelope(eventId: nextId("survey"), occurredAt: Timestamp(epochMilliseconds: at), source: "pos/\(store)/T1",
                                payload: .survey(Survey(storeId: store, customerId: customer, nps: nps, drivers: drivers, comment: comment))))
    }

    func purchase(customer: String, store: String = "S001", at: Int64, amount: Int64 = 10_000) throws {
        let id = nextId("purchase")
        let line = PurchaseLine(sku: "SKU-1", category: "coffee", quantity: 1, unitPrice: amount)
        try apply(EventEnvelope(eventId: id, occurredAt: Timestamp(epochMilliseconds: at), source: "pos/\(store)/T1",
                                payload: .purchase(Purchase(storeId: store, terminalId: "T1", receiptId: id, customerId: customer,
                                                            currency: .NOK, lines: [line])!)))
    }

    /// A synthetic `customer.scored` event, as the customer-scoring plugin emits it.
    func scored(_ customer: String, clvPercentile: Int64, pAlive: Double, clv: Int64 = 500_000, at: Int64) throws {
        try apply(EventEnvelope(version: 1, eventId: nextId("scored"), type: "customer.scored", occurredAt: Timestamp(epochMilliseconds: at),
                                source: "plugin/customer-scoring", seq: nil,
                                payload: .derived(["customerId": .string(customer), "clv": .int(clv), "clvPercentile": .int(clvPercentile),
                                                   "pAlive": .double(pAlive), "expectedPurchases": .double(1.5), "segment": .string("champions")])))
    }

    func raised(_ rule: String? = nil) -> [JSONObject] {
        emitted.filter { $0.type == "alert.raised" }.map(\.payload).filter { rule == nil || $0["rule"] == .string(rule!) }
    }

    func resolved(_ rule: String? = nil) -> [JSONObject] {
        emitted.filter { $0.type == "alert.resolved" }.map(\.payload).filter { rule == nil || $0["rule"] == .string(rule!) }
    }

    func standing() throws -> Int { try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sat_alerts") ?? 0 } }
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

    var details: JSONObject {
        if case .object(let object)? = self["details"] { return object }
        return JSONObject()
    }
}
