import Foundation

/// log Γ(q + a) − log Γ(q) and ψ(q + a) − ψ(q), exact to rounding also when q is so large that
/// log Γ(q) alone (about q·log q) has lost the digits of the difference.
///
/// Below `largeQ` they are computed as written. From it on, from Stirling's series
/// log Γ(z) = (z − ½)·log z − z + ½·log 2π + S(z) and ψ(z) = log z + R(z), whose remainders S and
/// R are below 10⁻³⁰ there after the terms kept, rearranged so that nothing large cancels:
///   log Γ(q + a) − log Γ(q) = a·log q + (q + a − ½)·log1p(a/q) − a + S(q + a) − S(q)
///   ψ(q + a) − ψ(q) = log1p(a/q) + R(q + a) − R(q).
struct GammaRise {
    static let largeQ = 1e4

    private let q: Double, logQ: Double, a: Double

    init(q: Double, logQ: Double, a: Double) {
        self.q = q; self.logQ = logQ; self.a = a
    }

    /// ψ(q + a) − ψ(q).
    var digammaRise: Double {
        if q < Self.largeQ {
            return Special.digamma(q + a) - Special.digamma(q)
        }
        return log1p(a / q) + Self.digammaRemainder(q + a) - Self.digammaRemainder(q)
    }

    /// log Γ(q + a) − log Γ(q) − `shift`, where `shift` is of the size of a·log q (for the
    /// Gamma-Gamma, a·log v): the two large parts meet as a·(log q − shift/a) rather than after
    /// each was rounded on its own.
    func logGammaRiseMinus(_ shift: Double) -> Double {
        if q < Self.largeQ {
            return Special.logGamma(q + a) - Special.logGamma(q) - shift
        }
        return (a * logQ - shift) + (q + a - 0.5) * log1p(a / q) - a
            + Self.stirlingRemainder(q + a) - Self.stirlingRemainder(q)
    }

    /// ψ(q) − log q.
    static func digammaMinusLog(_ q: Double) -> Double {
        q < largeQ ? Special.digamma(q) - log(q) : digammaRemainder(q)
    }

    /// S(z) = log Γ(z) − ((z − ½)·log z − z + ½·log 2π), for z ≥ `largeQ`.
    static func stirlingRemainder(_ z: Double) -> Double {
        let f = 1 / (z * z)
        return (1.0 / 12 - f * (1.0 / 360 - f * (1.0 / 1260))) / z
    }

    /// R(z) = ψ(z) − log z, for z ≥ `largeQ`.
    static func digammaRemainder(_ z: Double) -> Double {
        let f = 1 / (z * z)
        return -0.5 / z - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252)))
    }
}
