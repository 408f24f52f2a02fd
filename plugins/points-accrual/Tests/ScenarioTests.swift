import Foundation
import GRDB
import LoyaltyEvents
import Testing
@testable import PointsAccrual

@Suite struct ScenarioTests {
    static func rules(pending: String = "0d", expiry: String = "365d", shortfall: String = "clawback", notice: String = "30d", extra: String = "") -> String {
        """
        currency: NOK
        timezone: Europe/Oslo
        earning:
          pending: \(pending)
          expiry: \(expiry)
          expiryNotice: \(notice)
          returnShortfall: \(shortfall)
          rules:
            - id: base
              points: purchase.total / 10 NOK
        \(extra)
        """
    }

    /// A month ago, so the lots are released and not expired when a redemption runs now.
    static let start = Timestamp.now().epochMilliseconds - 40 * Make.day

    @Test func aPurchaseEarnsALotRecordingItsRulesAndVersion() throws {
        let h = try Harness(rules: Self.rules(pending: "14d"))
        try h.apply(Make.purchase("p1", customer: "C1", amount: 250_00, at: Self.start))
        let accrued = try #require(h.emitted("points.accrued").first)
        #expect(accrued["points"] == .int(25))
        #expect(accrued["rulesVersion"] == .string(h.plugin.rules.current.version))
        #expect(accrued["rules"] == .array([.object(["rule": .string("base"), "points": .double(25)])]))
        #expect(h.emitted.first?.eventId == "p1/points-accrual/accrued")
        // Pending during the return window, spendable after.
        #expect(try h.balance("C1", at: Self.start + Make.day).pending == 25)
        #expect(try h.balance("C1", at: Self.start + Make.day).available == 0)
        #expect(try h.balance("C1", at: Self.start + 15 * Make.day).available == 25)
        #expect(try h.balance("C1", at: Self.start + 15 * Make.day).tierQualifying == 25)
        // Anonymous purchases earn nothing.
        try h.apply(Make.purchase("p2", customer: nil, amount: 999_00, at: Self.start))
        #expect(h.emitted("points.accrued").count == 1)
    }

    @Test func aReturnTakesBackInProportionAndNeverTwice() throws {
        let h = try Harness(rules: Self.rules())
        try h.apply(Make.purchase("p1", customer: "C1", amount: 300_00, at: Self.start))      // 30 points
        try h.apply(Make.refund("r1", of: "p1", customer: "C1", amount: 100_00, at: Self.start + 1))
        #expect(h.emitted("points.reversed").last?["points"] == .int(10))
        try h.apply(Make.refund("r2", of: "p1", customer: nil, amount: 150_00, at: Self.start + 2))   // no card scanned: still the buyer's
        #expect(h.emitted("points.reversed").last?["points"] == .int(15))
        // More than was bought: only the rest comes back, and a further return nothing.
        try h.apply(Make.refund("r3", of: "p1", customer: "C1", amount: 200_00, at: Self.start + 3))
        #expect(h.emitted("points.reversed").last?["points"] == .int(5))
        try h.apply(Make.refund("r4", of: "p1", customer: "C1", amount: 100_00, at: Self.start + 4))
        #expect(h.emitted("points.reversed").count == 3)
        #expect(try h.balance("C1", at: Self.start + 5).available == 0)
    }

    @Test func returnsOfUnknownOrOthersReceiptsAreRefused() throws {
        let h = try Harness(rules: Self.rules())
        try h.apply(Make.purchase("p1", customer: "C1", amount: 300_00, at: Self.start))
        try h.apply(Make.refund("r1", of: "nope", customer: "C1", amount: 100_00, at: Self.start + 1))
        try h.apply(Make.refund("r2", of: "p1", customer: "C2", amount: 100_00, at: Self.start + 2))
        let refused = h.emitted("points.return-refused")
        #expect(refused.count == 2)
        #expect(refused.first?["reason"] == .string("unknown receipt: no purchase by a loyalty customer with event id nope"))
        #expect(refused.last?["reason"] == .string("the receipt belongs to another customer"))
        #expect(try h.balance("C1", at: Self.start + 3).available == 30)
    }

    @Test(arguments: ["negative", "clawback", "floor"])
    func returningSpentPointsFollowsThePolicy(policy: String) throws {
        let h = try Harness(rules: Self.rules(shortfall: policy))
        try h.apply(Make.purchase("p1", customer: "C1", amount: 300_00, at: Self.start))          // 30
        try h.apply(Make.purchase("p2", customer: "C1", amount: 100_00, at: Self.start + 1))      // 10
        #expect(try h.redeem("C1", 35, key: "k1").okObject != nil)                                 // 5 left, in p2's lot
        try h.apply(Make.refund("r1", of: "p1", customer: "C1", amount: 300_00, at: Self.start + 2))   // takes back 30: 5 found, 25 short
        let reversed = try #require(h.emitted("points.reversed").first)
        #expect(reversed["points"] == .int(30))
        #expect(reversed["shortfall"] == .int(25))
        let now = Timestamp.now().epochMilliseconds
        let balance = try h.balance("C1", at: now)
        switch policy {
        case "negative": #expect(balance.available == -25)
        case "clawback": #expect(balance.available == 0)
        default: #expect(balance.available == 0)
        }
        #expect(balance.owed == (policy == "floor" ? 0 : 25))
        // New points repay what is owed first.
        try h.apply(Make.purchase("p3", customer: "C1", amount: 400_00, at: Self.start + 3))      // 40
        let after = try h.balance("C1", at: now)
        #expect(after.available == (policy == "floor" ? 40 : 15))
        #expect(after.owed == 0)
    }

    @Test func redemptionSpendsTheOldestExpiringLotsFirstAndIsIdempotent() throws {
        let h = try Harness(rules: Self.rules(expiry: "365d"))
        try h.apply(Make.purchase("older", customer: "C1", amount: 100_00, at: Self.start))            // 10, expires first
        try h.apply(Make.purchase("newer", customer: "C1", amount: 200_00, at: Self.start + Make.day))   // 20
        let first = try #require(try h.redeem("C1", 15, key: "till-1").okObject)
        #expect(first["spends"] == .array([
            .object(["purchaseEventId": .string("older"), "points": .int(10)]),
            .object(["purchaseEventId": .string("newer"), "points": .int(5)]),
        ]))
        // The same key again: the same answer, nothing more spent.
        let again = try #require(try h.redeem("C1", 15, key: "till-1").okObject)
        #expect(again["spends"] == first["spends"])
        #expect(again["replayed"] == .bool(true))
        #expect(try h.redeem("C1", 16, key: "till-1").errorText?.contains("already used") == true)
        #expect(try h.balance("C1", at: Timestamp.now().epochMilliseconds).available == 15)
        // Short: refused with the reason, nothing spent.
        #expect(try h.redeem("C1", 16, key: "till-2").errorText == "balance short: 15 points available, 16 asked")
        #expect(try h.balance("C1", at: Timestamp.now().epochMilliseconds).available == 15)
        // The event is queued once, in the same transaction.
        let queued = try h.outbox()
        #expect(queued.map(\.eventId) == ["points.redeem/C1/till-1"])
        #expect(queued.first?.type == "points.redeemed")
    }

    @Test func aRedemptionFromTheJournalIsAppliedByAFreshDatabase() throws {
        let original = try Harness(rules: Self.rules())
        let replica = try Harness(rules: Self.rules())
        let events = [Make.purchase("p1", customer: "C1", amount: 100_00, at: Self.start),
                      Make.purchase("p2", customer: "C1", amount: 200_00, at: Self.start + 1)]
        for event in events { try original.apply(event) }
        #expect(try original.redeem("C1", 12, key: "k").okObject != nil)
        let redeemed = try #require(try original.outbox().first)
        // The original sees its own event come back: nothing changes.
        try original.apply(redeemed)
        // A fresh database replaying the journal reaches the same balance.
        for event in events + [redeemed] { try replica.apply(event) }
        let now = Timestamp.now().epochMilliseconds
        #expect(try original.balance("C1", at: now).available == 18)
        #expect(try replica.balance("C1", at: now).available == 18)
    }

    @Test func pointsExpireWithNoticeFirst() throws {
        let h = try Harness(rules: Self.rules(expiry: "60d", notice: "10d"))
        try h.apply(Make.purchase("p1", customer: "C1", amount: 100_00, at: Self.start))
        let expiresOn = try #require(h.emitted("points.accrued").first?["expiresOn"])
        // 49 days later: not yet within the notice; 51 days: the notice; 61 days: expired.
        try h.apply(Make.purchase("x1", customer: "C2", amount: 1_00, at: Self.start + 49 * Make.day))
        #expect(h.emitted("points.expiring").isEmpty)
        try h.apply(Make.purchase("x2", customer: "C2", amount: 1_00, at: Self.start + 51 * Make.day))
        #expect(h.emitted("points.expiring").first?["customerId"] == .string("C1"))
        #expect(h.emitted("points.expiring").first?["points"] == .int(10))
        try h.apply(Make.purchase("x3", customer: "C2", amount: 1_00, at: Self.start + 52 * Make.day))
        #expect(h.emitted("points.expiring").count == 1, "told once")
        try h.apply(Make.purchase("x4", customer: "C2", amount: 1_00, at: Self.start + 61 * Make.day))
        let expired = try #require(h.emitted("points.expired").first)
        #expect(expired["points"] == .int(10))
        #expect(expired["purchaseEventId"] == .string("p1"))
        #expect(try h.balance("C1", at: Self.start + 62 * Make.day).available == 0)
        #expect(expiresOn != .null)
    }

    static func derived(_ id: String, _ type: String, at: Int64, _ payload: JSONObject) -> EventEnvelope {
        EventEnvelope(version: 1, eventId: id, type: type, occurredAt: Timestamp(epochMilliseconds: at),
                      source: "plugin/reward-rules", seq: nil, payload: .derived(payload))
    }

    @Test func tiersComeFromTierChangedEventsAndTheRulesSeeThem() throws {
        let h = try Harness(rules: """
            currency: NOK
            tiers:
              - id: member
              - id: silver
                when: customer.qualifyingPoints >= 50
            earning:
              rules:
                - id: base
                  points: purchase.total / 10 NOK
                - id: silver-bonus
                  when: customer.tier == "silver"
                  bonus: 100
            """)
        try h.apply(Make.purchase("p1", customer: "C1", amount: 600_00, at: Self.start))       // before any tier.changed: the lowest level
        #expect(h.emitted("points.accrued").last?["tier"] == .string("member"))
        try h.apply(Self.derived("t1", "tier.changed", at: Self.start + 1,
                                 ["customerId": .string("C1"), "from": .string("member"), "to": .string("silver"), "rulesVersion": .string("v")]))
        try h.apply(Make.purchase("p2", customer: "C1", amount: 10_00, at: Self.start + 2))
        #expect(h.emitted("points.accrued").last?["tier"] == .string("silver"))
        #expect(h.emitted("points.accrued").last?["points"] == .int(101))
        // A tier change without a tier is refused, naming what it needs.
        #expect {
            try h.apply(Self.derived("t2", "tier.changed", at: Self.start + 3, ["customerId": .string("C1")]))
        } throws: { error in
            String(describing: error).contains("needs customerId")
        }
    }

    @Test func bonusPointsFromARewardBecomeASpendableLotOfTheirOwn() throws {
        let h = try Harness(rules: Self.rules(pending: "14d"))
        let reward = Self.derived("g1", "reward.granted", at: Self.start, [
            "rewardId": .string("R1"), "customerId": .string("C1"), "kind": .string("bonus-points"), "points": .int(200),
            "rule": .string("tenth-visit"), "rulesVersion": .string("abc"),
        ])
        try h.apply(reward)
        let accrued = try #require(h.emitted("points.accrued").last)
        #expect(accrued["points"] == .int(200))
        #expect(accrued["rewardId"] == .string("R1"))
        #expect(accrued["purchaseEventId"] == nil, "not a purchase: nothing for tiers or returns to match")
        #expect(accrued["rules"] == .array([.object(["rule": .string("tenth-visit"), "points": .double(200)])]))
        // No return window: spendable at once, although purchases here wait 14 days.
        #expect(try h.balance("C1", at: Self.start + 1).available == 200)
        #expect(try h.redeem("C1", 150, key: "k1").okObject != nil)
        // Other kinds of reward are not points.
        try h.apply(Self.derived("g2", "reward.granted", at: Self.start + 2, [
            "rewardId": .string("R2"), "customerId": .string("C1"), "kind": .string("voucher"), "rule": .string("v"), "rulesVersion": .string("abc"),
        ]))
        #expect(h.emitted("points.accrued").count == 1)
        #expect {
            try h.apply(Self.derived("g3", "reward.granted", at: Self.start + 3, [
                "customerId": .string("C1"), "kind": .string("bonus-points"), "points": .int(-5), "rule": .string("x"), "rulesVersion": .string("abc"),
            ]))
        } throws: { error in
            String(describing: error).contains("points (1 to 1000000000)")
        }
    }
}

extension ScenarioTests {
    static func scored(_ id: String, customer: String, percentile: Double, pAlive: Double = 0.9, at: Int64) -> EventEnvelope {
        EventEnvelope(version: 1, eventId: id, type: "customer.scored", occurredAt: Timestamp(epochMilliseconds: at),
                      source: "plugin/customer-scoring", seq: nil,
                      payload: .derived(["customerId": .string(customer), "clv": .int(125_000), "clvPercentile": .double(percentile),
                                         "pAlive": .double(pAlive), "segment": .string("champions")]))
    }

    @Test func scoresFromTheScoringPluginReachTheRules() throws {
        let rules = """
            currency: NOK
            earning:
              rules:
                - id: base
                  points: purchase.total / 10 NOK
                - id: top-customers
                  when: customer.clvPercentile >= 90 and customer.pAlive > 0.5
                  bonus: 50
            """
        let events = [
            Make.purchase("p1", customer: "C1", amount: 100_00, at: Self.start),                      // not scored yet: unknown
            Self.scored("s1", customer: "C1", percentile: 95, at: Self.start + 1),
            Make.purchase("p2", customer: "C1", amount: 100_00, at: Self.start + 2),
            Self.scored("s2", customer: "C1", percentile: 95, pAlive: 0.2, at: Self.start + 3),
            Make.purchase("p3", customer: "C1", amount: 100_00, at: Self.start + 4),
        ]
        let h = try Harness(rules: rules)
        for event in events { try h.apply(event) }
        #expect(h.emitted("points.accrued").map { $0["points"] } == [.int(10), .int(60), .int(10)])
        // Replayed into a fresh database, the same ledger.
        let replica = try Harness(rules: rules)
        for event in events { try replica.apply(event) }
        #expect(replica.emitted("points.accrued").map { $0["points"] } == [.int(10), .int(60), .int(10)])
        // A malformed score is refused with the field named, and changes nothing.
        #expect {
            try h.apply(Self.scored("s3", customer: "C1", percentile: 250, at: Self.start + 5))
        } throws: { error in
            String(describing: error).contains("clvPercentile is 250")
        }
    }
}
