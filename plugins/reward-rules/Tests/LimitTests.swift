import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime
import Synchronization
import Testing
@testable import RewardRules

@Suite struct LimitTests {
    @Test func perCustomerAndRepeatLimits() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: twice
                grant: a cookie
                repeat: every-time
                perCustomer: 2
              - id: weekly
                grant: a sticker
                repeat: 7d
              - id: once
                grant: a tote bag
            """)
        for i in 0..<5 { try harness.purchase(customer: "C1", at: start + Int64(i) * 2 * day) }
        #expect(harness.granted("twice").count == 2)
        #expect(harness.granted("weekly").count == 2)       // days 0 and 8
        #expect(harness.granted("once").count == 1)
    }

    @Test func budgetIsNeverExceededWhenManyPurchasesRaceAtTheCap() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: by-count
                grant: a coffee
                value: 10 NOK
                budget: { count: 5 }
                repeat: every-time
              - id: by-money
                grant: a 100 NOK voucher
                reward: { kind: voucher, amount: 100 NOK }
                budget: { amount: 450 NOK }
                repeat: every-time
            """)
        // A second plugin instance on the same database file, as a second process would be.
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let other = try DatabasePool(path: harness.folder + "/reward-rules.sqlite", configuration: configuration)
        let pools = [harness.pool, other]
        let plugin = harness.plugin
        let failures = Atomic<Int>(0)
        // 8 writers, 10 purchases each, all qualifying, all at the same instant of event time.
        DispatchQueue.concurrentPerform(iterations: 8) { writer in
            let pool = pools[writer % 2]
            for i in 0..<10 {
                let envelope = Harness.purchaseEvent(id: "race-\(writer)-\(i)", customer: "C\(writer)-\(i)", at: start)
                do {
                    try pool.write { db in
                        var emitter = Emitter(pluginName: plugin.name, input: envelope)
                        try plugin.apply(StoredEvent(seq: Int64(writer * 100 + i), envelope: envelope), in: db, emit: &emitter)
                    }
                } catch {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        let (byCount, byMoney, used) = try harness.pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rr_rewards WHERE ruleId = 'by-count'") ?? -1,
             try Int64.fetchOne(db, sql: "SELECT SUM(value) FROM rr_rewards WHERE ruleId = 'by-money'") ?? -1,
             try Row.fetchAll(db, sql: "SELECT ruleId, countUsed, amountUsed FROM rr_budgets ORDER BY ruleId").map { "\($0[0] as String):\($0[1] as Int):\($0[2] as Int64)" })
        }
        #expect(byCount == 5)
        #expect(byMoney == 40_000)          // four vouchers: a fifth would pass 450 NOK
        #expect(used == ["by-count:5:5000", "by-money:4:40000"])
    }

    @Test func budgetSpentLeavesTheGroupToTheNextReward() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: big
                grant: a big gift
                value: 100 NOK
                budget: { count: 1 }
                group: gift
                priority: 10
                repeat: every-time
              - id: small
                grant: a small gift
                group: gift
                repeat: every-time
            """)
        try harness.purchase(customer: "C1", at: start)
        try harness.purchase(customer: "C2", at: start + hour)
        #expect(harness.granted().map { "\($0.string("customerId")!):\($0.string("rule")!)" } == ["C1:big", "C2:small"])
    }

    @Test func rewardsExpireInEventTimeAndCannotBeRedeemedAfter() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: voucher
                grant: a 50 NOK voucher
                reward: { kind: voucher, amount: 50 NOK }
                expires: 7d
                repeat: every-time
            """)
        try harness.purchase(customer: "C1", at: start)
        try harness.purchase(customer: "C2", at: start + 2 * day)
        let first = try #require(harness.granted(customer: "C1").first?.string("rewardId"))
        let second = try #require(harness.granted(customer: "C2").first?.string("rewardId"))
        // The till's clock is past C1's expiry before any event has moved the plugin's time there.
        let late = try harness.redeem(#"{"customerId":"C1","rewardId":"\#(first)","idempotencyKey":"k1"}"#, now: start + 7 * day + 1)
        #expect(!late.ok)
        #expect(late.payload.string("error")?.contains("expired") == true)
        // An event on day 8 lapses C1's voucher (not C2's).
        try harness.purchase(customer: "C3", at: start + 8 * day)
        let expired = harness.events("reward.expired")
        #expect(expired.map { $0.string("rewardId") } == [first])
        #expect(expired.first?.string("sentence") == "Lapsed unused: A 50 NOK voucher for a purchase that meets rule voucher")
        #expect(try harness.redeem(#"{"customerId":"C2","rewardId":"\#(second)","idempotencyKey":"k2"}"#, now: start + 8 * day).ok)
    }

    @Test func redeemIsIdempotentAndSafeAgainstConcurrentUse() throws {
        let harness = try Harness(rules: """
            rewards:
              - id: coffee
                grant: a free coffee
                repeat: every-time
              - id: points
                grant: 50 bonus points
                reward: { kind: bonus-points, points: 50 }
                repeat: every-time
            """)
        try harness.purchase(customer: "C1", at: start)
        let rewardId = try #require(harness.granted("coffee").first?.string("rewardId"))
        let pointsId = try #require(harness.granted("points").first?.string("rewardId"))
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let pools = [harness.pool, try DatabasePool(path: harness.folder + "/reward-rules.sqlite", configuration: configuration)]
        let name = harness.plugin.name
        // 16 tills redeem the same reward at once, each with its own key: exactly one succeeds.
        let answers = Mutex<[String: Bool]>([:])
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let body = #"{"customerId":"C1","rewardId":"\#(rewardId)","idempotencyKey":"till-\#(i)"}"#
            let ok: Bool
            if case .ok? = try? Redemption.handle(Array(body.utf8), pool: pools[i % 2], plugin: name, now: start + hour) { ok = true } else { ok = false }
            answers.withLock { $0["till-\(i)"] = ok }
        }
        let winners = answers.withLock { $0.filter(\.value).map(\.key) }
        #expect(winners.count == 1)
        let key = try #require(winners.first)
        // Retries with the winning key, at once from many threads: the same answer, nothing more.
        let retries = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let body = #"{"customerId":"C1","rewardId":"\#(rewardId)","idempotencyKey":"\#(key)"}"#
            if case .ok(let bytes)? = try? Redemption.handle(Array(body.utf8), pool: pools[i % 2], plugin: name, now: start + 2 * hour),
               case .object(let object)? = try? JSONParser.parse(bytes), object["replayed"] == .bool(true),
               object["redemptionId"] == .string("C1/\(key)") {
                retries.add(1, ordering: .relaxed)
            }
        }
        #expect(retries.load(ordering: .relaxed) == 8)
        let (redemptions, outbox, status) = try harness.pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rr_redemptions") ?? -1,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM runtime_outbox") ?? -1,
             try String.fetchOne(db, sql: "SELECT status FROM rr_rewards WHERE rewardId = ?", arguments: [rewardId]))
        }
        #expect(redemptions == 1)
        #expect(outbox == 1)
        #expect(status == "redeemed")
        // Refusals that say what is wrong.
        let again = try harness.redeem(#"{"customerId":"C1","rewardId":"\#(rewardId)","idempotencyKey":"new"}"#)
        #expect(again.payload.string("error")?.contains("already redeemed") == true)
        let reused = try harness.redeem(#"{"customerId":"C1","rewardId":"\#(pointsId)","idempotencyKey":"\#(key)"}"#)
        #expect(reused.payload.string("error")?.contains("already used") == true)
        #expect(try harness.redeem(#"{"customerId":"C1","rewardId":"\#(pointsId)","idempotencyKey":"p"}"#).payload.string("error")?
            .contains("nothing to redeem") == true)
        #expect(try harness.redeem(#"{"customerId":"C2","rewardId":"\#(rewardId)","idempotencyKey":"x"}"#).payload.string("error")?
            .contains("another customer") == true)
        #expect(try harness.redeem(#"{"customerId":"C1"}"#).payload.string("error")?.contains("expected") == true)
        #expect(try harness.redeem("not json").ok == false)
    }
}
