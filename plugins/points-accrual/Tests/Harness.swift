import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime
@testable import PointsAccrual

/// The plugin on a real SQLite file, fed events one at a time as the runtime would (each in its
/// own transaction), with what it emits collected.
final class Harness {
    let folder: String
    let pool: DatabasePool
    let plugin: PointsAccrualPlugin
    var emitted: [(eventId: String, type: String, payload: JSONObject)] = []
    private var seq: Int64 = 0

    init(rules: String) throws {
        folder = NSTemporaryDirectory() + "points-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        pool = try DatabasePool(path: folder + "/points.sqlite")
        let result = RuleLoader.load(sources: [("rules.yaml", rules)])
        guard let book = result.book else { throw HarnessError(message: "rules: \(result.diagnostics.map(\.description))") }
        let live = LiveRules()
        live.install(book)
        plugin = PointsAccrualPlugin(rules: live)
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

    func redeem(_ customer: String, _ points: Int64, key: String) throws -> ServiceResponse {
        let body = JSONWriter.serialize(.object(["customerId": .string(customer), "points": .int(points), "idempotencyKey": .string(key)]))
        return try plugin.services["points.redeem"]!(ServiceRequest(service: "points.redeem", body: body), pool)
    }

    /// The `points.redeemed` events the redemptions queued, as the bus would deliver them back.
    func outbox() throws -> [EventEnvelope] {
        try pool.read { db in
            try Data.fetchAll(db, sql: "SELECT body FROM runtime_outbox ORDER BY position").map { try EventCodec.decode([UInt8]($0)) }
        }
    }

    /// The balance as `points.balance` answers it (the service thread's own connection), checked
    /// against the same figures read through GRDB, so every test that asks a balance holds both.
    func balance(_ customer: String, at now: Int64) throws -> Balance {
        let shortfall = plugin.rules.current.earning?.shortfall ?? .clawback
        let viaGRDB = try pool.read { db in try Balance.of(customer, at: now, shortfall: shortfall, in: db) }
        let viaService = try Balance.of(customer, at: now, shortfall: shortfall, reader: plugin.balanceReader, pool: pool)
        guard viaService == viaGRDB else {
            throw HarnessError(message: "points.balance read \(viaService) but the ledger through GRDB says \(viaGRDB)")
        }
        return viaService
    }

    func emitted(_ type: String) -> [JSONObject] { emitted.filter { $0.type == type }.map(\.payload) }
}

struct HarnessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

enum Make {
    static let day: Int64 = 86_400_000

    static func purchase(_ id: String, customer: String?, amount: Int64, at: Int64, category: String = "meat") -> EventEnvelope {
        let line = PurchaseLine(sku: "SKU-\(category)", category: category, quantity: 1, unitPrice: amount)
        return EventEnvelope(eventId: id, occurredAt: Timestamp(epochMilliseconds: at), source: "pos/S001/T1",
                             payload: .purchase(Purchase(storeId: "S001", terminalId: "T1", receiptId: id, customerId: customer,
                                                         currency: .NOK, lines: [line])!))
    }

    static func refund(_ id: String, of original: String, customer: String?, amount: Int64, at: Int64) -> EventEnvelope {
        EventEnvelope(eventId: id, occurredAt: Timestamp(epochMilliseconds: at), source: "pos/S001/T1",
                      payload: .return(Return(storeId: "S001", terminalId: "T1", receiptId: id, customerId: customer,
                                              originalEventId: original, currency: .NOK,
                                              lines: [ReturnLine(sku: "SKU", quantity: 1, unitPrice: amount)], total: amount)))
    }
}

extension ServiceResponse {
    var okObject: JSONObject? {
        if case .ok(let body) = self, case .object(let object)? = try? JSONParser.parse(body) { return object }
        return nil
    }

    var errorText: String? {
        if case .error(let text) = self { return text }
        return nil
    }
}
