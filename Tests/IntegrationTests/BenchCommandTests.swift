import Foundation
import LoyaltyTestSupport
import Testing

/// The benchmarks the README's figures come from still run, end to end, on a small scale: bus and
/// plugin as processes, every request answered. (The figures themselves are not asserted: they
/// depend on the machine; `benchmarks/README.md` has them with their commands.)
@Suite(.serialized) struct BenchCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The line starting with `prefix`, and its p50 and p99 in milliseconds.
    static func figures(_ output: String, line prefix: String) -> (line: String, p50: Double, p99: Double)? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }).map(String.init) else { return nil }
        func value(after key: String) -> Double? {
            guard let range = line.range(of: key) else { return nil }
            return Double(line[range.upperBound...].prefix { $0.isNumber || $0 == "." })
        }
        guard let p50 = value(after: "p50 "), let p99 = value(after: "p99 ") else { return nil }
        return (line, p50, p99)
    }

    @Test func campaignQuotesFromTillsAreAllAnswered() throws {
        let result = try runProcess(Executables.loyalty, ["bench", "campaigns", "--rate", "200", "--seconds", "1", "--warmup", "0"])
        #expect(result.status == 0, "\(result.output)")
        let tills = try #require(Self.figures(result.output, line: "campaign.quote from 8 tills: 200 requests"), "\(result.output)")
        #expect(tills.line.hasSuffix("; 0 errors"), "\(tills.line)")
        #expect(tills.p50 > 0 && tills.p50 <= tills.p99)
        let oneClient = try #require(Self.figures(result.output, line: "campaign.quote one at a time"), "\(result.output)")
        #expect(oneClient.line.hasSuffix("; 0 errors"))
        #expect(result.output.contains("same path, trivial service"))
    }

    @Test func pointsReplayThenBalancesFromTills() throws {
        let result = try runProcess(Executables.loyalty, ["bench", "points", "--purchases", "3000", "--customers", "500", "--rate", "200",
                                                          "--seconds", "1", "--rules", Self.repository + "/config/rules"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("replay: 3000 purchases in"), "\(result.output)")
        let tills = try #require(Self.figures(result.output, line: "points.balance from 8 tills: 200 requests"), "\(result.output)")
        #expect(tills.line.hasSuffix("; 0 errors"), "\(tills.line)")
        #expect(tills.p50 > 0 && tills.p50 <= tills.p99)
    }
}
