import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// A customer's points at an instant, worked out from the lots themselves.
struct Balance: Equatable {
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

    /// What the balance is made of: the lots that can still count, and the customer row.
    static let lotsSQL = """
        SELECT points, remaining, reversed, pendingUntil, expiresAt, earnedAt, expired FROM lots
        WHERE customerId = ? AND (expired = 0 OR earnedAt > ?)
        """
    static let customerSQL = "SELECT owed, tier FROM customers WHERE customerId = ?"

    /// One lot's figures, as the balance reads them.
    struct Lot {
        var points: Int64, remaining: Int64, reversed: Int64, pendingUntil: Int64
        var expiresAt: Int64?, earnedAt: Int64, expired: Bool
    }

    /// Through GRDB, in a transaction the caller holds (tests, and anything already in one).
    static func of(_ customerId: String, at now: Int64, shortfall: EarningPolicy.Shortfall, in db: Database) throws -> Balance {
        var balance = Balance(customerId: customerId)
        let rows = try Row.fetchCursor(db.cachedStatement(sql: lotsSQL), arguments: [customerId, now - Ledger.qualifyingWindow])
        while let row = try rows.next() {
            balance.add(Lot(points: row[0], remaining: row[1], reversed: row[2], pendingUntil: row[3], expiresAt: row[4],
                            earnedAt: row[5], expired: row[6]), now: now)
        }
        if let row = try Row.fetchOne(db.cachedStatement(sql: customerSQL), arguments: [customerId]) {
            balance.owed = row[0]
            balance.tier = row[1]
        }
        balance.settle(shortfall)
        return balance
    }

    /// Through the service thread's own connection: what `points.balance` answers, at every
    /// till, without GRDB's pool in the way (see `ServiceReader`). Same queries, same result.
    static func of(_ customerId: String, at now: Int64, shortfall: EarningPolicy.Shortfall, reader: ServiceReader,
                   pool: DatabasePool) throws -> Balance {
        try reader.read(pool) { transaction in
            var balance = Balance(customerId: customerId)
            try transaction.forEachRow(lotsSQL, [.text(customerId), .int(now - Ledger.qualifyingWindow)]) { row in
                balance.add(Lot(points: row.int64(0), remaining: row.int64(1), reversed: row.int64(2), pendingUntil: row.int64(3),
                                expiresAt: row.optionalInt64(4), earnedAt: row.int64(5), expired: row.bool(6)), now: now)
            }
            try transaction.forEachRow(customerSQL, [.text(customerId)]) { row in
                balance.owed = row.int64(0)
                balance.tier = row.optionalText(1)
            }
            balance.settle(shortfall)
            return balance
        }
    }

    /// Tier-qualifying points are what was earned (net of returns) in the tier window, whether
    /// spent or expired since, as the rules' customer.qualifyingPoints counts them.
    private mutating func add(_ lot: Lot, now: Int64) {
        if lot.pendingUntil <= now && lot.earnedAt + Ledger.qualifyingWindow > now { tierQualifying += lot.points - lot.reversed }
        if lot.expired { return }
        if let expiresAt = lot.expiresAt, expiresAt <= now { return }
        if lot.pendingUntil > now {
            pending += lot.remaining
            return
        }
        available += lot.remaining
        if let expiresAt = lot.expiresAt, expiresAt <= now + 30 * 86_400_000 { expiringIn30Days += lot.remaining }
    }

    private mutating func settle(_ shortfall: EarningPolicy.Shortfall) {
        if shortfall == .negative { available -= owed }
    }

    var json: JSONValue {
        .object([
            "customerId": .string(customerId), "available": .int(available), "pending": .int(pending),
            "expiringIn30Days": .int(expiringIn30Days), "tierQualifying": .int(tierQualifying), "owed": .int(owed),
            "tier": tier.map { .string($0) } ?? .null,
        ])
    }
}
