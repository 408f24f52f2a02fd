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

    /// Most terms `hyp2f1Series` sums before giving up (it used to be 1,000,000, returning whatever
    /// partial sum it had). Past their peak the terms shrink like zⁿ, so a well-posed model needs a few
    /// hundred (CDNOW: under 300, z ≤ 0.85); 100,000 covers z up to about 0.9996. Parameters that need
    /// more (r in the millions with α small: only a degenerate fit gives those) would cost milliseconds
    /// per call for a meaningless number: NaN instead, so callers can tell "cannot evaluate" from a value.
    static let hyp2f1MaximumTerms = 100_000

    /// Gauss hypergeometric ₂F₁(a, b; c; z) by its power series, for 0 ≤ z < 1 and c not an integer
    /// ≤ 0 (where it is undefined). Returns +infinity when the partial sums overflow (the caller then
    /// uses a transformation), and NaN when the series would not converge within
    /// `hyp2f1MaximumTerms` terms.
    static func hyp2f1Series(_ a: Double, _ b: Double, _ c: Double, _ z: Double) -> Double {
        if z == 0 { return 1 }
        guard z > 0, z < 1, a.isFinite, b.isFinite, c.isFinite, c > 0 || c != c.rounded(.down) else { return .nan }
        // With a, b ≥ 0 the terms grow while (a+n)(b+n)·z > (c+n)(n+1), i.e. up to the larger root n* of
        // (1−z)n² + (c+1−z(a+b))n + (c−zab); past it they fall at least like zⁿ. Refuse at once
        // what cannot finish in time. (Negative parameters, from Euler's transformation, rely on the cap.)
        if a >= 0 && b >= 0 {
            let qa = 1 - z, qb = c + 1 - z * (a + b), qc = c - z * a * b
            let discriminant = qb * qb - 4 * qa * qc
            let peak = discriminant > 0 ? Swift.max(0, (-qb + discriminant.squareRoot()) / (2 * qa)) : 0
            let tail = 40 / -Foundation.log(z)  // zⁿ < e⁻⁴⁰ < 1e-17
            if peak + tail > Double(hyp2f1MaximumTerms) { return .nan }
        }
        var term = 1.0
        var sum = 1.0
        var n = 0.0
        // Terms eventually shrink like n^(a+b-c-1) z^n; z < 1 so this ends.
        while n < Double(hyp2f1MaximumTerms) {
            term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
            sum += term
            if !sum.isFinite { return .infinity }
            n += 1
            // A negligible term ends the sum once the terms can no longer grow back: past a + b
            // (lifetimes' rule, needed when a parameter is negative), or, with a, b ≥ 0, as soon as
            // the next ratio is below 1, so that large parameters with a small z (r and α both large:
            // nearly the same purchase rate for everyone) stop after a few terms, not after a + b.
            if Swift.abs(term) <= 1e-17 * Swift.abs(sum)
                && (n > a + b || (a >= 0 && b >= 0 && (a + n) * (b + n) * z < (c + n) * (n + 1))) { return sum }
            if term == 0 { return sum }
        }
        return .nan
    }

    /// ₂F₁(a, b; c; z) for 0 ≤ z < 1 as `sign`·e^`log`: the direct series, or, when that overflows,
    /// Euler's transformation ₂F₁(c−a, c−b; c; z)·(1−z)^(c−a−b), as lifetimes computes it, except
    /// for the sign. The BG/NBD's ₂F₁(r + x, b + x; a + b + x − 1; z) has c < 0 for a customer with
    /// no repeat purchase when a + b < 1 (a legitimate fit: a = 0.04, b = 0.95 on the demo's chain),
    /// and is then negative; lifetimes takes its log and gets NaN, and so did this, which refused
    /// the whole fit. NaN only when the value cannot be computed.
    static func signedLogHyp2f1(_ a: Double, _ b: Double, _ c: Double, _ z: Double) -> (log: Double, sign: Double) {
        func signed(_ value: Double) -> (log: Double, sign: Double) {
            value.isNaN ? (.nan, 1) : (Foundation.log(Swift.abs(value)), value < 0 ? -1 : 1)
        }
        let direct = hyp2f1Series(a, b, c, z)
        if direct.isFinite || direct.isNaN { return signed(direct) }
        let alt = signed(hyp2f1Series(c - a, c - b, c, z))
        return (alt.log + (c - a - b) * Foundation.log1p(-z), alt.sign)
    }
}
