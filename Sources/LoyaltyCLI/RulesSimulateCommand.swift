import ArgumentParser
import Foundation
import LoyaltyBus
import LoyaltyEvents
import LoyaltyRules
import RuleSimulation

struct RulesSimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Dry-run candidate rules over past events, beside what the current rules granted.",
        discussion: """
            Nothing is written anywhere: customers' visits, points, tiers, reward history and \
            campaign budgets are rebuilt in memory from the events. The report shows, for the \
            current rules and the candidate rules, the points, rewards, discounts and alerts, what \
            they cost, how many customers they reach, and each rule's share.

            Event sources (by file name):
              *.sqlite            the bus journal (default: the configured journal)
              *.jsonl, *.ndjson   one event envelope per line, as sent to the bus
              *.csv               transactions: customerId, occurredAt or date, total, and
                                  optionally eventId, currency, storeId, sku, category,
                                  quantity

            Customer scores (clv, clvPercentile, pAlive) are not known in a simulation; rules on \
            them do not fire, and the report says so.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("The candidate rules: a folder or file(s).", valueName: "path"))
    var rules: [String]

    @Option(name: .long, help: ArgumentHelp("The current rules to compare with (default: the configured rules folder). 'none' for no comparison.", valueName: "path"))
    var baseline: String?

    @Option(name: .long, help: ArgumentHelp("Past events: a journal (.sqlite), JSON lines (.jsonl) or transactions (.csv). Default: the configured journal.", valueName: "path"))
    var events: String?

    @Option(name: .long, help: ArgumentHelp("Count effects from this date (YYYY-MM-DD, store-local) or RFC 3339 time; earlier events only build up customer history.", valueName: "date"))
    var from: String?

    @Option(name: .long, help: ArgumentHelp("Ignore events after this date (inclusive, YYYY-MM-DD) or RFC 3339 time.", valueName: "date"))
    var to: String?

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func run() throws {
        let configuration = try global.loadConfiguration()
        let candidate = try load(rules, what: "candidate")
        let baselinePaths = baseline.map { [$0] } ?? [configuration.rulesDirectory]
        let current = baseline == "none" ? nil : try load(baselinePaths, what: "current")
        if let current, let currency = candidate.currency, let other = current.currency, currency != other {
            throw ValidationError("the candidate rules are in \(currency) and the current rules in \(other); compare rules of one currency")
        }
        let timeZone = candidate.timeZone
        let fromMilliseconds = try from.map { try Self.instant($0, endOfDay: false, timeZone: timeZone) }
        let toMilliseconds = try to.map { try Self.instant($0, endOfDay: true, timeZone: timeZone) }

        let source = events ?? configuration.journalPath
        let loadStarted = Date()
        var prepared = PreparedEvents()
        let currency = candidate.currency ?? current?.currency
        var read = 0
        try Self.read(source, defaultCurrency: currency ?? .NOK) { envelope in
            read += 1
            if let toMilliseconds, envelope.occurredAt.epochMilliseconds > toMilliseconds { return }
            prepared.add(envelope, currency: currency)
        }
        let loadSeconds = Date().timeIntervalSince(loadStarted)

        let candidateReport = RuleSimulation(book: candidate).run(prepared, countFrom: fromMilliseconds ?? .min)
        let currentReport = current.map { RuleSimulation(book: $0).run(prepared, countFrom: fromMilliseconds ?? .min) }
        let currencyCode = currency ?? .NOK
        if json {
            var object: [(String, JSONValue)] = [
                ("source", .string(source)), ("eventsRead", .int(Int64(read))),
                ("loadSeconds", .double(loadSeconds)),
                ("skipped", .object(JSONObject(prepared.skipped.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) }))),
                ("candidate", Self.json(candidateReport, currency: currencyCode)),
            ]
            if let currentReport { object.append(("current", Self.json(currentReport, currency: currencyCode))) }
            print(String(decoding: JSONWriter.serialize(.object(JSONObject(object))), as: UTF8.self))
            return
        }
        print(SimulationTable.render(current: currentReport, candidate: candidateReport, currency: currencyCode))
        let span = prepared.firstMilliseconds.map { first in
            "\(Timestamp(epochMilliseconds: first).rfc3339.prefix(10)) to \(Timestamp(epochMilliseconds: prepared.lastMilliseconds ?? first).rfc3339.prefix(10))"
        } ?? "no events"
        print("\nEvents: \(read) read from \(source) (\(span)); \(candidateReport.events) counted.")
        for (reason, count) in prepared.skipped.sorted(by: { $0.key < $1.key }) { print("  skipped \(count): \(reason)") }
        for note in Set(candidateReport.notes + (currentReport?.notes ?? [])).sorted() { print("Note: \(note)") }
        let evaluated = candidateReport.evaluationSeconds
        print(String(format: "Loading took %.2f s; evaluating the candidate rules %.3f s (%.0f events/s on one core).",
                     loadSeconds, evaluated, evaluated > 0 ? Double(prepared.events.count) / evaluated : 0))
    }

    private func load(_ paths: [String], what: String) throws -> RuleBook {
        let result = RuleLoader.load(paths: paths)
        guard let book = result.book else {
            for diagnostic in result.diagnostics { printError(diagnostic.rendered + "\n") }
            throw ValidationError("the \(what) rules (\(paths.joined(separator: ", "))) have errors; see above or run 'loyalty rules check'")
        }
        return book
    }

    static func instant(_ text: String, endOfDay: Bool, timeZone: TimeZone) throws -> Int64 {
        if let timestamp = Timestamp.parse(text) { return timestamp.epochMilliseconds }
        let parts = text.split(separator: "-").compactMap { Int($0) }
        let date = parts.count == 3 ? CivilDate(year: parts[0], month: parts[1], day: parts[2]) : nil
        guard let date, date.isValid else {
            throw ValidationError("'\(text)' is not a date (YYYY-MM-DD) or an RFC 3339 time")
        }
        let day = date.dayNumber + (endOfDay ? 1 : 0)
        let utc = Int64(day) * 86_400_000
        var clock = LocalClock(timeZone: timeZone)
        return utc - clock.offset(at: utc) - (endOfDay ? 1 : 0)
    }

    /// Reads events from the journal, a JSON-lines file or a CSV, by file name.
    static func read(_ path: String, defaultCurrency: CurrencyCode, _ body: (EventEnvelope) -> Void) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("\(path): no such file (give past events with --events)")
        }
        do {
            if path.hasSuffix(".jsonl") || path.hasSuffix(".ndjson") || path.hasSuffix(".json") {
                try EventSources.readJSONLines(path: path, body)
            } else if path.hasSuffix(".csv") {
                try EventSources.readCSV(path: path, defaultCurrency: defaultCurrency, body)
            } else {
                let journal = try Journal(path: path)
                var after: Int64 = 0
                while true {
                    let batch = try journal.read(after: after, limit: 20_000, types: [EventType.purchase, EventType.return, EventType.survey])
                    for entry in batch.entries {
                        if let envelope = try? EventCodec.decode(entry.body) { body(envelope) }
                    }
                    if batch.scannedThrough >= batch.head || batch.scannedThrough <= after { break }
                    after = batch.scannedThrough
                }
            }
        } catch let error as EventSourceError {
            throw ValidationError(error.description)
        }
    }

    static func json(_ report: SimulationReport, currency: CurrencyCode) -> JSONValue {
        let scale = CurrencyUnits.scale(of: currency)
        var object: [(String, JSONValue)] = [
            ("rulesVersion", .string(report.version)),
            ("events", .int(Int64(report.events))), ("purchases", .int(Int64(report.purchases))),
            ("returns", .int(Int64(report.returns))), ("surveys", .int(Int64(report.surveys))),
            ("pointsGranted", .double(report.pointsGranted)), ("pointsReversed", .double(report.pointsReversed)),
            ("rewardsGranted", .int(Int64(report.rewardsGranted))), ("rewardsCost", .double(report.rewardsCost / scale)),
            ("discounts", .int(Int64(report.discounts))), ("discountTotal", .double(report.discountTotal / scale)),
            ("multiplierRedemptions", .int(Int64(report.multiplierRedemptions))),
            ("campaignBonusPoints", .double(report.campaignBonusPoints)),
            ("alerts", .int(Int64(report.alerts))),
            ("customersEarning", .int(Int64(report.customersEarning))),
            ("customersRewarded", .int(Int64(report.customersRewarded))),
            ("customersDiscounted", .int(Int64(report.customersDiscounted))),
            ("currency", .string(currency.code)),
            ("evaluationSeconds", .double(report.evaluationSeconds)),
        ]
        if let cost = report.pointsCost { object.append(("pointsCost", .double(cost / scale))) }
        object.append(("rules", .array(report.rules.map { rule in
            .object(JSONObject([
                ("section", .string(rule.section)), ("id", .string(rule.ruleId)), ("effects", .int(Int64(rule.effects))),
                ("customers", .int(Int64(rule.customers))), ("points", .double(rule.points)), ("money", .double(rule.money / scale)),
            ]))
        })))
        object.append(("notes", .array(report.notes.map { .string($0) })))
        return .object(JSONObject(object))
    }
}

/// The side-by-side table `loyalty rules simulate` prints.
enum SimulationTable {
    static func render(current: SimulationReport?, candidate: SimulationReport, currency: CurrencyCode) -> String {
        func money(_ minor: Double?) -> String { minor.map { CurrencyUnits.format(minorUnits: $0.rounded(), currency: currency) } ?? "—" }
        func number(_ value: Double) -> String { grouped(Int64(value.rounded())) }
        var rows: [(String, String, String)] = []
        func row(_ label: String, _ value: (SimulationReport) -> String) {
            rows.append((label, current.map(value) ?? "", value(candidate)))
        }
        row("rules version") { $0.version }
        row("purchases") { grouped(Int64($0.purchases)) }
        row("points granted") { number($0.pointsGranted) }
        row("points reversed by returns") { number($0.pointsReversed) }
        row("cost of the points") { money($0.pointsCost) }
        row("customers earning") { grouped(Int64($0.customersEarning)) }
        row("rewards granted") { grouped(Int64($0.rewardsGranted)) }
        row("cost of the rewards") { money($0.rewardsCost) }
        row("customers rewarded") { grouped(Int64($0.customersRewarded)) }
        row("discounts given") { grouped(Int64($0.discounts)) }
        row("discounted amount") { money($0.discountTotal) }
        row("customers discounted") { grouped(Int64($0.customersDiscounted)) }
        // Only where a set has points-multiplier campaigns that applied: the table of sets without
        // them stays as it was.
        if candidate.multiplierRedemptions > 0 || (current?.multiplierRedemptions ?? 0) > 0 {
            row("points multipliers applied") { grouped(Int64($0.multiplierRedemptions)) }
            row("bonus points from campaigns") { number($0.campaignBonusPoints) }
        }
        row("satisfaction alerts") { grouped(Int64($0.alerts)) }
        row("total cost") { money(($0.pointsCost ?? 0) + $0.rewardsCost + $0.discountTotal) }

        var text = table(header: ("", current == nil ? "" : "current rules", "candidate rules"), rows: rows)
        // Per rule: every rule of either set.
        var ids: [(String, String)] = []
        for report in [current, candidate].compactMap({ $0 }) {
            for rule in report.rules where !ids.contains(where: { $0 == (rule.section, rule.ruleId) }) { ids.append((rule.section, rule.ruleId)) }
        }
        func describe(_ report: SimulationReport?, _ key: (String, String)) -> String {
            guard let report else { return "" }
            guard let rule = report.rules.first(where: { ($0.section, $0.ruleId) == key }) else { return "(not in these rules)" }
            var parts = ["\(grouped(Int64(rule.effects)))×", "\(grouped(Int64(rule.customers))) customers"]
            if rule.section == "earning" || rule.points > 0 { parts.append("\(number(rule.points)) pts") }
            if rule.money > 0 { parts.append(money(rule.money)) }
            return parts.joined(separator: ", ")
        }
        let ruleRows = ids.map { key in ("\(key.0)/\(key.1)", describe(current, key), describe(candidate, key)) }
        if !ruleRows.isEmpty {
            text += "\n\nPer rule (times applied, customers reached, points or money):\n"
            text += table(header: ("rule", current == nil ? "" : "current rules", "candidate rules"), rows: ruleRows)
        }
        return text
    }

    static func table(header: (String, String, String), rows: [(String, String, String)]) -> String {
        let all = [header] + rows
        let w0 = all.map(\.0.count).max() ?? 0, w1 = all.map(\.1.count).max() ?? 0, w2 = all.map(\.2.count).max() ?? 0
        func pad(_ s: String, _ w: Int, right: Bool) -> String {
            let space = String(repeating: " ", count: max(0, w - s.count))
            return right ? space + s : s + space
        }
        return all.map { "\(pad($0.0, w0, right: false))  \(pad($0.1, w1, right: true))  \(pad($0.2, w2, right: true))" }
            .joined(separator: "\n")
    }

    static func grouped(_ value: Int64) -> String {
        let digits = String(abs(value))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + out
    }
}
