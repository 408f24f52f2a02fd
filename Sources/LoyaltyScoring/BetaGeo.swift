import Foundation

public enum ScoringError: Error, Sendable, Equatable, CustomStringConvertible {
    case emptyData
    case invalidInput(String)
    case notConverged(String)

    public var description: String {
        switch self {
        case .emptyData: return "no customers to fit"
        case .invalidInput(let why): return "invalid input: \(why)"
        case .notConverged(let why): return "the fit did not converge: \(why)"
        }
    }
}

/// BG/NBD parameters (Fader, Hardie & Lee 2005), time in the data's period.
public struct BetaGeoParameters: Sendable, Hashable, Codable {
    public var r: Double
    public var alpha: Double
    public var a: Double
    public var b: Double

    public init(r: Double, alpha: Double, a: Double, b: Double) {
        self.r = r; self.alpha = alpha; self.a = a; self.b = b
    }
}

/// A fitted BG/NBD model.
public struct BetaGeoFit: Sendable, Hashable {
    public var parameters: BetaGeoParameters
    /// Total log-likelihood of the data in the data's own time unit (FHL's convention: −9582.4 on CDNOW).
    public var logLikelihood: Double
    /// What lifetimes stores as `_negative_log_likelihood_`: the mean negative log-likelihood per
    /// customer computed on time rescaled so that the largest T is 1 (0.2503 on CDNOW).
    public var lifetimesNegativeLogLikelihood: Double
    public var customers: Int
    public var optimizer: MinimizationResult
}

/// The BG/NBD model with the formulas of lifetimes' `BetaGeoFitter`.
public enum BetaGeo {
    /// Log-likelihood of one customer (lifetimes' stable form with log-gamma and log-sum-exp).
    @inline(__always)
    public static func logLikelihood(_ p: BetaGeoParameters, frequency x: Double, recency tx: Double, T: Double) -> Double {
        let (r, alpha, a, b) = (p.r, p.alpha, p.a, p.b)
        let a1 = Special.logGamma(r + x) - Special.logGamma(r) + r * log(alpha)
        let a2 = Special.logGamma(a + b) + Special.logGamma(b + x) - Special.logGamma(b) - Special.logGamma(a + b + x)
        let a3 = -(r + x) * log(alpha + T)
        if x > 0 {
            let a4 = log(a) - log(b + x - 1) - (r + x) * log(tx + alpha)
            return a1 + a2 + Special.logSumExp(a3, a4)
        }
        return a1 + a2 + a3
    }

    /// Total log-likelihood of a set of customers.
    public static func logLikelihood(_ p: BetaGeoParameters, _ data: [CustomerSummary], weights: [Double]? = nil) -> Double {
        var total = 0.0
        for (i, c) in data.enumerated() {
            total += (weights?[i] ?? 1) * logLikelihood(p, frequency: c.frequency, recency: c.recency, T: c.T)
        }
        return total
    }

    /// Maximum-likelihood fit over log-parameters. Like lifetimes, time is rescaled so the largest T
    /// is 1 and the search starts at log-parameters (0.1, 0.1, 0.1, 0.1).
    public static func fit(
        _ data: [CustomerSummary],
        weights: [Double]? = nil,
        initialLogParameters: [Double] = [0.1, 0.1, 0.1, 0.1]
    ) throws -> BetaGeoFit {
        guard !data.isEmpty else { throw ScoringError.emptyData }
        if let w = weights, w.count != data.count { throw ScoringError.invalidInput("weights and data differ in length") }
        for c in data {
            guard c.frequency >= 0, c.frequency == c.frequency.rounded(), c.recency >= 0, c.T >= c.recency, c.T > 0 || c.frequency == 0
            else { throw ScoringError.invalidInput("customer \(c.customerId): need integer frequency ≥ 0 and 0 ≤ recency ≤ T") }
            guard c.frequency == 0 || c.recency > 0
            else { throw ScoringError.invalidInput("customer \(c.customerId): recency must be > 0 when frequency > 0") }
        }
        let maxT = data.map(\.T).max()!
        guard maxT > 0 else { throw ScoringError.invalidInput("every T is 0") }
        let scale = 1 / maxT
        let x = data.map(\.frequency), tx = data.map { $0.recency * scale }, T = data.map { $0.T * scale }
        let w = weights ?? [Double](repeating: 1, count: data.count)
        let wSum = w.reduce(0, +)

        let objective: ([Double]) -> Double = { lp in
            let p = BetaGeoParameters(r: exp(lp[0]), alpha: exp(lp[1]), a: exp(lp[2]), b: exp(lp[3]))
            var ll = 0.0
            for i in 0..<x.count { ll += w[i] * logLikelihood(p, frequency: x[i], recency: tx[i], T: T[i]) }
            return -ll / wSum
        }
        let result = Minimizer.minimize(objective, start: initialLogParameters)
        guard result.converged else {
            throw ScoringError.notConverged("gradient norm \(result.gradientNorm) at \(result.x)")
        }
        let params = BetaGeoParameters(r: exp(result.x[0]), alpha: exp(result.x[1]) / scale,
                                       a: exp(result.x[2]), b: exp(result.x[3]))
        return BetaGeoFit(parameters: params,
                          logLikelihood: logLikelihood(params, data, weights: weights),
                          lifetimesNegativeLogLikelihood: result.value,
                          customers: data.count,
                          optimizer: result)
    }

    /// Expected number of repeat purchases in the next `t` periods given (frequency, recency, T):
    /// FHL (2005) eq. (10), as in lifetimes' `conditional_expected_number_of_purchases_up_to_time`.
    public static func conditionalExpectedPurchases(
        _ p: BetaGeoParameters, t: Double, frequency x: Double, recency tx: Double, T: Double
    ) -> Double {
        let (r, alpha, a, b) = (p.r, p.alpha, p.a, p.b)
        let z = t / (alpha + T + t)
        let lnHyp = Special.logHyp2f1(r + x, b + x, a + b + x - 1, z)
        let first = (a + b + x - 1) / (a - 1)
        let second = 1 - exp(lnHyp + (r + x) * log((alpha + T) / (alpha + t + T)))
        let denominator = 1 + (x > 0 ? (a / (b + x - 1)) * pow((alpha + T) / (alpha + tx), r + x) : 0)
        return first * second / denominator
    }

    /// Probability that the customer is still alive (Hardie's note 021), as lifetimes computes it.
    public static func probabilityAlive(_ p: BetaGeoParameters, frequency x: Double, recency tx: Double, T: Double) -> Double {
        if x == 0 { return 1 }
        let logDiv = (p.r + x) * log((p.alpha + T) / (p.alpha + tx)) + log(p.a / (p.b + Swift.max(x, 1) - 1))
        return Special.expit(-logDiv)
    }

    /// Expected repeat purchases in `t` periods for a new, randomly chosen customer: FHL eq. (9).
    public static func expectedPurchases(_ p: BetaGeoParameters, t: Double) -> Double {
        let lnHyp = Special.logHyp2f1(p.r, p.b, p.a + p.b - 1, t / (p.alpha + t))
        return (p.a + p.b - 1) / (p.a - 1) * (1 - exp(lnHyp + p.r * log(p.alpha / (p.alpha + t))))
    }
}

extension BetaGeoParameters {
    public func conditionalExpectedPurchases(t: Double, for c: CustomerSummary) -> Double {
        BetaGeo.conditionalExpectedPurchases(self, t: t, frequency: c.frequency, recency: c.recency, T: c.T)
    }

    public func probabilityAlive(for c: CustomerSummary) -> Double {
        BetaGeo.probabilityAlive(self, frequency: c.frequency, recency: c.recency, T: c.T)
    }
}
