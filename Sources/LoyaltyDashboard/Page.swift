import Foundation
import LoyaltyMonitor

/// Text for HTML. Every string that came from an event, a plugin or a file goes through here:
/// a store name or an alert message is data from the network, never markup.
public enum HTML {
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }
}

/// The one page: every panel of a snapshot, server-rendered, refreshing itself.
public enum DashboardPage {
    public static func render(_ snapshot: DashboardSnapshot, refreshSeconds: Int = 5) -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="refresh" content="\(max(1, refreshSeconds))">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Loyalty engine — dashboard</title>
            <style>\(style)</style>
            </head><body>
            <header><h1>Loyalty engine</h1><span class="updated">\(snapshot.takenAt.map { "updated " + HTML.escape(time($0)) + " UTC" } ?? "starting…") · refreshes every \(max(1, refreshSeconds)) s</span></header>
            <main>
            """
        html += section("Customer satisfaction (NPS) per store", id: "nps", wide: true, nps(snapshot.nps))
        html += section("Alerts", id: "alerts", wide: true, standing(snapshot.standing) + alerts(snapshot.alerts))
        html += section("Top customers by lifetime value", id: "customers", customers(snapshot.customers, currency: currency(snapshot)))
        html += section("Campaign budgets", id: "campaigns", campaigns(snapshot.campaigns))
        html += section("Engine: plugins, lag and throughput", id: "engine", wide: true, engine(snapshot.engine))
        html += "</main></body></html>\n"
        return html
    }

    static let style = """
        body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;background:#f2f4f7;color:#1d2430}
        header{display:flex;align-items:baseline;gap:16px;padding:14px 24px;background:#1f3a5f;color:#fff}
        header h1{margin:0;font-size:20px}.updated{opacity:.8;font-size:13px}
        main{display:grid;grid-template-columns:1fr 1fr;gap:16px;padding:16px 24px}
        section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:14px 16px;min-width:0}
        section.wide{grid-column:1/-1}
        h2{margin:0 0 10px;font-size:16px}
        h3{margin:12px 0 6px;font-size:14px;color:#333}
        table{border-collapse:collapse;width:100%;font-size:13px}
        th{text-align:left;font-weight:600;color:#555;border-bottom:2px solid #e3e6ea;padding:4px 8px}
        td{border-bottom:1px solid #eef0f3;padding:4px 8px;vertical-align:top}
        td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
        .down{background:#fff4e5;border-left:4px solid #e69f00;padding:8px 12px;color:#6b4a00}
        .empty{color:#666;font-style:italic}
        .npsrow{display:flex;gap:20px;align-items:flex-start;flex-wrap:wrap}
        .npsrow>div:last-child{flex:1;min-width:320px}
        td.time,td.nowrap,span.nowrap{white-space:nowrap}td.time{color:#444}
        .legend{display:inline-block;width:14px;height:4px;border-radius:2px;vertical-align:middle;margin-right:6px}
        .sev{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;background:#4a7fb0}
        .sev-critical{background:#b00020}.sev-high{background:#d9480f}.sev-warning{background:#e69f00;color:#222}.sev-info{background:#4a7fb0}
        .state-RESOLVED td{color:#667}.state-RESOLVED .sev{background:#9aa5b1}
        .note{color:#555;font-size:12px}
        .bar{background:#e9ecef;border-radius:4px;height:8px;width:70px;display:inline-block;vertical-align:middle}
        .bar span{display:block;height:8px;border-radius:4px;background:#009e73}
        .bar span.low{background:#d55e00}
        .ok{color:#0a7b48;font-weight:600}.bad{color:#b00020;font-weight:600}.warn{color:#a05a00;font-weight:600}
        .pos{color:#0a7b48}.neg{color:#b00020}
        """

    static func section(_ title: String, id: String, wide: Bool = false, _ body: String) -> String {
        "<section id=\"\(id)\"\(wide ? " class=\"wide\"" : "")><h2>\(HTML.escape(title))</h2>\(body)</section>\n"
    }

    static func down(_ reason: String) -> String { "<p class=\"down\">\(HTML.escape(reason))</p>" }

    static func currency(_ snapshot: DashboardSnapshot) -> String? {
        if case .ready(let panel) = snapshot.campaigns { return panel.currency }
        return nil
    }

    /// Minor units as whole units with thin-space thousands: 1234567 → "12 346".
    static func money(_ minor: Int64) -> String {
        let units = Int64((Double(minor) / 100).rounded())
        var digits = String(abs(units))
        var groups: [String] = []
        while digits.count > 3 {
            groups.insert(String(digits.suffix(3)), at: 0)
            digits = String(digits.dropLast(3))
        }
        groups.insert(digits, at: 0)
        return (units < 0 ? "−" : "") + groups.joined(separator: "\u{2009}")
    }

    /// "2026-03-22T09:31:47.355Z" → "2026-03-22 09:31": what a person reads; anything else as it is.
    static func time(_ rfc3339: String) -> String {
        guard rfc3339.count >= 16, rfc3339.hasSuffix("Z"), Array(rfc3339)[10] == "T" else { return rfc3339 }
        return String(rfc3339.prefix(10)) + " " + String(rfc3339.dropFirst(11).prefix(5))
    }

    static func figure(_ value: Double?, signed: Bool = false) -> String {
        guard let value else { return "–" }
        let text = String(format: "%.1f", value)
        return signed && value > 0 ? "+" + text : text
    }

    // MARK: panels

    static func nps(_ panel: Panel<NPSPanel>) -> String {
        guard case .ready(let nps) = panel else {
            if case .unavailable(let reason) = panel { return down(reason) }
            return ""
        }
        if nps.stores.isEmpty { return "<p class=\"empty\">No survey answers yet.</p>" }
        var html = "<div class=\"npsrow\"><div>" + NPSChart.svg(nps) + "</div><div>"
        html += "<table><tr><th>store</th>"
        let window = nps.current.first?.window ?? ""
        html += "<th class=\"num\">NPS \(HTML.escape(window))</th><th class=\"num\">answers</th><th class=\"num\">trend</th></tr>"
        let drawn = NPSChart.drawn(nps).map(\.name)
        let ordered = nps.stores.map(\.name) + ["chain"]
        for name in ordered {
            let current = nps.current.first { $0.storeId == name }
            let swatch: String
            if let index = drawn.firstIndex(of: name) {
                swatch = "<span class=\"legend\" style=\"background:\(NPSChart.palette[index])\"></span>"
            } else if name == "chain" {
                swatch = "<span class=\"legend\" style=\"background:\(NPSChart.chainColour)\"></span>"
            } else {
                swatch = "<span class=\"legend\"></span>"
            }
            let trend = current?.trend
            let trendClass = (trend ?? 0) > 0 ? "pos" : (trend ?? 0) < 0 ? "neg" : ""
            html += "<tr><td>\(swatch)\(HTML.escape(name == "chain" ? "whole chain" : name))</td>"
            html += "<td class=\"num\"><b>\(figure(current?.nps))</b></td><td class=\"num\">\(current?.responses ?? 0)</td>"
            html += "<td class=\"num \(trendClass)\">\(figure(trend, signed: true))</td></tr>"
        }
        html += "</table>"
        if nps.stores.count > NPSChart.palette.count {
            html += "<p class=\"note\">The chart shows the first \(NPSChart.palette.count) stores; the table has all.</p>"
        }
        html += "<p class=\"note\">NPS = % promoters (9–10) − % detractors (0–6), −100 to 100. Chart: one point per day"
        let span = nps.window == "1d" ? "that day's answers" : "the answers of the \(HTML.escape(nps.window)) ending that day"
        html += " (\(span))\(nps.asOf.map { ", up to " + HTML.escape(time($0)) } ?? ""); dashed line: whole chain; a gap: no answers in that span. Trend: this window against the one before.</p>"
        html += "</div></div>"
        return html
    }

    static func severityBadge(_ severity: String) -> String {
        let known = StandingAlerts.severities.contains(severity) ? severity : "info"
        return "<span class=\"sev sev-\(known)\">\(HTML.escape(severity))</span>"
    }

    /// The store (or chain), and the customer when the alert is about one.
    static func place(_ row: AlertRow) -> String {
        HTML.escape(row.place) + (row.customerId.map { " <span class=\"note\">· " + HTML.escape($0) + "</span>" } ?? "")
    }

    static func standing(_ panel: Panel<StandingAlerts>) -> String {
        guard case .ready(let standing) = panel else {
            if case .unavailable(let reason) = panel { return "<h3>Standing now</h3>" + down(reason) }
            return ""
        }
        guard standing.total > 0 else { return "<h3>Standing now</h3><p class=\"empty\">No alert stands: nothing needs doing.</p>" }
        var html = "<h3>Standing now (latest first): \(standing.total) \(standing.total == 1 ? "alert" : "alerts") "
        html += standing.bySeverity.map { "\(severityBadge($0.severity)) \($0.count)" }.joined(separator: " ") + "</h3>"
        html += "<table><tr><th>since (UTC)</th><th>severity</th><th>rule</th><th>where</th><th>what</th></tr>"
        for row in standing.top {
            html += "<tr><td class=\"time\">\(HTML.escape(time(row.occurredAt)))</td><td>\(severityBadge(row.severity))</td><td class=\"nowrap\">\(HTML.escape(row.kind))</td>"
            html += "<td class=\"nowrap\">\(place(row))</td>"
            html += "<td>\(HTML.escape(row.message))</td></tr>"
        }
        html += "</table>"
        if standing.total > standing.top.count {
            html += "<p class=\"note\">The \(standing.top.count) latest of \(standing.total); all of them: <code>loyalty alerts --since 30d</code>.</p>"
        }
        return html
    }

    static func alerts(_ panel: Panel<[AlertRow]>) -> String {
        var html = "<h3>Latest alert events</h3>"
        guard case .ready(let rows) = panel else {
            if case .unavailable(let reason) = panel { return html + down(reason) }
            return html
        }
        if rows.isEmpty { return html + "<p class=\"empty\">No alerts yet. They appear here the moment a satisfaction rule raises or resolves one.</p>" }
        html += "<table><tr><th>time (UTC)</th><th>state</th><th>severity</th><th>rule</th><th>where</th><th>what</th></tr>"
        for row in rows {
            let state = ["RAISED", "RESOLVED", "CONFIG"].contains(row.state) ? row.state : "OTHER"
            html += "<tr class=\"state-\(state)\"><td class=\"time\">\(HTML.escape(time(row.occurredAt)))</td><td>\(HTML.escape(row.state.lowercased()))</td>"
            html += "<td>\(severityBadge(row.severity))</td><td class=\"nowrap\">\(HTML.escape(row.kind))</td>"
            html += "<td class=\"nowrap\">\(place(row))</td>"
            // What to do is worth a line; why a resolved one ended is kept to its tooltip.
            let note = row.note.map { state == "RAISED" ? "<br><span class=\"note\">→ " + HTML.escape($0) + "</span>" : "" } ?? ""
            let title = row.note.map { state == "RAISED" ? "" : " title=\"" + HTML.escape($0) + "\"" } ?? ""
            html += "<td\(title)>\(HTML.escape(row.message))\(note)</td></tr>"
        }
        return html + "</table>"
    }

    static func customers(_ panel: Panel<CustomerScoresReport>, currency: String?) -> String {
        guard case .ready(let report) = panel else {
            if case .unavailable(let reason) = panel { return down(reason) }
            return ""
        }
        let unit = currency.map { " (\(HTML.escape($0)))" } ?? ""
        var html = "<table><tr><th>customer</th><th class=\"num\">CLV 12 mo\(unit)</th><th class=\"num\">P(alive)</th><th>segment</th></tr>"
        for customer in report.top {
            html += "<tr><td>\(HTML.escape(customer.customerId))</td><td class=\"num\">\(money(customer.clv))</td>"
            html += "<td class=\"num\">\(String(format: "%.0f %%", customer.pAlive * 100))</td><td>\(HTML.escape(customer.segment))</td></tr>"
        }
        html += "</table><p class=\"note\">\(report.customersScored) customers scored; CLV is the expected margin of the next 12 months (BG/NBD × Gamma-Gamma), P(alive) the chance the customer still buys.</p>"
        return html
    }

    static func campaigns(_ panel: Panel<CampaignsPanel>) -> String {
        guard case .ready(let report) = panel else {
            if case .unavailable(let reason) = panel { return down(reason) }
            return ""
        }
        if report.campaigns.isEmpty { return "<p class=\"empty\">No campaigns in the rules.</p>" }
        let unit = report.currency.map { " (\(HTML.escape($0)))" } ?? ""
        var html = "<table><tr><th>campaign</th><th class=\"num\">used</th><th class=\"num\">discount\(unit)</th><th>budget left</th></tr>"
        for row in report.campaigns {
            html += "<tr><td>\(HTML.escape(row.campaign))\(row.inRules ? "" : " <span class=\"note\">(no longer in the rules)</span>")</td>"
            html += "<td class=\"num\">\(row.redemptions)\(row.maxRedemptions.map { " of \($0)" } ?? "")</td><td class=\"num\">\(money(row.discount))</td><td>"
            if let budget = row.budget, budget > 0 {
                let left = row.budgetLeft ?? 0
                let share = max(0, min(1, Double(left) / Double(budget)))
                html += "<span class=\"bar\"><span\(share < 0.2 ? " class=\"low\"" : "") style=\"width:\(Int((share * 100).rounded()))%\"></span></span> "
                html += "<span class=\"nowrap\">\(money(left)) of \(money(budget))</span>"
            } else {
                html += "<span class=\"note\">no budget limit</span>"
            }
            html += "</td></tr>"
        }
        return html + "</table>"
    }

    static func engine(_ panel: Panel<EngineStatusReport>) -> String {
        guard case .ready(let status) = panel else {
            if case .unavailable(let reason) = panel { return down(reason) }
            return ""
        }
        var html = status.supervisorRunning
            ? "<p>Supervisor <span class=\"ok\">running</span>\(status.supervisorPid.map { " (pid \($0))" } ?? ""); journal head seq \(status.journalHead.map(String.init) ?? "–").</p>"
            : "<p class=\"down\">The supervisor is not running: start the engine with <code>loyalty up</code>.</p>"
        html += "<table><tr><th>component</th><th>state</th><th class=\"num\">restarts</th><th class=\"num\">applied seq</th><th class=\"num\">lag (events)</th><th class=\"num\">events/s</th></tr>"
        for row in status.components {
            let state = row.state
            let stateClass = state == "running" ? "ok" : state == "restarting" ? "warn" : "bad"
            html += "<tr class=\"component\" data-name=\"\(HTML.escape(row.name))\"><td>\(HTML.escape(row.name))</td><td class=\"\(stateClass)\">\(state)</td>"
            html += "<td class=\"num\">\(row.restarts.map(String.init) ?? "–")</td><td class=\"num\">\(row.appliedSeq.map(String.init) ?? "no data yet")</td>"
            html += "<td class=\"num\">\(row.lag.map(String.init) ?? "–")</td><td class=\"num\">\(row.eventsPerSecond.map { String(format: "%.1f", $0) } ?? "–")</td></tr>"
        }
        html += "</table><p class=\"note\">Lag: events in the journal a plugin has not applied yet. Events/s: over the last collection interval. Same figures as <code>loyalty status</code>.</p>"
        return html
    }
}
