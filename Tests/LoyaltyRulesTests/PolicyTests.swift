import Foundation
import LoyaltyEvents
import Testing
@testable import LoyaltyRules

/// What the compiled sections do with a purchase: points, tiers, rewards, discounts, alerts.
@Suite struct PolicyTests {
    static func book(_ body: String) throws -> RuleBook {
        let result = RuleLoader.load(sources: [("rules.yaml", "currency: NOK\ntimezone: Europe/Oslo\n" + body)])
        guard let book = result.book else {
            Issue.record("rules did not load: \(result.diagnostics.map(\.description))")
            throw CancellationError()
        }
        return book
    }

    /// A purchase on Saturday 2026-07-04 at 12:00 Oslo time.
    static func facts(_ lines: [PurchaseLine], customer: (inout CustomerFacts) -> Void = { _ in },
                      at instant: String = "2026-07-04T10:00:00Z", book: RuleBook) -> Facts {
        let facts = Facts()
        var clock = book.makeClock()
        facts.clock = clock.facts(at: Timestamp.parse(instant)!.epochMilliseconds)
        facts.load(purchase: Purchase(storeId: "S001", terminalId: "T1", receiptId: "1", customerId: "C1", currency: .NOK, lines: lines)!)
        customer(&facts.customer)
        return facts
    }

    static let coffee = PurchaseLine(sku: "COF-001", category: "coffee", quantity: 2, unitPrice: 50_00)
    static let meat = PurchaseLine(sku: "MEA-001", category: "meat", quantity: 1, unitPrice: 200_00)

    @Test func baseMultipliersAndBonusesCombineInOrder() throws {
        let book = try Self.book("""
            earning:
              rules:
                - id: base
                  points: purchase.total / 10 NOK
                - id: coffee-double
                  lines: category == "coffee"
                  multiplier: 2
                - id: gold
                  when: customer.tier == "gold"
                  multiplier: 1.5
                - id: weekend
                  when: clock.weekday == "saturday"
                  bonus: 7
            """)
        var scratch = EarningPolicy.Scratch()
        // 300 NOK: 30 base points, 10 of them on coffee (100 NOK) which doubles: 40; gold ×1.5: 60; +7.
        let gold = book.earning!.evaluate(Self.facts([Self.coffee, Self.meat], customer: { $0.tier = "gold" }, book: book), scratch: &scratch)
        #expect(gold.points == 67)
        #expect(gold.contributions == [
            .init(ruleId: "base", points: 30), .init(ruleId: "coffee-double", points: 10),
            .init(ruleId: "gold", points: 20), .init(ruleId: "weekend", points: 7),
        ])
        let plain = book.earning!.evaluate(Self.facts([Self.meat], book: book), scratch: &scratch)
        #expect(plain.points == 27)
    }

    @Test func lineScopedPointsUseTheLinesFields() throws {
        let book = try Self.book("""
            earning:
              rules:
                - id: per-coffee
                  lines: category == "coffee"
                  points: quantity * 5
            """)
        var scratch = EarningPolicy.Scratch()
        #expect(book.earning!.evaluate(Self.facts([Self.coffee, Self.meat], book: book), scratch: &scratch).points == 10)
        #expect(book.earning!.evaluate(Self.facts([Self.meat], book: book), scratch: &scratch).points == 0)
    }

    @Test func capsThenRounding() throws {
        let book = try Self.book("""
            earning:
              rounding: up
              caps: { perPurchase: 25.5, perDay: 40 }
              rules:
                - id: base
                  points: purchase.total / 10 NOK
            """)
        var scratch = EarningPolicy.Scratch()
        let facts = Self.facts([Self.coffee, Self.meat], book: book)
        let first = book.earning!.evaluate(facts, earnedToday: 0, scratch: &scratch)
        #expect(first.points == 26)            // 30 capped to 25.5, rounded up
        #expect(first.cappedBy == 4.5)
        #expect(book.earning!.evaluate(facts, earnedToday: 26, scratch: &scratch).points == 14)   // 40 − 26
        #expect(book.earning!.evaluate(facts, earnedToday: 40, scratch: &scratch).points == 0)
    }

    @Test(arguments: [("down", 12), ("nearest", 13), ("up", 13)])
    func roundingIsWhatTheFileSays(rounding: String, expected: Int64) throws {
        let book = try Self.book("""
            earning:
              rounding: \(rounding)
              rules:
                - id: base
                  points: purchase.total / 8 NOK
            """)
        var scratch = EarningPolicy.Scratch()
        // 100 NOK / 8 NOK = 12.5
        let line = PurchaseLine(sku: "X", category: "x", quantity: 1, unitPrice: 100_00)
        #expect(book.earning!.evaluate(Self.facts([line], book: book), scratch: &scratch).points == expected)
    }

    @Test func inAGroupOnlyTheHighestPriorityRuleThatAppliesCounts() throws {
        let book = try Self.book("""
            earning:
              rules:
                - id: base
                  points: 100
                - id: silver
                  when: customer.qualifyingPoints >= 1000
                  multiplier: 1.2
                  group: tier
                  priority: 10
                - id: gold
                  when: customer.qualifyingPoints >= 5000
                  multiplier: 1.5
                  group: tier
                  priority: 20
            """)
        var scratch = EarningPolicy.Scratch()
        #expect(book.earning!.evaluate(Self.facts([Self.meat], customer: { $0.qualifyingPoints = 6000 }, book: book), scratch: &scratch).points == 150)
        #expect(book.earning!.evaluate(Self.facts([Self.meat], customer: { $0.qualifyingPoints = 2000 }, book: book), scratch: &scratch).points == 120)
        #expect(book.earning!.evaluate(Self.facts([Self.meat], book: book), scratch: &scratch).points == 100)
    }

    @Test func expiry() throws {
        var policy = EarningPolicy()
        var clock = LocalClock(timeZone: TimeZone(identifier: "Europe/Oslo")!)
        // 2026-12-31T23:30Z is already 1 January 2027 in Oslo.
        let newYear = clock.facts(at: Timestamp.parse("2026-12-31T23:30:00Z")!.epochMilliseconds)
        #expect(CivilDate(dayNumber: newYear.day) == CivilDate(year: 2027, month: 1, day: 1))
        policy.expiry = .endOfMonth
        #expect(policy.expiryDay(earnedOn: newYear) == CivilDate(year: 2027, month: 2, day: 1).dayNumber)
        policy.expiry = .endOfYear
        #expect(policy.expiryDay(earnedOn: newYear) == CivilDate(year: 2028, month: 1, day: 1).dayNumber)
        policy.expiry = .afterDays(365)
        #expect(policy.expiryDay(earnedOn: newYear) == newYear.day + 365)
        policy.expiry = .never
        #expect(policy.expiryDay(earnedOn: newYear) == nil)
    }

    @Test func tiersPickTheHighestLevelThatHolds() throws {
        let book = try Self.book("""
            tiers:
              - id: member
              - id: silver
                when: customer.qualifyingPoints >= 1000
              - id: gold
                when: customer.qualifyingPoints >= 5000
            """)
        for (points, tier) in [(0.0, "member"), (999, "member"), (1000, "silver"), (7000, "gold")] {
            let facts = Self.facts([Self.meat], customer: { $0.qualifyingPoints = points }, book: book)
            #expect(book.tiers?.level(for: facts)?.header.id == tier)
        }
    }

    @Test func rewardsHonourRepeatAndGroups() throws {
        let book = try Self.book("""
            rewards:
              - id: big
                when: purchase.total >= 250 NOK
                grant: 50 NOK voucher
                value: 50 NOK
                group: thanks
                priority: 2
                repeat: 30d
              - id: small
                when: purchase.total >= 100 NOK
                grant: 20 NOK voucher
                value: 20 NOK
                group: thanks
                priority: 1
                repeat: every-time
              - id: welcome
                grant: a tote bag
            """)
        let facts = Self.facts([Self.coffee, Self.meat], book: book)
        let now = facts.clock.epochMilliseconds
        let fresh = book.rewards!.evaluate(facts) { _ in nil }
        #expect(fresh.map(\.header.id) == ["big", "welcome"])
        #expect(fresh.first?.value == 50_00)
        // `big` granted 10 days ago: it still holds its group, so not `small` instead; `welcome` is once.
        let later = book.rewards!.evaluate(facts) { id in id == "small" ? nil : now - 10 * 86_400_000 }
        #expect(later.isEmpty)
        // A smaller basket: `big` does not apply, so the group goes to `small`, every time.
        let smallBasket = PolicyTests.facts([PolicyTests.coffee], book: book)
        #expect(book.rewards!.evaluate(smallBasket) { id in id == "small" ? now : now - 1 }.map(\.header.id) == ["small"])
        let monthLater = book.rewards!.evaluate(facts) { id in id == "welcome" ? now - 1 : now - 31 * 86_400_000 }
        #expect(monthLater.map(\.header.id) == ["big"])
    }

    @Test func campaignsDiscountWithinDatesStoresCapsAndBudget() throws {
        let book = try Self.book("""
            campaigns:
              - id: summer-coffee
                starts: 2026-07-01
                ends: 2026-07-31
                stores: [S001]
                lines: category == "coffee"
                discount: { percent: 20 }
              - id: big-basket
                when: purchase.total >= 250 NOK
                discount: { amount: 30 NOK }
                maxDiscount: 25 NOK
                budget: 100 NOK
              - id: elsewhere
                stores: [S999]
                discount: { percent: 50 }
            """)
        var scratch: [Double] = []
        let facts = Self.facts([Self.coffee, Self.meat], book: book)
        let quotes = book.campaigns!.quote(facts, scratch: &scratch)
        #expect(quotes == [.init(ruleId: "summer-coffee", discount: 20_00), .init(ruleId: "big-basket", discount: 25_00)])
        let nearlySpent = book.campaigns!.quote(facts, remainingBudget: { $0 == "big-basket" ? 10_00 : nil }, scratch: &scratch)
        #expect(nearlySpent.last == .init(ruleId: "big-basket", discount: 10_00))
        let august = Self.facts([Self.coffee, Self.meat], at: "2026-08-01T10:00:00Z", book: book)
        #expect(book.campaigns!.quote(august, scratch: &scratch).map(\.ruleId) == ["big-basket"])
    }

    @Test func stackedDiscountsNeverExceedTheLine() throws {
        let book = try Self.book("""
            campaigns:
              - id: a
                discount: { percent: 80 }
              - id: b
                discount: { amount: 1000 NOK }
            """)
        var scratch: [Double] = []
        let quotes = book.campaigns!.quote(Self.facts([Self.meat], book: book), scratch: &scratch)
        #expect(quotes.map(\.discount) == [160_00, 40_00])
        #expect(quotes.map(\.discount).reduce(0, +) <= 200_00)
    }

    @Test func alertsOnSurveys() throws {
        let book = try Self.book("""
            alerts:
              - id: detractor
                when: survey.nps <= 6
                severity: high
                message: Call them back
              - id: service
                when: survey.serviceLevel <= 3
            """)
        let facts = Facts()
        facts.load(survey: Survey(storeId: "S001", customerId: "C1", nps: 4))
        #expect(book.alerts!.evaluate(facts).map(\.header.id) == ["detractor"])
        #expect(book.alerts!.rules.first?.severity == .high)
        #expect(book.alerts!.rules.first?.message == "Call them back")
        facts.load(survey: Survey(storeId: "S001", nps: 9, drivers: ["serviceLevel": 2]))
        #expect(book.alerts!.evaluate(facts).map(\.header.id) == ["service"])
    }
}

@Suite struct GroupEdgeTests {
    @Test func aLineRuleWithNoMatchingLineDoesNotTakeItsGroup() throws {
        let book = try PolicyTests.book("""
            earning:
              rules:
                - id: coffee-rate
                  lines: category == "coffee"
                  points: amount / 5 NOK
                  group: base
                  priority: 10
                - id: normal-rate
                  points: purchase.total / 10 NOK
                  group: base
                - id: coffee-triple
                  lines: category == "coffee"
                  multiplier: 3
                  group: boost
                  priority: 10
                - id: any-double
                  multiplier: 2
                  group: boost
            """)
        var scratch = EarningPolicy.Scratch()
        // Meat only: the coffee rules do not apply, so their groups fall to the next rule.
        let meat = book.earning!.evaluate(PolicyTests.facts([PolicyTests.meat], book: book), scratch: &scratch)
        #expect(meat.contributions.map(\.ruleId) == ["normal-rate", "any-double"])
        #expect(meat.points == 40)
        let coffee = book.earning!.evaluate(PolicyTests.facts([PolicyTests.coffee], book: book), scratch: &scratch)
        #expect(coffee.contributions.map(\.ruleId) == ["coffee-rate", "coffee-triple"])
        #expect(coffee.points == 60)
    }

    @Test func aRewardHeldBackByRepeatStillTakesItsGroup() throws {
        let book = try PolicyTests.book("""
            rewards:
              - id: top
                when: purchase.total >= 100 NOK
                grant: big voucher
                repeat: 365d
                group: thanks
                priority: 2
              - id: smaller
                when: purchase.total >= 50 NOK
                grant: small voucher
                repeat: 365d
                group: thanks
                priority: 1
            """)
        let facts = PolicyTests.facts([PolicyTests.meat], book: book)
        #expect(book.rewards!.evaluate(facts) { _ in nil }.map(\.header.id) == ["top"])
        // `top` was granted a month ago: nothing this time, not the smaller voucher instead.
        let now = facts.clock.epochMilliseconds
        #expect(book.rewards!.evaluate(facts) { $0 == "top" ? now - 30 * 86_400_000 : nil }.isEmpty)
    }
}
