import ArgumentParser
import Foundation
import LoyaltyEvents
import LoyaltyWire
import ZeroMQ

/// `loyalty report satisfaction`: NPS per store and for the chain, each window against the one
/// before it. Asked of the running satisfaction plugin (`satisfaction.report` through the bus):
/// the plugin keeps the answers indexed by store and time and computes NPS with the same code and
/// windows its alerts use, so the report and the alerts never disagree, and the CLI needs only
/// the bus's endpoint, not the plugin's files.
struct SatisfactionReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "satisfaction",
        abstract: "NPS per store and for the chain over rolling windows, with the trend against the window before (from the satisfaction plugin).",
        discussion: """
            NPS = % promoters (9-10) minus % detractors (0-6), from -100 to 100. The trend compares each \
            window with the one just before it (the last 7 days against the 7 days before). \
            Needs the satisfaction plugin running ('loyalty up' with it enabled).

            Examples:
              loyalty report satisfaction
              loyalty report satisfaction --window 7d --window 90d --store S001
              loyalty report satisfaction --json
            """
    )

    @OptionGroup var options: GlobalOptions

    @Option(name: .customLong("window"), help: ArgumentHelp("A window such as 7d, 36h or 2w (repeatable; default: the windows of the NPS alert rules, else 7d and 30d).", valueName: "period"))
    var windows: [String] = []

    @Option(help: "Only this store.")
    var store: String?

    @Flag(help: "The plugin's JSON answer instead of a table.")
    var json = false

    func run() throws {
        let configuration = try options.loadConfiguration()
        var request: JSONObject = [:]
        if let store { request["store"] = .string(store) }
        if !windows.isEmpty { request["windows"] = .array(windows.map { .string($0) }) }
        let reply = try askReport("satisfaction.report", body: JSONWriter.serialize(.object(request)), configuration: configuration,
                                  plugin: "the satisfaction plugin")
        if json {
            print(reply.bodyText)
            return
        }
        guard case .object(let report)? = try? JSONParser.parse(reply.body) else {
            printError("satisfaction.report answered something that is not a JSON object: \(reply.bodyText.prefix(200))")
            throw ExitCode(3)
        }
        print(Self.table(report))
    }

    static func table(_ report: JSONObject) -> String {
        func text(_ object: JSONObject, _ key: String) -> String? {
            if case .string(let value)? = object[key] { return value }
            return nil
        }
        func number(_ object: JSONObject, _ key: String) -> Double? {
            switch object[key] {
            case .int(let value)?: Double(value)
            case .double(let value)?: value
            default: nil
            }
        }
        func figure(_ value: Double?, signed: Bool = false) -> String {
            guard let value else { return "-" }
            let text = String(format: "%.1f", value)
            return signed && value > 0 ? "+" + text : text
        }
        func pad(_ text: String, _ width: Int, right: Bool = true) -> String {
            let fill = String(repeating: " ", count: max(0, width - text.count))
            return right ? fill + text : text + fill
        }
        var windowNames: [String] = []
        if case .array(let names)? = report["windows"] {
            windowNames = names.compactMap { if case .string(let n) = $0 { n } else { nil } }
        }
        var lines = ["NPS as of \(text(report, "asOf") ?? "-") (trend: against the window just before)"]
        var header = pad("store", 10, right: false)
        for name in windowNames { header += "  " + pad("NPS \(name)", 9) + pad("answers", 9) + pad("trend", 8) }
        lines.append(header)
        var rows: [JSONObject] = []
        if case .array(let stores)? = report["stores"] {
            rows = stores.compactMap { if case .object(let o) = $0 { o } else { nil } }
        }
        if case .object(let chain)? = report["chain"] {
            var chain = chain
            chain["storeId"] = .string("chain")
            rows.append(chain)
        }
        for row in rows {
            var line = pad(text(row, "storeId") ?? "?", 10, right: false)
            if case .array(let list)? = row["windows"] {
                for case .object(let window) in list {
                    line += "  " + pad(figure(number(window, "nps")), 9) + pad(String(Int(number(window, "responses") ?? 0)), 9)
                        + pad(figure(number(window, "trend"), signed: true), 8)
                }
            }
            lines.append(line)
        }
        if rows.count <= 1 { lines.append("(no survey answers yet)") }
        return lines.joined(separator: "\n")
    }
}
