import ArgumentParser
import Foundation
import GRDB
import LoyaltyConfig
import LoyaltyMonitor

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Reports from the plugins' state.",
        subcommands: [CustomersReport.self, SatisfactionReport.self, CampaignsReport.self]
    )
}

/// `loyalty report customers`: the customer-scoring plugin's scores, read-only from its SQLite file.
struct CustomersReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "customers",
        abstract: "Top customers by CLV, and the CLV distribution per RFM segment (from the customer-scoring plugin).",
        discussion: """
            CLV is 12 months ahead at 1 %/month, in minor units of the purchases' currency (BG/NBD × Gamma-Gamma).

            Examples:
              loyalty report customers --top 20
              loyalty report customers --json
            """
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "How many customers to list.")
    var top: Int = 20

    @Flag(help: "One JSON object instead of tables.")
    var json = false

    static let plugin = CustomerScores.plugin

    typealias Report = CustomerScoresReport

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
    }

    func run() throws {
        let configuration = try options.loadConfiguration()
        let report: Report
        do {
            report = try CustomerScores.read(path: configuration.pluginDatabasePath(name: Self.plugin), top: top)
        } catch let unavailable as CustomerScoresUnavailable {
            print(unavailable.description)
            return
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("\(report.customersScored) customers scored; model fitted at seq \(report.modelFitSeq.map(String.init) ?? "-") (\(report.modelFittedAt ?? "-"))")
        print("CLV: 12 months, 1 %/month discount, in minor units\n")
        print("Top \(report.top.count) customers by CLV")
        table(["CUSTOMER", "CLV", "PROFIT CLV", "PCTL", "P(ALIVE)", "E[PURCHASES 26W]", "SEGMENT", "RFM"],
              report.top.map { [$0.customerId, String($0.clv), $0.profitClv.map(String.init) ?? "-", String($0.clvPercentile),
                                String(format: "%.3f", $0.pAlive), String(format: "%.2f", $0.expectedPurchases), $0.segment, $0.rfm] })
        print("\nCLV by RFM segment")
        table(["SEGMENT", "CUSTOMERS", "MEAN CLV", "MEDIAN CLV"],
              report.segments.map { [$0.segment, String($0.customers), String(format: "%.0f", $0.meanClv), String(format: "%.0f", $0.medianClv)] })
    }

    private func table(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for line in all {
            print(line.indices.map { line[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
    }
}
