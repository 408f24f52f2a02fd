import Foundation
import GRDB
import LoyaltyConfig
import LoyaltyEvents
import LoyaltyMonitor
import LoyaltyWire
import ZeroMQ

/// What the demo did, gathered once every plugin has applied everything: from the plugins'
/// services and databases (what a marketer would look at) and the journal (what happened).
struct DemoSummary: Encodable {
    struct Fed: Encodable {
        var purchases: Int
        var returns: Int
        var surveys: Int
        var acknowledged: Int
        var rejected: Int
        var unacknowledged: Int
    }
    struct RewardCount: Encodable {
        var rule: String
        var granted: Int
    }
    struct CampaignLine: Encodable {
        var campaign: String
        var redemptions: Int64
        /// Minor units of `currency`.
        var discount: Int64
        var budgetLeft: Int64?
    }
    struct StoreNPS: Encodable {
        /// nil for the whole chain.
        var storeId: String?
        var responses: Int64
        var promoters: Int64
        var detractors: Int64
        var nps: Double?
    }

    var simulatedFrom: String
    var simulatedTo: String
    var days: Int
    var fed: Fed
    /// Every plugin had applied the whole journal and sent all it derived when this was taken
    /// (`catchUpSeconds != nil`; kept as its own key for readers of the JSON).
    var caughtUp: Bool
    /// How long after the feed's end every plugin had caught up (nil if they had not): how far
    /// behind the tills the slowest plugin ran.
    var catchUpSeconds: Double?
    var journalEvents: Int64
    var topCustomers: [CustomerScoresReport.Customer]
    var customersScored: Int
    var rewards: [RewardCount]
    var rewardsGranted: Int
    var tierChanges: Int
    var alertsRaised: [String: Int]
    var currency: String?
    var campaigns: [CampaignLine]
    /// Over the whole simulated period (the satisfaction plugin's figures).
    var nps: [StoreNPS]
    /// What could not be gathered (a plugin not running, say), in words.
    var missing: [String]
}

extension DemoSummary {
    /// Blocking (SQLite and a ZeroMQ socket): call it off the concurrency pool.
    static func gather(configuration: LoyaltyConfiguration, feed: DemoFeed.Result, from: Timestamp, days: Int,
                       catchUpSeconds: Double?) throws -> DemoSummary {
        var missing: [String] = []
        // Ctrl-C may have cut the period short: count the days actually fed.
        let days = max(1, min(days, Int((feed.reached.epochMilliseconds - from.epochMilliseconds + 86_399_999) / 86_400_000)))
        var summary = DemoSummary(
            simulatedFrom: from.rfc3339, simulatedTo: feed.reached.rfc3339, days: days,
            fed: Fed(purchases: feed.purchases, returns: feed.returns, surveys: feed.surveys, acknowledged: feed.acknowledged,
                     rejected: feed.rejected.count, unacknowledged: feed.unacknowledged),
            caughtUp: catchUpSeconds != nil, catchUpSeconds: catchUpSeconds, journalEvents: 0, topCustomers: [], customersScored: 0, rewards: [], rewardsGranted: 0,
            tierChanges: 0, alertsRaised: [:], currency: nil, campaigns: [], nps: [], missing: [])

        // The journal: what every plugin derived, counted exactly.
        let journal = try ReadOnlyDatabase.open(configuration.journalPath)
        try journal.read { db in
            summary.journalEvents = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM journal") ?? 0
            var rewards: [String: Int] = [:]
            var alerts: [String: Int] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT type, body FROM journal WHERE type IN ('reward.granted', 'alert.raised', 'tier.changed')")
            while let row = try rows.next() {
                let type: String = row[0]
                if type == "tier.changed" {
                    summary.tierChanges += 1
                    continue
                }
                let body: Data = row[1]
                guard let envelope = try? EventCodec.decode(Array(body)), case .derived(let payload) = envelope.payload else { continue }
                if type == "reward.granted" {
                    if case .string(let rule)? = payload["rule"] { rewards[rule, default: 0] += 1 }
                } else if case .string(let kind)? = payload["kind"] {
                    alerts[kind, default: 0] += 1
                }
            }
            summary.rewards = rewards.map { RewardCount(rule: $0.key, granted: $0.value) }
                .sorted { ($0.granted, $1.rule) > ($1.granted, $0.rule) }
            summary.rewardsGranted = rewards.values.reduce(0, +)
            summary.alertsRaised = alerts
        }

        // Customer scores, as `loyalty report customers` reads them.
        do {
            let report = try CustomerScores.read(path: configuration.pluginDatabasePath(name: CustomerScores.plugin), top: 10)
            summary.topCustomers = report.top
            summary.customersScored = report.customersScored
        } catch {
            missing.append("customer scores: \(error)")
        }

        // Campaigns and NPS, asked of the plugins through the bus as the report commands do.
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: configuration.bus.ingest, options: try configuration.clientSocketOptions())
        func ask(_ service: String, _ body: JSONObject) -> JSONObject? {
            guard let reply = try? client.request(service: service, body: JSONWriter.serialize(.object(body)), timeoutMilliseconds: 10_000) else {
                missing.append("\(service): no answer from the bus")
                return nil
            }
            guard reply.status == .ok, case .object(let object)? = try? JSONParser.parse(reply.body) else {
                missing.append("\(service): \(reply.status.rawValue) \(reply.bodyText.prefix(200))")
                return nil
            }
            return object
        }
        if let report = ask("campaign.report", [:]), case .array(let campaigns)? = report["campaigns"] {
            if case .string(let code)? = report["currency"] { summary.currency = code }
            for case .object(let campaign) in campaigns {
                guard case .string(let id)? = campaign["campaign"] else { continue }
                summary.campaigns.append(CampaignLine(campaign: id, redemptions: campaign.int("redemptions") ?? 0,
                                                      discount: campaign.int("discount") ?? 0,
                                                      budgetLeft: campaign.int("budget") == nil ? nil : campaign.int("budgetLeft")))
            }
            summary.campaigns.sort { ($0.redemptions, $1.campaign) > ($1.redemptions, $0.campaign) }
        }
        // One window covering the whole simulated period, ending at its last event.
        let window = "\(days + 1)d"
        if let report = ask("satisfaction.report", ["windows": .array([.string(window)]), "at": .string(feed.reached.rfc3339)]) {
            func nps(_ entry: JSONObject, store: String?) -> StoreNPS? {
                guard case .array(let windows)? = entry["windows"], case .object(let counts)? = windows.first else { return nil }
                var nps: Double?
                if case .double(let value)? = counts["nps"] { nps = value } else if let value = counts.int("nps") { nps = Double(value) }
                return StoreNPS(storeId: store, responses: counts.int("responses") ?? 0, promoters: counts.int("promoters") ?? 0,
                                detractors: counts.int("detractors") ?? 0, nps: nps)
            }
            if case .array(let stores)? = report["stores"] {
                for case .object(let store) in stores {
                    guard case .string(let id)? = store["storeId"], let line = nps(store, store: id) else { continue }
                    summary.nps.append(line)
                }
            }
            if case .object(let chain)? = report["chain"], let line = nps(chain, store: nil) { summary.nps.append(line) }
        }
        summary.missing = missing
        return summary
    }

    /// The summary as a person reads it at the end of the demo.
    func render() -> String {
        var out: [String] = []
        let money = { (minor: Int64) in String(format: "%.2f", Double(minor) / 100) + (currency.map { " " + $0 } ?? "") }
        out.append("Summary of \(days) simulated days (\(simulatedFrom.prefix(10)) to \(simulatedTo.prefix(10)))")
        out.append("  fed: \(grouped(fed.purchases)) purchases, \(grouped(fed.returns)) returns, \(grouped(fed.surveys)) surveys"
                   + " (\(grouped(fed.acknowledged)) acknowledged\(fed.rejected > 0 ? ", \(fed.rejected) rejected" : "")"
                   + "\(fed.unacknowledged > 0 ? ", \(fed.unacknowledged) unacknowledged" : ""))")
        out.append("  journal: \(grouped(Int(journalEvents))) events (the fed events and what the plugins derived)"
                   + (catchUpSeconds.map { String(format: "; every plugin had caught up %.1f s after the feed ended", $0) }
                      ?? "; some plugins had not caught up when this was taken"))
        out.append("")
        out.append("Top customers by CLV (12 months ahead; \(grouped(customersScored)) customers scored)")
        if topCustomers.isEmpty {
            out.append("  (no scores yet)")
        } else {
            out += TextTable(["customer", "CLV", "p(alive)", "segment"], alignRight: [false, true, true, false],
                             rows: topCustomers.map { [$0.customerId, money($0.clv), String(format: "%.2f", $0.pAlive), $0.segment] }).lines(indent: 2)
        }
        out.append("")
        out.append("Rewards granted: \(grouped(rewardsGranted)); tier changes: \(grouped(tierChanges))")
        if !rewards.isEmpty {
            out += TextTable(["rule", "granted"], alignRight: [false, true], rows: rewards.map { [$0.rule, grouped($0.granted)] }).lines(indent: 2)
        }
        out.append("")
        out.append("Campaign redemptions")
        if campaigns.isEmpty {
            out.append("  (none)")
        } else {
            out += TextTable(["campaign", "redemptions", "discount given", "budget left"], alignRight: [false, true, true, true],
                             rows: campaigns.map { [$0.campaign, grouped(Int($0.redemptions)), money($0.discount), $0.budgetLeft.map(money) ?? "no limit"] })
                .lines(indent: 2)
        }
        out.append("")
        out.append("NPS per store over the whole period")
        if nps.isEmpty {
            out.append("  (no surveys)")
        } else {
            out += TextTable(["store", "answers", "promoters", "detractors", "NPS"], alignRight: [false, true, true, true, true],
                             rows: nps.map { [$0.storeId ?? "chain", grouped(Int($0.responses)), grouped(Int($0.promoters)),
                                              grouped(Int($0.detractors)), $0.nps.map { String(format: "%.1f", $0) } ?? "-"] }).lines(indent: 2)
        }
        if !alertsRaised.isEmpty {
            out.append("")
            out.append("Alerts raised: " + alertsRaised.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !missing.isEmpty {
            out.append("")
            for line in missing { out.append("not available: \(line)") }
        }
        return out.joined(separator: "\n")
    }
}

extension JSONObject {
    fileprivate func int(_ key: String) -> Int64? {
        if case .int(let value)? = self[key] { return value }
        return nil
    }
}

/// Columns padded to their widest cell; numbers right-aligned.
struct TextTable {
    let header: [String]
    let alignRight: [Bool]
    let rows: [[String]]

    init(_ header: [String], alignRight: [Bool], rows: [[String]]) {
        self.header = header
        self.alignRight = alignRight
        self.rows = rows
    }

    func lines(indent: Int = 0) -> [String] {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        let margin = String(repeating: " ", count: indent)
        return all.map { row in
            margin + header.indices.map { column in
                let cell = row.indices.contains(column) ? row[column] : ""
                let space = String(repeating: " ", count: widths[column] - cell.count)
                return alignRight[column] ? space + cell : cell + space
            }.joined(separator: "  ")
        }
    }
}
