import Foundation
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
import Testing
import ZeroMQ

extension Executables {
    static var discountCampaigns: String { directory + "/discount-campaigns" }
}

/// The real `loyalty up` with the discount-campaigns plugin: a quote through the bus, codes
/// imported with the CLI, purchases carrying the quote consuming the budget, and the report.
@Suite(.serialized) struct DiscountCampaignsProcessTests {
    static func writeManifest(_ project: TestProject) throws {
        try FileManager.default.createDirectory(atPath: project.root.path + "/plugins/discount-campaigns", withIntermediateDirectories: true)
        try """
            name: discount-campaigns
            executable: \(Executables.discountCampaigns)
            topics:
              in: [purchase, survey, points.accrued, tier.changed, customer.scored]
              out: [campaign.redeemed, rules.activated, alert.config]
            services: [campaign.quote, campaign.codes.import, campaign.report, discount-campaigns.rules]
            rules: [campaigns]
            """.write(toFile: project.root.path + "/plugins/discount-campaigns/plugin.yaml", atomically: true, encoding: .utf8)
    }

    /// A `pointsMultiplier` campaign: discount-campaigns commits it with the purchase, and the
    /// points plugin adds the bonus to the purchase's lot from `campaign.redeemed`.
    @Test(.timeLimit(.minutes(2))) func aPointsMultiplierCampaignRaisesThePointsBalance() throws {
        let project = try TestProject(plugins: ["discount-campaigns", "points-accrual"])
        defer { project.root.remove() }
        try Self.writeManifest(project)
        try """
            currency: NOK
            earning:
              pending: 0d
              rules:
                - id: base
                  points: purchase.total / 10 NOK
            campaigns:
              - id: double-points
                pointsMultiplier: 2
            """.write(toFile: project.rulesDirectory + "/rules.yaml", atomically: true, encoding: .utf8)
        let up = try project.start(["up"], log: "up.log")
        defer { if up.isRunning { up.terminate(); up.waitUntilExit() } }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: project.ingest)
        let id = "S001-T1-77"
        let purchase = EventEnvelope(eventId: id, occurredAt: .now(), source: "pos/S001/T1", payload: .purchase(Purchase(
            storeId: "S001", terminalId: "T1", receiptId: id, customerId: "C1", currency: .NOK,
            lines: [PurchaseLine(sku: "W1", category: "wine", quantity: 1, unitPrice: 300_00)])!))
        #expect(try client.publish(Sample.bytes(purchase), eventId: id, maxAttempts: 30).status == .stored)
        // 30 points for 300 NOK, and 30 more from the campaign.
        var balance: JSONObject = [:]
        let doubled = waitUntil(seconds: 60) {
            guard let reply = try? client.request(service: "points.balance", body: Array(#"{"customerId":"C1"}"#.utf8), timeoutMilliseconds: 1000),
                  reply.status == .ok, case .object(let object)? = try? JSONParser.parse(reply.body) else { return false }
            balance = object
            return object["available"] == .int(60)
        }
        #expect(doubled, "\(balance) \(project.log("up.log").suffix(3000))")
        let shown = try runProcess(Executables.loyalty, ["customer", "show", "C1", "--config", project.configPath])
        #expect(shown.status == 0)
        #expect(shown.output.contains("Points: 60 available"), "\(shown.output)")
        #expect(shown.output.contains("\(id)/discount-campaigns/redeemed  campaign double-points ×2 on purchase \(id): 30 points earned, 30 bonus"),
                "\(shown.output)")
        // The purchase's own row shows what its rules earned; the bonus has its own row.
        #expect(shown.output.contains("    +30  accrued         \(id)  base 30  (rules"), "\(shown.output)")
        #expect(!shown.output.contains("campaign:double-points"), "\(shown.output)")
    }

    @Test(.timeLimit(.minutes(3))) func aQuoteThroughTheBusThenPurchasesConsumeTheBudgetOnce() throws {
        let project = try TestProject(plugins: ["discount-campaigns"])
        defer { project.root.remove() }
        try Self.writeManifest(project)
        try """
            currency: NOK
            campaigns:
              - id: sixty-off
                priority: 10
                discount: { amount: 60 NOK }
                budget: 100 NOK
              - id: welcome
                code: required
                discount: { amount: 20 NOK }
            """.write(toFile: project.rulesDirectory + "/campaigns.yaml", atomically: true, encoding: .utf8)
        let up = try project.start(["up"], log: "up.log")
        defer { if up.isRunning { up.terminate(); up.waitUntilExit() } }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: project.ingest)
        let basket = #"{"storeId":"S001","customerId":"C1","codes":["wx12ab"],"lines":[{"sku":"W1","category":"wine","quantity":1,"unitPrice":50000}]}"#
        var reply: Reply?
        let ready = waitUntil(seconds: 60) {
            reply = try? client.request(service: "campaign.quote", body: Array(basket.utf8), timeoutMilliseconds: 1000)
            return reply?.status == .ok
        }
        #expect(ready, "the plugin did not come up: \(project.log("up.log").suffix(3000))")

        // Codes through the real CLI and the bus.
        try "code\nWX12AB\n".write(toFile: project.root.path + "/codes.csv", atomically: true, encoding: .utf8)
        let imported = try runProcess(Executables.loyalty, ["campaigns", "codes", "import", "--campaign", "welcome", project.root.path + "/codes.csv",
                                                            "--config", project.configPath])
        #expect(imported.status == 0 && imported.output.contains("1 codes imported"), "\(imported.output)")
        let generated = try runProcess(Executables.loyalty, ["campaigns", "codes", "generate", "--campaign", "welcome", "--count", "3", "--prefix", "W-",
                                                             "--output", project.root.path + "/new.txt", "--config", project.configPath])
        #expect(generated.status == 0 && generated.output.contains("3 codes for 'welcome' registered"), "\(generated.output)")
        let codes = ((try? String(contentsOfFile: project.root.path + "/new.txt", encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(codes.count == 3 && codes.allSatisfy { $0.hasPrefix("W-") && $0.count == 12 && !$0.contains("O") && !$0.contains("0") }, "\(codes)")
        let wrong = try runProcess(Executables.loyalty, ["campaigns", "codes", "import", "--campaign", "sixty-off", project.root.path + "/codes.csv",
                                                         "--config", project.configPath])
        #expect(wrong.status == 2 && wrong.output.contains("does not take issued codes"), "\(wrong.output)")

        reply = try client.request(service: "campaign.quote", body: Array(basket.utf8))
        guard case .object(let quote)? = try? JSONParser.parse(reply!.body), case .string(let quoteId)? = quote["quoteId"] else {
            Issue.record("no quote: \(reply?.bodyText ?? "")"); return
        }
        #expect(quote["discount"] == .int(8_000), "\(reply!.bodyText)")

        // Two purchases with the same single-use code: the first gets 60 + 20 NOK, the second the 40 NOK left of the budget.
        for (n, id) in ["S001-T1-1", "S001-T1-2"].enumerated() {
            let purchase = EventEnvelope(eventId: id, occurredAt: .now(), source: "pos/S001/T1", payload: .purchase(Purchase(
                storeId: "S001", terminalId: "T1", receiptId: id, customerId: "C1", currency: .NOK,
                lines: [PurchaseLine(sku: "W1", category: "wine", quantity: 1, unitPrice: 50_000)], discount: n == 0 ? 8_000 : 0,
                quoteId: n == 0 ? quoteId : nil, couponCodes: ["WX12AB"])!))
            #expect(try client.publish(Sample.bytes(purchase), eventId: id).status == .stored)
        }
        var report: JSONObject = [:]
        let committed = waitUntil(seconds: 30) {
            let run = try? runProcess(Executables.loyalty, ["report", "campaigns", "--json", "--config", project.configPath])
            guard let output = run?.output, case .object(let object)? = try? JSONParser.parse(output) else { return false }
            report = object
            guard case .array(let rows)? = object["campaigns"] else { return false }
            return rows.contains { $0 == .object(["campaign": "sixty-off", "inRules": true, "priority": 10, "redemptions": 2, "discount": 10_000,
                                                  "budget": 10_000, "budgetLeft": 0]) }
        }
        #expect(committed, "\(report)")
        guard case .array(let rows)? = report["campaigns"] else { return }
        #expect(rows.contains { row in
            guard case .object(let o) = row else { return false }
            return o["campaign"] == "welcome" && o["redemptions"] == .int(1) && o["codeUses"] == .int(1)
        }, "\(report)")
        let table = try runProcess(Executables.loyalty, ["report", "campaigns", "--config", project.configPath])
        #expect(table.status == 0 && table.output.contains("sixty-off") && table.output.contains("100.00"), "\(table.output)")
    }
}
