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

    /// a + b < 1 is a legitimate BG/NBD fit (the demo's chain gave a = 0.04, b = 0.95). For a
    /// customer without a repeat purchase ₂F₁(r, b; a + b − 1; z) then has c < 0 and is negative:
    /// its log was NaN (as in lifetimes), and the one NaN score refused the whole fit. References
    /// from mpmath at 30 digits.
    @Test(arguments: [(0.95, 5.7708367276022209, 6.5972575433254557), (0.9, 5.7565131217138936, 6.5801869574179139)])
    func aPlusBBelowOneStillScoresCustomersWithoutARepeatPurchase(b: Double, conditional: Double, unconditional: Double) {
        let p = BetaGeoParameters(r: 24.575219, alpha: 90.247560, a: 0.041198, b: b)
        let value = BetaGeo.conditionalExpectedPurchases(p, t: 26, frequency: 0, recency: 0, T: 13.43)
        #expect(abs(value - conditional) / conditional < 1e-9, "\(value)")
        let population = BetaGeo.expectedPurchases(p, t: 26)
        #expect(abs(population - unconditional) / unconditional < 1e-9, "\(population)")
    }
}
