import Foundation
import LoyaltyScoring
import Testing
@testable import CustomerScoring

@Suite struct RankCutsTests {
    /// Values with many ties, as periodic data has.
    static func values(_ n: Int, seed: UInt64) -> [Double] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double((state >> 33) % 37) * 1.5
        }
    }

    @Test func boundariesGiveThePercentileAndQuintilesOfTheFullSortedList() {
        for n in [1, 2, 3, 7, 99, 100, 101, 1_234] {
            let values = Self.values(n, seed: UInt64(n))
            let sorted = values.sorted()
            let percentileCuts = RankCuts.boundaries(values, buckets: 100)
            let quintileCuts = RankCuts.boundaries(values, buckets: 5)
            let quintiles = RFM.quintiles(values)
            for (i, v) in values.enumerated() {
                let exact = CustomerScoringPlugin.percentile(below: CustomerScoringPlugin.countBelow(v, in: sorted), of: n)
                #expect(RankCuts.rank(v, in: percentileCuts) == exact, "n=\(n) value \(v)")
                #expect(1 + RankCuts.rank(v, in: quintileCuts) == quintiles[i], "n=\(n) value \(v)")
            }
            // A value above everyone ranks at the top, below everyone at the bottom.
            #expect(RankCuts.rank(1e9, in: percentileCuts) == 99)
            #expect(RankCuts.rank(-1, in: percentileCuts) == 0)
        }
    }

    @Test func rfmFromBoundariesEqualsRFMScore() {
        let raw = Self.values(500, seed: 9)
        let customers = raw.enumerated().map { i, v in
            CustomerSummary(customerId: "C\(i)", frequency: Double(Int(v) % 6), recency: v / 2, T: 60, monetaryValue: v * 100)
        }
        let cuts = RankCuts(clvValues: raw, summaries: customers)
        for (c, expected) in zip(customers, RFM.score(customers)) {
            let (r, f, m) = cuts.rfm(c)
            #expect("\(r)\(f)\(m)" == expected.code, "\(c.customerId)")
        }
    }

    @Test func storedBoundariesRoundTripAndABadBlobIsNamed() throws {
        let values = [0.0, -1.5, .greatestFiniteMagnitude, 1e-300, 42]
        #expect(try RankCuts.decode(RankCuts.encode(values), column: "clvCuts") == values)
        #expect(throws: ScoringStateError.self) { try RankCuts.decode(Data([1, 2, 3]), column: "clvCuts") }
        do {
            _ = try RankCuts.decode(Data([1, 2, 3]), column: "clvCuts")
        } catch {
            #expect("\(error)".contains("scoring_fits.clvCuts"))
        }
    }
}
