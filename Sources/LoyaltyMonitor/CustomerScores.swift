import Foundation
import GRDB

/// The customer-scoring plugin's scores, read-only from its SQLite file: what
/// `loyalty report customers` prints and the dashboard's top-customers panel shows.
public struct CustomerScoresReport: Encodable, Sendable, Equatable {
    public struct Customer: Encodable, Sendable, Equatable {
        public var customerId: String
        /// 12 months ahead at 1 %/month, minor units of the purchases' currency.
        public var clv: Int64
        public var profitClv: Int64?
        public var clvPercentile: Int
        public var pAlive: Double
        public var expectedPurchases: Double
        public var segment: String
        public var rfm: String

        public init(customerId: String, clv: Int64, profitClv: Int64?, clvPercentile: Int, pAlive: Double, expectedPurchases: Double,
                    segment: String, rfm: String) {
            self.customerId = customerId
            self.clv = clv
            self.profitClv = profitClv
            self.clvPercentile = clvPercentile
            self.pAlive = pAlive
            self.expectedPurchases = expectedPurchases
            self.segment = segment
            self.rfm = rfm
        }
    }

    public struct Segment: Encodable, Sendable, Equatable {
        public var segment: String
        public var customers: Int
        public var meanClv: Double
        public var medianClv: Double

        public init(segment: String, customers: Int, meanClv: Double, medianClv: Double) {
            self.segment = segment
            self.customers = customers
            self.meanClv = meanClv
            self.medianClv = medianClv
        }
    }

    public var database: String
    public var customersScored: Int
    public var modelFitSeq: Int64?
    public var modelFittedAt: String?
    public var top: [Customer]
    public var segments: [Segment]

    public init(database: String, customersScored: Int, modelFitSeq: Int64?, modelFittedAt: String?, top: [Customer], segments: [Segment]) {
        self.database = database
        self.customersScored = customersScored
        self.modelFitSeq = modelFitSeq
        self.modelFittedAt = modelFittedAt
        self.top = top
        self.segments = segments
    }
}

/// Why there are no scores to show.
public enum CustomerScoresUnavailable: Error, Sendable, Equatable, CustomStringConvertible {
    case noDatabase(path: String)
    /// The model has not been fitted yet; `customers` is how many have purchases so far, if known.
    case notFitted(path: String, customers: Int?)

    public var description: String {
        switch self {
        case .noDatabase(let path):
            "No customer data yet: \(path) does not exist. Enable '\(CustomerScores.plugin)' in config/loyalty.yaml, run `loyalty up`, and send purchases."
        case .notFitted(let path, let customers):
            "No customer scores yet in \(path): the model has not been fitted"
                + (customers.map { " (\($0) customers with purchases so far; a fit needs at least 50, and enough weeks of history for the model to converge: see the plugin's log for the reason of a refused fit)" } ?? "") + "."
        }
    }
}

public enum CustomerScores {
    public static let plugin = "customer-scoring"

    /// The `top` customers by CLV and the CLV per RFM segment. Blocking (SQLite): not on the Swift
    /// concurrency pool. Throws `CustomerScoresUnavailable` when there is nothing to show yet.
    public static func read(path: String, top: Int) throws -> CustomerScoresReport {
        guard FileManager.default.fileExists(atPath: path) else { throw CustomerScoresUnavailable.noDatabase(path: path) }
        let queue = try ReadOnlyDatabase.open(path)
        let report: CustomerScoresReport? = try queue.read { db in
            guard try db.tableExists("scoring_scores") else { return nil }
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM scoring_scores") ?? 0
            guard count > 0 else { return nil }
            let fit = try Row.fetchOne(db, sql: """
                SELECT f.fitSeq, f.observedAt FROM scoring_fits f JOIN scoring_state s ON s.currentFitSeq = f.fitSeq
                """)
            let top = try Row.fetchAll(db, sql: """
                SELECT customerId, clv, profitClv, clvPercentile, pAlive, expectedPurchases, segment, rfm
                FROM scoring_scores ORDER BY clvValue DESC, customerId LIMIT ?
                """, arguments: [top]).map {
                CustomerScoresReport.Customer(customerId: $0["customerId"], clv: $0["clv"], profitClv: $0["profitClv"],
                                              clvPercentile: $0["clvPercentile"], pAlive: $0["pAlive"],
                                              expectedPurchases: $0["expectedPurchases"], segment: $0["segment"], rfm: $0["rfm"])
            }
            var bySegment: [String: [Double]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT segment, clvValue FROM scoring_scores ORDER BY clvValue") {
                bySegment[row["segment"], default: []].append(row["clvValue"])
            }
            let segments = bySegment.map { name, values in
                let n = values.count
                let median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2
                return CustomerScoresReport.Segment(segment: name, customers: n, meanClv: values.reduce(0, +) / Double(n), medianClv: median)
            }.sorted { ($0.meanClv, $0.segment) > ($1.meanClv, $1.segment) }
            return CustomerScoresReport(database: path, customersScored: count, modelFitSeq: fit?["fitSeq"], modelFittedAt: fit?["observedAt"],
                                        top: top, segments: segments)
        }
        guard let report else {
            let customers = (try? queue.read { db in try Int.fetchOne(db, sql: "SELECT customers FROM scoring_state WHERE id = 1") }) ?? nil
            throw CustomerScoresUnavailable.notFitted(path: path, customers: customers)
        }
        return report
    }
}
