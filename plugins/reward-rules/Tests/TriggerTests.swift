import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import Testing
@testable import RewardRules

/// A scenario per trigger: what sets it off, what does not, and the clerk's sentence.
@Suite struct TriggerTests {
    @Test func punchCardGivesEveryTenthCoffeeWithinThirtyDays() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: tenth-coffee
                when: purchase.lines.any(category == "coffee")
                trigger: { kind: nth-purchase, count: 10, within: 30d, label: coffee }
                grant: a free coffee
                reward: { kind: free-item, sku: COF-001 }
                value: 35 NOK
                repeat: every-time
            """)
        // Nine coffees and some bread (bread does not punch the card).
        for i in 0..<9 { try harness.purchase(customer: "C1", at: start + Int64(i) * day) }
        try harness.purchase(customer: "C1", at: start + 9 * day + hour, category: "bakery")
        #expect(harness.granted().isEmpty)
        try harness.purchase(customer: "C1", at: start + 10 * day)
        let granted = harness.granted("tenth-coffee")
        #expect(granted.count == 1)
        #expect(granted.first?.string("sentence") == "A free coffee for the 10th coffee in 30 days")
        #expect(granted.first?.string("kind") == "free-item")
        #expect(granted.first?.string("sku") == "COF-001")
        #expect(granted.first?.number("value") == 3500)
        #expect(granted.first?.string("rulesVersion") == harness.book.version)
        #expect(granted.first?.string("trigger") == "nth-purchase")
        // The card starts again: nine more coffees give nothing.
        for i in 0..<9 { try harness.purchase(customer: "C1", at: start + 11 * day + Int64(i) * hour) }
        #expect(harness.granted().count == 1)
        // Another customer's card: ten coffees spread over 40 days never fill one card of 30 days.
        for i in 0..<10 { try harness.purchase(customer: "C2", at: start + Int64(i) * 4 * day + 3 * hour) }
        #expect(harness.granted(customer: "C2").isEmpty)
    }

    @Test func visitStreakOfWeeksInARow() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: four-weeks
                trigger: { kind: streak, weeks: 3 }
                grant: 50 NOK voucher
                reward: { kind: voucher, amount: 50 NOK }
                repeat: every-time
            """)
        // Weeks 1 and 2 (twice in week 2), a gap in week 3, then weeks 4, 5, 6.
        try harness.purchase(customer: "C1", at: start)
        try harness.purchase(customer: "C1", at: start + 7 * day)
        try harness.purchase(customer: "C1", at: start + 8 * day)
        try harness.purchase(customer: "C1", at: start + 21 * day)
        try harness.purchase(customer: "C1", at: start + 28 * day)
        #expect(harness.granted().isEmpty)
        try harness.purchase(customer: "C1", at: start + 35 * day + 6 * day)   // Sunday of week 6
        let granted = harness.granted("four-weeks")
        #expect(granted.count == 1)
        #expect(granted.first?.string("sentence") == "50 NOK voucher for visiting 3 weeks in a row")
        #expect(granted.first?.number("amount") == 5000)
        #expect(granted.first?.number("value") == 5000)   // a voucher's value defaults to its amount
        // A second visit the same week does not count again.
        try harness.purchase(customer: "C1", at: start + 35 * day + 6 * day + hour)
        #expect(harness.granted().count == 1)
    }

    @Test func frequencyInAWindow() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: regular
                trigger: { kind: frequency, visits: 4, within: 14d }
                grant: 100 bonus points
                reward: { kind: bonus-points, points: 100 }
                repeat: 30d
            """)
        for i in 0..<3 { try harness.purchase(customer: "C1", at: start + Int64(i) * 5 * day) }
        try harness.purchase(customer: "C1", at: start + 16 * day)   // 4 visits, but the first is 16 days back
        #expect(harness.granted().isEmpty)
        try harness.purchase(customer: "C1", at: start + 17 * day)
        let granted = harness.granted("regular")
        #expect(granted.count == 1)
        #expect(granted.first?.string("sentence") == "100 bonus points for 4 visits in 14 days")
        #expect(granted.first?.string("kind") == "bonus-points")
        #expect(granted.first?.number("points") == 100)
        // Held back by repeat: 30d.
        try harness.purchase(customer: "C1", at: start + 18 * day)
        #expect(harness.granted().count == 1)
        let status = try harness.pool.read { db in try String.fetchOne(db, sql: "SELECT status FROM rr_rewards") }
        #expect(status == "applied")
    }

    @Test func spendThresholdOnceCrossed() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: big-spender
                trigger: { kind: spend, amount: 3000 NOK, within: 90d }
                grant: a gift card
                reward: { kind: voucher, percent: 10 }
                value: 150 NOK
                repeat: every-time
            """)
        try harness.purchase(customer: "C1", at: start, amount: 200_000)
        try harness.purchase(customer: "C1", at: start + day, amount: 90_000)
        #expect(harness.granted().isEmpty)
        try harness.purchase(customer: "C1", at: start + 2 * day, amount: 20_000)   // 3100 NOK: crosses
        let granted = harness.granted("big-spender")
        #expect(granted.count == 1)
        #expect(granted.first?.string("sentence") == "A gift card for spending 3000 NOK in 90 days")
        #expect(granted.first?.number("percent") == 10)
        // Above the threshold already: not crossed again, even with every-time.
        try harness.purchase(customer: "C1", at: start + 3 * day, amount: 20_000)
        #expect(harness.granted().count == 1)
        // 100 days later the early spend has left the window: crossing again counts.
        try harness.purchase(customer: "C1", at: start + 100 * day, amount: 310_000)
        #expect(harness.granted().count == 2)
    }

    @Test func firstPurchaseOnly() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: welcome
                trigger: first-purchase
                grant: a welcome gift
                reward: { kind: custom, type: crm.welcome-pack, params: { pack: starter, channel: mail } }
            """)
        try harness.purchase(customer: "C1", at: start)
        try harness.purchase(customer: "C1", at: start + day)
        try harness.purchase(customer: "C2", at: start + day)
        #expect(harness.granted().map { $0.string("customerId") } == ["C1", "C2"])
        let first = try #require(harness.granted().first)
        #expect(first.string("sentence") == "A welcome gift for the first purchase")
        #expect(first.string("type") == "crm.welcome-pack")
        guard case .object(let params)? = first["params"] else { Issue.record("no params"); return }
        #expect(params.string("pack") == "starter")
        #expect(params.string("channel") == "mail")
    }

    @Test func topCustomersByClvAndByProfitOnTheSchedule() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: top-clv
                trigger: { kind: top-customers, by: clv, percent: 10, every: month }
                grant: a 200 NOK thank-you voucher
                reward: { kind: voucher, amount: 200 NOK }
                repeat: every-time
              - id: top-profit
                trigger: { kind: top-customers, by: profit, percent: 5, every: month }
                when: customer.visits >= 1
                grant: a bottle of wine
                repeat: every-time
            """)
        // 20 customers scored in November: C01 has the highest CLV, C20 the highest profit.
        for i in 1...20 {
            try harness.scored(String(format: "C%02d", i), clv: Int64(100_000 - i * 1000), profit: Int64(i * 500), at: start + Int64(i) * hour)
        }
        try harness.purchase(customer: "C20", at: start + 2 * day)
        #expect(harness.granted().isEmpty)   // not before the month turns
        // The first event of December runs the schedule.
        try harness.purchase(customer: "C05", at: start + 29 * day + hour)
        let clv = harness.granted("top-clv").compactMap { $0.string("customerId") }
        #expect(clv == ["C01", "C02"])
        #expect(harness.granted("top-clv").first?.string("sentence") == "A 200 NOK thank-you voucher for being in the top 10% of customers by lifetime value this month")
        // Top 5% by profit is C20 alone, and its `when` (a visit) holds.
        #expect(harness.granted("top-profit").compactMap { $0.string("customerId") } == ["C20"])
        // Later events in December do not run it again.
        try harness.purchase(customer: "C05", at: start + 35 * day)
        #expect(harness.granted().count == 3)
    }

    @Test func winBackWhenAValuableCustomerMayBeLeaving() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: win-back
                trigger: { kind: win-back, pAliveBelow: 0.3 }
                when: customer.clvPercentile >= 80
                grant: double points next visit
                value: 50 NOK
                repeat: 90d
            """)
        try harness.scored("C1", clv: 500_000, percentile: 90, pAlive: 0.8, at: start)
        try harness.scored("C2", clv: 10_000, percentile: 20, pAlive: 0.8, at: start)
        try harness.scored("C2", clv: 10_000, percentile: 20, pAlive: 0.1, at: start + day)   // not valuable
        #expect(harness.granted().isEmpty)
        try harness.scored("C1", clv: 500_000, percentile: 90, pAlive: 0.25, at: start + day)
        let granted = harness.granted("win-back")
        #expect(granted.count == 1)
        #expect(granted.first?.string("sentence") == "Double points next visit for coming back: a valued customer we may be losing (25% likely still active)")
        // Still below: not again. Recovered and fell again within 90 days: held back by repeat.
        try harness.scored("C1", clv: 500_000, percentile: 90, pAlive: 0.2, at: start + 2 * day)
        try harness.scored("C1", clv: 500_000, percentile: 90, pAlive: 0.7, at: start + 3 * day)
        try harness.scored("C1", clv: 500_000, percentile: 90, pAlive: 0.2, at: start + 4 * day)
        #expect(harness.granted().count == 1)
        try harness.scored("C1", clv: 500_000, percentile: 90, pAlive: 0.7, at: start + 100 * day)
        try harness.scored("C1", clv: 500_000, percentile: 90, pAlive: 0.2, at: start + 101 * day)
        #expect(harness.granted().count == 2)
    }

    @Test func thanksPromotersAndRecoversDetractors() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: promoter-thanks
                trigger: promoter
                grant: a thank-you coffee
                repeat: every-time
              - id: detractor-recovery
                trigger: detractor
                when: customer.visits >= 2
                grant: a 100 NOK apology voucher
                reward: { kind: voucher, amount: 100 NOK }
                expires: 30d
            """)
        try harness.purchase(customer: "C1", at: start)
        try harness.purchase(customer: "C1", at: start + hour)
        try harness.survey(10, customer: "C1", at: start + 2 * hour)
        try harness.survey(7, customer: "C1", at: start + 3 * hour)      // passive: nothing
        try harness.survey(3, customer: "C1", at: start + 4 * hour)
        try harness.survey(2, customer: "C9", at: start + 5 * hour)      // never visited: `when` is false
        #expect(harness.granted("promoter-thanks").first?.string("sentence") == "A thank-you coffee for scoring us 10 of 10 (a promoter)")
        let recovery = harness.granted("detractor-recovery")
        #expect(recovery.count == 1)
        #expect(recovery.first?.string("customerId") == "C1")
        #expect(recovery.first?.string("sentence") == "A 100 NOK apology voucher for scoring us 3 of 10: we want to put it right")
        #expect(recovery.first?.string("expiresAt") == Timestamp(epochMilliseconds: start + 4 * hour + 30 * day).rfc3339)
    }

    @Test func derivedEventIdsStayWithinTheBusLimit() throws {
        let harness = try Harness(rules: Self.tiersAndWelcome)
        let customer = String(repeating: "c", count: 100)
        let receipt = String(repeating: "r", count: 90)   // with the plugin part, 104 of the 128 characters
        try harness.apply(Harness.purchaseEvent(id: receipt, customer: customer, at: start))
        // The Harness decodes every emitted event with the bus's own validation (ids of 1-128 characters).
        #expect(harness.granted().count == 1)
        #expect(harness.tierChanges().count == 1)
        #expect(harness.emitted.allSatisfy { $0.eventId.utf8.count <= 128 && $0.eventId.hasPrefix(receipt + "/reward-rules/") })
        #expect(Set(harness.emitted.map(\.eventId)).count == harness.emitted.count)
        // A customer id that is not an id (a space) is ignored, not stored.
        try harness.derived("customer.scored", at: start, ["customerId": .string("C 1"), "clv": .int(5)])
        #expect(try harness.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rr_customers WHERE customerId = 'C 1'") } == 0)
    }

    static let tiersAndWelcome = """
        tiers:
          - id: member
          - id: gold
            when: customer.visits >= 1
        rewards:
          - id: welcome
            trigger: first-purchase
            grant: a welcome gift
        """

    @Test func malformedEventsFromTheNetworkAreIgnored() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: win-back
                trigger: { kind: win-back, pAliveBelow: 0.3 }
                grant: a reason to come back
            """)
        try harness.derived("customer.scored", at: start, ["customerId": .int(5), "pAlive": .double(0.1)])
        try harness.derived("customer.scored", at: start, ["customerId": .string(""), "pAlive": .double(0.1)])
        try harness.derived("customer.scored", at: start, ["customerId": .string("C1"), "pAlive": .double(7)])
        try harness.derived("customer.scored", at: start, ["customerId": .string("C1"), "pAlive": .string("low")])
        try harness.derived("points.accrued", at: start, ["customerId": .string("C1"), "points": .int(-5), "purchaseEventId": .string("p")])
        try harness.derived("reward.redeemed", at: start, ["rewardId": .array([])])
        #expect(harness.granted().isEmpty)
        try harness.derived("customer.scored", at: start + hour, ["customerId": .string("C1"), "pAlive": .double(0.1)])
        #expect(harness.granted().count == 1)
    }
}
