import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyTestSupport
import PluginRuntime
import Testing
@testable import DiscountCampaigns

/// What a purchase reads of the counters, and the migration that keyed them for it.
@Suite struct CountersTests {
    static let rules = """
        currency: NOK
        timezone: Europe/Oslo
        campaigns:
          - id: welcome
            discount: { amount: 10 NOK }
            budget: { perCustomer: 3, perDay: 1000 }
          - id: coffee
            lines: category == "coffee"
            discount: { percent: 10 }
            budget: { perCustomer: 5 }
        """

    /// Every statement a purchase runs is a search by key, except the campaign totals (a row per
    /// campaign of the rule files): nothing that grows with customers or days is scanned.
    @Test func aPurchaseScansNothingThatGrowsWithTheChain() throws {
        let h = try Harness(rules: Self.rules)
        h.clock.set("2026-11-27T12:00:00+01:00")
        try h.apply((0..<300).map { n in
            Make.purchase("p\(n)", customer: "C\(n % 100)", at: "2026-11-27T12:00:00+01:00", lines: [("coffee", 1, 4_000)])
        })
        final class Statements { var sql: [String] = [] }
        let seen = Statements()
        try h.pool.write { db in
            db.trace { event in
                if case .statement(let statement) = event { seen.sql.append(statement.sql) }
            }
            defer { db.trace(nil) }
            let envelope = Make.purchase("last", customer: "C7", at: "2026-11-27T13:00:00+01:00", lines: [("coffee", 2, 4_000)])
            var emitter = Emitter(pluginName: h.plugin.name, input: envelope)
            try h.plugin.apply(StoredEvent(seq: 1_000, envelope: envelope), in: db, emit: &emitter)
        }
        let statements = seen.sql.filter { $0.contains("campaign_") || $0.contains("customers") }
        #expect(statements.contains { $0.contains("FROM campaign_customers WHERE customerId") }, "\(statements)")
        #expect(statements.contains { $0.contains("FROM campaign_days WHERE day") }, "\(statements)")
        for sql in statements {
            let placeholders = sql.filter { $0 == "?" }.count
            let plan = try h.pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql,
                                 arguments: StatementArguments(Array(repeating: DatabaseValue.null, count: placeholders)))
                    .map { $0["detail"] as String }
            }
            let scans = plan.filter { $0.hasPrefix("SCAN") && !$0.hasPrefix("SCAN campaign_usage") }
            #expect(scans.isEmpty, "\(sql): \(plan)")
        }
    }

    /// A database of the first version keeps its counters through the migration that re-keys them.
    @Test func countersWrittenBeforeTheRekeyingAreKept() throws {
        let folder = try TemporaryDirectory("campaigns-migration")
        defer { folder.remove() }
        let queue = try DatabaseQueue(path: folder.path + "/campaigns.sqlite")
        var migrator = DatabaseMigrator()
        Schema.register(&migrator)
        try migrator.migrate(queue, upTo: "discount-campaigns v1")
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO campaign_customers (campaignId, customerId, redemptions) VALUES ('welcome', 'C1', 2), ('coffee', 'C1', 1), ('welcome', 'C2', 3);
                INSERT INTO campaign_days (campaignId, day, redemptions) VALUES ('welcome', 20419, 7), ('coffee', 20419, 4), ('welcome', 20420, 1);
                """)
        }
        try migrator.migrate(queue)
        try queue.read { db in
            let customers = try Row.fetchAll(db, sql: "SELECT campaignId, customerId, redemptions FROM campaign_customers ORDER BY 2, 1")
                .map { "\($0[0] as String)/\($0[1] as String)=\($0[2] as Int)" }
            #expect(customers == ["coffee/C1=1", "welcome/C1=2", "welcome/C2=3"])
            let days = try Row.fetchAll(db, sql: "SELECT campaignId, day, redemptions FROM campaign_days ORDER BY 2, 1")
                .map { "\($0[0] as String)/\($0[1] as Int)=\($0[2] as Int)" }
            #expect(days == ["coffee/20419=4", "welcome/20419=7", "welcome/20420=1"])
        }
    }
}
