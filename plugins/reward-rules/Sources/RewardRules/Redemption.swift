import Foundation
import GRDB
import LoyaltyEvents
import PluginRuntime

/// `reward.redeem`: the till takes a reward (a free item, a voucher). Idempotent by the caller's
/// key: a retry gets the first answer. Safe against concurrent use, also from several processes
/// on one database: the reward's status moves from `active` in one conditional UPDATE, and
/// `rr_redemptions.rewardId` is UNIQUE, so a reward is redeemed at most once whatever the
/// interleaving. The `reward.redeemed` event goes through the outbox in the same transaction and
/// is applied back from the journal by a database that does not have it (a replay).
enum Redemption {
    static func handle(_ body: [UInt8], pool: DatabasePool, plugin: String, now: Int64) throws -> ServiceResponse {
        guard case .object(let query)? = try? JSONParser.parse(body),
              case .string(let customerId)? = query["customerId"], Engine.validId(customerId),
              case .string(let rewardId)? = query["rewardId"], !rewardId.isEmpty, rewardId.utf8.count <= 512,
              case .string(let key)? = query["idempotencyKey"] else {
            return .error("expected {\"customerId\": \"C000042\", \"rewardId\": \"...\", \"idempotencyKey\": \"till-7-000123\"}")
        }
        guard Ids.isValid(key) else { return .error("idempotencyKey must be 1 to 128 characters of A-Z a-z 0-9 . _ : / @ # -") }
        let redemptionId = "\(customerId)/\(key)"
        let eventId = Ids.key("reward.redeem", redemptionId, fixed: 0)
        return try pool.write { db -> ServiceResponse in
            if let existing = try Row.fetchOne(db, sql: "SELECT rewardId, at FROM rr_redemptions WHERE redemptionId = ?", arguments: [redemptionId]) {
                guard existing[0] as String == rewardId else {
                    return .error("idempotencyKey '\(key)' was already used to redeem reward '\(existing[0] as String)'")
                }
                return .ok(JSONWriter.serialize(.object(try answer(rewardId: rewardId, redemptionId: redemptionId, key: key, at: existing[1],
                                                                     replayed: true, db: db))))
            }
            guard let reward = try Row.fetchOne(db, sql: "SELECT customerId, kind, status, expiresAt, redeemedAt FROM rr_rewards WHERE rewardId = ?",
                                                arguments: [rewardId]) else {
                return .error("no reward '\(rewardId)'")
            }
            guard reward[0] as String == customerId else { return .error("reward '\(rewardId)' belongs to another customer") }
            let kind: String = reward[1]
            guard kind == "free-item" || kind == "voucher" else {
                return .error("a \(kind) reward is applied when it is given; there is nothing to redeem")
            }
            let status: String = reward[2]
            let expiresAt: Int64? = reward[3]
            switch status {
            case "redeemed":
                return .error("reward '\(rewardId)' was already redeemed at \(Timestamp(epochMilliseconds: reward[4] ?? 0).rfc3339)")
            case "expired":
                return .error("reward '\(rewardId)' expired at \(Timestamp(epochMilliseconds: expiresAt ?? 0).rfc3339)")
            default: break
            }
            if let expiresAt, expiresAt <= now {
                return .error("reward '\(rewardId)' expired at \(Timestamp(epochMilliseconds: expiresAt).rfc3339)")
            }
            try db.execute(sql: "UPDATE rr_rewards SET status = 'redeemed', redeemedAt = ? WHERE rewardId = ? AND status = 'active'",
                           arguments: [now, rewardId])
            guard db.changesCount == 1 else { return .error("reward '\(rewardId)' is no longer active") }
            try db.execute(sql: "INSERT INTO rr_redemptions (redemptionId, rewardId, customerId, at) VALUES (?, ?, ?, ?)",
                           arguments: [redemptionId, rewardId, customerId, now])
            let payload = try answer(rewardId: rewardId, redemptionId: redemptionId, key: key, at: now, replayed: false, db: db)
            try Outbox.enqueue(db, eventId: eventId, type: RewardRulesPlugin.redeemedType, plugin: plugin,
                               occurredAt: Timestamp(epochMilliseconds: now), payload: payload)
            return .ok(JSONWriter.serialize(.object(payload)))
        }
    }

    static func answer(rewardId: String, redemptionId: String, key: String, at: Int64, replayed: Bool, db: Database) throws -> JSONObject {
        let row = try Row.fetchOne(db, sql: "SELECT customerId, ruleId, rulesVersion, kind, grantText, value, sentence FROM rr_rewards WHERE rewardId = ?",
                                   arguments: [rewardId])
        var object: JSONObject = [
            "rewardId": .string(rewardId), "redemptionId": .string(redemptionId), "idempotencyKey": .string(key),
            "redeemedAt": .string(Timestamp(epochMilliseconds: at).rfc3339),
        ]
        if let row {
            object["customerId"] = .string(row[0])
            object["rule"] = .string(row[1])
            object["rulesVersion"] = .string(row[2])
            object["kind"] = .string(row[3])
            object["grant"] = .string(row[4])
            object["value"] = .int(row[5])
            object["sentence"] = .string("Redeemed: \(row[6] as String)")
        }
        if replayed { object["replayed"] = .bool(true) }
        return object
    }

    /// A `reward.redeemed` event from the journal: applied only if this database does not have it.
    static func replay(_ payload: JSONObject, at: Int64, db: Database) throws {
        guard case .string(let redemptionId)? = payload["redemptionId"], case .string(let rewardId)? = payload["rewardId"],
              case .string(let customerId)? = payload["customerId"] else { return }
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM rr_redemptions WHERE redemptionId = ? OR rewardId = ?", arguments: [redemptionId, rewardId]) == true { return }
        // The journal is the truth: a reward redeemed at the till counts as redeemed even if
        // this replay had already let it lapse.
        try db.execute(sql: "UPDATE rr_rewards SET status = 'redeemed', redeemedAt = ? WHERE rewardId = ? AND customerId = ? AND status IN ('active', 'expired')",
                       arguments: [at, rewardId, customerId])
        guard db.changesCount == 1 else { return }
        try db.execute(sql: "INSERT INTO rr_redemptions (redemptionId, rewardId, customerId, at) VALUES (?, ?, ?, ?)",
                       arguments: [redemptionId, rewardId, customerId, at])
    }

    /// `reward.list`: a customer's rewards, newest first, and their tier.
    static func list(_ body: [UInt8], pool: DatabasePool) throws -> ServiceResponse {
        guard case .object(let query)? = try? JSONParser.parse(body), case .string(let customerId)? = query["customerId"], Engine.validId(customerId) else {
            return .error("expected {\"customerId\": \"C000042\"}")
        }
        return try pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT rewardId, ruleId, rulesVersion, kind, grantText, value, sentence, grantedAt, expiresAt, status
                FROM rr_rewards WHERE customerId = ? ORDER BY grantedAt DESC, rewardId LIMIT 500
                """, arguments: [customerId])
            let tier = try String.fetchOne(db, sql: "SELECT tier FROM rr_customers WHERE customerId = ?", arguments: [customerId])
            var object: JSONObject = ["customerId": .string(customerId)]
            if let tier { object["tier"] = .string(tier) }
            object["rewards"] = .array(rows.map { row in
                var reward: JSONObject = [
                    "rewardId": .string(row[0]), "rule": .string(row[1]), "rulesVersion": .string(row[2]), "kind": .string(row[3]),
                    "grant": .string(row[4]), "value": .int(row[5]), "sentence": .string(row[6]),
                    "grantedAt": .string(Timestamp(epochMilliseconds: row[7]).rfc3339), "status": .string(row[9]),
                ]
                if let expiresAt = row[8] as Int64? { reward["expiresAt"] = .string(Timestamp(epochMilliseconds: expiresAt).rfc3339) }
                return .object(reward)
            })
            return .ok(JSONWriter.serialize(.object(object)))
        }
    }
}
