import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime
import Testing
@testable import Satisfaction

@Suite struct ScenarioTests {
    @Test func npsBelowThresholdRaisesOnceThenResolves() throws {
        let harness = try Harness(rules: """
            alerts:
              - id: nps-low
                kind: nps-below
                window: 7d
                below: 0
                minResponses: 5
                scope: stores
                severity: high
                message: NPS is low
            """)
        // Four detractors: too few answers to judge.
        for i in 0..<4 { try harness.survey(3, at: start + Int64(i) * hour) }
        #expect(harness.raised().isEmpty)
        try harness.survey(4, at: start + 4 * hour)
        let raised = harness.raised("nps-low")
        #expect(raised.count == 1)
        #expect(raised.first?.string("severity") == "high")
        #expect(raised.first?.string("storeId") == "S001")
        #expect(raised.first?.details.number("nps") == -100)
        #expect(raised.first?.details.number("responses") == 5)
        #expect(raised.first?.string("action")?.isEmpty == false)
        // Still below: not repeated.
        try harness.survey(2, at: start + 5 * hour)
        #expect(harness.raised().count == 1)
        // Another store's answers do not touch S001's alert.
        for i in 0..<6 { try harness.survey(10, store: "S002", at: start + 5 * hour + Int64(i) * 60_000) }
        #expect(harness.resolved().isEmpty)
        // Promoters lift S001 to NPS >= 0: resolved, naming the alert it ends.
        for i in 0..<7 { try harness.survey(10, at: start + 6 * hour + Int64(i) * 60_000) }
        let resolved = harness.resolved("nps-low")
        #expect(resolved.count == 1)
        #expect(resolved.first?.string("alertId") == raised.first?.string("alertId"))
        #expect(try harness.standing() == 0)
    }

    @Test func chainNpsAndWindowAgeingOut() throws {
        let harness = try Harness(rules: """
            alerts:
              - id: chain-low
                kind: nps-below
                window: 1d
                below: 10
                minResponses: 4
                scope: chain
            """)
        try harness.survey(0, store: "S001", at: start)
        try harness.survey(1, store: "S002", at: start + hour)
        try harness.survey(2, store: "S003", at: start + 2 * hour)
        try harness.survey(9, store: "S004", at: start + 3 * hour)
        let raised = harness.raised("chain-low")
        #expect(raised.count == 1)
        #expect(raised.first?.string("scope") == "chain")
        #expect(raised.first?.string("storeId") == nil)
        // Two days later the answers have left the window: the hourly sweep, moved by any event, resolves it.
        try harness.purchase(customer: "C1", at: start + 2 * day)
        #expect(harness.resolved("chain-low").count == 1)
        #expect(harness.resolved("chain-low").first?.string("reason")?.contains("fewer than 4") == true)
    }

    @Test func npsDropAgainstThePreviousWindow() throws {
        let harness = try Harness(rules: """
            alerts:
              - id: nps-drop
                kind: nps-drop
                window: 7d
                drop: 30
                minResponses: 4
                scope: stores
            """)
        // Week one: NPS 50 (3 promoters, 1 passive... and one detractor out of 4 → 50).
        for (i, score) in [10, 9, 9, 3].enumerated() { try harness.survey(score, at: start + Int64(i) * day) }
        #expect(harness.raised().isEmpty)
        // Week two: NPS 0 — a drop of 50 points.
        for (i, score) in [10, 3, 8, 7].enumerated() { try harness.survey(score, at: start + 7 * day + Int64(i) * day + hour) }
        let raised = harness.raised("nps-drop")
        #expect(raised.count == 1)
        #expect(raised.first?.details.number("previousNps") == 50)
        #expect(raised.first?.details.number("drop") == 50)
    }

    @Test func detractorSurgeAgainstBaseline() throws {
        let harness = try Harness(rules: """
            alerts:
              - id: surge
                kind: detractor-surge
                window: 1d
                minDetractors: 3
                factor: 2
                baseline: 30d
                scope: stores
            """)
        // Baseline: 10 answers over 10 days, 2 detractors (20%).
        for i in 0..<10 { try harness.survey(i < 2 ? 4 : 9, at: start + Int64(i) * day) }
        // Today: 3 detractors of 4 answers (75%): a surge.
        try harness.survey(9, at: start + 11 * day)
        try harness.survey(2, at: start + 11 * day + hour)
        try harness.survey(3, at: start + 11 * day + 2 * hour)
        #expect(harness.raised().isEmpty)
        try harness.survey(1, at: start + 11 * day + 3 * hour)
        let raised = harness.raised("surge")
        #expect(raised.count == 1)
        #expect(raised.first?.details.number("detractorShare") == 0.75)
        #expect(raised.first?.details.number("baselineShare") == 0.2)
    }

    @Test func valuableDetractorNeedsTheScoreAndStandsPerCustomer() throws {
        let harness = try Harness(rules: """
            alerts:
              - id: valuable-detractor
                when: survey.nps <= 6 and customer.clvPercentile >= 90
                severity: critical
                message: A top-10% customer is unhappy
                action: The store manager calls them today
            """)
        // Not scored yet: unknown percentile, no alert.
        try harness.survey(2, customer: "C1", at: start)
        #expect(harness.raised().isEmpty)
        try harness.scored("C1", clvPercentile: 95, pAlive: 0.9, at: start + hour)
        try harness.scored("C2", clvPercentile: 40, pAlive: 0.9, at: start + hour)
        try harness.survey(3, customer: "C2", at: start + 2 * hour, comment: "slow")
        #expect(harness.raised().isEmpty)
        try harness.survey(3, customer: "C1", at: start + 2 * hour, comment: "rude staff")
        let raised = harness.raised("valuable-detractor")
        #expect(raised.count == 1)
        #expect(raised.first?.string("customerId") == "C1")
        #expect(raised.first?.string("severity") == "critical")
        #expect(raised.first?.string("action") == "The store manager calls them today")
        #expect(raised.first?.details.string("comment") == "rude staff")
        #expect(raised.first?.details.number("clvPercentile") == 95)
        // Unhappy again: the alert stands, not repeated.
        try harness.survey(1, customer: "C1", at: start + 3 * hour)
        #expect(harness.raised().count == 1)
        // A promoter answer from the same customer resolves it.
        try harness.survey(9, customer: "C1", at: start + 4 * hour)
        #expect(harness.resolved("valuable-detractor").count == 1)
        #expect(try harness.standing() == 0)
    }

    @Test func churnRiskByProbabilityAlive() throws {
        let harness = try Harness(rules: """
            alerts:
              - id: valuable-churn
                kind: churn-risk
                when: customer.clvPercentile >= 80
                pAliveBelow: 0.3
            """)
        try harness.purchase(customer: "C1", store: "S007", at: start)
        try harness.scored("C1", clvPercentile: 90, pAlive: 0.8, at: start + hour)
        try harness.scored("C2", clvPercentile: 50, pAlive: 0.1, at: start + hour)   // not valuable
        #expect(harness.raised().isEmpty)
        try harness.scored("C1", clvPercentile: 90, pAlive: 0.2, at: start + 2 * hour)
        let raised = harness.raised("valuable-churn")
        #expect(raised.count == 1)
        #expect(raised.first?.string("customerId") == "C1")
        #expect(raised.first?.string("storeId") == "S007")
        #expect(raised.first?.details.number("pAlive") == 0.2)
        try harness.scored("C1", clvPercentile: 90, pAlive: 0.25, at: start + 3 * hour)
        #expect(harness.raised().count == 1)
        try harness.scored("C1", clvPercentile: 90, pAlive: 0.7, at: start + 4 * hour)
        #expect(harness.resolved("valuable-churn").count == 1)
    }

    @Test func churnRiskByVisitGapFarBeyondTheUsual() throws {
        let harness = try Harness(rules: """
            alerts:
              - id: gap-churn
                kind: churn-risk
                when: customer.clvPercentile >= 80
                gapFactor: 3
                minVisits: 4
            """)
        // C1 comes every 7 days; C2 likewise but is not valuable.
        for week in 0..<4 {
            try harness.purchase(customer: "C1", at: start + Int64(week) * 7 * day)
            try harness.purchase(customer: "C2", at: start + Int64(week) * 7 * day + hour)
        }
        try harness.scored("C1", clvPercentile: 85, pAlive: 0.9, at: start + 21 * day + 2 * hour)
        try harness.scored("C2", clvPercentile: 20, pAlive: 0.9, at: start + 21 * day + 2 * hour)
        // 20 days without a visit (under 3 × 7): nothing yet.
        try harness.purchase(customer: "C9", at: start + 41 * day)
        #expect(harness.raised().isEmpty)
        // 23 days: beyond three times the usual gap; the hourly sweep notices.
        try harness.purchase(customer: "C9", at: start + 44 * day)
        let raised = harness.raised("gap-churn")
        #expect(raised.count == 1)
        #expect(raised.first?.string("customerId") == "C1")
        #expect(raised.first?.details.number("usualGapDays") == 7)
        try harness.purchase(customer: "C9", at: start + 46 * day)
        #expect(harness.raised().count == 1)
        // C1 comes back: resolved.
        try harness.purchase(customer: "C1", at: start + 47 * day)
        #expect(harness.resolved("gap-churn").count == 1)
        #expect(try harness.standing() == 0)
    }

    @Test func topDriverOnDetractorsChangesAndResolves() throws {
        let harness = try Harness(rules: """
            alerts:
              - id: detractor-driver
                kind: top-driver
                window: 30d
                minDetractors: 3
            """)
        for i in 0..<3 {
            try harness.survey(3, at: start + Int64(i) * hour, drivers: ["serviceLevel": 2, "valueForMoney": 6, "expectations": 5])
        }
        let first = harness.raised("detractor-driver")
        #expect(first.count == 1)
        #expect(first.first?.details.string("driver") == "serviceLevel")
        #expect(first.first?.string("severity") == "info")
        // Promoters do not change what weighs on detractors.
        try harness.survey(10, at: start + 4 * hour, drivers: ["serviceLevel": 9])
        #expect(harness.raised().count == 1)
        // Detractors now complain about prices: the old alert is resolved, a new one raised.
        for i in 0..<4 {
            try harness.survey(2, at: start + 5 * hour + Int64(i) * hour, drivers: ["serviceLevel": 8, "valueForMoney": 0])
        }
        #expect(harness.resolved("detractor-driver").count == 1)
        let all = harness.raised("detractor-driver")
        #expect(all.count == 2)
        #expect(all.last?.details.string("driver") == "valueForMoney")
        // 40 days later the window is empty: resolved.
        try harness.purchase(customer: "C1", at: start + 40 * day)
        #expect(harness.resolved("detractor-driver").count == 2)
    }

    @Test func replayIntoAFreshDatabaseEmitsTheSameEvents() throws {
        let rules = """
            alerts:
              - id: nps-low
                kind: nps-below
                below: 0
                minResponses: 3
              - id: unhappy
                when: survey.nps <= 2
            """
        func run() throws -> [String] {
            let harness = try Harness(rules: rules)
            for i in 0..<8 { try harness.survey(i % 3 == 0 ? 10 : 1, store: "S00\(i % 2)", customer: "C\(i % 3)", at: start + Int64(i) * hour) }
            try harness.purchase(customer: "C1", at: start + 10 * day)
            return harness.emitted.map { "\($0.eventId) \($0.type) \(JSONWriter.serializeToString(.object($0.payload)))" }
        }
        let first = try run()
        #expect(!first.isEmpty)
        #expect(first == (try run()))
        // Ids are unique: the bus would store each once.
        #expect(Set(first.map { $0.split(separator: " ")[0] }).count == first.count)
    }

    @Test func reportGivesNpsPerStoreWithTrend() throws {
        let harness = try Harness(rules: "alerts: []\n")
        for i in 0..<4 { try harness.survey(10, at: start + Int64(i) * hour) }           // previous week: NPS 100
        for i in 0..<4 { try harness.survey(i < 2 ? 10 : 0, at: start + 7 * day + Int64(i) * hour) }   // this week: NPS 0
        try harness.survey(7, store: "S002", at: start + 7 * day + 5 * hour)
        let response = try Report.handle(Array(#"{"windows":["7d"]}"#.utf8), pool: harness.pool, book: harness.plugin.rules.current)
        guard case .ok(let body) = response, case .object(let report)? = try? JSONParser.parse(body),
              case .array(let stores)? = report["stores"], case .object(let s1)? = stores.first,
              case .array(let windows)? = s1["windows"], case .object(let week)? = windows.first else {
            Issue.record("unexpected report \(response)")
            return
        }
        #expect(stores.count == 2)
        #expect(s1.string("storeId") == "S001")
        #expect(week.number("nps") == 0)
        #expect(week.number("previousNps") == 100)
        #expect(week.number("trend") == -100)
        #expect(week.number("responses") == 4)
        let refused = try Report.handle(Array(#"{"windows":["soon"]}"#.utf8), pool: harness.pool, book: harness.plugin.rules.current)
        guard case .error(let message) = refused else { Issue.record("accepted a bad window"); return }
        #expect(message.contains("windows"))
    }
}

@Suite struct AlertRuleFileTests {
    @Test func kindsLoadWithDefaultsAndTheRepositoryFilesStayValid() throws {
        let result = RuleLoader.load(sources: [("a.yaml", Harness.header + """
            alerts:
              - id: low
                kind: nps-below
                below: 20
              - id: per-answer
                when: survey.nps <= 6
                action: Call them
            """)])
        let book = try #require(result.book, "\(result.diagnostics.map(\.rendered))")
        let watch = try #require(book.alerts?.watches.first)
        #expect(watch.kind == .npsBelow)
        #expect(watch.window == 7 * 86_400)
        #expect(watch.minResponses == 20)
        #expect(watch.severity == .high)
        #expect(book.alerts?.rules.first?.action == "Call them")
        #expect(book.ruleIds["alerts"]?.sorted() == ["low", "per-answer"])

        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path + "/config/rules"
        let shipped = RuleLoader.load(paths: [repository])
        #expect(shipped.diagnostics.isEmpty, "\(shipped.diagnostics.map(\.rendered))")
        let kinds = Set(shipped.book?.alerts?.watches.map(\.kind) ?? [])
        #expect(kinds == Set(AlertWatch.Kind.allCases))
    }

    @Test func mistakesNameTheKeyAndSuggestAFix() {
        let result = RuleLoader.load(sources: [("a.yaml", Harness.header + """
            alerts:
              - id: a
                kind: nps-belw
              - id: b
                kind: nps-drop
                window: 7d
              - id: c
                kind: churn-risk
                when: customer.clvPercentile >= 80
                below: 3
              - id: d
                kind: nps-below
                below: 300
                window: 10min
            """)])
        let messages = result.diagnostics.map(\.rendered).joined(separator: "\n")
        #expect(result.book == nil)
        #expect(messages.contains("did you mean 'nps-below'?"))
        #expect(messages.contains("a nps-drop alert needs 'drop'"))
        #expect(messages.contains("unknown key 'below' in a churn-risk alert"))
        #expect(messages.contains("'below' must be a number from -100 to 100"))
        #expect(messages.contains("'window' must be at least 1h"))
        #expect(messages.contains("a.yaml:5:"))
    }
}
