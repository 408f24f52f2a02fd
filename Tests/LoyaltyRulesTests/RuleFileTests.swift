import Foundation
import LoyaltyEvents
import Testing
@testable import LoyaltyRules

/// Loading rule files: every problem reported with its file, line and column, nothing loaded
/// when there is an error, warnings for rules that shadow or contradict.
@Suite struct RuleFileTests {
    static let header = """
        currency: NOK
        timezone: Europe/Oslo

        """

    func load(_ text: String, name: String = "rules.yaml") -> RuleLoader.Result {
        RuleLoader.load(sources: [(name, text)])
    }

    func only(_ result: RuleLoader.Result, _ severity: RuleDiagnostic.Severity = .error) throws -> RuleDiagnostic {
        let matching = result.diagnostics.filter { $0.severity == severity }
        try #require(matching.count == 1, "expected one \(severity), got: \(result.diagnostics.map(\.description))")
        return matching[0]
    }

    @Test func theShippedRulesLoadCleanly() throws {
        let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let result = RuleLoader.load(paths: [repoRoot + "/config/rules"])
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.rendered))")
        let book = try #require(result.book)
        #expect(book.currency == .NOK)
        #expect(book.timeZone.identifier == "Europe/Oslo")
        #expect(book.earning?.rules.isEmpty == false)
        #expect(book.tiers?.ids == ["member", "silver", "gold"])
        #expect(book.usage.historyDays == 90)
    }

    @Test func anUnknownFieldIsReportedAtItsColumnWithACaret() throws {
        let text = Self.header + """
            earning:
              rules:
                - id: base
                  points: purchase.totl / 10 NOK
            """
        let result = load(text)
        #expect(result.book == nil)
        let error = try only(result)
        #expect(error.file == "rules.yaml")
        #expect(error.line == 6)
        #expect(error.column == 24)
        #expect(error.length == 4)
        #expect(error.message == "purchase has no field 'totl'")
        #expect(error.suggestion == "did you mean 'purchase.total'?")
        #expect(error.ruleId == "base")
        #expect(error.rendered == """
            rules.yaml:6:24: error: purchase has no field 'totl'
                      points: purchase.totl / 10 NOK
                                       ^~~~
                did you mean 'purchase.total'?
            """)
    }

    @Test func positionsInsideQuotedAndFoldedExpressions() throws {
        let quoted = Self.header + """
            rewards:
              - id: coffee
                when: "customer.visits(days: 30) >= 10 and purchase.lines.any(category == \\"cofee\\" and sku == 3)"
                grant: a coffee
            """
        let error = try only(load(quoted))
        // The error is at `sku == 3` (text compared with a number); the value starts after the quote.
        #expect(error.line == 5)
        #expect(error.column == 93)
        #expect(error.message.contains("cannot compare text and a number"))

        let folded = Self.header + """
            alerts:
              - id: unhappy
                when: >
                  survey.nps <= 6 and
                  customer.vists >= 5
            """
        let foldedError = try only(load(folded))
        #expect(foldedError.line == 7)
        #expect(foldedError.column == 16)
        #expect(foldedError.suggestion == "did you mean 'customer.visits'?")
    }

    @Test func everyErrorIsReportedNotJustTheFirst() throws {
        let text = Self.header + """
            earning:
              rouding: down
              rules:
                - id: a
                  points: purchase.total > 10
                - id: b
                  multiplier: 2
                  when: clock.weekday == "saturdy"
            alerts:
              - id: x
                when: survey.nps <= 6
                severity: hihg
            """
        let result = load(text)
        #expect(result.book == nil)
        let messages = result.errors.map { "\($0.line ?? 0):\($0.column ?? 0) \($0.message) | \($0.suggestion ?? "")" }
        #expect(messages.count == 4, "\(messages)")
        #expect(messages.contains("4:3 unknown key 'rouding' in the earning section | did you mean 'rounding'?"))
        #expect(messages.contains { $0.hasPrefix("7:32 cannot compare money in NOK and a plain number | write the currency: 10 NOK") })
        #expect(messages.contains("10:30 clock.weekday is never \"saturdy\" | did you mean \"saturday\"?"))
        #expect(messages.contains("14:15 severity must be info, warning, high or critical, found 'hihg' | did you mean 'high'?"))
    }

    @Test func aColonInAPlainValueGetsAHintToQuoteIt() throws {
        let text = Self.header + """
            earning:
              rules:
                - id: regulars
                  when: customer.visits(days: 30) >= 4
                  bonus: 10
            """
        let error = try only(load(text))
        #expect(error.line == 6)
        #expect(error.message.hasPrefix("invalid YAML"))
        #expect(error.suggestion?.contains("when: \"customer.visits(days: 30) >= 4\"") == true)
    }

    @Test func currencyMismatchAndMissingCurrency() throws {
        let mismatch = Self.header + """
            campaigns:
              - id: c
                when: purchase.total >= 200 SEK
                discount: { percent: 10 }
            """
        let error = try only(load(mismatch))
        #expect(error.message == "currency mismatch: cannot compare money in NOK and money in SEK")
        #expect(error.column == 11)

        let noCurrency = """
            earning:
              rules:
                - id: base
                  points: purchase.total / 10 NOK
            """
        let missing = try only(load(noCurrency))
        #expect(missing.message == "money fields need to know the currency")
        #expect(missing.suggestion?.contains("currency: NOK") == true)
    }

    @Test func duplicateIdsAndMissingEffects() throws {
        let text = Self.header + """
            earning:
              rules:
                - id: base
                  points: 1
                - id: base
                  bonus: 2
                - id: nothing
                  when: true
                - id: both
                  points: 1
                  bonus: 1
            """
        let result = load(text)
        let messages = result.errors.map(\.message)
        #expect(messages.contains("rule id 'base' is already used at rules.yaml:5"))
        #expect(messages.contains("earning rule 'nothing' needs one of points, multiplier or bonus"))
        #expect(messages.contains("earning rule 'both' has points and bonus; a rule has exactly one of points, multiplier or bonus"))
    }

    @Test func theSameContentHasTheSameVersionWhereverItIs() {
        let text = Self.header + "earning:\n  rules:\n    - id: a\n      points: 1\n"
        let here = RuleLoader.load(sources: [("config/rules/a.yaml", text)]).book?.version
        let there = RuleLoader.load(sources: [("/elsewhere/a.yaml", text)]).book?.version
        let changed = RuleLoader.load(sources: [("a.yaml", text + "\n")]).book?.version
        #expect(here != nil)
        #expect(here == there)
        #expect(here != changed)
    }

    @Test func aZeroOrMalformedRepeatIsAnErrorNotACrash() throws {
        for value in ["0", "0d", "soon", "-3d"] {
            let text = Self.header + """
                rewards:
                  - id: r
                    grant: a gift
                    repeat: \(value)
                """
            let error = try only(load(text))
            #expect(error.message.hasPrefix("repeat must be once, every-time, or a duration longer than zero"), "\(value): \(error)")
            #expect(error.line == 6)
        }
        let expiry = try only(load(Self.header + "earning:\n  expiry: 0\n"))
        #expect(expiry.message.hasPrefix("expiry must be whole days"))
    }

    @Test func messagesNameTheKeyThatIsWrong() throws {
        let text = Self.header + """
            earning:
              rules:
                - id: a
                  lines: [1, 2]
                  multiplier: 2
                - id: b
                  bonus: { x: 1 }
            """
        let messages = load(text).errors.map(\.message)
        #expect(messages.contains { $0.hasPrefix("'lines' must be a single value") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("'bonus' must be a single value") }, "\(messages)")
    }

    @Test func settingsMustAgreeAcrossFiles() throws {
        let result = RuleLoader.load(sources: [
            ("a.yaml", "currency: NOK\n"),
            ("b.yaml", "currency: SEK\n"),
        ])
        let error = try only(result)
        #expect(error.file == "b.yaml")
        #expect(error.message == "currency SEK differs from NOK, set in a.yaml:1")
    }

    // MARK: Priorities and shadowing

    @Test func aRuleAlwaysPreemptedInItsGroupIsWarnedAbout() throws {
        let text = Self.header + """
            rewards:
              - id: top
                when: customer.visits >= 10
                grant: voucher
                group: thanks
                priority: 20
              - id: regular
                when: customer.visits >= 20 and purchase.total > 100 NOK
                grant: smaller voucher
                group: thanks
                priority: 10
              - id: other-group
                when: customer.visits >= 20
                grant: coffee
            """
        let result = load(text)
        #expect(result.book != nil)
        let warning = try only(result, .warning)
        #expect(warning.ruleId == "regular")
        #expect(warning.message == "rule 'regular' never takes effect: 'top' (priority 20, same group 'thanks') applies whenever it does")
    }

    @Test func overlappingRulesOfEqualPriorityInAGroupAreATie() throws {
        let text = Self.header + """
            campaigns:
              - id: a
                starts: 2026-11-01
                ends: 2026-11-30
                discount: { percent: 10 }
                group: november
              - id: b
                starts: 2026-11-20
                ends: 2026-12-10
                discount: { percent: 15 }
                group: november
              - id: c
                starts: 2026-12-01
                ends: 2026-12-31
                discount: { percent: 15 }
                group: november
            """
        let result = load(text)
        let warnings = result.warnings
        // a and b overlap (20–30 November); a and c do not; b and c do (1–10 December).
        #expect(warnings.count == 2, "\(warnings.map(\.message))")
        #expect(warnings.contains { $0.message.hasPrefix("rules 'a' and 'b' have the same priority (0) in group 'november'") })
        #expect(warnings.contains { $0.message.hasPrefix("rules 'b' and 'c' have the same priority (0) in group 'november'") })
    }

    @Test func aContradictoryConditionIsWarnedAbout() throws {
        let text = Self.header + """
            alerts:
              - id: impossible
                when: survey.nps > 8 and survey.nps < 3
              - id: fine
                when: survey.nps >= 3 and survey.nps <= 3
              - id: weekday
                when: clock.weekday == "monday" and clock.weekday in ["saturday", "sunday"]
            """
        let warnings = load(text).warnings
        #expect(warnings.map(\.ruleId) == ["impossible", "weekday"])
        #expect(warnings.first?.message == "rule 'impossible' can never apply: its conditions contradict each other")
    }

    @Test func anUnreachableTierIsWarnedAbout() throws {
        let text = Self.header + """
            tiers:
              - id: member
              - id: silver
                when: customer.qualifyingPoints >= 5000
              - id: gold
                when: customer.qualifyingPoints >= 2000
            """
        let warning = try only(load(text), .warning)
        #expect(warning.ruleId == "silver")
        #expect(warning.message.contains("never reached"))
    }

    @Test func groupsHoldOneKindOfRule() throws {
        let text = Self.header + """
            earning:
              rules:
                - id: a
                  multiplier: 2
                  group: g
                - id: b
                  bonus: 10
                  group: g
            """
        let error = try only(load(text))
        #expect(error.message == "group 'g' mixes bonus and multiplier rules")
    }

    @Test func theRulesArePutInPriorityOrderKeepingFileOrderForTies() throws {
        let text = Self.header + """
            alerts:
              - { id: a, when: survey.nps < 1 }
              - { id: b, when: survey.nps < 2, priority: 5 }
              - { id: c, when: survey.nps < 3 }
              - { id: d, when: survey.nps < 4, priority: 5 }
            """
        let book = try #require(load(text).book)
        #expect(book.alerts?.rules.map(\.header.id) == ["b", "d", "a", "c"])
    }
}
