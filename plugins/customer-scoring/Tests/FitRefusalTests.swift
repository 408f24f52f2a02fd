import Foundation
import GRDB
import Logging
import LoyaltyEvents
import LoyaltyScoring
import LoyaltySimulation
import LoyaltyTestSupport
import PluginRuntime
import Testing
@testable import CustomerScoring

/// Short histories, degenerate parameters, and the fit that stays in force.
@Suite(.serialized) struct FitRefusalTests {
    /// The simulated chain from its first day: every customer starts at once, so early on nobody has
    /// more than a few days of history, the situation that produced fits with r in the millions.
    static func chain(customers: Int, events: Int) -> [StoredEvent] {
        var configuration = ChainSimulator.Configuration()
        configuration.customers = customers
        var simulator = ChainSimulator(configuration: configuration)
        return (1...events).map { StoredEvent(seq: Int64($0), envelope: simulator.next()!) }
    }

    static func day(_ event: StoredEvent) -> Int64 { (event.envelope.occurredAt.epochMilliseconds - 1_767_225_600_000) / 86_400_000 }

    @Test func shortHistoriesAreRefusedWithAReasonAndTheLastGoodFitStays() throws {
        let events = Self.chain(customers: 300, events: 5_000)
        var settings = ScoringSettings()
        settings.refitEvery = 250
        var store = try ScoringDatabase(settings)

        // Three weeks: every attempt is refused, with the reason, and nobody is scored.
        let short = events.prefix { Self.day($0) < 21 }
        try store.apply(Array(short))
        let early = try store.rows("SELECT error FROM scoring_fit_failures").map { $0[0] }
        #expect(!early.isEmpty)
        #expect(early.allSatisfy { $0.contains("minimumHistoryPeriods") || $0.contains("minimumRepeatCustomers") }, "\(early)")
        #expect(early.contains { $0.contains("history spans 2.0 weeks; a fit needs at least 4 (minimumHistoryPeriods)") }, "\(early)")
        #expect(try store.int("SELECT COUNT(*) FROM scoring_fits") == 0)
        #expect(try store.int("SELECT COUNT(*) FROM scoring_scores") == 0)

        // Once the history is long enough, a fit is adopted, inside the plausible range, and scores everyone.
        let rest = Array(events.dropFirst(short.count))
        let middle = rest.count / 2
        try store.apply(Array(rest.prefix(middle)))
        let fits = try store.rows("SELECT fitSeq, r, b, a, ggQ FROM scoring_fits ORDER BY fitSeq")
        try #require(!fits.isEmpty)
        for fit in fits {
            let (r, b, a, q) = (Double(fit[1])!, Double(fit[2])!, Double(fit[3])!, Double(fit[4])!)
            #expect(r >= FitGate.lowest && r <= FitGate.highest && b >= FitGate.lowest && b <= FitGate.highest, "fit \(fit)")
            #expect(a > 0 && q > 1, "fit \(fit)")
        }
        let customers = try store.int("SELECT customers FROM scoring_state")
        #expect(try store.int("SELECT COUNT(*) FROM scoring_scores") == customers)
        let kept = try store.int("SELECT currentFitSeq FROM scoring_state")
        #expect(kept == Int64(fits.last![0])!)

        // A refit that is refused (here: the bar raised out of reach) leaves the fit in force, which
        // goes on scoring the customers who buy.
        store.plugin.settings.minimumRepeatCustomers = 1_000_000
        store.plugin.settings.refitEvery = 100
        let failuresBefore = try store.int("SELECT COUNT(*) FROM scoring_fit_failures")
        let lastSeqBefore = rest[middle - 1].seq
        try store.apply(Array(rest.dropFirst(middle)))
        #expect(try store.int("SELECT COUNT(*) FROM scoring_fits") == Int64(fits.count))
        #expect(try store.int("SELECT currentFitSeq FROM scoring_state") == kept)
        let refused = try store.rows("SELECT error FROM scoring_fit_failures ORDER BY seq").dropFirst(Int(failuresBefore)).map { $0[0] }
        #expect(refused.count >= 5)
        #expect(refused.allSatisfy { $0.contains("minimumRepeatCustomers") })
        #expect(try store.int("SELECT COUNT(*) FROM scoring_scores WHERE scoredSeq > \(lastSeqBefore) AND fitSeq = \(kept)") > 50)
    }

    /// Refusals while no fit is in force come every `firstFitRetryEvery` purchases: the first and
    /// every 20th are logged (info for a short history, else warning), the rest at debug.
    @Test func refusalsBeforeTheFirstFitAreLoggedOnceInTwenty() throws {
        #expect(RefusalLogging.level(earlierRefusals: 0, shortHistory: true, fitInForce: false) == .info)
        #expect(RefusalLogging.level(earlierRefusals: 1, shortHistory: true, fitInForce: false) == .debug)
        #expect(RefusalLogging.level(earlierRefusals: 20, shortHistory: true, fitInForce: false) == .info)
        #expect(RefusalLogging.level(earlierRefusals: 0, shortHistory: false, fitInForce: false) == .warning)
        #expect(RefusalLogging.level(earlierRefusals: 7, shortHistory: false, fitInForce: false) == .debug)
        #expect(RefusalLogging.level(earlierRefusals: 40, shortHistory: false, fitInForce: false) == .warning)
        // With a fit in force, refits are `refitEvery` apart and each refusal is a warning.
        #expect(RefusalLogging.level(earlierRefusals: 7, shortHistory: false, fitInForce: true) == .warning)
        #expect(RefusalLogging.level(earlierRefusals: 7, shortHistory: true, fitInForce: true) == .debug)

        // Through the plugin: three weeks of a new chain, every attempt refused for short history.
        let events = Self.chain(customers: 300, events: 5_000)
        var store = try ScoringDatabase(ScoringSettings())
        let log = CapturedLog()
        store.plugin.logger = log.logger("test.scoring")
        try store.apply(Array(events.prefix { Self.day($0) < 21 }))
        let refusals = Int(try store.int("SELECT COUNT(*) FROM scoring_fit_failures"))
        try #require(refusals > 20)
        let lines = log.all.filter { $0.contains("model refit refused") }
        #expect(lines.count == refusals)
        let said = lines.filter { $0.hasPrefix("info ") }
        #expect(said.count == (refusals + 19) / 20, "\(said)")
        #expect(said.first?.contains("(refusal 1; only every 20th is logged at this level, the others at debug)") == true, "\(said)")
        #expect(said.dropFirst().first?.contains("(refusal 21;") == true, "\(said)")
        #expect(lines.filter { $0.hasPrefix("debug ") }.count == refusals - said.count)
        #expect(!log.all.contains { $0.hasPrefix("warning ") })
    }

    @Test func theGateNamesTheDegenerateParameter() throws {
        // CDNOW's published fit (weeks, longest history 39 weeks) passes.
        try FitGate.checkPurchases(BetaGeoParameters(r: 0.243, alpha: 4.414, a: 0.793, b: 2.426), longestHistory: 39, optimiserMoved: true)
        try FitGate.checkSpend(GammaGammaParameters(p: 6.25, q: 3.74, v: 15.44), meanSpend: 35)
        // What short histories produced.
        do {
            try FitGate.checkPurchases(BetaGeoParameters(r: 1.7e17, alpha: 1.6e16, a: 1e-50, b: 1.8e8), longestHistory: 2, optimiserMoved: true)
            Issue.record("r = 1.7e17 was accepted")
        } catch let refusal as FitRefusal {
            #expect(refusal.reason.contains("r = 1.7e+17") && refusal.reason.contains("BG/NBD"), "\(refusal)")
        }
        // b in the hundreds of billions (seen with a few weeks of history): the expectation would be noise.
        #expect(throws: FitRefusal.self) {
            try FitGate.checkPurchases(BetaGeoParameters(r: 0.5, alpha: 3, a: 1e-9, b: 2.4e11), longestHistory: 10, optimiserMoved: true)
        }
        #expect(throws: FitRefusal.self) {
            try FitGate.checkPurchases(BetaGeoParameters(r: 0.5, alpha: 3, a: 0, b: 2), longestHistory: 10, optimiserMoved: true)
        }
        // "Nobody has dropped out yet" is a limit the formulas handle: accepted.
        try FitGate.checkPurchases(BetaGeoParameters(r: 6.2, alpha: 12, a: 2.9e-7, b: 1.04e5), longestHistory: 6, optimiserMoved: true)
        #expect(throws: FitRefusal.self) {
            try FitGate.checkPurchases(BetaGeoParameters(r: 0.5, alpha: 3, a: 0.5, b: .nan), longestHistory: 10, optimiserMoved: true)
        }
        #expect(throws: FitRefusal.self) {
            try FitGate.checkPurchases(BetaGeoParameters(r: 0.5, alpha: 3, a: 0.5, b: 2), longestHistory: 10, optimiserMoved: false)
        }
        #expect(throws: FitRefusal.self) { try FitGate.checkSpend(GammaGammaParameters(p: 6, q: 3, v: 1e12), meanSpend: 35) }
    }

    @Test func aPurchaseBetweenRefitsRunsNoCountAndNoTableScan() throws {
        let stream = Stream.make()
        var settings = ScoringSettings()
        settings.refitEvery = 100_000
        let store = try ScoringDatabase(settings)
        try store.apply(stream.events)
        try #require(try store.int("SELECT COUNT(*) FROM scoring_scores") > 0)
        let last = stream.events.last!
        let purchase = Sample.purchase(receipt: 700_001, customer: "C000042", amount: 12_345, at: last.envelope.occurredAt.epochMilliseconds)
        final class Statements { var sql: [String] = [] }
        let seen = Statements()
        let emitted = try store.pool.write { db in
            db.trace { event in
                if case .statement(let statement) = event { seen.sql.append(statement.sql) }
            }
            defer { db.trace(nil) }
            return try store.plugin.applyEvent(StoredEvent(seq: last.seq + 1, envelope: purchase), in: db)
        }
        _ = emitted
        let statements = seen.sql.filter { $0.contains("scoring_") }
        #expect(statements.count >= 5, "\(statements)")
        #expect(try store.int("SELECT scoredSeq FROM scoring_scores WHERE customerId = 'C000042'") == last.seq + 1)
        for sql in statements {
            #expect(!sql.uppercased().contains("COUNT("), "\(sql)")
            let placeholders = sql.filter { $0 == "?" }.count
            let plan = try store.pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql,
                                 arguments: StatementArguments(Array(repeating: DatabaseValue.null, count: placeholders)))
                    .map { $0["detail"] as String }
            }
            #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(sql): \(plan)")
        }
    }
}

/// How often a fit is attempted on a large chain, and the settings file that says so.
@Suite(.serialized) struct RefitCadenceTests {
    /// Every attempt reads and scores every customer: attempts are at least
    /// `refitPurchasesPerCustomer` purchases per known customer apart, before the first fit and after.
    @Test func attemptsAreSpacedInProportionToTheCustomers() throws {
        let events = FitRefusalTests.chain(customers: 300, events: 4_000)
        func attempts(share: Double) throws -> [Int64] {
            var settings = ScoringSettings()
            settings.refitEvery = 100
            settings.refitPurchasesPerCustomer = share
            // This chain has refusals now and then; their back-off is tested on its own below.
            settings.refitBackoffLimit = 1
            let store = try ScoringDatabase(settings)
            try store.apply(events)
            return try store.rows("""
                SELECT purchasesApplied FROM scoring_fits UNION ALL SELECT purchasesApplied FROM scoring_fit_failures ORDER BY 1
                """).map { Int64($0[0])! }
        }
        // Customers known after each applied purchase, as the plugin counts them.
        var known = Set<String>(), customersAfter: [Int64] = [0]
        for event in events {
            guard case .purchase(let purchase) = event.envelope.payload, let id = purchase.customerId else { continue }
            known.insert(id)
            customersAfter.append(Int64(known.count))
        }
        let unspaced = try attempts(share: 0)
        let spaced = try attempts(share: 1)
        try #require(customersAfter.last! >= 250)
        #expect(unspaced.count >= 40, "\(unspaced)")
        #expect(spaced.count >= 8 && spaced.count * 2 < unspaced.count, "spaced \(spaced), unspaced \(unspaced)")
        for (previous, next) in zip(spaced, spaced.dropFirst()) {
            #expect(next - previous >= customersAfter[Int(next)], "attempt at \(next) after \(previous)")
        }
        // Without spacing, attempts keep the cadences of refitEvery and firstFitRetryEvery.
        for (previous, next) in zip(unspaced, unspaced.dropFirst()) {
            #expect(next % 100 == 0 || next - previous == 50, "attempt at \(next) after \(previous)")
        }
    }

    /// A chain the models cannot describe: every customer buys once a week, the same amount. The
    /// likelihood has no finite optimum there, so every fit is refused after the optimiser ran.
    static func alikeChain(customers: Int, weeks: Int) -> [StoredEvent] {
        let monday: Int64 = 1_767_571_200_000   // 2026-01-05
        var raw: [EventEnvelope] = []
        for week in 0..<weeks {
            for c in 1...customers {
                let at = monday + Int64(week) * 7 * 86_400_000 + Int64(c % 5) * 86_400_000 + Int64(c) * 1000
                raw.append(Sample.purchase(receipt: week * customers + c, customer: String(format: "C%06d", c), amount: 5000, at: at))
            }
        }
        raw.sort { $0.occurredAt.epochMilliseconds < $1.occurredAt.epochMilliseconds }
        return raw.enumerated().map { StoredEvent(seq: Int64($0.offset + 1), envelope: $0.element) }
    }

    /// Refused attempts double the spacing of the next, up to `refitBackoffLimit`; refusals for
    /// too short a history do not (they cost no fitting and pass with time); an accepted fit resets.
    @Test func refusedAttemptsBackOffAndAnAcceptedFitResets() throws {
        var settings = ScoringSettings()
        settings.refitEvery = 100
        settings.refitPurchasesPerCustomer = 0
        settings.refitBackoffLimit = 8
        let store = try ScoringDatabase(settings)
        try store.apply(Self.alikeChain(customers: 200, weeks: 14))
        let failures = try store.rows("SELECT purchasesApplied, error FROM scoring_fit_failures ORDER BY seq")
        #expect(try store.int("SELECT COUNT(*) FROM scoring_fits") == 0)
        let short = failures.prefix { $0[1].contains("minimumHistoryPeriods") || $0[1].contains("minimumRepeatCustomers") }
        let fitted = failures.dropFirst(short.count).map { Int64($0[0])! }
        try #require(short.count >= 3 && fitted.count >= 6, "\(failures)")
        #expect(!failures.dropFirst(short.count).contains { $0[1].contains("minimumHistoryPeriods") || $0[1].contains("minimumRepeatCustomers") })
        // Short-history refusals keep the retry cadence (firstFitRetryEvery, 50).
        let shortAt = short.map { Int64($0[0])! }
        for (previous, next) in zip(shortAt, shortAt.dropFirst()) { #expect(next - previous == 50, "\(shortAt)") }
        // After the k-th refusal in a row the next attempt waits 50 · min(2^k, 8) purchases.
        for (k, (previous, next)) in zip(fitted, fitted.dropFirst()).enumerated() {
            #expect(next - previous == 50 * Int64(min(1 << (k + 1), 8)), "attempt \(k + 2) at \(next) after \(previous): \(fitted)")
        }
        #expect(try store.int("SELECT refusedInARow FROM scoring_state") == Int64(fitted.count))

        // A chain the models do fit: the first accepted fit resets the count, and refits go back to
        // the usual cadence.
        let fittable = try ScoringDatabase(settings)
        try fittable.pool.write { db in try db.execute(sql: "UPDATE scoring_state SET refusedInARow = 5") }
        try fittable.apply(Stream.make().events)
        #expect(try fittable.int("SELECT COUNT(*) FROM scoring_fits") >= 2)
        let last = try fittable.rows("""
            SELECT purchasesApplied FROM scoring_fits UNION ALL SELECT purchasesApplied FROM scoring_fit_failures ORDER BY 1 DESC LIMIT 2
            """).map { Int64($0[0])! }
        #expect(try fittable.int("SELECT refusedInARow FROM scoring_state") == 0)
        #expect(last.count == 2 && last[0] - last[1] == 100, "\(last)")
    }

    @Test func theSettingsFileIsReadAndABadValueNamesFileAndKey() throws {
        let directory = try TemporaryDirectory("scoring-settings")
        let path = directory.path + "/scoring.yaml"
        try "period: day\nrefitEvery: 500\nrefitPurchasesPerCustomer: 0.25\nrefitBackoffLimit: 4\n".write(toFile: path, atomically: true, encoding: .utf8)
        let settings = try ScoringSettings.load(path: path)
        #expect(settings.period == .day && settings.refitEvery == 500 && settings.refitPurchasesPerCustomer == 0.25)
        #expect(settings.refitBackoffLimit == 4 && settings.refitBackoff(afterRefusals: 1) == 2 && settings.refitBackoff(afterRefusals: 3) == 4)
        try "refitPurchasesPerCustomer: 2\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try ScoringSettings.load(path: path).refitPurchasesPerCustomer == 2)
        #expect(try ScoringSettings.load(path: directory.path + "/absent.yaml") == ScoringSettings())
        for (text, expected) in [("refitPurchasesPerCustomer: -1\n", "'refitPurchasesPerCustomer' must be a number from 0 to 1000, not '-1'"),
                                 ("refitPurchasesPerCustomer: often\n", "'refitPurchasesPerCustomer' must be a number from 0 to 1000, not 'often'"),
                                 ("refitBackoffLimit: 0\n", "'refitBackoffLimit' must be an integer from 1 (no back-off) to 1000000, not '0'"),
                                 ("refitEvry: 5\n", "unknown key 'refitEvry'")] {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let error = try #require(throws: ScoringSettingsError.self) { try ScoringSettings.load(path: path) }
            #expect(error.message.hasPrefix(path + ": ") && error.message.contains(expected), "\(error.message)")
        }
    }
}
