import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyTestSupport
import Testing

/// `loyalty demo` as a user runs it, with the shipped config, plugins and rules: its summary must
/// agree with the events it fed, as the journal holds them.
@Suite struct DemoTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    struct Summary: Decodable {
        struct Fed: Decodable { var purchases: Int; var returns: Int; var surveys: Int; var acknowledged: Int; var rejected: Int; var unacknowledged: Int }
        struct RewardCount: Decodable { var rule: String; var granted: Int }
        struct Campaign: Decodable { var campaign: String; var redemptions: Int64; var discount: Int64 }
        struct StoreNPS: Decodable { var storeId: String?; var responses: Int64; var promoters: Int64; var detractors: Int64; var nps: Double? }
        struct Customer: Decodable { var customerId: String; var clv: Int64 }
        var days: Int
        var fed: Fed
        var caughtUp: Bool
        var catchUpSeconds: Double?
        var journalEvents: Int64
        var topCustomers: [Customer]
        var customersScored: Int
        var rewards: [RewardCount]
        var rewardsGranted: Int
        var tierChanges: Int
        var campaigns: [Campaign]
        var nps: [StoreNPS]
        var missing: [String]
    }

    @Test(.timeLimit(.minutes(4)))
    func theSummaryAgreesWithTheEventsFed() throws {
        let folder = try TemporaryDirectory("loyalty-demo")
        let data = folder.path + "/demo"
        let summaryPath = folder.path + "/summary.json"
        let started = Date()
        let (status, output) = try runProcess(Executables.loyalty, [
            "demo", "--config", Self.repository + "/config/loyalty.yaml", "--data", data,
            "--seconds", "8", "--days", "90", "--customers", "400", "--stores", "4",
            "--summary-json", summaryPath,
        ])
        let elapsed = Date().timeIntervalSince(started)
        #expect(status == 0, "loyalty demo failed:\n\(output)")
        // What a person sees: live lines while it runs, then the summary's sections.
        #expect(output.contains("Loyalty demo: the last 90 days of a 4-store chain"))
        #expect(output.contains("REWARD"), "no reward shown live:\n\(output.prefix(3000))")
        for section in ["Top customers by CLV", "Rewards granted:", "Campaign redemptions", "NPS per store over the whole period"] {
            #expect(output.contains(section), "missing '\(section)' in:\n\(output)")
        }
        #expect(elapsed >= 8, "the feed takes --seconds")

        let summary = try JSONDecoder().decode(Summary.self, from: Data(contentsOf: URL(fileURLWithPath: summaryPath)))
        #expect(summary.caughtUp)
        // How far behind the tills the slowest plugin ran, shown to the person watching too.
        let catchUp = try #require(summary.catchUpSeconds)
        #expect(catchUp >= 0 && catchUp <= 120)
        #expect(output.contains(String(format: "every plugin had caught up %.1f s after the feed ended", catchUp)), "\(output.suffix(3000))")
        #expect(summary.missing.isEmpty, "\(summary.missing)")
        #expect(summary.fed.rejected == 0 && summary.fed.unacknowledged == 0)

        let journal = try DatabaseQueue(path: data + "/journal.sqlite")
        try journal.read { db in
            func count(_ type: String) throws -> Int { try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE type = ?", arguments: [type]) ?? 0 }
            // Every event fed is in the journal once.
            #expect(summary.fed.purchases == (try count("purchase")))
            #expect(summary.fed.returns == (try count("return")))
            #expect(summary.fed.surveys == (try count("survey")))
            #expect(summary.fed.acknowledged == summary.fed.purchases + summary.fed.returns + summary.fed.surveys)
            #expect(summary.fed.purchases > 1000, "a 90-day chain of 400 customers buys more than that")
            #expect(summary.journalEvents == (try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM journal")))

            func payloads(_ type: String) throws -> [JSONObject] {
                try Data.fetchAll(db, sql: "SELECT body FROM journal WHERE type = ? ORDER BY seq", arguments: [type]).compactMap {
                    guard case .derived(let payload) = try EventCodec.decode(Array($0)).payload else { return nil }
                    return payload
                }
            }
            func text(_ object: JSONObject, _ key: String) -> String? { if case .string(let value)? = object[key] { value } else { nil } }
            func int(_ object: JSONObject, _ key: String) -> Int64? { if case .int(let value)? = object[key] { value } else { nil } }

            // Rewards: the summary's per-rule counts are the reward.granted events.
            var granted: [String: Int] = [:]
            for payload in try payloads("reward.granted") { granted[text(payload, "rule") ?? "?", default: 0] += 1 }
            #expect(summary.rewardsGranted == granted.values.reduce(0, +))
            #expect(Dictionary(uniqueKeysWithValues: summary.rewards.map { ($0.rule, $0.granted) }) == granted)
            #expect(granted["welcome", default: 0] > 0, "the first-purchase reward fires in any chain")
            #expect(summary.tierChanges == (try count("tier.changed")))

            // Campaigns: redemptions and discount per campaign are the campaign.redeemed events'.
            var redemptions: [String: (count: Int64, discount: Int64)] = [:]
            for payload in try payloads("campaign.redeemed") {
                guard case .array(let given)? = payload["campaigns"] else { continue }
                for case .object(let item) in given {
                    let id = text(item, "campaign") ?? "?"
                    redemptions[id, default: (0, 0)].count += 1
                    redemptions[id, default: (0, 0)].discount += int(item, "discount") ?? 0
                }
            }
            #expect(!redemptions.isEmpty, "the morning-coffee and weekend campaigns apply to a simulated chain")
            for campaign in summary.campaigns {
                #expect(campaign.redemptions == redemptions[campaign.campaign]?.count ?? 0, "\(campaign.campaign)")
                #expect(campaign.discount == redemptions[campaign.campaign]?.discount ?? 0, "\(campaign.campaign)")
            }
            #expect(Set(summary.campaigns.filter { $0.redemptions > 0 }.map(\.campaign)) == Set(redemptions.keys))

            // NPS per store: recomputed from the surveys fed (9–10 promoters, 0–6 detractors).
            var answers: [String?: (responses: Int64, promoters: Int64, detractors: Int64)] = [:]
            for body in try Data.fetchAll(db, sql: "SELECT body FROM journal WHERE type = 'survey'") {
                guard case .survey(let survey) = try EventCodec.decode(Array(body)).payload else { continue }
                for key in [survey.storeId, nil] as [String?] {
                    answers[key, default: (0, 0, 0)].responses += 1
                    if survey.nps >= 9 { answers[key, default: (0, 0, 0)].promoters += 1 }
                    if survey.nps <= 6 { answers[key, default: (0, 0, 0)].detractors += 1 }
                }
            }
            #expect(summary.nps.count == answers.count, "one line per store that had answers, and the chain")
            for line in summary.nps {
                let expected = answers[line.storeId]
                #expect(line.responses == expected?.responses, "\(line.storeId ?? "chain")")
                #expect(line.promoters == expected?.promoters, "\(line.storeId ?? "chain")")
                #expect(line.detractors == expected?.detractors, "\(line.storeId ?? "chain")")
                if let expected, expected.responses > 0, let nps = line.nps {
                    let exact = Double(expected.promoters - expected.detractors) * 100 / Double(expected.responses)
                    #expect(abs(nps - exact) <= 0.05, "\(line.storeId ?? "chain"): \(nps) vs \(exact)")
                }
            }

            // Top customers: card holders who bought, by CLV, highest first.
            #expect(summary.customersScored > 0)
            #expect(!summary.topCustomers.isEmpty)
            #expect(summary.topCustomers.map(\.clv) == summary.topCustomers.map(\.clv).sorted(by: >))
            for customer in summary.topCustomers {
                #expect((try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE type = 'purchase' AND customerId = ?",
                                          arguments: [customer.customerId]) ?? 0) > 0, "\(customer.customerId)")
            }
        }
    }

    @Test func refusesToEmptyAFolderItDidNotMake() throws {
        let folder = try TemporaryDirectory("loyalty-demo")
        FileManager.default.createFile(atPath: folder.path + "/precious.txt", contents: Data("keep me".utf8))
        let (status, output) = try runProcess(Executables.loyalty, [
            "demo", "--config", Self.repository + "/config/loyalty.yaml", "--data", folder.path, "--seconds", "1",
        ])
        #expect(status != 0)
        #expect(output.contains("was not made by `loyalty demo`"), "\(output)")
        #expect(FileManager.default.fileExists(atPath: folder.path + "/precious.txt"))
    }
}
