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
        // Customers with the same (x, tₓ, T) contribute the same term: fit on the distinct
        // triples, weighted by how many customers share each (periodic data repeats a lot).
        var slotOf: [SIMD3<Double>: Int] = [:]
        var x: [Double] = [], tx: [Double] = [], T: [Double] = [], w: [Double] = []
        for (i, c) in data.enumerated() {
            let key = SIMD3(c.frequency, c.recency, c.T)
            let weight = weights?[i] ?? 1
            if let slot = slotOf[key] {
                w[slot] += weight
            } else {
                slotOf[key] = x.count
                x.append(c.frequency); tx.append(c.recency * scale); T.append(c.T * scale); w.append(weight)
            }
        }
        let wSum = w.reduce(0, +)

        // log Γ and ψ terms depend on a customer only through x, which takes few distinct values:
        // compute them once per distinct x, not once per customer.
        let distinct = Array(Set(x)).sorted()
        let slot = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
        let xIndex = x.map { slot[$0]! }
        let objective: ([Double]) -> (Double, [Double]) = { lp in
            let r = exp(lp[0]), alpha = exp(lp[1]), a = exp(lp[2]), b = exp(lp[3])
            let psiR = Special.digamma(r), psiB = Special.digamma(b), psiAB = Special.digamma(a + b)
            let constant = -Special.logGamma(r) + Special.logGamma(a + b) - Special.logGamma(b)
            var termX = [Double](repeating: 0, count: distinct.count)
            var dR = termX, dA = termX, dB = termX, logB = termX
            for (k, xk) in distinct.enumerated() {
                termX[k] = constant + Special.logGamma(r + xk) + Special.logGamma(b + xk) - Special.logGamma(a + b + xk)
                let psiABX = Special.digamma(a + b + xk)
                dR[k] = Special.digamma(r + xk) - psiR
                dA[k] = psiAB - psiABX
                dB[k] = psiAB + Special.digamma(b + xk) - psiB - psiABX
                logB[k] = xk > 0 ? log(b + xk - 1) : 0
            }
            let logAlpha = log(alpha), logA = log(a)
            var ll = 0.0, gR = 0.0, gAlpha = 0.0, gA = 0.0, gB = 0.0
            for i in 0..<x.count {
                let k = xIndex[i], xi = x[i], wi = w[i]
                let logAT = log(alpha + T[i])
                let a3 = -(r + xi) * logAT
                var lse = a3, w3 = 1.0, w4 = 0.0, logATx = 0.0
                if xi > 0 {
                    logATx = log(alpha + tx[i])
                    let a4 = logA - logB[k] - (r + xi) * logATx
                    let m = Swift.max(a3, a4)
                    let e3 = exp(a3 - m), e4 = exp(a4 - m), sum = e3 + e4
                    lse = m + log(sum)
                    w3 = e3 / sum
                    w4 = e4 / sum
                }
                ll += wi * (termX[k] + r * logAlpha + lse)
                gR += wi * (dR[k] + logAlpha - w3 * logAT - w4 * logATx)
                gAlpha += wi * (r / alpha - (r + xi) * (w3 / (alpha + T[i]) + (xi > 0 ? w4 / (alpha + tx[i]) : 0)))
                gA += wi * (dA[k] + w4 / a)
                gB += wi * (dB[k] - (xi > 0 ? w4 / (b + xi - 1) : 0))
            }
            // Minimise the mean negative log-likelihood (lifetimes' objective); gradient in log-parameters.
            return (-ll / wSum, [-r * gR / wSum, -alpha * gAlpha / wSum, -a * gA / wSum, -b * gB / wSum])
        }
        let result = Minimizer.minimize(valueAndGradient: objective, start: initialLogParameters)
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
        let hyp = Special.signedLogHyp2f1(r + x, b + x, a + b + x - 1, z)
        let first = (a + b + x - 1) / (a - 1)
        let second = 1 - hyp.sign * exp(hyp.log + (r + x) * log((alpha + T) / (alpha + t + T)))
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
        let hyp = Special.signedLogHyp2f1(p.r, p.b, p.a + p.b - 1, t / (p.alpha + t))
        return (p.a + p.b - 1) / (p.a - 1) * (1 - hyp.sign * exp(hyp.log + p.r * log(p.alpha / (p.alpha + t))))
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
