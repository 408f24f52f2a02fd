import Foundation

enum Special {
    /// log Γ(x) for x > 0.
    @inline(__always)
    static func logGamma(_ x: Double) -> Double {
        Foundation.lgamma(x)
    }

    /// ψ(x) = d/dx log Γ(x) for x > 0: recurrence up to x ≥ 10, then the asymptotic series
    /// (error below 1e-13 there).
    static func digamma(_ x: Double) -> Double {
        var x = x
        var result = 0.0
        while x < 10 {
            result -= 1 / x
            x += 1
        }
        let f = 1 / (x * x)
        let series = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))))
        return result + Foundation.log(x) - 0.5 / x - series
    }

    /// log(e^a + e^b), stable.
    @inline(__always)
    static func logSumExp(_ a: Double, _ b: Double) -> Double {
        let m = Swift.max(a, b)
        if m == -.infinity { return -.infinity }
        return m + Foundation.log(Foundation.exp(a - m) + Foundation.exp(b - m))
    }

    /// Logistic function 1 / (1 + e^-x), stable for large |x|.
    @inline(__always)
    static func expit(_ x: Double) -> Double {
        if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
        let e = Foundation.exp(x)
        return e / (1 + e)
    }

    /// Gauss hypergeometric ₂F₁(a, b; c; z) by its power series, for 0 ≤ z < 1 and c > 0.
    /// Returns +infinity when the partial sums overflow (the caller then uses a transformation).
    static func hyp2f1Series(_ a: Double, _ b: Double, _ c: Double, _ z: Double) -> Double {
        if z == 0 { return 1 }
        var term = 1.0
        var sum = 1.0
        var n = 0.0
        // Terms eventually shrink like n^(a+b-c-1) z^n; z < 1 so this ends.
        while n < 1_000_000 {
            term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
            sum += term
            if !sum.isFinite { return .infinity }
            n += 1
            if Swift.abs(term) <= 1e-17 * Swift.abs(sum) && n > a + b { break }
            if term == 0 { break }
        }
        return sum
    }

    /// log ₂F₁(a, b; c; z) for 0 ≤ z < 1, as lifetimes computes it: the direct series, or, when that
    /// overflows, Euler's transformation ₂F₁(c−a, c−b; c; z) (1−z)^(c−a−b).
    static func logHyp2f1(_ a: Double, _ b: Double, _ c: Double, _ z: Double) -> Double {
        let direct = hyp2f1Series(a, b, c, z)
        if direct.isFinite && direct > 0 { return Foundation.log(direct) }
        let alt = hyp2f1Series(c - a, c - b, c, z)
        return Foundation.log(alt) + (c - a - b) * Foundation.log1p(-z)
    }
}
