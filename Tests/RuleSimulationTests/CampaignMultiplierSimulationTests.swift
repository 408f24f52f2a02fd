import Foundation
import LoyaltyEvents
import LoyaltyRules
import Testing
@testable import RuleSimulation

/// A campaign's `pointsMultiplier` in `rules simulate`, as the engine gives it: the
/// discount-campaigns plugin records a redemption with discount 0, and the points plugin adds
/// points earned × (product − 1) to the purchase's lot (plugins/points-accrual CampaignBonus).
@Suite struct CampaignMultiplierSimulationTests {
    /// At 10:00 Oslo time on day `day` after Monday 2 March 2026, plus `minutes`.
    static func purchase(_ id: String, customer: String?, amount: Int64, day: Int, minutes: Int = 0,
                         category: String = "coffee") -> EventEnvelope {
        let line = PurchaseLine(sku: "SKU", category: category, quantity: 1, unitPrice: amount)
        let at = RuleSimulationTests.start + Int64(day) * 86_400_000 + Int64(minutes) * 60_000
        return EventEnvelope(eventId: id, occurredAt: Timestamp(epochMilliseconds: at), source: "pos",
                             payload: .purchase(Purchase(storeId: "S001", terminalId: "T1", receiptId: id, customerId: customer,
                                                         currency: .NOK, lines: [line])!))
    }

    static func run(_ rules: String, _ envelopes: [EventEnvelope]) throws -> SimulationReport {
        var events = PreparedEvents()
        for envelope in envelopes { events.add(envelope, currency: .NOK) }
        return RuleSimulation(book: try RuleSimulationTests.book(rules)).run(events)
    }

    static func earning(rounding: String = "down", pending: String = "0") -> String {
        """
        earning:
          rounding: \(rounding)
          pending: \(pending)
          rules:
            - id: base
              points: purchase.total / 10 NOK

        """
    }

    static let doubleCoffee = """
        campaigns:
          - id: double-coffee
            lines: category == "coffee"
            pointsMultiplier: 2

        """

    static func row(_ report: SimulationReport, _ id: String) throws -> SimulationReport.RuleTotals {
        try #require(report.rules.first { $0.ruleId == id })
    }

    @Test func aDoubleCampaignDoublesThePointsOfTheMatchingPurchases() throws {
        let events = [
            Self.purchase("p1", customer: "C1", amount: 100_00, day: 0),                      // 10 earned, +10
            Self.purchase("p2", customer: "C1", amount: 200_00, day: 1, category: "meat"),    // no coffee: 20
            Self.purchase("p3", customer: "C2", amount: 55_00, day: 2),                       // 5 earned, +5
        ]
        let without = try Self.run(Self.earning(), events)
        let with = try Self.run(Self.earning() + Self.doubleCoffee, events)
        #expect(without.pointsGranted == 10 + 20 + 5)
        #expect(with.pointsGranted == 20 + 20 + 10)
        #expect(with.campaignBonusPoints == 15)
        let campaign = try Self.row(with, "double-coffee")
        #expect(campaign.effects == 2)
        #expect(campaign.customers == 2)
        #expect(campaign.points == 15)
        #expect(campaign.money == 0)
        // The earning rule's own tally is what it earned before rounding, unchanged by the campaign.
        #expect(try Self.row(with, "base").points == 10 + 20 + 5.5)
    }

    @Test func twoMultipliersMultiply() throws {
        let rules = Self.earning() + """
            campaigns:
              - id: double
                pointsMultiplier: 2
                priority: 20
              - id: triple
                pointsMultiplier: 3
                priority: 10

            """
        let report = try Self.run(rules, [Self.purchase("p1", customer: "C1", amount: 300_00, day: 0)])
        // 30 earned, ×6: 150 more, of which the double's share is 30 and the triple's 60 × 2.
        #expect(report.pointsGranted == 180)
        #expect(report.campaignBonusPoints == 150)
        #expect(report.multiplierRedemptions == 2)
        #expect(try Self.row(report, "double").points == 30)
        #expect(try Self.row(report, "triple").points == 120)
    }

    @Test(arguments: [("down", 7.0), ("nearest", 8.0), ("up", 8.0)])
    func theBonusIsRoundedAsTheEarningSectionSays(rounding: String, bonus: Double) throws {
        let rules = Self.earning(rounding: rounding) + """
            campaigns:
              - id: half-more
                pointsMultiplier: 1.5

            """
        // 150 NOK: 15 points, × 1.5 gives 7.5 more.
        let report = try Self.run(rules, [Self.purchase("p1", customer: "C1", amount: 150_00, day: 0)])
        #expect(report.campaignBonusPoints == bonus)
        #expect(report.pointsGranted == 15 + bonus)
        #expect(try Self.row(report, "half-more").points == 7.5)
    }

    @Test func theBonusIsNotCappedAndDoesNotUseTheDaysCap() throws {
        let rules = """
            earning:
              caps:
                perPurchase: 10
                perDay: 15
              rules:
                - id: base
                  points: purchase.total / 10 NOK

            """ + Self.doubleCoffee
        let report = try Self.run(rules, [
            Self.purchase("p1", customer: "C1", amount: 500_00, day: 0),              // 50 capped to 10, +10
            Self.purchase("p2", customer: "C1", amount: 500_00, day: 0, minutes: 60),  // 5 left of the day's 15, +5
        ])
        #expect(report.pointsGranted == 10 + 10 + 5 + 5)
    }

    @Test func aReturnTakesBackItsShareOfTheBonus() throws {
        let events = [
            Self.purchase("p1", customer: "C1", amount: 100_00, day: 0),      // 10 earned, 10 bonus
            RuleSimulationTests.refund("r1", of: "p1", customer: "C1", amount: 50_00, day: 1),
            RuleSimulationTests.refund("r2", of: "p1", customer: "C1", amount: 50_00, day: 2),
        ]
        let report = try Self.run(Self.earning() + Self.doubleCoffee, events)
        #expect(report.pointsGranted == 20)
        #expect(report.pointsReversed == 20)
        let half = try Self.run(Self.earning() + Self.doubleCoffee, Array(events.prefix(2)))
        #expect(half.pointsReversed == 10)
    }

    /// The bonus is pending with the purchase's points and becomes spendable with them: a reward
    /// for 20 spendable points is not there before the return window ends, and is there after
    /// only because of the bonus (10 earned alone would not reach it).
    @Test func theBonusIsPendingWithThePurchase() throws {
        let rewards = """
            rewards:
              - id: twenty-points
                when: customer.points >= 20
                grant: a coffee
                value: 30 NOK

            """
        let events = [
            Self.purchase("p1", customer: "C1", amount: 100_00, day: 0),
            Self.purchase("p2", customer: "C1", amount: 10_00, day: 1, category: "meat"),    // still pending: 0 spendable
            Self.purchase("p3", customer: "C1", amount: 10_00, day: 15, category: "meat"),   // released: 20 + 1
        ]
        let with = try Self.run(Self.earning(pending: "14d") + Self.doubleCoffee + rewards, events)
        #expect(with.pointsGranted == 20 + 1 + 1)
        #expect(with.rewardsGranted == 1)
        let early = try Self.run(Self.earning(pending: "14d") + Self.doubleCoffee + rewards, Array(events.prefix(2)))
        #expect(early.rewardsGranted == 0)
        let without = try Self.run(Self.earning(pending: "14d") + rewards, events)
        #expect(without.rewardsGranted == 0)
    }

    @Test func aMultiplierIsARedemptionWithNoMoneyAndNoDiscount() throws {
        let events = [
            Self.purchase("p1", customer: "C1", amount: 100_00, day: 0),
            Self.purchase("p2", customer: nil, amount: 100_00, day: 0),           // anonymous: redeemed, no points
            Self.purchase("p3", customer: "C2", amount: 5_00, day: 0),            // earned 0: redeemed, no bonus
        ]
        let report = try Self.run(Self.earning() + Self.doubleCoffee, events)
        #expect(report.multiplierRedemptions == 3)
        #expect(report.discounts == 0)
        #expect(report.discountTotal == 0)
        #expect(report.customersDiscounted == 0)
        let campaign = try Self.row(report, "double-coffee")
        #expect(campaign.effects == 3)
        #expect(campaign.customers == 2)
        #expect(campaign.money == 0)
        #expect(report.campaignBonusPoints == 10)

        // The campaigns by position: the multiplier with discount 0; by id: money discounts only.
        let book = try RuleSimulationTests.book(Self.earning() + Self.doubleCoffee)
        var prepared = PreparedEvents()
        prepared.add(events[0], currency: .NOK)
        let facts = Facts()
        facts.purchase = prepared.events[0].purchase
        var clock = book.makeClock()
        facts.clock = clock.facts(at: prepared.events[0].epochMilliseconds)
        var scratch: [Double] = [], outcomes: [CampaignOutcome] = []
        var quotes: [(rule: Int, discount: Double)] = []
        let campaigns = try #require(book.campaigns)
        campaigns.quote(facts, remainingBudgetOf: { _ in nil }, scratch: &scratch, into: &quotes)
        #expect(quotes.map(\.rule) == [0] && quotes.map(\.discount) == [0])
        campaigns.quote(facts, remainingBudgetOf: { _ in nil }, scratch: &scratch, outcomes: &outcomes, into: &quotes)
        #expect(quotes.map(\.rule) == [0] && quotes.map(\.discount) == [0])
        #expect(campaigns.quote(facts, scratch: &scratch).isEmpty)
        #expect(campaigns.pointsMultipliers == [2])
    }

    @Test func moneyCampaignsGiveWhatTheyGaveBefore() throws {
        let money = """
            campaigns:
              - id: coffee-ten
                lines: category == "coffee"
                discount: { percent: 10 }
                budget: 25 NOK
                priority: 10

            """
        let multiplier = """
              - id: double-coffee
                lines: category == "coffee"
                pointsMultiplier: 2
                priority: 5

            """
        let events = (0..<4).map { Self.purchase("p\($0)", customer: "C\($0 % 2)", amount: 100_00, day: $0) }
        let alone = try Self.run(Self.earning() + money, events)
        let beside = try Self.run(Self.earning() + money + multiplier, events)
        // 10 NOK off each until the 25 NOK budget is spent: 10, 10, 5.
        #expect(alone.discounts == 3)
        #expect(alone.discountTotal == 25_00)
        #expect(alone.multiplierRedemptions == 0)
        #expect(alone.campaignBonusPoints == 0)
        #expect(alone.pointsGranted == 40)
        #expect(beside.discounts == alone.discounts)
        #expect(beside.discountTotal == alone.discountTotal)
        #expect(beside.customersDiscounted == alone.customersDiscounted)
        #expect(try Self.row(beside, "coffee-ten").effects == 3)
        #expect(try Self.row(beside, "coffee-ten").money == 25_00)
        #expect(try Self.row(beside, "coffee-ten").points == 0)
        #expect(beside.multiplierRedemptions == 4)
        #expect(beside.pointsGranted == 80)
    }

    /// The fast simulation against the plain one with multipliers of every kind: stacked,
    /// grouped with a money campaign, for a tier, at hours; with and without a pending period.
    @Test(arguments: [("down", "14d"), ("nearest", "0")])
    func multipliersInTheFiftyRulesGiveWhatAPlainEvaluationGives(rounding: String, pending: String) throws {
        var text = try String(contentsOfFile: RuleSimulationTests.repoRoot + "/benchmarks/rules/fifty-rules.yaml", encoding: .utf8)
        for (old, new) in [("  rounding: down\n", "  rounding: \(rounding)\n"), ("  pending: 14d\n", "  pending: \(pending)\n"),
                           ("campaigns:\n", "campaigns:\n" + Self.extraCampaigns)] {
            #expect(text.contains(old))
            text = text.replacingOccurrences(of: old, with: new)
        }
        let result = RuleLoader.load(sources: [("fifty-rules.yaml", text)])
        let book = try #require(result.book, "\(result.diagnostics.map(\.description))")
        #expect(book.campaigns?.pointsMultipliers.compactMap { $0 }.count == 3)
        let prepared = ReferenceSimulationTests.chain(seed: 11, customers: 200, events: 15_000, currency: book.currency)
        ReferenceSimulationTests.check(book, prepared)
        let report = RuleSimulation(book: book).run(prepared)
        #expect(report.multiplierRedemptions > 0)
        #expect(report.campaignBonusPoints > 0)
        for id in ["weekend-double", "coffee-and-a-half", "gold-evening-triple"] {
            #expect(try Self.row(report, id).effects > 0, "\(id)")
        }
        let middle = prepared.events[prepared.events.count / 2].epochMilliseconds
        ReferenceSimulationTests.check(book, prepared, countFrom: middle)
    }

    static let extraCampaigns = """
          - id: weekend-double
            weekdays: weekend
            pointsMultiplier: 2
            priority: 30
          - id: coffee-and-a-half
            lines: category == "coffee"
            pointsMultiplier: 1.5
            priority: 25
          - id: gold-evening-triple
            tiers: [gold, silver]
            hours: 16:00-22:00
            pointsMultiplier: 3
            group: evening
            priority: 24
          - id: evening-bakery-money
            hours: 16:00-22:00
            lines: category == "bakery"
            discount: { amount: 5 NOK }
            group: evening
            priority: 23

        """
}
