import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyTestSupport
import Testing
@testable import PointsAccrual

@Suite struct PropertyTests {
    /// Redemptions use the wall clock; events run from a year ago up to a little before now.
    static func run(_ operations: [PointsOperation], harness h: Harness) throws -> (ReferenceLedger, failures: [String]) {
        var model = ReferenceLedger()
        var clock = Timestamp.now().epochMilliseconds - 400 * Make.day
        var failures: [String] = []
        for op in operations {
            switch op.kind {
            case .purchase(let amount):
                try h.apply(Make.purchase(op.id, customer: op.customer, amount: amount, at: clock))
                model.purchase(op.id, customer: op.customer, amount: amount, at: clock)
            case .refund(let original, let amount, let claimant):
                try h.apply(Make.refund(op.id, of: original, customer: claimant, amount: amount, at: clock))
                if claimant == op.customer { model.refund(of: original, customer: claimant, amount: amount, at: clock) } else { model.expire(at: clock) }
            case .redeem(let points, let key):
                let now = Timestamp.now().epochMilliseconds
                let expected = model.redeem(op.customer, points, key: key, at: now)
                let answer = try h.redeem(op.customer, points, key: key)
                if (answer.okObject != nil) != expected, answer.errorText?.contains("already used") != true {
                    failures.append("\(op): plugin \(answer), model \(expected)")
                }
            case .advance(let milliseconds):
                clock = min(clock + milliseconds, Timestamp.now().epochMilliseconds - Make.day)
            }
        }
        return (model, failures)
    }

    static func invariants(_ h: Harness) throws -> [String] {
        try h.pool.read { db in
            var problems: [String] = []
            if let n = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM lots WHERE remaining < 0 OR remaining > points"), n > 0 {
                problems.append("\(n) lots below zero or above their points")
            }
            if let n = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM redemptions r WHERE r.points != (SELECT COALESCE(SUM(points), 0) FROM spends s WHERE s.redemptionId = r.redemptionId)
                """), n > 0 {
                problems.append("\(n) redemptions whose spends do not add up")
            }
            if let n = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM spends s LEFT JOIN lots l ON l.lotId = s.lotId WHERE l.lotId IS NULL"), n > 0 {
                problems.append("\(n) spends linked to no lot")
            }
            // Every lot's points are accounted for by the ledger: accrued − what left it.
            if let n = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM lots l WHERE l.remaining != l.points + (SELECT COALESCE(SUM(points), 0) FROM ledger e
                    WHERE e.lotId = l.lotId AND e.kind IN ('reversed', 'redeemed', 'expired', 'repaid'))
                """), n > 0 {
                problems.append("\(n) lots whose ledger entries do not explain their remaining points")
            }
            return problems
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8, 20_261_123] as [UInt64])
    func balancesMatchTheModel(seed: UInt64) throws {
        let h = try Harness(rules: ReferenceLedger.rules)
        let operations = PointsOperation.random(count: 400, seed: seed)
        let (model, failures) = try Self.run(operations, harness: h)
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        let now = Timestamp.now().epochMilliseconds
        for customer in ["C1", "C2", "C3"] {
            let balance = try h.balance(customer, at: now)
            #expect(balance.available + balance.owed == model.available(customer, at: now) + model.owed[customer, default: 0],
                    "\(customer): plugin \(balance), model available \(model.available(customer, at: now)) owed \(model.owed[customer, default: 0])")
            #expect(balance.owed == model.owed[customer, default: 0])
            #expect(balance.pending == model.pending(customer, at: now))
        }
        let problems = try Self.invariants(h)
        #expect(problems.isEmpty, "\(problems)")
        // The running figure the rules read (customer.qualifyingPoints), brought up to now,
        // equals the tier-qualifying points counted from the lots themselves.
        for customer in ["C1", "C2", "C3"] {
            let running = try h.pool.write { db -> Int64 in
                let ledger = Ledger(db: db)
                var record = try ledger.customer(customer)
                try ledger.catchUp(&record, now: now)
                return record.qualifying
            }
            #expect(running == (try h.balance(customer, at: now)).tierQualifying, "\(customer)")
        }
    }
}
