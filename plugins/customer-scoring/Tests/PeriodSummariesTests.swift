import Foundation
import GRDB
import LoyaltyScoring
import Testing
@testable import CustomerScoring

/// `PeriodSummaries` against the definition it replaces: the stored rows as dated transactions,
/// through `TransactionSummary.summarize`, margins only for customers with every margin known.
@Suite struct PeriodSummariesTests {
    /// Rows as the plugin stores them, with what makes the one-pass reading easy to get wrong:
    /// one-period customers, negative spend after returns, a margin unknown in a later period than
    /// the first, ids whose byte order is not Swift's order, and periods after `end`.
    static func fill(_ db: Database, period: SummaryPeriod, seed: UInt64) throws -> [Int64] {
        var state = seed
        func next(_ bound: UInt64) -> Int64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int64((state >> 33) % bound)
        }
        let step: Int64 = period == .week ? 7 : 1
        let firstDay: Int64 = period == .week ? 20_454 : 20_450   // 20,454 is a Monday
        var ids = (0..<300).map { String(format: "C%05d", $0) }
        ids += ["é-accent", "e\u{301}-combining", "Z-upper", "a-lower", "~tilde", "日本-1", "C00010x"]
        var starts: [Int64] = []
        for id in ids {
            let periods = 1 + Int(next(12))
            var start = firstDay + next(40) * step
            for _ in 0..<periods {
                let spend = next(10) == 0 ? -next(500) : next(30_000)
                try db.execute(sql: """
                    INSERT INTO scoring_periods (customerId, periodStart, purchases, spend, margin, marginUnknown)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [id, start, 1 + next(3), spend, spend / 3 - next(50), next(15) == 0 ? 1 : 0])
                starts.append(start)
                start += (1 + next(6)) * step
            }
        }
        return starts
    }

    /// What `CustomerScoringPlugin.summaries` computed before `PeriodSummaries`.
    static func reference(_ db: Database, through end: Int64, customerId: String?, period: SummaryPeriod)
        throws -> (spend: [CustomerSummary], margin: [String: CustomerSummary])
    {
        let rows = try Row.fetchAll(db, sql: """
            SELECT customerId, periodStart, spend, margin, marginUnknown FROM scoring_periods
            WHERE (? IS NULL OR customerId = ?) AND periodStart <= ? ORDER BY customerId, periodStart
            """, arguments: [customerId, customerId, end])
        func transactions(_ rows: [Row], margin: Bool) -> [ScoringTransaction] {
            rows.map { row in
                ScoringTransaction(customerId: row["customerId"], date: Date(timeIntervalSince1970: Double(row["periodStart"] as Int64) * 86_400),
                                   amountMinor: margin ? row["margin"] : row["spend"])
            }
        }
        // The observation end: any instant in the period starting on `end`.
        let date = Date(timeIntervalSince1970: Double(end) * 86_400 + 3_600)
        let spend = TransactionSummary.summarize(transactions(rows, margin: false), observationEnd: date, period: period)
        let unknown = Set(rows.filter { ($0["marginUnknown"] as Int64) > 0 }.map { $0["customerId"] as String })
        let known = rows.filter { !unknown.contains($0["customerId"]) }
        let margin = TransactionSummary.summarize(transactions(known, margin: true), observationEnd: date, period: period)
        return (spend, Dictionary(uniqueKeysWithValues: margin.map { ($0.customerId, $0) }))
    }

    @Test(arguments: [SummaryPeriod.week, .day])
    func equalsTheBatchDefinitionForEveryCustomerAndEachAlone(period: SummaryPeriod) throws {
        let queue = try DatabaseQueue()
        var migrator = DatabaseMigrator()
        CustomerScoringPlugin().registerMigrations(&migrator)
        try migrator.migrate(queue)
        try queue.write { db in
            let starts = try Self.fill(db, period: period, seed: period == .week ? 7 : 11).sorted()
            // Ends before, inside and after the data: some rows are after `end`, some customers not there yet.
            let ends = [starts[0], starts[starts.count / 4], starts[starts.count / 2], starts[starts.count * 9 / 10], starts.last!]
            for end in ends {
                let fast = try PeriodSummaries.read(db, through: end, period: period)
                let slow = try Self.reference(db, through: end, customerId: nil, period: period)
                #expect(fast.spend == slow.spend, "end \(end)")
                #expect(fast.margin == slow.margin, "end \(end)")
                #expect(fast.spend.map(\.customerId) == fast.spend.map(\.customerId).sorted(), "in Swift's order of ids")
                for id in ["C00000", "C00017", "é-accent", "e\u{301}-combining", "日本-1", "nobody"] {
                    let one = try PeriodSummaries.read(db, through: end, customerId: id, period: period)
                    let reference = try Self.reference(db, through: end, customerId: id, period: period)
                    #expect(one.spend == reference.spend, "\(id) at \(end)")
                    #expect(one.margin == reference.margin, "\(id) at \(end)")
                }
            }
            // The data has what the test is for.
            let all = try PeriodSummaries.read(db, through: starts.last!, period: period)
            #expect(all.spend.count == 307)
            #expect(all.spend.contains { $0.frequency == 0 } && all.spend.contains { $0.frequency >= 5 })
            #expect(all.margin.count < all.spend.count && all.margin.count > 100)
        }
    }
}
