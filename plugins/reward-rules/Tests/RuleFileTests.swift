import Foundation
import LoyaltyRules
import Testing
@testable import RewardRules

@Suite struct RuleFileTests {
    static func load(_ text: String) -> RuleLoader.Result {
        RuleLoader.load(sources: [("rewards.yaml", Harness.header + text)])
    }

    @Test func mistakesAreReportedWithFileLineAndAFix() {
        let result = Self.load("""
            tiers:
              downgrade: one-levl
              levels:
                - id: member
                - id: gold
                  when: customer.qualifyingPoints >= 100
            rewards:
              - id: a
                trigger: { kind: nth-purchas, count: 10 }
                grant: x
              - id: b
                trigger: { kind: nth-purchase }
                grant: x
              - id: c
                grant: x
                reward: { kind: tier, tier: glod }
              - id: d
                grant: x
                reward: { kind: bonus-points, points: 10 }
                expires: 30d
              - id: e
                grant: x
                budget: { amount: 100 NOK }
              - id: f
                trigger: { kind: promoter }
                when: purchase.total > 10 NOK
                grant: x
            """)
        #expect(result.book == nil)
        let messages = result.errors.map { "\($0.line ?? 0): \($0.message) | \($0.suggestion ?? "")" }
        #expect(messages.contains { $0.hasPrefix("4: downgrade must be immediately, none, period-end or one-level, found 'one-levl' | did you mean 'one-level'?") })
        #expect(messages.contains { $0.hasPrefix("11: trigger must be one of") && $0.hasSuffix("did you mean 'nth-purchase'?") })
        #expect(messages.contains { $0.hasPrefix("14: a nth-purchase trigger needs 'count'") })
        #expect(messages.contains { $0.hasPrefix("18: there is no tier level 'glod' | did you mean 'gold'?") })
        #expect(messages.contains { $0.hasPrefix("22: 'expires' is for rewards redeemed later") })
        #expect(messages.contains { $0.hasPrefix("25: budget amount needs the reward's 'value'") })
        #expect(messages.contains { $0.hasPrefix("28: 'purchase' is not available") })
        #expect(result.errors.allSatisfy { $0.file == "rewards.yaml" })
    }

    @Test func theShippedRulesLoadWithEveryNewKey() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let result = RuleLoader.load(paths: [root.appendingPathComponent("config/rules").path])
        #expect(result.errors.isEmpty, "\(result.errors.map(\.description))")
        let rewards = try #require(result.book?.rewards?.rules)
        let triggers = Set(rewards.map(\.trigger.name))
        #expect(triggers.isSuperset(of: ["nth-purchase", "top-customers", "win-back"]))
        #expect(Set(rewards.map(\.kind.name)).count >= 3)
    }
}
