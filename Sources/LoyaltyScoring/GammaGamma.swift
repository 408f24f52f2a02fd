import Foundation

/// Gamma-Gamma spend parameters (Fader, Hardie & Lee 2005b; Colombo & Jiang 1999).
public struct GammaGammaParameters: Sendable, Hashable, Codable {
    public var p: Double
    public var q: Double
    public var v: Double

    public init(p: Double, q: Double, v: Double) {
        self.p = p; self.q = q; self.v = v
    }
}

public struct GammaGammaFit: Sendable, Hashable {
    public var parameters: GammaGammaParameters
    /// Total log-likelihood of the data.
    public var logLikelihood: Double
    /// What lifetimes stores as `_negative_log_likelihood_`: the mean negative log-likelihood.
    public var lifetimesNegativeLogLikelihood: Double
    public var customers: Int
    public var optimizer: MinimizationResult
}

/// How many data periods make one month, as lifetimes' `customer_lifetime_value` `freq` argument.
public enum CLVPeriod: Sendable, Hashable {
    case day, week, month, hour

    public var periodsPerMonth: Double {
        switch self {
        case .day: return 30
        case .week: return 4.345
        case .month: return 1
        case .hour: return 30 * 24
        }
    }
}

/// The Gamma-Gamma model of average spend with lifetimes' `GammaGammaFitter` formulas.
/// Fit it on repeat customers only (frequency > 0, monetary value > 0).
public enum GammaGamma {
    @inline(__always)
    public static func logLikelihood(_ params: GammaGammaParameters, frequency x: Double, monetaryValue m: Double) -> Double {
        // The fit's objective's arrangement (see there): exact also when q and v are both large.
        let (p, q, v) = (params.p, params.q, params.v)
        let a = p * x
        return GammaRise(q: q, logQ: log(q), a: a).logGammaRiseMinus(a * log(v)) - Special.logGamma(a)
            + (a - 1) * log(m) + a * log(x) - (a + q) * log1p(x * m / v)
    }

    public static func logLikelihood(_ params: GammaGammaParameters, _ data: [CustomerSummary], weights: [Double]? = nil) -> Double {
        var total = 0.0
        for (i, c) in data.enumerated() {
            total += (weights?[i] ?? 1) * logLikelihood(params, frequency: c.frequency, monetaryValue: c.monetaryValue)
        }
        return total
    }

    /// Maximum-likelihood fit over log-parameters, starting (as lifetimes) at (0.1, 0.1, 0.1).
    public static func fit(
        _ data: [CustomerSummary],
        weights: [Double]? = nil,
        initialLogParameters: [Double] = [0.1, 0.1, 0.1]
    ) throws -> GammaGammaFit {
        guard !data.isEmpty else { throw ScoringError.emptyData }
        if let w = weights, w.count != data.count { throw ScoringError.invalidInput("weights and data differ in length") }
        for c in data where !(c.frequency > 0 && c.monetaryValue > 0) {
            throw ScoringError.invalidInput("customer \(c.customerId): Gamma-Gamma needs frequency > 0 and monetary value > 0")
        }
        // Customers with the same (x, m) contribute the same term: fit on the distinct pairs.
        var slotOf: [SIMD2<Double>: Int] = [:]
        var x: [Double] = [], m: [Double] = [], w: [Double] = []
        for (i, c) in data.enumerated() {
            let key = SIMD2(c.frequency, c.monetaryValue)
            let weight = weights?[i] ?? 1
            if let slot = slotOf[key] {
                w[slot] += weight
            } else {
                slotOf[key] = x.count
                x.append(c.frequency); m.append(c.monetaryValue); w.append(weight)
            }
        }
        let wSum = w.reduce(0, +)
        // Per customer only log(x·m + v) changes with the parameters; log m and x·log x are fixed,
        // and the log Γ and ψ terms depend on x alone (few distinct values).
        let logM = m.map { log($0) }
        let xLogX = x.map { $0 * log($0) }
        let distinct = Array(Set(x)).sorted()
        let slot = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
        let xIndex = x.map { slot[$0]! }
        // Written so that it stays exact when q and v are both large. When customers spend alike
        // (each one's spend rate ν ~ Gamma(q, v) nearly the same for all), the likelihood keeps
        // rising as q and v grow together with q/v fixed: its supremum, one rate for everyone,
        // lies at infinity, and the search goes out along that ridge until the gradient fades
        // (like 1/q). There log Γ(q) and q·log v are of order q·log q, and in the textbook form
        // their differences lost every digit: on the demo's 50,000 customers, at q ≈ 7·10¹⁰ the
        // mean log-likelihood was off by 3·10⁻⁴ and its gradient by more, so the search wandered
        // on rounding noise, never converged, and then ran the Nelder–Mead fallback (9 s, and the
        // fit refused in the end). Every term below is a difference of numbers of the size of the
        // result: with a = p·x and c = q/v,
        //   q·log v − (a + q)·log(x·m + v) = −a·log v − (a + q)·log1p(x·m/v),
        //   log Γ(a + q) − log Γ(q) and ψ(a + q) − ψ(q) from `GammaRise`.
        // q and v far out together are a fit the scores evaluate well: they use p·v/(q − 1).
        let objective: ([Double]) -> (Double, [Double]) = { lp in
            let p = exp(lp[0]), q = exp(lp[1]), v = exp(lp[2])
            let logV = lp[2], c = exp(lp[1] - lp[2])
            let psiQMinusLogV = GammaRise.digammaMinusLog(q) + (lp[1] - lp[2])
            var termX = [Double](repeating: 0, count: distinct.count)
            var psiRise = termX, psiPX = termX
            for (k, xk) in distinct.enumerated() {
                let a = p * xk
                let rise = GammaRise(q: q, logQ: lp[1], a: a)
                termX[k] = rise.logGammaRiseMinus(a * logV) - Special.logGamma(a)
                psiRise[k] = rise.digammaRise
                psiPX[k] = Special.digamma(a)
            }
            var ll = 0.0, gP = 0.0, gQ = 0.0, gV = 0.0
            for i in 0..<x.count {
                let k = xIndex[i], xi = x[i], wi = w[i]
                let a = p * xi
                let ratio = xi * m[i] / v
                let logRatio1p = log1p(ratio)
                ll += wi * (termX[k] + (a - 1) * logM[i] + p * xLogX[i] - (a + q) * logRatio1p)
                // ∂/∂p; q·∂/∂q; v·∂/∂v.
                gP += wi * (xi * (psiRise[k] + psiQMinusLogV - psiPX[k] + logM[i] - logRatio1p) + xLogX[i])
                gQ += wi * q * (psiRise[k] - logRatio1p)
                gV += wi * (c * xi * m[i] - a) / (1 + ratio)
            }
            return (-ll / wSum, [-p * gP / wSum, -gQ / wSum, -gV / wSum])
        }
        let result = Minimizer.minimize(valueAndGradient: objective, start: initialLogParameters)
        guard result.converged else {
            throw ScoringError.notConverged("gradient norm \(result.gradientNorm) at \(result.x)")
        }
        let params = GammaGammaParameters(p: exp(result.x[0]), q: exp(result.x[1]), v: exp(result.x[2]))
        return GammaGammaFit(parameters: params,
                             logLikelihood: logLikelihood(params, data, weights: weights),
                             lifetimesNegativeLogLikelihood: result.value,
                             customers: data.count, optimizer: result)
    }

    /// E[average spend | frequency, observed mean spend] (lifetimes' `conditional_expected_average_profit`).
    public static func conditionalExpectedAverageSpend(_ params: GammaGammaParameters, frequency x: Double, monetaryValue m: Double) -> Double {
        let (p, q, v) = (params.p, params.q, params.v)
        let individualWeight = p * x / (p * x + q - 1)
        let populationMean = v * p / (q - 1)
        return (1 - individualWeight) * populationMean + individualWeight * m
    }

    /// Discounted customer lifetime value over `months`, as lifetimes' `customer_lifetime_value`:
    /// for each month i, the expected purchases in that month (BG/NBD, cumulative difference) times the
    /// expected average spend, discounted by (1 + monthlyDiscountRate)^i.
    public static func customerLifetimeValue(
        spend: GammaGammaParameters,
        purchases: BetaGeoParameters,
        customer c: CustomerSummary,
        months: Int = 12,
        monthlyDiscountRate: Double = 0.01,
        period: CLVPeriod = .day
    ) -> Double {
        let value = conditionalExpectedAverageSpend(spend, frequency: c.frequency, monetaryValue: c.monetaryValue)
        return value * discountedExpectedPurchases(purchases, customer: c, months: months, monthlyDiscountRate: monthlyDiscountRate,
                                                   period: period)
    }

    /// The purchases `customerLifetimeValue` multiplies by the expected average spend: each month's
    /// expected purchases, discounted. It depends on frequency, recency and T only, so customers
    /// with the same three share it (a refit computes it once per distinct three).
    public static func discountedExpectedPurchases(
        _ purchases: BetaGeoParameters,
        customer c: CustomerSummary,
        months: Int = 12,
        monthlyDiscountRate: Double = 0.01,
        period: CLVPeriod = .day
    ) -> Double {
        let factor = period.periodsPerMonth
        var discounted = 0.0
        var previous = 0.0  // expected purchases up to 0 periods is 0
        for month in stride(from: 1, through: months, by: 1) {
            let t = Double(month) * factor
            let cumulative = BetaGeo.conditionalExpectedPurchases(purchases, t: t, frequency: c.frequency, recency: c.recency, T: c.T)
            discounted += (cumulative - previous) / pow(1 + monthlyDiscountRate, Double(month))
            previous = cumulative
        }
        return discounted
    }
}
