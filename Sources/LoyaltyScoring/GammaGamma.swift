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
        let x = data.map(\.frequency), m = data.map(\.monetaryValue)
        let w = weights ?? [Double](repeating: 1, count: data.count)
        let wSum = w.reduce(0, +)
        let objective: ([Double]) -> Double = { lp in
            let params = GammaGammaParameters(p: exp(lp[0]), q: exp(lp[1]), v: exp(lp[2]))
            var ll = 0.0
            for i in 0..<x.count { ll += w[i] * logLikelihood(params, frequency: x[i], monetaryValue: m[i]) }
            return -ll / wSum
        }
        let result = Minimizer.minimize(objective, start: initialLogParameters)
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
        let factor = period.periodsPerMonth
        var clv = 0.0
        var previous = 0.0  // expected purchases up to 0 periods is 0
        for month in stride(from: 1, through: months, by: 1) {
            let t = Double(month) * factor
            let cumulative = BetaGeo.conditionalExpectedPurchases(purchases, t: t, frequency: c.frequency, recency: c.recency, T: c.T)
            clv += value * (cumulative - previous) / pow(1 + monthlyDiscountRate, Double(month))
            previous = cumulative
        }
        return clv
    }
}
