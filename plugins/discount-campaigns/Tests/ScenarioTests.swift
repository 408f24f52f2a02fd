import Foundation
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime
import Testing
@testable import DiscountCampaigns

private let header = """
    currency: NOK
    timezone: Europe/Oslo

    """

/// 2026-11-27 is a Friday; Oslo is UTC+1 in November.
@Suite struct StackingAndPriority {
    static let rules = header + """
        campaigns:
          - id: tv-20
            priority: 20
            lines: category == "electronics"
            discount: { percent: 20 }
          - id: tv-extra
            priority: 10
            lines: category == "electronics"
            discount: { amount: 100 NOK }
          - id: basket-a
            group: basket
            priority: 5
            when: purchase.total >= 1000 NOK
            discount: { amount: 50 NOK }
          - id: basket-b
            group: basket
            priority: 4
            discount: { amount: 70 NOK }
        """

    @Test func stackedCampaignsTakeTurnsByPriorityAndAGroupGivesOnce() throws {
        let h = try Harness(rules: Self.rules)
        h.clock.set("2026-11-27T12:00:00+01:00")
        let quote = try h.quote(lines: [("electronics", 1, 500_000), ("coffee", 1, 4_000)])
        // 20 % of 5000 = 1000 NOK first, then 100 NOK off what is left; the group gives basket-a only.
        #expect(quote.appliedOrder == ["tv-20", "tv-extra", "basket-a"])
        #expect(quote.applied == ["tv-20": 100_000, "tv-extra": 10_000, "basket-a": 5_000])
        #expect(quote.notApplied["basket-b"] == "group-taken")
        #expect(quote.total == 504_000 - 115_000)
    }

    @Test func aLineNeverGoesBelowZero() throws {
        let h = try Harness(rules: header + """
            campaigns:
              - id: big
                priority: 2
                discount: { amount: 30 NOK }
              - id: bigger
                priority: 1
                discount: { amount: 50 NOK }
            """)
        h.clock.set("2026-11-27T12:00:00+01:00")
        let quote = try h.quote(lines: [("coffee", 1, 4_000)])
        #expect(quote.applied == ["big": 3_000, "bigger": 1_000])
        #expect(quote.total == 0)
    }

    @Test func anExclusiveCampaignAppliesOnlyAlone() throws {
        let rules = header + """
            campaigns:
              - id: vip-exclusive
                priority: 30
                stacking: exclusive
                when: purchase.total >= 2000 NOK
                discount: { percent: 25 }
              - id: everyday
                priority: 10
                discount: { amount: 20 NOK }
              - id: late-exclusive
                priority: 5
                stacking: exclusive
                discount: { percent: 50 }
            """
        let h = try Harness(rules: rules)
        h.clock.set("2026-11-27T12:00:00+01:00")
        let big = try h.quote(lines: [("wine", 1, 300_000)])
        #expect(big.applied == ["vip-exclusive": 75_000])
        #expect(big.notApplied["everyday"] == "excluded-by-exclusive")
        #expect(big.notApplied["late-exclusive"] == "excluded-by-exclusive")
        let small = try h.quote(lines: [("wine", 1, 10_000)])
        #expect(small.applied == ["everyday": 2_000])
        #expect(small.notApplied["late-exclusive"] == "exclusive-needs-to-be-alone")
    }

    @Test func buyTwoGetOneGivesTheCheapestFree() throws {
        let h = try Harness(rules: header + """
            campaigns:
              - id: three-for-two
                lines: category == "snacks"
                discount: { buy: 2, get: 1 }
            """)
        h.clock.set("2026-11-27T12:00:00+01:00")
        let quote = try h.quote(lines: [("snacks", 2, 3_000), ("snacks", 1, 2_000), ("snacks", 2, 5_000), ("coffee", 3, 1_000)])
        // 5 snacks: one group of three, the cheapest (20 NOK) free; coffee is not covered.
        #expect(quote.applied == ["three-for-two": 2_000])
        let none = try h.quote(lines: [("snacks", 2, 3_000)])
        #expect(none.notApplied["three-for-two"] == "nothing-left-to-discount")
    }
}

@Suite struct Budgets {
    @Test func aMoneyBudgetIsConsumedAtCommitAndNeverExceeded() throws {
        let h = try Harness(rules: header + """
            campaigns:
              - id: hundred-off
                discount: { amount: 100 NOK }
                budget: 250 NOK
            """)
        h.clock.set("2026-11-27T12:00:00+01:00")
        // Quotes reserve nothing: two quotes see the same budget.
        #expect(try h.quote(lines: [("wine", 1, 50_000)]).discount == 10_000)
        #expect(try h.quote(lines: [("wine", 1, 50_000)]).discount == 10_000)
        // Three purchases in one transaction: 100, 100, then the 50 left; the fourth gets nothing.
        try h.apply(Make.purchase("p1", at: "2026-11-27T12:01:00+01:00", lines: [("wine", 1, 50_000)]),
                    Make.purchase("p2", at: "2026-11-27T12:02:00+01:00", lines: [("wine", 1, 50_000)]),
                    Make.purchase("p3", at: "2026-11-27T12:03:00+01:00", lines: [("wine", 1, 50_000)]))
        try h.apply(Make.purchase("p4", at: "2026-11-27T12:04:00+01:00", lines: [("wine", 1, 50_000)]))
        let redeemed = h.emitted("campaign.redeemed")
        #expect(redeemed.map { $0["discount"] } == [.int(10_000), .int(10_000), .int(5_000), .int(0)])
        #expect(redeemed.last?["refused"] == .array([.object(["campaign": "hundred-off", "reason": "budget-spent"])]))
        // The quote's counters follow the commits.
        let after = try h.quote(lines: [("wine", 1, 50_000)])
        #expect(after.notApplied["hundred-off"] == "budget-spent")
        let report = try #require(try h.call("campaign.report", .object([:])).okObject)
        guard case .array(let campaigns)? = report["campaigns"], case .object(let row)? = campaigns.first else { Issue.record("no campaigns"); return }
        #expect(row["redemptions"] == .int(3))
        #expect(row["discount"] == .int(25_000))
        #expect(row["budgetLeft"] == .int(0))
    }

    @Test func redemptionsPerCustomerAndPerDayAreLimited() throws {
        let h = try Harness(rules: header + """
            campaigns:
              - id: welcome
                discount: { amount: 10 NOK }
                budget: { perCustomer: 1, perDay: 2, redemptions: 3 }
            """)
        h.clock.set("2026-11-27T12:00:00+01:00")
        #expect(try h.quote(lines: [("coffee", 1, 4_000)]).notApplied["welcome"] == "needs-loyalty-customer")
        try h.apply(Make.purchase("a1", customer: "C1", at: "2026-11-27T12:00:00+01:00", lines: [("coffee", 1, 4_000)]))
        try h.apply(Make.purchase("a2", customer: "C1", at: "2026-11-27T12:10:00+01:00", lines: [("coffee", 1, 4_000)]))
        #expect(try h.quote(customer: "C1", lines: [("coffee", 1, 4_000)]).notApplied["welcome"] == "customer-limit-reached")
        try h.apply(Make.purchase("b1", customer: "C2", at: "2026-11-27T13:00:00+01:00", lines: [("coffee", 1, 4_000)]))
        // Two today: C3 must wait for tomorrow (local day).
        try h.apply(Make.purchase("c1", customer: "C3", at: "2026-11-27T23:30:00+01:00", lines: [("coffee", 1, 4_000)]))
        try h.apply(Make.purchase("c2", customer: "C3", at: "2026-11-28T00:30:00+01:00", lines: [("coffee", 1, 4_000)]))
        try h.apply(Make.purchase("d1", customer: "C4", at: "2026-11-28T09:00:00+01:00", lines: [("coffee", 1, 4_000)]))
        let given = h.emitted("campaign.redeemed").map { ($0["purchaseEventId"], $0["discount"], $0["refused"]) }
        #expect(given.map { $0.0 } == ["a1", "a2", "b1", "c1", "c2", "d1"].map { .string($0) })
        #expect(given.map { $0.1 } == [.int(1_000), .int(0), .int(1_000), .int(0), .int(1_000), .int(0)])
        #expect(given[1].2 == .array([.object(["campaign": "welcome", "reason": "customer-limit-reached"])]))
        #expect(given[3].2 == .array([.object(["campaign": "welcome", "reason": "day-limit-reached"])]))
        #expect(given[5].2 == .array([.object(["campaign": "welcome", "reason": "redemptions-spent"])]))
    }

    @Test func aRolledBackTransactionLeavesTheQuoteCountersAlone() throws {
        let h = try Harness(rules: header + """
            campaigns:
              - id: once
                discount: { amount: 10 NOK }
                budget: { redemptions: 1 }
            """)
        h.clock.set("2026-11-27T12:00:00+01:00")
        #expect(try h.quote(lines: [("coffee", 1, 4_000)]).discount == 1_000)   // loads the counters
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try h.pool.write { db in
                var emitter = Emitter(pluginName: "discount-campaigns", input: Make.purchase("x", at: "2026-11-27T12:00:00+01:00", lines: [("coffee", 1, 4_000)]))
                try h.plugin.apply(StoredEvent(seq: 1, envelope: Make.purchase("x", at: "2026-11-27T12:00:00+01:00", lines: [("coffee", 1, 4_000)])),
                                   in: db, emit: &emitter)
                throw Boom()
            }
        }
        #expect(try h.quote(lines: [("coffee", 1, 4_000)]).discount == 1_000)
        try h.apply(Make.purchase("y", at: "2026-11-27T12:00:00+01:00", lines: [("coffee", 1, 4_000)]))
        #expect(try h.quote(lines: [("coffee", 1, 4_000)]).notApplied["once"] == "redemptions-spent")
    }
}

@Suite struct TimeWindows {
    static let rules = header + """
        campaigns:
          - id: morning-coffee
            weekdays: weekdays
            hours: 07:00-09:00
            lines: category == "coffee"
            discount: { amount: 10 NOK }
          - id: black-friday
            starts: 2026-11-27
            ends: 2026-11-30
            discount: { percent: 10 }
        """

    @Test func weekdaysHoursAndDatesFollowTheChainsTimeZone() throws {
        let h = try Harness(rules: Self.rules)
        let basket: [(String, Int64, Int64)] = [("coffee", 1, 4_000)]
        h.clock.set("2026-11-27T05:59:00Z")   // 06:59 in Oslo
        var quote = try h.quote(lines: basket)
        #expect(quote.notApplied["morning-coffee"] == "outside-hours")
        #expect(quote.applied["black-friday"] == 400)
        h.clock.set("2026-11-27T06:00:00Z")   // 07:00 in Oslo
        #expect(try h.quote(lines: basket).applied["morning-coffee"] == 1_000)
        h.clock.set("2026-11-27T07:59:59Z")
        #expect(try h.quote(lines: basket).applied["morning-coffee"] == 1_000)
        h.clock.set("2026-11-27T08:00:00Z")   // 09:00: the end is excluded
        #expect(try h.quote(lines: basket).notApplied["morning-coffee"] == "outside-hours")
        h.clock.set("2026-11-28T07:30:00+01:00")   // Saturday
        quote = try h.quote(lines: basket)
        #expect(quote.notApplied["morning-coffee"] == "not-on-this-weekday")
        h.clock.set("2026-11-26T23:30:00Z")   // 00:30 on the 27th in Oslo, still the 26th in UTC
        #expect(try h.quote(lines: basket).applied["black-friday"] == 400)
        h.clock.set("2026-11-26T22:59:00Z")
        #expect(try h.quote(lines: basket).notApplied["black-friday"] == "not-started")
        h.clock.set("2026-12-01T00:00:00+01:00")
        #expect(try h.quote(lines: basket).notApplied["black-friday"] == "ended")
        // A request's own `at` wins over the clock.
        #expect(try h.quote(at: "2026-11-27T08:00:00+01:00", lines: basket).applied["morning-coffee"] == 1_000)
    }

    @Test func aPurchaseWithAQuoteIsEvaluatedAsOfItsQuote() throws {
        let h = try Harness(rules: Self.rules)
        h.clock.set("2026-11-27T08:59:00+01:00")
        let quote = try h.quote(lines: [("coffee", 1, 4_000)])
        #expect(quote.applied["morning-coffee"] == 1_000)
        // Paid at 09:02, after the window closed: the quote's time holds. Without a quote it does not,
        // nor with a quote older than its validity.
        try h.apply(Make.purchase("q1", at: "2026-11-27T09:02:00+01:00", quoteId: quote.id, lines: [("coffee", 1, 4_000)]),
                    Make.purchase("q2", at: "2026-11-27T09:02:00+01:00", lines: [("coffee", 1, 4_000)]),
                    Make.purchase("q3", at: "2026-11-27T09:40:00+01:00", quoteId: quote.id, lines: [("coffee", 1, 4_000)]))
        let redeemed = h.emitted("campaign.redeemed")
        // 10 NOK off the coffee, then black-friday's 10 % of the 30 NOK left.
        #expect(redeemed.map { $0["discount"] } == [.int(1_300), .int(400), .int(400)])
        #expect(redeemed[0]["quoteId"] == .string(quote.id))
    }
}

@Suite struct CouponCodesAndTargets {
    static let rules = header + """
        tiers:
          - id: member
          - id: gold
            when: customer.points >= 1000000
        campaigns:
          - id: welcome
            code: required
            discount: { amount: 50 NOK }
          - id: public-code
            code: autumn10
            discount: { percent: 10 }
          - id: gold-only
            tiers: [gold]
            pointsMultiplier: 3
          - id: valuable
            segment: customer.clvPercentile >= 90
            discount: { amount: 5 NOK }
        """

    @Test func singleUseCodesAreUsedOnceAndPublicCodesIgnoreCase() throws {
        let h = try Harness(rules: Self.rules)
        h.clock.set("2026-11-27T12:00:00+01:00")
        let imported = try #require(try h.call("campaign.codes.import", ["campaign": "welcome", "codes": ["k7qw2mzp9a", "XY"]]).okObject)
        #expect(imported["imported"] == .int(2))
        let again = try #require(try h.call("campaign.codes.import", ["campaign": "welcome", "codes": ["K7QW2MZP9A"]]).okObject)
        #expect(again["alreadyThere"] == .int(1))
        #expect(try h.call("campaign.codes.import", ["campaign": "public-code", "codes": ["A"]]).errorText?.contains("code: required") == true)
        let basket: [(String, Int64, Int64)] = [("wine", 1, 20_000)]
        #expect(try h.quote(lines: basket).notApplied["welcome"] == "needs-code")
        #expect(try h.quote(codes: ["nope"], lines: basket).notApplied["welcome"] == "needs-code")
        let quote = try h.quote(codes: ["k7qw2mzp9a", " Autumn10 "], lines: basket)
        #expect(quote.applied == ["welcome": 5_000, "public-code": 1_500])
        try h.apply(Make.purchase("p1", at: "2026-11-27T12:01:00+01:00", quoteId: quote.id, codes: ["K7QW2MZP9A"], lines: basket),
                    Make.purchase("p2", at: "2026-11-27T12:02:00+01:00", codes: ["K7QW2MZP9A"], lines: basket))
        let redeemed = h.emitted("campaign.redeemed")
        #expect(redeemed.map { $0["discount"] } == [.int(5_000)] + [.int(0)])
        #expect(redeemed[1]["refused"] == .array([.object(["campaign": "welcome", "reason": "needs-code"])]))
        #expect(try h.quote(codes: ["K7QW2MZP9A"], lines: basket).notApplied["welcome"] == "needs-code")
        #expect(try h.quote(codes: ["XY"], lines: basket).applied["welcome"] == 5_000)
    }

    @Test func tiersAndSegmentsComeFromThePointsAndScoringPlugins() throws {
        let h = try Harness(rules: Self.rules)
        h.clock.set("2026-11-27T12:00:00+01:00")
        let basket: [(String, Int64, Int64)] = [("wine", 1, 20_000)]
        var quote = try h.quote(customer: "C9", lines: basket)
        #expect(quote.notApplied["gold-only"] == "not-in-tier")
        #expect(quote.notApplied["valuable"] == "not-in-segment")
        func derived(_ id: String, _ type: String, _ payload: JSONObject) -> EventEnvelope {
            EventEnvelope(eventId: id, type: type, occurredAt: Timestamp.parse("2026-11-27T11:00:00+01:00")!, source: "plugin/x", payload: .derived(payload))
        }
        try h.apply(derived("e1", "points.accrued", ["customerId": "C9", "points": 10, "tier": "gold"]),
                    derived("e2", "customer.scored", ["customerId": "C9", "clv": 900_000, "clvPercentile": 95, "pAlive": 0.9]))
        quote = try h.quote(customer: "C9", lines: basket)
        #expect(quote.applied["valuable"] == 500)
        guard case .array(let applied)? = quote.json["applied"] else { Issue.record("no applied"); return }
        #expect(applied.contains(.object(["campaign": "gold-only", "discount": 0, "pointsMultiplier": 3.0, "reason": "gold-only"])))
        // Once the reward-rules plugin keeps the customer's tier, its downgrade stands against the
        // points plugin's own reckoning.
        try h.apply(derived("e5", "tier.changed", ["customerId": "C9", "from": "gold", "to": "member"]),
                    derived("e6", "points.accrued", ["customerId": "C9", "points": 10, "tier": "gold"]))
        #expect(try h.quote(customer: "C9", lines: basket).notApplied["gold-only"] == "not-in-tier")
        #expect(throws: (any Error).self) { try h.apply(derived("e7", "tier.changed", ["customerId": "C9"])) }
        // A customer known to the tables before this process's first quote is read from them once.
        let fresh = try Harness(rules: Self.rules)
        fresh.clock.set("2026-11-27T12:00:00+01:00")
        try fresh.apply(derived("e4", "points.accrued", ["customerId": "C7", "points": 10, "tier": "gold"]))
        let freshQuote = try fresh.quote(customer: "C7", lines: basket)
        #expect(freshQuote.applied["gold-only"] == 0 && freshQuote.notApplied["gold-only"] == nil)
        // A malformed score is refused and changes nothing.
        #expect(throws: (any Error).self) {
            try h.apply(derived("e3", "customer.scored", ["customerId": "C9", "clv": "lots"]))
        }
    }

    /// A quote's first sight of a customer reads the row through the service thread's own
    /// connection: every field as the event thread's GRDB read sees it.
    @Test func theServiceConnectionReadsTheCustomerRowAsGRDBDoes() throws {
        let h = try Harness(rules: Self.rules)
        func derived(_ id: String, _ type: String, _ payload: JSONObject) -> EventEnvelope {
            EventEnvelope(eventId: id, type: type, occurredAt: Timestamp.parse("2026-11-27T11:00:00+01:00")!, source: "plugin/x", payload: .derived(payload))
        }
        try h.apply(derived("e1", "points.accrued", ["customerId": "C9", "points": 10, "tier": "gold"]),
                    derived("e2", "customer.scored", ["customerId": "C9", "clv": 900_000, "clvPercentile": 95.5, "pAlive": 0.25]),
                    derived("e3", "tier.changed", ["customerId": "C9", "from": "gold", "to": "silver"]),
                    derived("e4", "points.accrued", ["customerId": "C8", "points": 10]))
        let reader = ServiceReader()
        for id in ["C9", "C8", "C-unknown"] {
            let viaGRDB = try h.pool.read { db in try CustomerRow.fetch(id, in: db) }
            let viaService = try CustomerRow.fetch(id, reader: reader, pool: h.pool)
            #expect(viaService == viaGRDB, "\(id)")
        }
        let c9 = try CustomerRow.fetch("C9", reader: reader, pool: h.pool)
        #expect(c9?.tier == "silver" && c9?.tierKept == true && c9?.clvPercentile == 95.5 && c9?.pAlive == 0.25)
        #expect(try CustomerRow.fetch("C-unknown", reader: reader, pool: h.pool) == nil)
    }

    @Test func aCustomerFirstQuotedUnknownIsSeenOnceTheirPurchaseCommits() throws {
        let h = try Harness(rules: header + """
            campaigns:
              - id: second-visit
                segment: customer.visits >= 2
                discount: { amount: 10 NOK }
            """)
        h.clock.set("2026-11-27T12:00:00+01:00")
        let basket: [(String, Int64, Int64)] = [("wine", 1, 20_000)]
        // The basket counts as a visit: a customer the tables do not know is at their first.
        #expect(try h.quote(customer: "C5", lines: basket).notApplied["second-visit"] == "not-in-segment")
        #expect(try h.quote(customer: "C5", lines: basket).notApplied["second-visit"] == "not-in-segment")
        try h.apply(Make.purchase("v1", customer: "C5", at: "2026-11-27T12:01:00+01:00", lines: basket))
        #expect(try h.quote(customer: "C5", lines: basket).applied["second-visit"] == 1_000)
    }

    @Test func badQuoteRequestsNameTheField() throws {
        let h = try Harness(rules: Self.rules)
        func refusal(_ body: JSONValue) throws -> String { try h.call("campaign.quote", body).errorText ?? "accepted" }
        #expect(try refusal(["lines": [["sku": "A", "category": "x", "quantity": 1, "unitPrice": 1]]]).contains("'storeId' is required"))
        #expect(try refusal(["storeId": "S1", "lines": []]).contains("'lines' is required"))
        #expect(try refusal(["storeId": "S1", "lines": [["sku": "A", "category": "x", "quantity": 0, "unitPrice": 1]]]).contains("'lines[0].quantity'"))
        #expect(try refusal(["storeId": "S1", "lines": [["sku": "A", "category": "x", "quantity": 1, "unitPrice": -5]]]).contains("'lines[0].unitPrice'"))
        #expect(try refusal(["storeId": "S1", "at": "yesterday", "lines": [["sku": "A", "category": "x", "quantity": 1, "unitPrice": 1]]]).contains("'at'"))
        #expect(try refusal(["storeId": "S1", "lines": [["sku": "A", "category": "x", "quantity": 1, "unitPrice": 1]], "coupon": "X"]).contains("unknown field 'coupon'"))
        #expect(try refusal(["storeId": "S1", "lines": [["sku": "A", "category": "x", "quantity": 9_000_000_000, "unitPrice": 1_000_000_000]]]).contains("quantity"))
        #expect(try h.call("campaign.quote", .string("hello")).errorText != nil)
    }
}

@Suite struct RuleFilesAndEvents {
    @Test func newCampaignKeysAreCheckedWithFileAndLine() {
        let result = RuleLoader.load(sources: [("campaigns.yaml", header + """
            campaigns:
              - id: typo
                weekdays: [monday, fryday]
                hours: 9-17
                stacking: alone
                tiers: [platinum]
                discount: { buy: 2 }
            """)])
        #expect(result.book == nil)
        let messages = result.errors.map(\.description)
        #expect(messages.contains { $0.contains("campaigns.yaml:5:24") && $0.contains("'fryday' is not a weekday") && $0.contains("friday") })
        #expect(messages.contains { $0.contains("campaigns.yaml:6:12") && $0.contains("hours must be") })
        #expect(messages.contains { $0.contains("campaigns.yaml:7") && $0.contains("stacking must be") })
        #expect(messages.contains { $0.contains("campaigns.yaml:8") && $0.contains("unknown tier 'platinum'") })
        #expect(messages.contains { $0.contains("campaigns.yaml:9") && $0.contains("a discount is one of") })
    }

    @Test func theShippedCampaignsFileLoads() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../config/rules").standardized.path
        let result = RuleLoader.load(paths: [folder])
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect((result.book?.campaigns?.rules.count ?? 0) >= 3)
    }

    @Test func purchasesKeepDecodingWithAndWithoutAQuote() throws {
        let old = #"{"v":1,"eventId":"S1/T1/1","type":"purchase","occurredAt":"2026-11-27T12:00:00Z","source":"pos/S1/T1","payload":{"storeId":"S1","terminalId":"T1","receiptId":"1","currency":"NOK","lines":[{"sku":"A","category":"x","quantity":1,"unitPrice":100}],"total":100}}"#
        guard case .purchase(let p) = try EventCodec.decode(Array(old.utf8)).payload else { Issue.record("not a purchase"); return }
        #expect(p.quoteId == nil && p.couponCodes.isEmpty)
        let quoted = Make.purchase("S1/T1/2", at: "2026-11-27T12:00:00Z", quoteId: "Q-1795000000000-00ab", codes: ["K7QW2MZP9A", "XY"], lines: [("x", 1, 100)])
        let decoded = try EventCodec.decode(EventCodec.encode(quoted))
        #expect(decoded == quoted)
        let tooMany = old.replacingOccurrences(of: #""total":100}"#, with: #""total":100,"couponCodes":["a","b","c","d","e","f","g","h","i","j","k"]}"#)
        #expect(throws: EventValidationError.self) { try EventCodec.decode(Array(tooMany.utf8)) }
    }
}

/// Catching up, the runtime applies thousands of events in one transaction.
@Suite struct LongRuns {
    static let rules = header + """
        campaigns:
          - id: welcome
            discount: { amount: 10 NOK }
            budget: { perCustomer: 1, redemptions: 100 }
        """
    static let at = "2026-11-27T12:00:00+01:00"
    static let coffee: [(String, Int64, Int64)] = [("coffee", 1, 4_000)]

    /// The quote's counters take a long run's changes once, when it commits, in the order of its
    /// events, and none of a long run that rolls back: the same as one transaction per event.
    @Test func aLongRunReachesTheQuoteCountersOnlyWhenItCommits() throws {
        // 99 customers redeem once (one redemption of the 100 left), then buy again (refused).
        let committed = (0..<198).map { n in Make.purchase("p\(n)", customer: "C\(n % 99)", at: Self.at, lines: Self.coffee) }
        let rolledBack = (0..<60).map { n in Make.purchase("r\(n)", customer: "R\(n)", at: Self.at, lines: Self.coffee) }
        let run = try Harness(rules: Self.rules), each = try Harness(rules: Self.rules)
        for h in [run, each] {
            h.clock.set(Self.at)
            #expect(try h.quote(customer: "C0", lines: Self.coffee).discount == 1_000)   // loads the counters
        }
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try run.pool.write { db in
                for (n, envelope) in rolledBack.enumerated() {
                    var emitter = Emitter(pluginName: run.plugin.name, input: envelope)
                    try run.plugin.apply(StoredEvent(seq: Int64(1_000 + n), envelope: envelope), in: db, emit: &emitter)
                }
                throw Boom()
            }
        }
        try run.apply(committed)
        for envelope in committed { try each.apply(envelope) }

        #expect(run.emitted("campaign.redeemed").map { $0["discount"] } == each.emitted("campaign.redeemed").map { $0["discount"] })
        #expect(run.emitted("campaign.redeemed").filter { $0["discount"] == .int(1_000) }.count == 99)
        for customer in ["C0", "C50", "C98", "R0", "R59", "new"] {
            let fromRun = try run.quote(customer: customer, lines: Self.coffee)
            let fromEach = try each.quote(customer: customer, lines: Self.coffee)
            #expect(fromRun.applied == fromEach.applied && fromRun.notApplied == fromEach.notApplied, "\(customer)")
        }
        // One redemption left, for anyone who has not had theirs: what the rolled-back run did is not counted.
        #expect(try run.quote(customer: "C0", lines: Self.coffee).notApplied["welcome"] == "customer-limit-reached")
        #expect(try run.quote(customer: "R0", lines: Self.coffee).applied["welcome"] == 1_000)
        try run.apply(Make.purchase("last", customer: "R0", at: Self.at, lines: Self.coffee))
        #expect(try run.quote(customer: "new", lines: Self.coffee).notApplied["welcome"] == "redemptions-spent")
    }
}
