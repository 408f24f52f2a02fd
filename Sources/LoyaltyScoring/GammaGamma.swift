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
        let (p, q, v) = (params.p, params.q, params.v)
        return Special.logGamma(p * x + q) - Special.logGamma(p * x) - Special.logGamma(q)
            + q * log(v) + (p * x - 1) * log(m) + (p * x) * log(x) - (p * x + q) * log(x * m + v)
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
        let objective: ([Double]) -> (Double, [Double]) = { lp in
            let p = exp(lp[0]), q = exp(lp[1]), v = exp(lp[2])
            let logV = log(v), lgQ = Special.logGamma(q), psiQ = Special.digamma(q)
            var termX = [Double](repeating: 0, count: distinct.count)
            var psiPXQ = termX, psiPX = termX
            for (k, xk) in distinct.enumerated() {
                termX[k] = Special.logGamma(p * xk + q) - Special.logGamma(p * xk) - lgQ
                psiPXQ[k] = Special.digamma(p * xk + q)
                psiPX[k] = Special.digamma(p * xk)
            }
            var ll = 0.0, gP = 0.0, gQ = 0.0, gV = 0.0
            for i in 0..<x.count {
                let k = xIndex[i], xi = x[i], wi = w[i]
                let px = p * xi
                let logXMV = log(xi * m[i] + v)
                ll += wi * (termX[k] + q * logV + (px - 1) * logM[i] + p * xLogX[i] - (px + q) * logXMV)
                gP += wi * (xi * (psiPXQ[k] - psiPX[k] + logM[i] - logXMV) + xLogX[i])
                gQ += wi * (psiPXQ[k] - psiQ + logV - logXMV)
                gV += wi * (q / v - (px + q) / (xi * m[i] + v))
            }
            return (-ll / wSum, [-p * gP / wSum, -q * gQ / wSum, -v * gV / wSum])
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
