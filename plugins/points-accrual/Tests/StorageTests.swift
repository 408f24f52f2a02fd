import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime
import Testing
@testable import PointsAccrual

/// How the plugin stores its ledger: what the lean hot path (one lot row per purchase, state
/// instants in the customer row, the sweep schedule in memory) must still get right, and the
/// migration of a database written by the previous schema.
@Suite struct StorageTests {
    static let start = ScenarioTests.start

    @Test func aReturnRightAfterThePendingPeriodTakesTheLotOutOfTheTierCount() throws {
        // The return is the first event after the lot's release: catching up releases the lot
        // into the tier count, and the return must take it out again.
        let h = try Harness(rules: """
            currency: NOK
            earning:
              pending: 14d
              rules:
                - id: base
                  points: purchase.total / 10 NOK
                - id: qualifying-bonus
                  when: customer.qualifyingPoints >= 50
                  bonus: 100
            """)
        try h.apply(Make.purchase("p1", customer: "C1", amount: 600_00, at: Self.start))         // 60 points, pending
        try h.apply(Make.refund("r1", of: "p1", customer: "C1", amount: 600_00, at: Self.start + 15 * Make.day))
        #expect(h.emitted("points.reversed").last?["points"] == .int(60))
        try h.apply(Make.purchase("p2", customer: "C1", amount: 10_00, at: Self.start + 16 * Make.day))
        #expect(h.emitted("points.accrued").last?["points"] == .int(1), "the returned points must not count as qualifying")
        #expect(try h.balance("C1", at: Self.start + 31 * Make.day).tierQualifying == 1)
    }

    @Test func aPurchaseThatEarnsNothingIsStillAReceiptForItsReturn() throws {
        let h = try Harness(rules: ScenarioTests.rules())
        try h.apply(Make.purchase("p1", customer: "C1", amount: 5_00, at: Self.start))            // 0.5 points: rounds to 0
        #expect(h.emitted("points.accrued").isEmpty)
        try h.apply(Make.refund("r1", of: "p1", customer: "C2", amount: 5_00, at: Self.start + 1))
        #expect(h.emitted("points.return-refused").last?["reason"] == .string("the receipt belongs to another customer"))
        try h.apply(Make.refund("r2", of: "p1", customer: "C1", amount: 5_00, at: Self.start + 2))
        #expect(h.emitted("points.return-refused").count == 1, "the buyer's own return is accepted, with nothing to take back")
        #expect(h.emitted("points.reversed").isEmpty)
    }

    @Test func pointsExpiringSoonerThanTheNoticePeriodAreNoticedAtOnce() throws {
        let h = try Harness(rules: ScenarioTests.rules(expiry: "60d", notice: "10d"))
        try h.apply(Make.purchase("p1", customer: "C1", amount: 100_00, at: Self.start))
        try h.apply(Make.purchase("x1", customer: "C2", amount: 10_00, at: Self.start + 55 * Make.day))   // notices out to day 65
        #expect(h.emitted("points.expiring").map { $0["customerId"] } == [.string("C1")])
        // The rules change to a 5-day expiry: a new lot expires before the notice mark.
        let book = try #require(RuleLoader.load(sources: [("rules.yaml", ScenarioTests.rules(expiry: "5d", notice: "10d"))]).book)
        h.plugin.rules.install(book)
        try h.apply(Make.purchase("p3", customer: "C3", amount: 50_00, at: Self.start + 55 * Make.day + 1))
        let notices = h.emitted("points.expiring").filter { $0["customerId"] == .string("C3") }
        #expect(notices.count == 1)
        #expect(notices.first?["points"] == .int(5))
        try h.apply(Make.purchase("x2", customer: "C2", amount: 10_00, at: Self.start + 57 * Make.day))
        #expect(h.emitted("points.expiring").filter { $0["customerId"] == .string("C3") }.count == 1, "told once")
    }

    @Test func aRolledBackSweepIsForgottenAndDoneAgain() throws {
        let h = try Harness(rules: ScenarioTests.rules(expiry: "30d", notice: "5d"))
        try h.apply(Make.purchase("p1", customer: "C1", amount: 100_00, at: Self.start))
        // An event after the expiry, in a transaction that then fails (a full disk, a crash of
        // the commit): its sweep expired the lot, and is rolled back with it.
        struct Abort: Error {}
        let late = Make.purchase("x1", customer: "C2", amount: 10_00, at: Self.start + 31 * Make.day)
        #expect(throws: Abort.self) {
            try h.pool.write { db in
                var emitter = Emitter(pluginName: h.plugin.name, input: late)
                try h.plugin.apply(StoredEvent(seq: 99, envelope: late), in: db, emit: &emitter)
                #expect(emitter.pending.contains { $0.type == "points.expired" })
                throw Abort()
            }
        }
        // The same event again, committed this time: the lot must expire, not be skipped as
        // already swept.
        try h.apply(late)
        #expect(h.emitted("points.expired").first?["points"] == .int(10))
        #expect(try h.balance("C1", at: Self.start + 32 * Make.day).available == 0)
    }

    @Test func theDayHistoryInTheCustomerRowFeedsTheRules() throws {
        let h = try Harness(rules: """
            currency: NOK
            timezone: Europe/Oslo
            earning:
              rules:
                - id: base
                  points: purchase.total / 10 NOK
                - id: regular
                  when: "customer.visits(days: 7) >= 3 and customer.spend(days: 7) >= 300 NOK"
                  bonus: 25
            """)
        for (index, day) in [0, 2, 4].enumerated() {
            try h.apply(Make.purchase("p\(index)", customer: "C1", amount: 100_00, at: Self.start + Int64(day) * Make.day))
        }
        #expect(h.emitted("points.accrued").map { $0["points"] } == [.int(10), .int(10), .int(35)])
        // Ten days on, the first visits are outside the window again.
        try h.apply(Make.purchase("p9", customer: "C1", amount: 100_00, at: Self.start + 14 * Make.day))
        #expect(h.emitted("points.accrued").last?["points"] == .int(10))
    }

    @Test func aDatabaseOfThePreviousSchemaIsMigratedWithItsLedgerIntact() throws {
        // Written by the v2 schema: purchases in their own table, accruals as ledger rows, the
        // day history in a table of days, a notice flag per lot.
        let folder = NSTemporaryDirectory() + "points-migration-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pool = try DatabasePool(path: folder + "/points.sqlite")
        var migrator = DatabaseMigrator()
        migrator.registerMigration("runtime outbox") { db in
            try db.execute(sql: "CREATE TABLE runtime_outbox (position INTEGER PRIMARY KEY AUTOINCREMENT, eventId TEXT NOT NULL UNIQUE, body BLOB NOT NULL)")
        }
        Schema.register(&migrator)
        try migrator.migrate(pool, upTo: "points-accrual v2 ledger")
        let day = Int(Self.start / Make.day)
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO customers (customerId, visits, spend, firstVisit, lastVisit, available, qualifying) VALUES ('C1', 2, 30000, ?, ?, 0, 0);
                INSERT INTO lots (lotId, customerId, eventId, earnedAt, points, remaining, pendingUntil, expiresOnDay, expiresAt, rulesVersion, rules)
                    VALUES (1, 'C1', 'p1', ?, 30, 30, ?, NULL, ?, 'v1', '[{"rule":"base","points":30}]');
                INSERT INTO purchases (eventId, customerId, total, returned, lotId) VALUES ('p1', 'C1', 30000, 0, 1);
                INSERT INTO purchases (eventId, customerId, total, returned, lotId) VALUES ('p0', 'C1', 500, 0, NULL);
                INSERT INTO ledger (customerId, at, kind, points, lotId, cause, rulesVersion, detail) VALUES ('C1', ?, 'accrued', 30, 1, 'p1', 'v1', '[]');
                INSERT INTO customer_days (customerId, day, visits, spend) VALUES ('C1', ?, 2, 30000);
                """, arguments: [Self.start, Self.start, Self.start, Self.start + 14 * Make.day, Self.start + 365 * Make.day, Self.start, day])
        }
        try migrator.migrate(pool)
        try pool.read { db in
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ledger WHERE kind = 'accrued'") == 0, "the lot is the accrual now")
            #expect(try Int64.fetchOne(db, sql: "SELECT total FROM lots WHERE eventId = 'p1'") == 30000)
            #expect(try Int64.fetchOne(db, sql: "SELECT points FROM lots WHERE eventId = 'p0'") == 0)
            #expect(try Int64.fetchOne(db, sql: "SELECT nextRelease FROM customers WHERE customerId = 'C1'") == Self.start + 14 * Make.day)
            let blob = try #require(try Data.fetchOne(db, sql: "SELECT days FROM customers WHERE customerId = 'C1'"))
            #expect(DayHistoryCodec.decode(blob).map(\.visits) == [2])
            #expect(try db.tableExists("purchases") == false)
        }
        // The migrated ledger goes on working: the pending lot is released, and a return of
        // the purchase that earned nothing is still matched to its buyer.
        let live = LiveRules()
        live.install(try #require(RuleLoader.load(sources: [("rules.yaml", ScenarioTests.rules(pending: "14d"))]).book))
        let plugin = PointsAccrualPlugin(rules: live)
        let refund = Make.refund("r0", of: "p0", customer: "C2", amount: 500, at: Self.start + 20 * Make.day)
        let emitted = try pool.write { db in
            var emitter = Emitter(pluginName: plugin.name, input: refund)
            try plugin.apply(StoredEvent(seq: 1, envelope: refund), in: db, emit: &emitter)
            return emitter.pending.map(\.type)
        }
        #expect(emitted == ["points.return-refused"])
        let balance = try pool.read { db in try Balance.of("C1", at: Self.start + 20 * Make.day, shortfall: .clawback, in: db) }
        #expect(balance.available == 30)
    }
}
