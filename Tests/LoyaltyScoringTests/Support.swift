import Foundation
import Testing
import LoyaltyScoring

/// The repository root, found from this file's path (Tests/LoyaltyScoringTests/Support.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Rows of a comma-separated file with a header line, as dictionaries of column name to text.
func readCSV(_ url: URL) throws -> [[String: String]] {
    parseCSV(try String(contentsOf: url, encoding: .utf8))
}

func parseCSV(_ text: String) -> [[String: String]] {
    var lines = text.split(whereSeparator: \.isNewline).map(String.init)
    guard !lines.isEmpty else { return [] }
    let header = lines.removeFirst().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    return lines.map { line in
        let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        return Dictionary(uniqueKeysWithValues: zip(header, cells))
    }
}

/// The CDNOW file from var/datasets/, failing the test (not skipping it) when it is missing.
func cdnowFile(_ name: String) throws -> URL {
    let url = repositoryRoot.appendingPathComponent("var/datasets/\(name)")
    try #require(
        FileManager.default.fileExists(atPath: url.path),
        "missing \(url.path): run scripts/fetch-cdnow to download the CDNOW sample from the lifetimes wheel")
    return url
}

func number(_ row: [String: String], _ key: String) throws -> Double {
    let text = try #require(row[key], "no column \(key)")
    return try #require(Double(text), "bad number in \(key): \(text)")
}

/// CDNOW's 2,357 customers in weeks: frequency, recency, T and (for repeat customers) mean spend in dollars.
func loadCDNOW() throws -> [CustomerSummary] {
    let rows = try readCSV(try cdnowFile("cdnow_customers_summary_with_transactions.csv"))
    return try rows.map { row in
        CustomerSummary(customerId: try #require(row["ID"]), frequency: try number(row, "x"),
                        recency: try number(row, "t_x"), T: try number(row, "T"), monetaryValue: try number(row, "zbar"))
    }
}

func relativeError(_ a: Double, _ b: Double) -> Double {
    if a == b { return 0 }
    return Swift.abs(a - b) / Swift.max(Swift.abs(b), 1e-300)
}

func rounded(_ x: Double, _ places: Int) -> Double {
    let f = pow(10, Double(places))
    return (x * f).rounded() / f
}
