import ArgumentParser
import Foundation
import LoyaltyScoring
import LoyaltyWire

struct ScoringBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scoring",
        abstract: "Time the BG/NBD and Gamma-Gamma fits on a customer summary (CSV: frequency, recency, T, monetary_value).",
        discussion: "benchmarks/scoring.sh runs this beside the Python package lifetimes on the CDNOW data, in one run."
    )

    @Argument(help: "Summary CSV with a header naming frequency, recency, T and (optionally) monetary_value.")
    var summary: String

    @Option(help: "Fits to time; the best is reported.") var repeats = 5

    func run() throws {
        let text = try String(contentsOfFile: summary, encoding: .utf8)
        var lines = text.split(whereSeparator: \.isNewline)
        guard !lines.isEmpty else { throw ValidationError("\(summary): empty file") }
        let header = lines.removeFirst().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        guard let f = column("frequency"), let r = column("recency"), let t = column("T") else {
            throw ValidationError("\(summary):1: the header needs frequency, recency and T; it has \(header.joined(separator: ", "))")
        }
        let m = column("monetary_value")
        var customers: [CustomerSummary] = []
        for (index, line) in lines.enumerated() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells.count == header.count, let x = Double(cells[f]), let tx = Double(cells[r]), let bigT = Double(cells[t]) else {
                throw ValidationError("\(summary):\(index + 2): expected \(header.count) numeric cells")
            }
            let money = m.flatMap { Double(cells[$0]) } ?? 0
            customers.append(CustomerSummary(customerId: String(index), frequency: x, recency: tx, T: bigT, monetaryValue: money))
        }
        func best<T>(_ body: () throws -> T) rethrows -> (T, Double) {
            var fastest = Double.infinity
            var result: T?
            for _ in 0..<max(1, repeats) {
                let start = Monotonic.nanoseconds
                result = try body()
                fastest = min(fastest, Double(Monotonic.nanoseconds - start) / 1e9)
            }
            return (result!, fastest)
        }
        let (bgnbd, bgSeconds) = try best { try BetaGeo.fit(customers) }
        let p = bgnbd.parameters
        print(String(format: "swift bgnbd customers=%d seconds=%.4f r=%.6f alpha=%.6f a=%.6f b=%.6f ll=%.4f",
                     customers.count, bgSeconds, p.r, p.alpha, p.a, p.b, bgnbd.logLikelihood))
        let repeat_ = customers.filter { $0.frequency > 0 && $0.monetaryValue > 0 }
        if !repeat_.isEmpty {
            let (gg, ggSeconds) = try best { try GammaGamma.fit(repeat_) }
            print(String(format: "swift gammagamma customers=%d seconds=%.4f p=%.6f q=%.6f v=%.6f ll=nan",
                         repeat_.count, ggSeconds, gg.parameters.p, gg.parameters.q, gg.parameters.v))
        }
    }
}
