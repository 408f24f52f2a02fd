import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import Testing
@testable import RewardRules

@Suite struct TierTests {
    static func tiers(downgrade: String, period: String = "month", window: String = "365d") -> String {
        """
        tiers:
          downgrade: \(downgrade)
          period: \(period)
          window: \(window)
          levels:
            - id: member
              name: Member
            - id: silver
              name: Silver
              when: customer.qualifyingPoints >= 1000
            - id: gold
              name: Gold
              when: customer.qualifyingPoints >= 5000

        """
    }

    @Test func qualifyingPointsAreEarnedNotSpendableAndUpgradeAtOnce() throws {
        let harness = try Harness(rules: Self.tiers(downgrade: "immediately"))
        try harness.accrued("C1", points: 900, purchase: "p1", at: start)
        #expect(harness.tierChanges().isEmpty)
        #expect(try harness.tier("C1") == "member")
        // Pending points (a return window) do not count until released.
        try harness.accrued("C1", points: 200, purchase: "p2", at: start + day, pendingUntil: start + 15 * day)
        #expect(harness.tierChanges().isEmpty)
        try harness.purchase(customer: "C1", at: start + 15 * day + hour)
        let up = harness.tierChanges("C1")
        #expect(up.count == 1)
        #expect(up.first?.string("from") == "member")
        #expect(up.first?.string("to") == "silver")
        #expect(up.first?.string("direction") == "up")
        #expect(up.first?.string("rulesVersion") == harness.book.version)
        #expect(up.first?.string("sentence") == "Up to Silver from Member: qualifies by customer.qualifyingPoints >= 1000")
        // Straight to gold from one large accrual.
        try harness.accrued("C2", points: 6000, purchase: "p3", at: start + 2 * day)
        #expect(harness.tierChanges("C2").map { $0.string("to") } == ["gold"])
        // A return takes points back: immediately down.
        try harness.derived("points.reversed", at: start + 3 * day, [
            "customerId": .string("C2"), "purchaseEventId": .string("p3"), "points": .int(2000), "rulesVersion": .string("t"),
        ])
        #expect(harness.tierChanges("C2").map { $0.string("to") } == ["gold", "silver"])
        #expect(harness.tierChanges("C2").last?.string("direction") == "down")
    }

    @Test func aCampaignBonusAddsToItsPurchasesQualifyingPoints() throws {
        let harness = try Harness(rules: Self.tiers(downgrade: "immediately"))
        try harness.accrued("C1", points: 600, purchase: "p1", at: start)
        // The points plugin's bonus from a 2× campaign: the same purchase, more points.
        try harness.derived("points.accrued", at: start, [
            "customerId": .string("C1"), "purchaseEventId": .string("p1"), "points": .int(600), "campaignBonus": .bool(true),
            "pendingUntil": .string(Timestamp(epochMilliseconds: start).rfc3339), "rulesVersion": .string("c"),
        ])
        #expect(harness.tierChanges("C1").map { $0.string("to") } == ["silver"], "600 + 600 bonus qualifies")
        // Half the receipt returned: half of 1200 goes, and the customer is below the line again.
        try harness.derived("points.reversed", at: start + day, [
            "customerId": .string("C1"), "purchaseEventId": .string("p1"), "points": .int(600), "rulesVersion": .string("t"),
        ])
        #expect(harness.tierChanges("C1").map { $0.string("to") } == ["silver", "member"])
        // A repeated plain accrual of the purchase still counts once.
        try harness.accrued("C1", points: 600, purchase: "p1", at: start + 2 * day)
        #expect(harness.tierChanges("C1").map { $0.string("to") } == ["silver", "member"])
    }

    @Test func releasedPointsUpgradeWithoutTheCustomersOwnEvent() throws {
        let harness = try Harness(rules: Self.tiers(downgrade: "immediately"))
        try harness.accrued("C1", points: 1500, purchase: "p1", at: start, pendingUntil: start + 14 * day)
        try harness.purchase(customer: "C2", at: start + 13 * day)
        #expect(harness.tierChanges("C1").isEmpty)
        // Another customer's event moves the events' time past the release: C1 goes up then.
        try harness.purchase(customer: "C2", at: start + 14 * day + 2 * hour)
        let up = harness.tierChanges("C1")
        #expect(up.map { $0.string("to") } == ["silver"])
        #expect(up.first?.string("reason") == "points released")
    }

    @Test func qualificationBySpendInARollingWindow() throws {
        let harness = try Harness(rules: """
            tiers:
              - id: member
              - id: vip
                when: "customer.spend(days: 30) >= 5000 NOK"

            """)
        let first = try harness.purchase(customer: "C1", at: start, amount: 300_000)
        try harness.purchase(customer: "C1", at: start + 10 * day, amount: 300_000)
        #expect(harness.tierChanges("C1").map { $0.string("to") } == ["vip"])
        // A return of the first purchase: the spend drops under the line, down at once (default policy).
        try harness.returned(customer: "C1", original: first, at: start + 11 * day, amount: 300_000)
        #expect(harness.tierChanges("C1").map { $0.string("to") } == ["vip", "member"])
    }

    @Test func downgradePolicies() throws {
        // The customer reaches gold in November, then the points leave the 30-day window.
        func run(_ policy: String) throws -> [String?] {
            let harness = try Harness(rules: Self.tiers(downgrade: policy, window: "30d"))
            try harness.accrued("C1", points: 6000, purchase: "p1", at: start)
            try harness.purchase(customer: "C1", at: start + 40 * day)          // 12 December: nothing qualifies any more
            try harness.purchase(customer: "C1", at: start + 61 * day)          // 2 January: after the end of December
            try harness.purchase(customer: "C1", at: start + 92 * day)          // 2 February
            return harness.tierChanges("C1").map { $0.string("to") }
        }
        #expect(try run("immediately") == ["gold", "member"])
        #expect(try run("none") == ["gold"])
        // Period end: gold is kept until the month has turned, then down to what qualifies (member);
        // one level at a time: silver at the end of November, member at the end of December.
        #expect(try run("period-end") == ["gold", "member"])
        #expect(try run("one-level") == ["gold", "silver", "member"])
    }

    @Test func periodEndDowngradeWaitsForThePeriod() throws {
        let harness = try Harness(rules: Self.tiers(downgrade: "period-end", period: "year", window: "30d"))
        try harness.accrued("C1", points: 6000, purchase: "p1", at: start)
        try harness.purchase(customer: "C1", at: start + 40 * day)      // December: no longer qualifies, keeps gold
        #expect(try harness.tier("C1") == "gold")
        try harness.purchase(customer: "C1", at: start + 61 * day)      // January: the year ended
        #expect(try harness.tier("C1") == "member")
        let down = try #require(harness.tierChanges("C1").last)
        #expect(down["periodEnd"] == .bool(true))
        #expect(down.string("sentence") == "Down to Member from Gold: no longer qualifies for Gold at the end of the year")
    }

    @Test func tierRewardLiftsForAWhile() throws {
        let harness = try Harness(rules: Self.tiers(downgrade: "immediately") + """
            rewards:
              - id: gold-trial
                trigger: first-purchase
                grant: Gold for 30 days
                reward: { kind: tier, tier: gold, for: 30d }
            """)
        try harness.purchase(customer: "C1", at: start)
        #expect(harness.granted("gold-trial").first?.string("tier") == "gold")
        let changes = harness.tierChanges("C1")
        #expect(changes.map { $0.string("to") } == ["gold"])
        #expect(changes.first?.string("sentence")?.hasPrefix("Up to Gold from Member: kept by a tier reward") == true)
        try harness.purchase(customer: "C1", at: start + 10 * day)
        #expect(try harness.tier("C1") == "gold")
        try harness.purchase(customer: "C1", at: start + 31 * day)
        #expect(try harness.tier("C1") == "member")
    }
}
