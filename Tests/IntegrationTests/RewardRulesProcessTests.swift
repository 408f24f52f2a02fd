import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
import Testing
import ZeroMQ

extension Executables {
    static var rewardRules: String { directory + "/reward-rules" }
}

/// The real `loyalty up` with the reward-rules plugin: a punch card filled from the POS gives a
/// reward on the bus, and the till redeems it once, through `reward.redeem`, whatever its retries.
@Suite(.serialized) struct RewardRulesProcessTests {
    @Test(.timeLimit(.minutes(3))) func aPunchCardRewardIsGrantedAndRedeemedOnceThroughTheBus() throws {
        let project = try TestProject(plugins: ["reward-rules"])
        defer { project.root.remove() }
        try FileManager.default.createDirectory(atPath: project.root.path + "/plugins/reward-rules", withIntermediateDirectories: true)
        try """
            name: reward-rules
            executable: \(Executables.rewardRules)
            topics:
              in: [purchase, return, survey, customer.scored, points.accrued, points.reversed, reward.redeemed]
              out: [reward.granted, reward.redeemed, reward.expired, tier.changed, rules.activated, alert.config]
            services: [reward.redeem, reward.list, reward-rules.rules]
            rules: [rewards, tiers]
            """.write(toFile: project.root.path + "/plugins/reward-rules/plugin.yaml", atomically: true, encoding: .utf8)
        try """
            currency: NOK
            rewards:
              - id: third-coffee
                when: purchase.lines.any(category == "coffee")
                trigger: { kind: nth-purchase, count: 3, label: coffee }
                grant: a free coffee
                value: 35 NOK
                repeat: every-time
            """.write(toFile: project.rulesDirectory + "/rewards.yaml", atomically: true, encoding: .utf8)
        let up = try project.start(["up"], log: "up.log")
        defer { if up.isRunning { up.terminate(); up.waitUntilExit() } }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: project.ingest)
        func list() -> [JSONValue]? {
            guard let reply = try? client.request(service: "reward.list", body: Array(#"{"customerId":"C1"}"#.utf8), timeoutMilliseconds: 1000),
                  reply.status == .ok, case .object(let answer)? = try? JSONParser.parse(reply.body),
                  case .array(let rewards)? = answer["rewards"] else { return nil }
            return rewards
        }
        #expect(waitUntil(seconds: 60) { list() != nil }, "the reward-rules plugin did not come up: \(project.log("up.log").suffix(3000))")

        for i in 1...3 {
            let line = PurchaseLine(sku: "COF-001", category: "coffee", quantity: 1, unitPrice: 3900)
            let purchase = EventEnvelope(eventId: "S001-T1-\(i)", occurredAt: .now(), source: "pos/S001/T1",
                                         payload: .purchase(Purchase(storeId: "S001", terminalId: "T1", receiptId: "\(i)", customerId: "C1",
                                                                     currency: .NOK, lines: [line])!))
            #expect(try client.publish(Sample.bytes(purchase), eventId: purchase.eventId).status == .stored)
        }
        var rewardId: String?
        _ = waitUntil(seconds: 30) {
            if case .object(let reward)? = list()?.first, case .string(let id)? = reward["rewardId"] { rewardId = id }
            return rewardId != nil
        }
        let id = try #require(rewardId, "no reward: \(project.log("up.log").suffix(3000))")
        #expect(id == "S001-T1-3/third-coffee/C1")

        // The till retries its request: one redemption; another key is refused.
        let body = Array(#"{"customerId":"C1","rewardId":"\#(id)","idempotencyKey":"till-1-0001"}"#.utf8)
        let first = try client.request(service: "reward.redeem", body: body, timeoutMilliseconds: 3000)
        let retry = try client.request(service: "reward.redeem", body: body, timeoutMilliseconds: 3000)
        #expect(first.status == .ok)
        #expect(retry.status == .ok)
        #expect(String(decoding: retry.body, as: UTF8.self).contains(#""replayed":true"#))
        let other = try client.request(service: "reward.redeem", body: Array(#"{"customerId":"C1","rewardId":"\#(id)","idempotencyKey":"till-2"}"#.utf8))
        #expect(other.status != .ok)
        #expect(String(decoding: other.body, as: UTF8.self).contains("already redeemed"))

        // The journal holds the grant (with rule, version and the clerk's sentence) and one redemption.
        let journal = try DatabaseQueue(path: project.journalPath, configuration: { var c = Configuration(); c.readonly = true; return c }())
        var types: [String] = []
        _ = waitUntil(seconds: 10) {
            types = (try? journal.read { db in try String.fetchAll(db, sql: "SELECT type FROM journal WHERE type LIKE 'reward.%' ORDER BY seq") }) ?? []
            return types == ["reward.granted", "reward.redeemed"]
        }
        #expect(types == ["reward.granted", "reward.redeemed"])
        let granted = try journal.read { db in try Data.fetchOne(db, sql: "SELECT body FROM journal WHERE type = 'reward.granted'") }
        let text = String(decoding: granted ?? Data(), as: UTF8.self)
        #expect(text.contains(#""sentence":"A free coffee for the 3rd coffee""#))
        #expect(text.contains(#""rule":"third-coffee""#))
        #expect(text.contains(#""rulesVersion":""#))
    }
}
