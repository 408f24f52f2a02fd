import Foundation
import LoyaltyMonitor
import Testing
@testable import LoyaltyDashboard

@Suite struct DashboardRenderTests {
    static let hostile = "<script>alert('x')</script>"

    func snapshot(alerts: Panel<[AlertRow]> = .ready([]), nps: Panel<NPSPanel>? = nil) -> DashboardSnapshot {
        let panel = NPSPanel(
            days: ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"],
            stores: [NPSPanel.Series(name: "S001", nps: [100, nil, 20, -50], responses: [3, 0, 5, 2]),
                     NPSPanel.Series(name: Self.hostile, nps: [0, 10, nil, nil], responses: [1, 2, 0, 0])],
            chain: NPSPanel.Series(name: "whole chain", nps: [60, 10, 20, -50], responses: [4, 2, 5, 2]),
            current: [NPSPanel.Current(storeId: "S001", window: "7d", nps: 12.5, responses: 10, trend: -7.5)],
            asOf: "2026-11-23T12:00:00Z")
        let status = EngineStatusReport(supervisorRunning: true, supervisorPid: 42, journalHead: 100, components: [
            ComponentStatus(name: "bus", running: true, pid: 43, restarts: 0, appliedSeq: 100, eventsPerSecond: 12.5),
            ComponentStatus(name: "satisfaction", running: nil, appliedSeq: 90, lag: 10, eventsPerSecond: 0),
        ])
        let customers = CustomerScoresReport(database: "x", customersScored: 120, modelFitSeq: 5, modelFittedAt: nil, top: [
            .init(customerId: "C000007", clv: 1_234_567, profitClv: nil, clvPercentile: 99, pAlive: 0.93, expectedPurchases: 4,
                  segment: "champions", rfm: "555"),
        ], segments: [])
        let campaigns = CampaignsPanel(currency: "NOK", campaigns: [
            CampaignRow(campaign: "coffee-week", inRules: true, redemptions: 12, discount: 36_000, budget: 100_000, budgetLeft: 64_000),
        ])
        let standing = StandingAlerts([
            AlertRow(seq: 0, occurredAt: "2026-11-23T10:00:00Z", state: "RAISED", severity: "warning", kind: "poor-service", place: "S001",
                     message: "Service level scored 3 or lower"),
            AlertRow(seq: 0, occurredAt: "2026-11-22T10:00:00Z", state: "RAISED", severity: "critical", kind: "detractor-surge", place: "S002",
                     message: "A surge of detractors today " + Self.hostile),
            AlertRow(seq: 0, occurredAt: "2026-11-23T11:00:00Z", state: "RAISED", severity: "warning", kind: "poor-service", place: "S003",
                     message: "Service level scored 3 or lower"),
        ], limit: 2)
        return DashboardSnapshot(takenAt: "2026-11-23T12:00:01Z", alerts: alerts, standing: .ready(standing), nps: nps ?? .ready(panel), customers: .ready(customers),
                                 campaigns: .ready(campaigns), engine: .ready(status))
    }

    @Test func everyStringFromEventsIsEscaped() {
        let alert = AlertRow(seq: 9, occurredAt: "2026-11-23T11:00:00Z", state: "RAISED", severity: "high", kind: "nps-below",
                             place: Self.hostile, customerId: "\"C1\" onmouseover=x", message: "NPS fell <b>below</b> & stays " + Self.hostile,
                             note: "call them " + Self.hostile)
        let page = DashboardPage.render(snapshot(alerts: .ready([alert])))
        #expect(!page.contains("<script"))
        #expect(!page.contains("<b>below"))
        #expect(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
        #expect(page.contains("NPS fell &lt;b&gt;below&lt;/b&gt; &amp; stays"))
        #expect(page.contains("&quot;C1&quot; onmouseover=x"))
        // The store name from survey events, in the chart's tooltips and the table.
        let svg = NPSChart.svg(snapshot().nps.ready!)
        #expect(!svg.contains("<script"))
        #expect(svg.contains("&lt;script&gt;"))
    }

    @Test func pageIsSelfContainedAndRefreshes() {
        let page = DashboardPage.render(snapshot(), refreshSeconds: 7)
        #expect(page.contains(#"<meta http-equiv="refresh" content="7">"#))
        #expect(page.contains("<style>"))
        #expect(!page.contains("<script"))
        #expect(!page.contains("src="))
        #expect(!page.contains("<link"))
        for id in ["nps", "alerts", "customers", "campaigns", "engine"] { #expect(page.contains("<section id=\"\(id)\"")) }
        #expect(page.contains("C000007"))
        #expect(page.contains("12\u{2009}346"))   // 1 234 567 minor units
        #expect(page.contains("coffee-week"))
        #expect(page.contains("640 of 1\u{2009}000"))
        #expect(page.contains(#"data-name="satisfaction""#))
        #expect(page.contains("12.5"))
    }

    @Test func panelsSayWhyTheyAreEmpty() {
        var s = snapshot()
        s.nps = .unavailable("The satisfaction plugin is not answering (satisfaction.trend: unavailable)")
        s.customers = .unavailable("No customer scores yet")
        let page = DashboardPage.render(s)
        #expect(page.contains(#"<p class="down">The satisfaction plugin is not answering"#))
        #expect(page.contains("No customer scores yet"))
        #expect(page.contains("No alerts yet."))
        #expect(!page.contains("<svg"))
        let starting = DashboardPage.render(.starting)
        #expect(starting.contains("starting…"))
        #expect(starting.components(separatedBy: "collecting…").count - 1 == 6)
        var noAnswers = snapshot()
        noAnswers.nps = .ready(NPSPanel(days: ["2026-11-23"], stores: [], chain: nil, current: [], asOf: nil))
        #expect(DashboardPage.render(noAnswers).contains("No survey answers yet."))
    }

    @Test func standingAlertsAreCountedBySeverityAndTheLatestListedFirst() throws {
        let standing = try #require(snapshot().standing.ready)
        #expect(standing.total == 3)
        #expect(standing.bySeverity.map(\.severity) == ["critical", "warning"])
        #expect(standing.bySeverity.map(\.count) == [1, 2])
        // The latest first; the oldest (the critical one) is counted, not listed.
        #expect(standing.top.map(\.place) == ["S003", "S001"])
        let page = DashboardPage.render(snapshot())
        #expect(page.contains("Standing now (latest first): 3 alerts"))
        #expect(page.contains("The 2 latest of 3"))
        #expect(!page.contains("<script"))
        let all = DashboardPage.standing(.ready(StandingAlerts(try #require(snapshot().standing.ready).top + [
            AlertRow(seq: 0, occurredAt: "2026-11-20T10:00:00Z", state: "RAISED", severity: "high", kind: "x", place: "S009",
                     message: "markup " + Self.hostile)], limit: 10)))
        #expect(all.contains("markup &lt;script&gt;"))
        var none = snapshot()
        none.standing = .ready(StandingAlerts([], limit: 10))
        #expect(DashboardPage.render(none).contains("No alert stands"))
    }

    @Test func chartDrawsOneLinePerRunOfDaysAndAPointPerAnswerDay() throws {
        let panel = try #require(snapshot().nps.ready)
        let svg = NPSChart.svg(panel)
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.hasSuffix("</svg>"))
        // S001 [100, nil, 20, -50]: a gap after the first day, so one line over the last two days;
        // the hostile store [0, 10, nil, nil]: one line; the chain: one dashed line over four days.
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 3)
        #expect(svg.components(separatedBy: "stroke-dasharray").count - 1 == 1)
        // 3 + 2 + 4 points with answers.
        #expect(svg.components(separatedBy: "<circle").count - 1 == 9)
        // NPS 100 is at the top of the plot (y = 12), -100 would be at the bottom, 0 halfway.
        #expect(svg.contains(#"<circle cx="44.0" cy="12.0""#))
        #expect(svg.contains("S001 2026-11-22: NPS 20.0 (5 answers)"))
        #expect(svg.contains(">11-23</text>"))
    }

    @Test func addressesOffLoopbackNeedTheOptIn() throws {
        #expect(try DashboardAddress.parse("127.0.0.1:8080") == DashboardAddress(host: "127.0.0.1", port: 8080))
        #expect(try DashboardAddress.parse("[::1]:9000") == DashboardAddress(host: "::1", port: 9000))
        #expect(try DashboardAddress.parse("localhost:0").port == 0)
        #expect(throws: DashboardAddressError.notLoopback("0.0.0.0:8080")) { try DashboardAddress.parse("0.0.0.0:8080") }
        #expect(throws: DashboardAddressError.notLoopback("192.168.1.5:80")) { try DashboardAddress.parse("192.168.1.5:80") }
        #expect(throws: DashboardAddressError.malformed("8080")) { try DashboardAddress.parse("8080") }
        #expect(throws: DashboardAddressError.malformed("127.0.0.1:http")) { try DashboardAddress.parse("127.0.0.1:http") }
        #expect(try DashboardAddress.parse("0.0.0.0:8080", allowNonLoopback: true).host == "0.0.0.0")
        #expect(DashboardAddressError.notLoopback("0.0.0.0:8080").description.contains("--dashboard-allow-remote"))
    }
}

extension Panel {
    var ready: Value? {
        if case .ready(let value) = self { return value }
        return nil
    }
}
