import Foundation
import GRDB
import LoyaltyEvents
import Testing
@testable import PointsAccrual

/// A points-multiplier campaign (`pointsMultiplier` in `campaign.redeemed`) adds to the
/// purchase's lot: spendable when the lot is, taken back by its returns, repaying owed points.
@Suite struct CampaignBonusTests {
    static let start = ScenarioTests.start
    static let version = "campaign-rules-v1"

    /// `campaign.redeemed` as the discount-campaigns plugin emits it for `purchase`: its id is
    /// derived from the purchase's, its time is the purchase's.
    static func redeemed(_ purchase: String, customer: String?, at: Int64, _ campaigns: [(String, JSONValue?)],
                         payload extra: JSONObject = [:]) -> EventEnvelope {
        var payload: JSONObject = [
            "purchaseEventId": .string(purchase), "storeId": .string("S001"), "currency": .string("NOK"), "discount": .int(0),
            "rulesVersion": .string(version),
            "campaigns": .array(campaigns.map { id, multiplier in
                var item: JSONObject = ["campaign": .string(id), "discount": .int(multiplier == nil ? 50_00 : 0)]
                if let multiplier { item["pointsMultiplier"] = multiplier }
                return .object(item)
            }),
        ]
        if let customer { payload["customerId"] = .string(customer) }
        for (key, value) in extra.pairs { payload[key] = value }
        return EventEnvelope(version: 1, eventId: "\(purchase)/discount-campaigns/redeemed", type: "campaign.redeemed",
                             occurredAt: Timestamp(epochMilliseconds: at), source: "plugin/discount-campaigns", seq: nil,
                             payload: .derived(payload))
    }

    /// The customer row's running figures (what the rules read), brought up to `now`.
    static func running(_ h: Harness, _ customer: String, at now: Int64) throws -> (available: Int64, qualifying: Int64, owed: Int64) {
        try h.pool.write { db in
            let ledger = Ledger(db: db)
            var record = try ledger.customer(customer)
            try ledger.catchUp(&record, now: now)
            return (record.available, record.qualifying, record.owed)
        }
    }

    /// The running figures agree with the lots, and every lot's points are explained by the ledger.
    static func consistent(_ h: Harness, _ customer: String, at now: Int64) throws {
        let figures = try running(h, customer, at: now)
        let balance = try h.balance(customer, at: now)
        #expect(figures.available == balance.available, "running available \(figures.available), lots \(balance)")
        #expect(figures.qualifying == balance.tierQualifying, "running qualifying \(figures.qualifying), lots \(balance)")
        let problems = try PropertyTests.invariants(h)
        #expect(problems.isEmpty, "\(problems)")
    }

    static func lot(_ h: Harness, _ eventId: String) throws -> Row? {
        try h.pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM lots WHERE eventId = ?", arguments: [eventId]) }
    }

    static func ledger(_ h: Harness, _ customer: String) throws -> [Row] {
        try h.pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM ledger WHERE customerId = ? ORDER BY entryId", arguments: [customer]) }
    }

    @Test func aBonusOnAPendingLotIsReleasedWithIt() throws {
        let h = try Harness(rules: ScenarioTests.rules(pending: "14d"))
        try h.apply(Make.purchase("p1", customer: "C1", amount: 300_00, at: Self.start))                 // 30 points, pending
        try h.apply(Self.redeemed("p1", customer: "C1", at: Self.start, [("double", .double(2))]))
        #expect(h.emitted.last?.eventId == "p1/discount-campaigns/redeemed/points-accrual/campaign-bonus")
        #expect(h.emitted("points.accrued").last?["points"] == .int(30))
        // Pending with the purchase's points: nothing spendable or qualifying yet.
        #expect(try h.balance("C1", at: Self.start + Make.day).pending == 60)
        #expect(try Self.running(h, "C1", at: Self.start + Make.day).available == 0)
        #expect(try Self.running(h, "C1", at: Self.start + Make.day).qualifying == 0)
        // Released at the end of the return window, bonus included.
        let released = Self.start + 15 * Make.day
        #expect(try Self.running(h, "C1", at: released) == (60, 60, 0))
        try Self.consistent(h, "C1", at: released)
        // The customer's next event releases it into the stored figures, bonus included.
        try h.apply(Make.purchase("p2", customer: "C1", amount: 10_00, at: released))
        let row = try #require(try h.pool.read { db in try Row.fetchOne(db, sql: "SELECT available, qualifying FROM customers WHERE customerId = 'C1'") })
        #expect(row["available"] as Int64 == 60)
        #expect(row["qualifying"] as Int64 == 60)
        #expect(try h.redeem("C1", 60, key: "bonus included").okObject != nil)
    }

    @Test func aBonusOnAReleasedLotIsSpendableAtOnce() throws {
        let h = try Harness(rules: ScenarioTests.rules(pending: "0d"))
        try h.apply(Make.purchase("p1", customer: "C1", amount: 300_00, at: Self.start))                 // 30, released at once
        #expect(try Self.running(h, "C1", at: Self.start).available == 30)
        try h.apply(Self.redeemed("p1", customer: "C1", at: Self.start, [("triple", .int(3))]))
        // The stored figures grew with the event, before any catching up.
        let row = try #require(try h.pool.read { db in try Row.fetchOne(db, sql: "SELECT available, qualifying FROM customers WHERE customerId = 'C1'") })
        #expect(row["available"] as Int64 == 90)
        #expect(row["qualifying"] as Int64 == 90)
        try Self.consistent(h, "C1", at: Self.start + 1)
        #expect(try h.redeem("C1", 90, key: "all").okObject != nil)
        #expect(try h.redeem("C1", 1, key: "more").errorText != nil)
    }

    @Test func severalMultipliersMultiplyAndEachCampaignIsNamed() throws {
        let h = try Harness(rules: ScenarioTests.rules(pending: "0d"))
        try h.apply(Make.purchase("p1", customer: "C1", amount: 300_00, at: Self.start))                 // 30
        try h.apply(Self.redeemed("p1", customer: "C1", at: Self.start,
                                  [("double", .double(2)), ("ten-off", nil), ("triple", .double(3))]))
        let accrued = try #require(h.emitted("points.accrued").last)
        #expect(accrued["points"] == .int(150), "6× of 30 is 150 more")
        #expect(accrued["campaignBonus"] == .bool(true))
        #expect(accrued["campaigns"] == .array([.string("double"), .string("triple")]))
        #expect(accrued["pointsMultiplier"] == .double(6))
        #expect(accrued["earned"] == .int(30))
        #expect(accrued["purchaseEventId"] == .string("p1"))
        #expect(accrued["customerId"] == .string("C1"))
        #expect(accrued["rulesVersion"] == .string(Self.version), "the campaign rules' version, not the earning rules'")
        // Each campaign's share: what its factor added to the points so far.
        let shares: JSONValue = .array([.object(["rule": .string("campaign:double"), "points": .double(30)]),
                                        .object(["rule": .string("campaign:triple"), "points": .double(120)])])
        #expect(accrued["rules"] == shares)
        // The lot holds the bonus and names every rule that made its points.
        let lot = try #require(try Self.lot(h, "p1"))
        #expect(lot["points"] as Int64 == 180)
        #expect(lot["remaining"] as Int64 == 180)
        #expect(lot["campaignBonus"] as Int64 == 150)
        guard case .array(let rules)? = try? JSONParser.parse(lot["rules"] as String) else {
            Issue.record("lot rules not a JSON array: \(lot["rules"] as String)")
            return
        }
        #expect(rules.count == 3)
        #expect(rules.first == .object(["rule": .string("base"), "points": .double(30)]))
        #expect(Array(rules.dropFirst()) == [.object(["rule": .string("campaign:double"), "points": .double(30)]),
                                             .object(["rule": .string("campaign:triple"), "points": .double(120)])])
        // The ledger row `loyalty customer show` prints, with its cause and the campaign rules' version.
        let entry = try #require(try Self.ledger(h, "C1").last)
        #expect(entry["kind"] as String == "accrued")
        #expect(entry["points"] as Int64 == 150)
        #expect(entry["cause"] as String == "p1/discount-campaigns/redeemed")
        #expect(entry["rulesVersion"] as String? == Self.version)
        #expect(entry["lotId"] as Int64? == lot["lotId"] as Int64)
        #expect(entry["detail"] as String? == "campaigns double ×2, triple ×3 (×6) on purchase p1: 30 points earned, 150 bonus")
        try Self.consistent(h, "C1", at: Self.start + 1)
    }

    @Test func theBonusIsNotCappedAndRoundsAsTheEarningRulesSay() throws {
        let capped = ScenarioTests.rules(pending: "0d").replacingOccurrences(of: "  rules:\n", with: "  caps:\n    perPurchase: 20\n  rules:\n")
        for (rounding, expected) in [("down", Int64(30)), ("up", 31)] {
            let h = try Harness(rules: capped.replacingOccurrences(of: "earning:\n", with: "earning:\n  rounding: \(rounding)\n"))
            try h.apply(Make.purchase("p1", customer: "C1", amount: 300_00, at: Self.start))             // 30, capped to 20
            #expect(h.emitted("points.accrued").last?["points"] == .int(20))
            try h.apply(Self.redeemed("p1", customer: "C1", at: Self.start, [("one-and-a-half", .double(2.525))]))
            // 20 × 1.525 = 30.5: beyond the per-purchase cap, rounded as the file says.
            #expect(h.emitted("points.accrued").last?["points"] == .int(expected), "rounding \(rounding)")
            try Self.consistent(h, "C1", at: Self.start + 1)
        }
    }

    @Test func aReturnAfterTheBonusTakesItsShareBack() throws {
        let events = [
            Make.purchase("p1", customer: "C1", amount: 300_00, at: Self.start),                            // 30
            Self.redeemed("p1", customer: "C1", at: Self.start, [("double", .double(2))]),                  // +30
            Make.refund("r1", of: "p1", customer: "C1", amount: 100_00, at: Self.start + Make.day),
            Make.refund("r2", of: "p1", customer: "C1", amount: 200_00, at: Self.start + 2 * Make.day),
        ]
        let h = try Harness(rules: ScenarioTests.rules(pending: "0d"))
        for event in events.prefix(3) { try h.apply(event) }
        #expect(h.emitted("points.reversed").last?["points"] == .int(20), "a third of 60")
        #expect(try Self.running(h, "C1", at: Self.start + Make.day) == (40, 40, 0))
        try Self.consistent(h, "C1", at: Self.start + Make.day)
        try h.apply(events[3])
        #expect(h.emitted("points.reversed").last?["points"] == .int(40), "the rest of 60")
        #expect(try Self.running(h, "C1", at: Self.start + 2 * Make.day) == (0, 0, 0))
        try Self.consistent(h, "C1", at: Self.start + 2 * Make.day)
        // Replayed into a fresh database, the same events and the same ledger.
        let replica = try Harness(rules: ScenarioTests.rules(pending: "0d"))
        for event in events { try replica.apply(event) }
        #expect(replica.emitted.map(\.eventId) == h.emitted.map(\.eventId))
        #expect(replica.emitted.map(\.payload) == h.emitted.map(\.payload))
        #expect(try Self.ledger(replica, "C1").map { [$0["kind"] as String, String($0["points"] as Int64), $0["cause"] as String] }
                == (try Self.ledger(h, "C1")).map { [$0["kind"] as String, String($0["points"] as Int64), $0["cause"] as String] })
    }

    @Test func aReturnBeforeTheCampaignArrivedIsTakenFromTheBonusAtOnce() throws {
        let h = try Harness(rules: ScenarioTests.rules(pending: "14d"))
        // Returned in full before the (lagging) campaign.redeemed: the bonus nets to nothing.
        try h.apply(Make.purchase("p1", customer: "C1", amount: 300_00, at: Self.start))                 // 30
        try h.apply(Make.refund("r1", of: "p1", customer: "C1", amount: 300_00, at: Self.start + 1))
        try h.apply(Self.redeemed("p1", customer: "C1", at: Self.start, [("double", .double(2))]))
        let accrued = try #require(h.emitted("points.accrued").last)
        #expect(accrued["points"] == .int(30))
        #expect(accrued["returnedShare"] == .int(30))
        let reversed = try #require(h.emitted.last)
        #expect(reversed.eventId == "p1/discount-campaigns/redeemed/points-accrual/campaign-bonus-reversed")
        #expect(reversed.type == "points.reversed")
        #expect(reversed.payload["points"] == .int(30))
        #expect(reversed.payload["purchaseEventId"] == .string("p1"))
        let released = Self.start + 15 * Make.day
        #expect(try h.balance("C1", at: released).available == 0)
        #expect(try h.balance("C1", at: released).tierQualifying == 0)
        #expect(try Self.running(h, "C1", at: released) == (0, 0, 0))
        try Self.consistent(h, "C1", at: released)
        // A further return finds nothing more to take.
        try h.apply(Make.refund("r2", of: "p1", customer: "C1", amount: 100_00, at: Self.start + 2))
        #expect(h.emitted("points.reversed").count == 2)

        // A third returned before: the bonus comes with a third of it already gone.
        try h.apply(Make.purchase("q1", customer: "C2", amount: 300_00, at: Self.start + 3))              // 30
        try h.apply(Make.refund("s1", of: "q1", customer: "C2", amount: 100_00, at: Self.start + 4))     // −10
        try h.apply(Self.redeemed("q1", customer: "C2", at: Self.start + 3, [("double", .double(2))]))   // +30, −10 at once
        #expect(h.emitted("points.accrued").last?["returnedShare"] == .int(10))
        #expect(try Self.running(h, "C2", at: released) == (40, 40, 0))
        try Self.consistent(h, "C2", at: released)
        // The rest returned: everything, bonus included, is gone.
        try h.apply(Make.refund("s2", of: "q1", customer: "C2", amount: 200_00, at: Self.start + 5))
        #expect(h.emitted("points.reversed").last?["points"] == .int(40))
        #expect(try Self.running(h, "C2", at: released) == (0, 0, 0))
        try Self.consistent(h, "C2", at: released)
    }

    @Test func owedPointsAreRepaidFromTheBonusFirst() throws {
        let h = try Harness(rules: ScenarioTests.rules(pending: "0d", shortfall: "clawback"))
        try h.apply(Make.purchase("p1", customer: "C1", amount: 300_00, at: Self.start))          // 30
        try h.apply(Make.purchase("p2", customer: "C1", amount: 100_00, at: Self.start + 1))      // 10
        #expect(try h.redeem("C1", 35, key: "k1").okObject != nil)                                 // 5 left, in p2's lot
        try h.apply(Make.refund("r1", of: "p1", customer: "C1", amount: 300_00, at: Self.start + 2))   // 5 found, 25 owed
        #expect(try h.balance("C1", at: Self.start + 3).owed == 25)
        try h.apply(Self.redeemed("p2", customer: "C1", at: Self.start + 1, [("quadruple", .int(4))]))   // +30 on p2
        let accrued = try #require(h.emitted("points.accrued").last)
        #expect(accrued["points"] == .int(30))
        #expect(accrued["repaidOwed"] == .int(25))
        #expect(try h.balance("C1", at: Self.start + 3).available == 5)
        #expect(try h.balance("C1", at: Self.start + 3).owed == 0)
        // Tiers count what was earned, net of returns: 10 of p2 and its 30 bonus.
        #expect(try Self.running(h, "C1", at: Self.start + 3) == (5, 40, 0))
        #expect(try Self.ledger(h, "C1").suffix(2).map { $0["kind"] as String } == ["accrued", "repaid"])
        #expect(try Self.ledger(h, "C1").last?["points"] as Int64? == -25)
        try Self.consistent(h, "C1", at: Self.start + 3)
    }

    @Test func unknownAnonymousAndPointlessPurchasesGetNothing() throws {
        let h = try Harness(rules: ScenarioTests.rules(pending: "0d"))
        try h.apply(Make.purchase("anon", customer: nil, amount: 300_00, at: Self.start))
        try h.apply(Self.redeemed("anon", customer: nil, at: Self.start, [("double", .double(2))]))
        try h.apply(Self.redeemed("never-seen", customer: "C1", at: Self.start, [("double", .double(2))]))
        // A purchase that earned 0 points (0.5 rounds down): 0 times anything.
        try h.apply(Make.purchase("small", customer: "C1", amount: 5_00, at: Self.start))
        try h.apply(Self.redeemed("small", customer: "C1", at: Self.start, [("tenfold", .int(10))]))
        // Money discounts only: nothing for the points.
        try h.apply(Make.purchase("p1", customer: "C1", amount: 300_00, at: Self.start))
        try h.apply(Self.redeemed("p1", customer: "C1", at: Self.start, [("ten-off", nil)]))
        #expect(h.emitted("points.accrued").map { $0["purchaseEventId"] } == [.string("p1")], "only p1's own accrual")
        #expect(try Self.lot(h, "small")?["points"] as Int64? == 0)
        #expect(try Self.ledger(h, "C1").isEmpty)
        try Self.consistent(h, "C1", at: Self.start + 1)
    }

    @Test func anExpiredLotGetsARecordedButUnspendableBonus() throws {
        let h = try Harness(rules: ScenarioTests.rules(pending: "0d", expiry: "60d", notice: "10d"))
        try h.apply(Make.purchase("p1", customer: "C1", amount: 300_00, at: Self.start))
        try h.apply(Make.purchase("x1", customer: "C2", amount: 10_00, at: Self.start + 61 * Make.day))     // p1's 30 expire
        #expect(h.emitted("points.expired").first?["points"] == .int(30))
        let before = h.emitted.count
        try h.apply(Self.redeemed("p1", customer: "C1", at: Self.start, [("double", .double(2))]))
        #expect(h.emitted.count == before, "no points changed hands")
        let entry = try #require(try Self.ledger(h, "C1").last)
        #expect(entry["kind"] as String == "expired")
        #expect(entry["points"] as Int64 == 0)
        #expect(entry["cause"] as String == "p1/discount-campaigns/redeemed")
        #expect((entry["detail"] as String?)?.contains("30 bonus points not credited") == true)
        #expect(try Self.lot(h, "p1")?["points"] as Int64? == 30)
        #expect(try Self.running(h, "C1", at: Self.start + 62 * Make.day).available == 0)
    }

    @Test(arguments: [
        ("NaN", JSONObject(), JSONValue.double(.nan), "pointsMultiplier must be a number from 1 to 100, found nan"),
        ("zero", JSONObject(), .int(0), "found 0.0"),
        ("above 100", JSONObject(), .double(100.5), "found 100.5"),
        ("text", JSONObject(), .string("2"), "found \"2\""),
        ("null", JSONObject(), .null, "found null"),
        ("no purchase", JSONObject([("purchaseEventId", .int(7))]), .int(2), "purchaseEventId"),
        ("no version", JSONObject([("rulesVersion", .null)]), .int(2), "rulesVersion (text) is missing"),
        ("no campaigns", JSONObject([("campaigns", .string("double"))]), .int(2), "campaigns (an array"),
        ("other customer", JSONObject([("customerId", .string("C2"))]), .int(2), "names customer C2, but purchase p1 is customer C1's"),
    ])
    func aBadPayloadIsRefusedWithItsReasonAndChangesNothing(name: String, overrides: JSONObject, multiplier: JSONValue, message: String) throws {
        let h = try Harness(rules: ScenarioTests.rules(pending: "0d"))
        try h.apply(Make.purchase("p1", customer: "C1", amount: 300_00, at: Self.start))
        #expect {
            try h.apply(Self.redeemed("p1", customer: "C1", at: Self.start, [("bad", multiplier)], payload: overrides))
        } throws: { error in
            let text = String(describing: error)
            return text.hasPrefix("campaign.redeemed p1/discount-campaigns/redeemed refused: ") && text.contains(message)
        }
        #expect(try Self.lot(h, "p1")?["points"] as Int64? == 30, "\(name)")
        #expect(try Self.running(h, "C1", at: Self.start + 1).available == 30, "\(name)")
        #expect(h.emitted("points.accrued").count == 1, "\(name)")
    }
}
