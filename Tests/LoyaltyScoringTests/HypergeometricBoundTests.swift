import Foundation
import LoyaltyScoring
import Testing

/// ₂F₁ inside the BG/NBD conditional expectation: bounded work, and NaN rather than a wrong number.
@Suite struct HypergeometricBoundTests {
    static func nanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    @Test func parametersOnlyADegenerateFitGivesAreRefusedQuicklyAsNaN() {
        // r in the billions with a small α: the series would need ~r·z/(1−z) terms. It used to run
        // to a 1,000,000-term cap per call (and return a partial sum); now it answers NaN at once.
        let degenerate = BetaGeoParameters(r: 1e9, alpha: 1, a: 0.8, b: 2.4)
        let start = Self.nanoseconds()
        var values: [Double] = []
        for t in 1...200 {
            values.append(BetaGeo.conditionalExpectedPurchases(degenerate, t: Double(t), frequency: 3, recency: 10, T: 20))
        }
        let seconds = Double(Self.nanoseconds() - start) / 1e9
        #expect(values.allSatisfy { $0.isNaN }, "expected NaN, got \(values.prefix(3))")
        #expect(seconds < 0.5, "200 evaluations took \(seconds) s")
    }

    @Test func largeRAndAlphaTogetherStillEvaluateAfterFewTerms() {
        // r and α both large is a real limit (every customer buys at nearly the same rate r/α):
        // z is tiny, so the sum ends after a handful of terms even though a + b is in the millions.
        func expected(_ r: Double) -> Double {
            BetaGeo.conditionalExpectedPurchases(BetaGeoParameters(r: r, alpha: 2 * r, a: 0.8, b: 2.4),
                                                 t: 26, frequency: 5, recency: 18, T: 20)
        }
        let start = Self.nanoseconds()
        let huge = expected(1e6)
        let seconds = Double(Self.nanoseconds() - start) / 1e9
        #expect(huge.isFinite && huge > 0)
        #expect(seconds < 0.05, "one evaluation took \(seconds) s")
        // Continuous in r: the limit is approached smoothly.
        let large = expected(1e5)
        #expect(abs(huge - large) / large < 1e-3, "r=1e6: \(huge), r=1e5: \(large)")
    }
}
