import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime
import Synchronization
@testable import DiscountCampaigns

/// The plugin on a real SQLite file, fed events one at a time as the runtime would (each in its
/// own transaction), its services called as the runtime's link thread would, with a clock the
/// test sets.
final class Harness {
    let folder: String
    let pool: DatabasePool
    let plugin: DiscountCampaignsPlugin
    let clock: Clock
    var emitted: [(eventId: String, type: String, payload: JSONObject)] = []
    private var seq: Int64 = 0

    final class Clock: Sendable {
        let value = Atomic<Int64>(0)
        func set(_ text: String) { value.store(Timestamp.parse(text)!.epochMilliseconds, ordering: .relaxed) }
    }

    init(rules: String) throws {
        folder = NSTemporaryDirectory() + "campaigns-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        pool = try DatabasePool(path: folder + "/campaigns.sqlite")
        let result = RuleLoader.load(sources: [("campaigns.yaml", rules)])
        guard let book = result.book else { throw HarnessError(message: "rules: \(result.diagnostics.map(\.description))") }
        let live = LiveRules()
        live.install(book)
        let clock = Clock()
        self.clock = clock
        plugin = DiscountCampaignsPlugin(rules: live, now: { clock.value.load(ordering: .relaxed) })
        var migrator = DatabaseMigrator()
        migrator.registerMigration("runtime outbox") { db in
            try db.execute(sql: "CREATE TABLE runtime_outbox (position INTEGER PRIMARY KEY AUTOINCREMENT, eventId TEXT NOT NULL UNIQUE, body BLOB NOT NULL)")
        }
        plugin.registerMigrations(&migrator)
        try migrator.migrate(pool)
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    /// Applies events in one transaction, as the runtime applies a run.
    func apply(_ envelopes: EventEnvelope...) throws { try apply(envelopes) }

    /// Applies events in one transaction, as the runtime applies a run.
    func apply(_ envelopes: [EventEnvelope]) throws {
        let produced = try pool.write { db -> [(String, String, [UInt8])] in
            var all: [(String, String, [UInt8])] = []
            for envelope in envelopes {
                seq += 1
                var emitter = Emitter(pluginName: plugin.name, input: envelope)
                try plugin.apply(StoredEvent(seq: seq, envelope: envelope), in: db, emit: &emitter)
                all += emitter.pending.map { ($0.eventId, $0.type, $0.body) }
            }
            return all
        }
        for (id, type, body) in produced {
            guard case .derived(let payload) = try EventCodec.decode(body).payload else { continue }
            emitted.append((id, type, payload))
        }
    }

    func call(_ service: String, _ body: JSONValue) throws -> ServiceResponse {
        try plugin.services[service]!(ServiceRequest(service: service, body: JSONWriter.serialize(body)), pool)
    }

    /// A quote for `lines` (category, quantity, unit price in øre).
    func quote(customer: String? = nil, store: String = "S001", at: String? = nil, codes: [String] = [],
               lines: [(String, Int64, Int64)]) throws -> Quote {
        var request: JSONObject = ["storeId": .string(store), "lines": .array(lines.enumerated().map { n, line in
            .object(["sku": .string("SKU-\(n)"), "category": .string(line.0), "quantity": .int(line.1), "unitPrice": .int(line.2)])
        })]
        if let customer { request["customerId"] = .string(customer) }
        if let at { request["at"] = .string(at) }
        if !codes.isEmpty { request["codes"] = .array(codes.map { .string($0) }) }
        let response = try call("campaign.quote", .object(request))
        guard let object = response.okObject else { throw HarnessError(message: "quote refused: \(response.errorText ?? "?")") }
        return Quote(object)
    }

    func emitted(_ type: String) -> [JSONObject] { emitted.filter { $0.type == type }.map(\.payload) }
}

struct Quote {
    var json: JSONObject
    init(_ json: JSONObject) { self.json = json }

    var id: String { if case .string(let s)? = json["quoteId"] { s } else { "" } }
    var discount: Int64 { if case .int(let n)? = json["discount"] { n } else { -1 } }
    var total: Int64 { if case .int(let n)? = json["total"] { n } else { -1 } }
    /// campaign id → discount
    var applied: [String: Int64] {
        guard case .array(let items)? = json["applied"] else { return [:] }
        var result: [String: Int64] = [:]
        for case .object(let item) in items {
            if case .string(let id)? = item["campaign"], case .int(let n)? = item["discount"] { result[id] = n }
        }
        return result
    }
    var appliedOrder: [String] {
        guard case .array(let items)? = json["applied"] else { return [] }
        return items.compactMap { if case .object(let o) = $0, case .string(let id)? = o["campaign"] { id } else { nil } }
    }
    /// campaign id → reason
    var notApplied: [String: String] {
        guard case .array(let items)? = json["notApplied"] else { return [:] }
        var result: [String: String] = [:]
        for case .object(let item) in items {
            if case .string(let id)? = item["campaign"], case .string(let reason)? = item["reason"] { result[id] = reason }
        }
        return result
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

enum Make {
    /// A purchase at `at` (RFC 3339) of `lines` (category, quantity, unit price in øre).
    static func purchase(_ id: String, customer: String? = nil, store: String = "S001", at: String, quoteId: String? = nil,
                         codes: [String] = [], lines: [(String, Int64, Int64)]) -> EventEnvelope {
        let purchaseLines = lines.enumerated().map { n, line in PurchaseLine(sku: "SKU-\(n)", category: line.0, quantity: line.1, unitPrice: line.2) }
        return EventEnvelope(eventId: id, occurredAt: Timestamp.parse(at)!, source: "pos/\(store)/T1",
                             payload: .purchase(Purchase(storeId: store, terminalId: "T1", receiptId: id, customerId: customer,
                                                         currency: .NOK, lines: purchaseLines, quoteId: quoteId, couponCodes: codes)!))
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
