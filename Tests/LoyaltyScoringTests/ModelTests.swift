import Foundation
import Testing
@testable import LoyaltyScoring

/// lifetimes 0.11.3's own fits on the CDNOW sample (BetaGeoFitter().fit on all 2,357 customers,
/// GammaGammaFitter().fit on the 946 with frequency > 0), printed with repr().
enum Lifetimes {
    static let bgnbd = BetaGeoParameters(r: 0.24259292827982148, alpha: 4.413532265271809,
                                         a: 0.7928859664406578, b: 2.4257523826257374)
    static let bgnbdMeanNegativeLogLikelihoodScaled = 0.2502717288009979
    static let bgnbdSumLogLikelihood = -9582.425560567368
    static let gammaGamma = GammaGammaParameters(p: 6.24880249607099, q: 3.7445884609237634, v: 15.447748064943575)
    static let gammaGammaMeanNegativeLogLikelihood = 4.2874452891150785
}

@Suite struct BetaGeoTests {
    @Test func fitMatchesThePublishedCDNOWFit() throws {
        let data = try loadCDNOW()
        #expect(data.count == 2357)
        let fit = try BetaGeo.fit(data)
        let p = fit.parameters
        // Fader, Hardie & Lee (2005): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
        #expect(rounded(p.r, 3) == 0.243)
        #expect(rounded(p.alpha, 3) == 4.414)
        #expect(rounded(p.a, 3) == 0.793)
        #expect(rounded(p.b, 3) == 2.426)
        // FHL report the summed log-likelihood in weeks; lifetimes stores the mean negative
        // log-likelihood on time scaled to max(T) = 1. Both are checked.
        #expect(rounded(fit.logLikelihood, 1) == -9582.4)
        #expect(Swift.abs(fit.logLikelihood - Lifetimes.bgnbdSumLogLikelihood) < 1e-6)
        #expect(Swift.abs(fit.lifetimesNegativeLogLikelihood - Lifetimes.bgnbdMeanNegativeLogLikelihoodScaled) < 1e-9)
        // The same optimum as lifetimes from the same start.
        #expect(relativeError(p.r, Lifetimes.bgnbd.r) < 1e-4)
        #expect(relativeError(p.alpha, Lifetimes.bgnbd.alpha) < 1e-4)
        #expect(relativeError(p.a, Lifetimes.bgnbd.a) < 1e-4)
        #expect(relativeError(p.b, Lifetimes.bgnbd.b) < 1e-4)
        #expect(fit.optimizer.converged)
        // Our optimum is at least as good as lifetimes'.
        #expect(fit.logLikelihood >= BetaGeo.logLikelihood(Lifetimes.bgnbd, data) - 1e-9)
    }

    @Test func fitTime() throws {
        let data = try loadCDNOW()
        let clock = ContinuousClock()
        var fit: BetaGeoFit?
        let elapsed = try clock.measure { fit = try BetaGeo.fit(data) }
        let repeaters = data.filter { $0.frequency > 0 }
        var gg: GammaGammaFit?
        let ggElapsed = try clock.measure { gg = try GammaGamma.fit(repeaters) }
        print("LoyaltyScoring timing: BG/NBD fit of \(data.count) customers in \(elapsed) "
              + "(Nelder-Mead \(fit!.optimizer.nelderMeadIterations) iterations, BFGS \(fit!.optimizer.quasiNewtonIterations), "
              + "gradient max-norm \(fit!.optimizer.gradientNorm)); "
              + "Gamma-Gamma fit of \(repeaters.count) in \(ggElapsed). "
              + "BG/NBD \(fit!.parameters) LL \(fit!.logLikelihood) lifetimes-NLL \(fit!.lifetimesNegativeLogLikelihood); "
              + "Gamma-Gamma \(gg!.parameters) LL \(gg!.logLikelihood) lifetimes-NLL \(gg!.lifetimesNegativeLogLikelihood)")
        #expect(fit != nil && gg != nil)
    }

    @Test func closedFormsForAHandfulOfCustomers() throws {
        let p = Lifetimes.bgnbd
        let (r, alpha, a, b) = (p.r, p.alpha, p.a, p.b)
        // (x, t_x, T): a one-off buyer, typical repeaters, a heavy buyer, a lapsed heavy buyer.
        let customers: [(Double, Double, Double)] = [(0, 0, 38.86), (1, 1.71, 38.86), (2, 30.43, 38.86),
                                                     (7, 35.0, 38.0), (29, 20.0, 38.5)]
        for (x, tx, T) in customers {
            // P(alive) = 1 / (1 + δ(x>0) a/(b+x-1) ((α+T)/(α+t_x))^(r+x))   (Hardie, note 021)
            let alive = x == 0 ? 1 : 1 / (1 + a / (b + x - 1) * pow((alpha + T) / (alpha + tx), r + x))
            #expect(relativeError(BetaGeo.probabilityAlive(p, frequency: x, recency: tx, T: T), alive) < 1e-12)

            // FHL eq. (10), with 2F1 summed term by term here.
            let t = 39.0
            let z = t / (alpha + T + t)
            var term = 1.0, f21 = 1.0
            for n in 0..<20_000 {
                let n = Double(n)
                term *= (r + x + n) * (b + x + n) / ((a + b + x - 1 + n) * (n + 1)) * z
                f21 += term
            }
            let expected = (a + b + x - 1) / (a - 1) * (1 - pow((alpha + T) / (alpha + T + t), r + x) * f21)
                / (1 + (x > 0 ? a / (b + x - 1) * pow((alpha + T) / (alpha + tx), r + x) : 0))
            let got = BetaGeo.conditionalExpectedPurchases(p, t: t, frequency: x, recency: tx, T: T)
            #expect(relativeError(got, expected) < 1e-10, "x=\(x) t_x=\(tx) T=\(T): \(got) vs \(expected)")
        }
        // Unconditional expectation, FHL eq. (9), at t = 0 is 0 and grows with t.
        #expect(BetaGeo.expectedPurchases(p, t: 0) == 0)
        #expect(BetaGeo.expectedPurchases(p, t: 39) > BetaGeo.expectedPurchases(p, t: 10))
    }

    @Test func rejectsBadInput() {
        #expect(throws: ScoringError.emptyData) { try BetaGeo.fit([]) }
        #expect(throws: ScoringError.self) {
            try BetaGeo.fit([CustomerSummary(customerId: "x", frequency: 1, recency: 5, T: 3)])
        }
    }
}

@Suite struct GammaGammaTests {
    @Test func fitMatchesLifetimesOnRepeatCustomers() throws {
        let repeaters = try loadCDNOW().filter { $0.frequency > 0 }
        #expect(repeaters.count == 946)
        let fit = try GammaGamma.fit(repeaters)
        let p = fit.parameters
        #expect(rounded(p.p, 2) == 6.25)
        #expect(rounded(p.q, 2) == 3.74)
        #expect(rounded(p.v, 2) == 15.45)  // lifetimes' docs print 15.44; its own fit gives 15.4477
        #expect(relativeError(p.p, Lifetimes.gammaGamma.p) < 1e-4)
        #expect(relativeError(p.q, Lifetimes.gammaGamma.q) < 1e-4)
        #expect(relativeError(p.v, Lifetimes.gammaGamma.v) < 1e-4)
        #expect(Swift.abs(fit.lifetimesNegativeLogLikelihood - Lifetimes.gammaGammaMeanNegativeLogLikelihood) < 1e-9)
        #expect(fit.logLikelihood >= GammaGamma.logLikelihood(Lifetimes.gammaGamma, repeaters) - 1e-9)
    }

    @Test func rejectsCustomersWithoutRepeatSpend() {
        #expect(throws: ScoringError.self) {
            try GammaGamma.fit([CustomerSummary(customerId: "x", frequency: 0, recency: 0, T: 3)])
        }
    }
}

/// Every CDNOW customer against values that lifetimes 0.11.3 itself computed with its fitted
/// parameters (CDNOWLifetimesReference.swift: CSV text, 12 significant digits):
/// P(alive), expected purchases in 39 weeks, expected average spend, and 12-month CLV at 1% a month.
@Suite struct LifetimesReferenceTests {
    static func reference() -> [[String: String]] {
        parseCSV(cdnowLifetimesReferenceCSV)
    }

    @Test func everyCustomerMatchesLifetimes() throws {
        let rows = Self.reference()
        let data = try loadCDNOW()
        #expect(rows.count == data.count)
        var worst = [String: Double]()
        for (row, c) in zip(rows, data) {
            #expect(row["id"] == c.customerId)
            #expect(try number(row, "frequency") == c.frequency && number(row, "recency") == c.recency && number(row, "T") == c.T)
            let checks: [(String, Double)] = [
                ("p_alive", Lifetimes.bgnbd.probabilityAlive(for: c)),
                ("expected_39", Lifetimes.bgnbd.conditionalExpectedPurchases(t: 39, for: c)),
                ("expected_avg_spend", GammaGamma.conditionalExpectedAverageSpend(
                    Lifetimes.gammaGamma, frequency: c.frequency, monetaryValue: c.monetaryValue)),
                ("clv_12m_w", GammaGamma.customerLifetimeValue(
                    spend: Lifetimes.gammaGamma, purchases: Lifetimes.bgnbd, customer: c,
                    months: 12, monthlyDiscountRate: 0.01, period: .week)),
            ]
            for (key, got) in checks {
                let e = relativeError(got, try number(row, key))
                worst[key] = Swift.max(worst[key] ?? 0, e)
                #expect(e <= 1e-6, "customer \(c.customerId) \(key): \(got) vs lifetimes \(row[key] ?? "")")
            }
        }
        print("LoyaltyScoring vs lifetimes, worst relative error: \(worst.sorted { $0.key < $1.key })")
    }

    @Test func fittedModelsScoreLikeLifetimes() throws {
        // End to end: our own fits, then scores, against lifetimes' scores (looser: the optima agree to ~1e-6).
        let data = try loadCDNOW()
        let bg = try BetaGeo.fit(data).parameters
        let gg = try GammaGamma.fit(data.filter { $0.frequency > 0 }).parameters
        let rows = Self.reference()
        for (row, c) in zip(rows, data) {
            #expect(relativeError(bg.conditionalExpectedPurchases(t: 39, for: c), try number(row, "expected_39")) < 1e-3)
            #expect(relativeError(GammaGamma.customerLifetimeValue(spend: gg, purchases: bg, customer: c, period: .week),
                                  try number(row, "clv_12m_w")) < 1e-3)
        }
    }
}

@Suite struct RFMTests {
    @Test func quintilesAndSegments() {
        #expect(RFM.quintiles([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
        #expect(RFM.quintiles([7, 7, 7]) == [1, 1, 1])
        #expect(RFM.quintiles([]) == [])
        #expect(RFM.segment(r: 5, f: 5, m: 5) == .champions)
        #expect(RFM.segment(r: 3, f: 5, m: 1) == .loyal)
        #expect(RFM.segment(r: 5, f: 1, m: 1) == .newCustomers)
        #expect(RFM.segment(r: 1, f: 4, m: 3) == .atRisk)
        #expect(RFM.segment(r: 1, f: 1, m: 1) == .lost)
        #expect(RFM.segment(r: 3, f: 3, m: 3) == .needsAttention)
    }

    @Test func scoresCDNOW() throws {
        let data = try loadCDNOW()
        let scores = RFM.score(data)
        #expect(scores.count == data.count)
        #expect(scores.allSatisfy { (1...5).contains($0.recency) && (1...5).contains($0.frequency) && (1...5).contains($0.monetary) })
        // The heaviest buyer (frequency 29) gets the top frequency score; one-off buyers the lowest.
        let byId = Dictionary(uniqueKeysWithValues: zip(data.map(\.customerId), scores))
        let heaviest = data.max { $0.frequency < $1.frequency }!
        #expect(byId[heaviest.customerId]!.frequency == 5)
        #expect(data.filter { $0.frequency == 0 }.allSatisfy { byId[$0.customerId]!.frequency == 1 && byId[$0.customerId]!.monetary == 1 })
        #expect(Set(scores.map(\.segment)).count >= 4)
    }
}

@Suite struct AnalyticGradientTests {
    /// The fits use analytic gradients; a wrong one would only be hidden by the Nelder–Mead
    /// fallback, so check that the fallback was not needed and that ψ is right.
    @Test func fitsConvergeWithoutTheFallback() throws {
        let data = try loadCDNOW()
        let bg = try BetaGeo.fit(data)
        #expect(bg.optimizer.nelderMeadIterations == 0)
        #expect(bg.optimizer.quasiNewtonIterations < 100)
        let gg = try GammaGamma.fit(data.filter { $0.frequency > 0 && $0.monetaryValue > 0 })
        #expect(gg.optimizer.nelderMeadIterations == 0)
    }

    @Test func digammaMatchesKnownValues() {
        // ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2, ψ(10) = H₉ − γ.
        let gamma = 0.57721566490153286
        #expect(abs(Special.digamma(1) + gamma) < 1e-12)
        #expect(abs(Special.digamma(0.5) + gamma + 2 * log(2.0)) < 1e-12)
        let h9 = (1...9).reduce(0.0) { $0 + 1 / Double($1) }
        #expect(abs(Special.digamma(10) - (h9 - gamma)) < 1e-12)
    }
}
