import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules

/// A customer's points at an instant, worked out from the lots themselves.
struct Balance {
    var customerId: String
    /// Spendable now (below zero only under `returnShortfall: negative`).
    var available: Int64 = 0
    /// In their return window: not spendable, not counting for tiers.
    var pending: Int64 = 0
    /// Spendable points that lapse within 30 days.
    var expiringIn30Days: Int64 = 0
    /// Released points earned in the last 365 days, net of returns (what tiers count).
    var tierQualifying: Int64 = 0
    /// Taken back by returns after they were spent, not yet repaid.
    var owed: Int64 = 0
    var tier: String?

    static func of(_ customerId: String, at now: Int64, shortfall: EarningPolicy.Shortfall, in db: Database) throws -> Balance {
        var balance = Balance(customerId: customerId)
        // Cached statements and a cursor: a balance is asked at every till, and compiling the
        // SQL each time cost more than running it.
        // Tier-qualifying points are what was earned (net of returns) in the tier window,
        // whether spent or expired since, as the rules' customer.qualifyingPoints counts them.
        let window = Ledger.qualifyingWindow
        let rows = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT points, remaining, reversed, pendingUntil, expiresAt, earnedAt, expired FROM lots
            WHERE customerId = ? AND (expired = 0 OR earnedAt > ?)
            """), arguments: [customerId, now - window])
        while let row = try rows.next() {
            let points: Int64 = row[0], remaining: Int64 = row[1], reversed: Int64 = row[2], pendingUntil: Int64 = row[3]
            let expiresAt: Int64? = row[4], earnedAt: Int64 = row[5], expired: Bool = row[6]
            if pendingUntil <= now && earnedAt + window > now { balance.tierQualifying += points - reversed }
            if expired { continue }
            if let expiresAt, expiresAt <= now { continue }
            if pendingUntil > now {
                balance.pending += remaining
                continue
            }
            balance.available += remaining
            if let expiresAt, expiresAt <= now + 30 * 86_400_000 { balance.expiringIn30Days += remaining }
        }
        if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT owed, tier FROM customers WHERE customerId = ?"), arguments: [customerId]) {
            balance.owed = row[0]
            balance.tier = row[1]
        }
        if shortfall == .negative { balance.available -= balance.owed }
        return balance
    }

    var json: JSONValue {
        .object([
            "customerId": .string(customerId), "available": .int(available), "pending": .int(pending),
            "expiringIn30Days": .int(expiringIn30Days), "tierQualifying": .int(tierQualifying), "owed": .int(owed),
            "tier": tier.map { .string($0) } ?? .null,
        ])
    }
}
