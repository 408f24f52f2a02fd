import Foundation
import LoyaltySimulation
import Testing
@testable import LoyaltyScoring

/// Customers who spend alike: the Gamma-Gamma likelihood's supremum lies at q, v → ∞ with q/v
/// fixed, and the fit must still end, quickly, at parameters that score well.
@Suite struct GammaGammaRidgeTests {
    /// For a whole a, Γ(q + a)/Γ(q) = q(q + 1)…(q + a − 1) and ψ(q + a) − ψ(q) = Σ 1/(q + k):
    /// exact references at every size of q, on both sides of the switch to Stirling's series.
    @Test(arguments: [0.5, 7, 9_999, 10_000, 20_000, 1e8, 1e12, 1e15])
    func risesMatchTheirClosedFormsForAWholeShift(q: Double) {
        let a = 3.0
        let rise = GammaRise(q: q, logQ: log(q), a: a)
        let logProduct = (0..<3).map { log(q + Double($0)) }.reduce(0, +)
        let reciprocals = (0..<3).map { 1 / (q + Double($0)) }.reduce(0, +)
        #expect(Swift.abs(rise.logGammaRiseMinus(0) - logProduct) <= 1e-12 * Swift.max(1, Swift.abs(logProduct)))
        #expect(Swift.abs(rise.digammaRise - reciprocals) <= Swift.max(1e-12, 1e-9 * reciprocals))
        // The shifted form, as the Gamma-Gamma uses it (a·log v with v = q·e⁻¹⁰): a·10 + the rest.
        let logV = log(q) - 10
        #expect(Swift.abs(rise.logGammaRiseMinus(a * logV) - (logProduct - 3 * log(q) + 30)) <= 1e-9)
    }

    @Test func theTwoFormsAgreeWhereTheySwitch() {
        for a in [0.3, 1.7, 25.0] {
            let below = GammaRise(q: GammaRise.largeQ.nextDown, logQ: log(GammaRise.largeQ.nextDown), a: a)
            let above = GammaRise(q: GammaRise.largeQ, logQ: log(GammaRise.largeQ), a: a)
            #expect(Swift.abs(below.logGammaRiseMinus(0) - above.logGammaRiseMinus(0)) < 1e-9)
            #expect(Swift.abs(below.digammaRise - above.digammaRise) < 1e-12)
        }
        #expect(Swift.abs(GammaRise.digammaMinusLog(GammaRise.largeQ.nextDown) - GammaRise.digammaMinusLog(GammaRise.largeQ)) < 1e-12)
    }

    /// Far out on the ridge the likelihood is, to O(1/q), that of one spend rate c = q/v for all:
    /// x·m ~ Gamma(p·x, rate c). The textbook arrangement lost that to rounding (log Γ(q) and
    /// q·log v are about 2·10¹¹ at q = 10¹⁰, where a unit in the last place is 3·10⁻⁵), and so
    /// did the search that relied on it.
    @Test(arguments: [1e10, 1e12, 1e14])
    func farOutTheLikelihoodIsThatOfOneSpendRate(q: Double) {
        let c = 1 / 26_000.0, p = 1.5
        let params = GammaGammaParameters(p: p, q: q, v: q / c)
        for (x, m) in [(1.0, 41_000.0), (3.0, 12_500.5), (7.0, 39_990.0), (20.0, 80_000.0)] {
            let a = p * x
            let limit = a * log(c) + (a - 1) * log(m) + a * log(x) - c * x * m - lgamma(a)
            #expect(Swift.abs(GammaGamma.logLikelihood(params, frequency: x, monetaryValue: m) - limit) < 1e-6, "x = \(x), m = \(m)")
        }
    }

    /// 3,000 customers with 1–20 repeat purchases each, whose every basket costs about the same:
    /// a customer's mean spend is 100 give or take 40/x, so the longer the history, the closer to
    /// 100, as if everyone had one spend rate and nothing set customers apart (the sup of the
    /// likelihood is at q, v → ∞). Before the objective was rearranged, its rounding noise at large
    /// q kept a search started far out on the ridge wandering: no convergence, then the
    /// Nelder–Mead fallback's 5,000 iterations (8 s), and still none.
    @Test func customersWhoSpendAlikeFitWithoutTheFallback() throws {
        var random = SplitMix64(seed: 7)
        var customers: [CustomerSummary] = []
        for i in 0..<3_000 {
            let x = Double(Int.random(in: 1...20, using: &random))
            let spread = Double.random(in: -40...40, using: &random)
            customers.append(CustomerSummary(customerId: "C\(i)", frequency: x, recency: x, T: 30, monetaryValue: 100 + spread / x))
        }
        let fit = try GammaGamma.fit(customers)
        let p = fit.parameters
        #expect(fit.optimizer.converged, "\(p) \(fit.optimizer)")
        #expect(fit.optimizer.nelderMeadIterations == 0)
        // Out along the ridge, and what is left of it is the one spend rate for everyone: the mean
        // spend per purchase (Σ x·m / Σ x), with a shape the scores can use.
        #expect(p.q > 1e3 && p.v > 1e3 && p.q.isFinite && p.v.isFinite, "\(p)")
        let perPurchase = customers.map { $0.frequency * $0.monetaryValue }.reduce(0, +) / customers.map(\.frequency).reduce(0, +)
        #expect(relativeError(p.p * p.v / (p.q - 1), perPurchase) < 1e-4)
        #expect(p.p > 1 && p.p < 1e8)
        #expect(fit.logLikelihood.isFinite)
        // Started far out on the ridge (where the noise was worst), it ends at the same place.
        let farOut = try GammaGamma.fit(customers, initialLogParameters: [0, 30, 30 + log(100)])
        #expect(farOut.optimizer.converged && farOut.optimizer.nelderMeadIterations == 0, "\(farOut.parameters) \(farOut.optimizer)")
        #expect(relativeError(farOut.parameters.p, p.p) < 1e-4)
        #expect(Swift.abs(farOut.logLikelihood - fit.logLikelihood) < 1e-6 * Swift.abs(fit.logLikelihood))
        // Scores from such a fit: a customer's expected spend lies between their own mean and the
        // population's.
        let c = customers[0]
        let expected = GammaGamma.conditionalExpectedAverageSpend(p, frequency: c.frequency, monetaryValue: c.monetaryValue)
        #expect(expected >= Swift.min(c.monetaryValue, perPurchase) * (1 - 1e-9) && expected <= Swift.max(c.monetaryValue, perPurchase) * (1 + 1e-9))
    }
}
