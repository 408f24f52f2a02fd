import ArgumentParser
import Foundation
import GRDB
import LoyaltyConfig

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

    static let plugin = "customer-scoring"

    struct Customer: Encodable {
        var customerId: String
        var clv: Int64
        var profitClv: Int64?
        var clvPercentile: Int
        var pAlive: Double
        var expectedPurchases: Double
        var segment: String
        var rfm: String
    }

    struct Segment: Encodable {
        var segment: String
        var customers: Int
        var meanClv: Double
        var medianClv: Double
    }

    struct Report: Encodable {
        var database: String
        var customersScored: Int
        var modelFitSeq: Int64?
        var modelFittedAt: String?
        var top: [Customer]
        var segments: [Segment]
    }

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
    }

    func run() throws {
        let configuration = try options.loadConfiguration()
        let path = configuration.pluginDatabasePath(name: Self.plugin)
        guard FileManager.default.fileExists(atPath: path) else {
            print("No customer data yet: \(path) does not exist. Enable '\(Self.plugin)' in config/loyalty.yaml, run `loyalty up`, and send purchases.")
            return
        }
        var dbConfiguration = Configuration()
        dbConfiguration.readonly = true
        dbConfiguration.busyMode = .timeout(5)
        let queue = try DatabaseQueue(path: path, configuration: dbConfiguration)
        let report: Report? = try queue.read { db in
            guard try db.tableExists("scoring_scores") else { return nil }
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM scoring_scores") ?? 0
            guard count > 0 else { return nil }
            let fit = try Row.fetchOne(db, sql: """
                SELECT f.fitSeq, f.observedAt FROM scoring_fits f JOIN scoring_state s ON s.currentFitSeq = f.fitSeq
                """)
            let top = try Row.fetchAll(db, sql: """
                SELECT customerId, clv, profitClv, clvPercentile, pAlive, expectedPurchases, segment, rfm
                FROM scoring_scores ORDER BY clvValue DESC, customerId LIMIT ?
                """, arguments: [self.top]).map {
                Customer(customerId: $0["customerId"], clv: $0["clv"], profitClv: $0["profitClv"], clvPercentile: $0["clvPercentile"],
                         pAlive: $0["pAlive"], expectedPurchases: $0["expectedPurchases"], segment: $0["segment"], rfm: $0["rfm"])
            }
            var bySegment: [String: [Double]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT segment, clvValue FROM scoring_scores ORDER BY clvValue") {
                bySegment[row["segment"], default: []].append(row["clvValue"])
            }
            let segments = bySegment.map { name, values in
                let n = values.count
                let median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2
                return Segment(segment: name, customers: n, meanClv: values.reduce(0, +) / Double(n), medianClv: median)
            }.sorted { ($0.meanClv, $0.segment) > ($1.meanClv, $1.segment) }
            return Report(database: path, customersScored: count, modelFitSeq: fit?["fitSeq"], modelFittedAt: fit?["observedAt"],
                          top: top, segments: segments)
        }
        guard let report else {
            let customers = (try? queue.read { db in try Int.fetchOne(db, sql: "SELECT customers FROM scoring_state WHERE id = 1") }) ?? nil
            print("No customer scores yet in \(path): the model has not been fitted"
                  + (customers.map { " (\($0) customers with purchases so far; the first fit needs at least 50)" } ?? "") + ".")
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
