import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// `points.redeem`: spends points, oldest-expiring lots first, each spend linked to its lot.
/// Idempotent by the caller's key: a retry returns the first answer and spends nothing more.
/// The `points.redeemed` event it emits is applied back from the journal by a plugin that does
/// not have the redemption (a fresh database replaying history), so the journal stays the truth.
enum Redemption {
    static func handle(_ body: [UInt8], pool: DatabasePool, plugin: String, book: RuleBook) throws -> ServiceResponse {
        guard case .object(let query)? = try? JSONParser.parse(body),
              case .string(let customerId)? = query["customerId"], !customerId.isEmpty,
              case .int(let points)? = query["points"],
              case .string(let key)? = query["idempotencyKey"] else {
            return .error("expected {\"customerId\": \"C000042\", \"points\": 500, \"idempotencyKey\": \"till-7-000123\"}")
        }
        guard points > 0, points <= 100_000_000 else { return .error("points must be a whole number from 1 to 100000000, got \(points)") }
        guard !key.isEmpty, key.utf8.count <= 128 else { return .error("idempotencyKey must be 1 to 128 bytes") }
        let redemptionId = "\(customerId)/\(key)"
        let now = Timestamp.now().epochMilliseconds
        return try pool.write { db -> ServiceResponse in
            let ledger = Ledger(db: db)
            if let existing = try Row.fetchOne(db, sql: "SELECT customerId, points FROM redemptions WHERE redemptionId = ?", arguments: [redemptionId]) {
                guard existing["points"] as Int64 == points else {
                    return .error("idempotencyKey '\(key)' was already used for a redemption of \(existing["points"] as Int64) points")
                }
                return .ok(JSONWriter.serialize(try answer(redemptionId, customerId: customerId, points: points, replayed: true, db: db)))
            }
            var customer = try ledger.customer(customerId)
            try ledger.catchUp(&customer, now: now)
            let spendable = try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE customerId = ? AND pendingUntil <= ? AND expired = 0 AND remaining > 0
                    AND (expiresAt IS NULL OR expiresAt > ?)
                """, arguments: [customerId, customer.releasedThrough, now]) ?? 0
            let available = spendable - customer.owed
            guard available >= points else {
                try ledger.save(customer)
                return .error("balance short: \(max(available, 0)) points available, \(points) asked")
            }
            let taken = try ledger.take(points, from: &customer, firstLot: nil, now: now, spendableOnly: true)
            try db.execute(sql: "INSERT INTO redemptions (redemptionId, customerId, points, at) VALUES (?, ?, ?, ?)",
                           arguments: [redemptionId, customerId, points, now])
            for part in taken {
                try db.execute(sql: "INSERT INTO spends (redemptionId, lotId, points) VALUES (?, ?, ?)", arguments: [redemptionId, part.lotId, part.points])
                try ledger.record(customerId, at: now, kind: "redeemed", points: -part.points, lotId: part.lotId, cause: "redeem \(key)")
            }
            try ledger.save(customer)
            let result = try answer(redemptionId, customerId: customerId, points: points, replayed: false, db: db)
            guard case .object(let payload) = result else { return .error("internal: no answer") }
            try Outbox.enqueue(db, eventId: "points.redeem/\(redemptionId)", type: "points.redeemed", plugin: plugin,
                               occurredAt: Timestamp(epochMilliseconds: now), payload: payload)
            return .ok(JSONWriter.serialize(result))
        }
    }

    static func answer(_ redemptionId: String, customerId: String, points: Int64, replayed: Bool, db: Database) throws -> JSONValue {
        let spends = try Row.fetchAll(db, sql: """
            SELECT l.eventId, s.points FROM spends s JOIN lots l ON l.lotId = s.lotId WHERE s.redemptionId = ? ORDER BY s.spendId
            """, arguments: [redemptionId])
        var object: JSONObject = [
            "redemptionId": .string(redemptionId), "customerId": .string(customerId), "points": .int(points),
            "spends": .array(spends.map { .object(["purchaseEventId": .string($0[0]), "points": .int($0[1])]) }),
        ]
        if replayed { object["replayed"] = .bool(true) }
        return .object(object)
    }

    /// A `points.redeemed` event from the journal: applied only if this database does not have it.
    static func replay(_ payload: JSONObject, event: EventEnvelope, ledger: Ledger) throws {
        let db = ledger.db
        guard case .string(let redemptionId)? = payload["redemptionId"], case .string(let customerId)? = payload["customerId"],
              case .int(let points)? = payload["points"], case .array(let spends)? = payload["spends"] else { return }
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM redemptions WHERE redemptionId = ?", arguments: [redemptionId]) == true { return }
        let now = event.occurredAt.epochMilliseconds
        var customer = try ledger.customer(customerId)
        try ledger.catchUp(&customer, now: now)
        try db.execute(sql: "INSERT INTO redemptions (redemptionId, customerId, points, at) VALUES (?, ?, ?, ?)",
                       arguments: [redemptionId, customerId, points, now])
        for spend in spends {
            guard case .object(let item) = spend, case .string(let purchaseEventId)? = item["purchaseEventId"],
                  case .int(let part)? = item["points"],
                  let row = try Row.fetchOne(db, sql: "SELECT lotId, remaining, pendingUntil FROM lots WHERE eventId = ?", arguments: [purchaseEventId]) else { continue }
            let lotId: Int64 = row[0], remaining: Int64 = row[1], released = (row[2] as Int64) <= customer.releasedThrough
            let taken = min(part, remaining)
            guard taken > 0 else { continue }
            try db.execute(sql: "UPDATE lots SET remaining = remaining - ? WHERE lotId = ?", arguments: [taken, lotId])
            if released { customer.available -= taken }
            try db.execute(sql: "INSERT INTO spends (redemptionId, lotId, points) VALUES (?, ?, ?)", arguments: [redemptionId, lotId, taken])
            try ledger.record(customerId, at: now, kind: "redeemed", points: -taken, lotId: lotId, cause: event.eventId)
        }
        try ledger.save(customer)
    }
}
