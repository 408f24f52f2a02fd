import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime
import Testing
@testable import RewardRules

@Suite struct ReplayTests {
    static let rules = TierTests.tiers(downgrade: "one-level", window: "30d") + """
        rewards:
          - id: tenth-coffee
            when: purchase.lines.any(category == "coffee")
            trigger: { kind: nth-purchase, count: 3, within: 30d, label: coffee }
            grant: a free coffee
            value: 35 NOK
            expires: 14d
            repeat: every-time
          - id: streak
            trigger: { kind: streak, weeks: 2 }
            grant: 100 bonus points
            reward: { kind: bonus-points, points: 100 }
            repeat: every-time
            budget: { count: 7 }
          - id: top
            trigger: { kind: top-customers, percent: 20, every: week }
            grant: a 200 NOK voucher
            reward: { kind: voucher, amount: 200 NOK }
            budget: { amount: 1000 NOK }
            repeat: every-time
          - id: win-back
            trigger: { kind: win-back, pAliveBelow: 0.3 }
            grant: a reason to come back
            reward: { kind: custom, type: crm.call, params: { script: win-back } }
          - id: thanks
            trigger: promoter
            grant: a thank-you coffee
            repeat: 30d
        """

    /// A deterministic mixed history: purchases, returns, scores, points, surveys, over 10 weeks.
    static func history(_ harness: Harness, from: Int64, seed initial: UInt64) throws {
        var seed = initial
        func next(_ n: UInt64) -> UInt64 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return (seed >> 33) % n
        }
        var purchases: [(id: String, customer: String)] = []
        for step in 0..<400 {
            let at = from + Int64(step) * 4 * hour + Int64(next(3_600_000))
            let customer = "C\(next(15))"
            switch next(10) {
            case 0...5:
                let id = try harness.purchase(customer: customer, at: at, amount: Int64(5_000 + next(50_000)),
                                              category: next(2) == 0 ? "coffee" : "bakery")
                purchases.append((id, customer))
                try harness.accrued(customer, points: Int64(next(800)), purchase: id, at: at + 1, pendingUntil: at + Int64(next(3)) * day)
            case 6:
                try harness.scored(customer, clv: Int64(next(1_000_000)), percentile: Int64(next(100)), pAlive: Double(next(100)) / 100, at: at)
            case 7:
                try harness.survey(Int(next(11)), customer: customer, at: at)
            case 8 where !purchases.isEmpty:
                let original = purchases[Int(next(UInt64(purchases.count)))]
                try harness.returned(customer: original.customer, original: original.id, at: at, amount: 2_000)
            default:
                try harness.purchase(customer: customer, at: at, category: "coffee")
            }
        }
    }

    @Test func replayIntoAFreshDatabaseGivesTheSameRewards() throws {
        let live = try Harness(rules: Self.rules)
        try Self.history(live, from: start, seed: 42)
        // Redeem some coffees at the till, as the service would; their events join the journal.
        var redeemed = 0
        for reward in live.granted("tenth-coffee").suffix(4) {
            let body = #"{"customerId":"\#(reward.string("customerId")!)","rewardId":"\#(reward.string("rewardId")!)","idempotencyKey":"till-\#(redeemed)"}"#
            let answer = try live.redeem(body, now: Timestamp(rfc3339: reward.string("expiresAt")!).epochMilliseconds - 14 * day + hour)
            if answer.ok {
                redeemed += 1
                try live.apply(EventEnvelope(version: 1, eventId: "reward.redeem/\(answer.payload.string("redemptionId")!)", type: "reward.redeemed",
                                             occurredAt: Timestamp(rfc3339: answer.payload.string("redeemedAt")!), source: "plugin/reward-rules",
                                             payload: .derived(answer.payload)))
            }
        }
        try Self.history(live, from: start + 67 * day, seed: 7)   // more history after the redemptions
        #expect(redeemed >= 1)
        // Every kind of effect happened, so the comparison means something.
        for type in ["reward.granted", "reward.expired", "tier.changed"] { #expect(!live.events(type).isEmpty, "no \(type)") }
        for rule in ["tenth-coffee", "streak", "top", "win-back", "thanks"] { #expect(!live.granted(rule).isEmpty, "no \(rule)") }
        #expect(live.granted("streak").count == 7)                        // the budget held
        #expect(live.granted("top").count == 5)                           // 5 × 200 NOK = the 1000 NOK budget

        let fresh = try Harness(rules: Self.rules)
        let began = Date()
        for event in live.journal { try fresh.apply(event) }
        print("reward-rules replay: \(live.journal.count) events, one transaction each, in \(Int(Date().timeIntervalSince(began) * 1000)) ms")
        #expect(fresh.emitted.count == live.emitted.count)
        for (a, b) in zip(live.emitted, fresh.emitted) {
            #expect(a.eventId == b.eventId)
            #expect(a.type == b.type)
            #expect(a.payload == b.payload)
        }
        #expect(try fresh.rewardRows() == live.rewardRows())
        let redeemedRows = try fresh.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rr_rewards WHERE status = 'redeemed'") }
        #expect(redeemedRows == redeemed)
    }
}
