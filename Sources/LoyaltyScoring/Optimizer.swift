import Foundation

/// The outcome of a minimisation.
public struct MinimizationResult: Sendable, Hashable {
    public var x: [Double]
    public var value: Double
    /// Max-norm of the (central finite-difference) gradient at `x`.
    public var gradientNorm: Double
    public var nelderMeadIterations: Int
    public var quasiNewtonIterations: Int
    public var converged: Bool
}

/// Unconstrained minimisation: Nelder–Mead to get near the optimum robustly, then BFGS with
/// central finite-difference gradients and a backtracking (Armijo) line search to polish it.
public enum Minimizer {
    public static func minimize(
        _ f: ([Double]) -> Double,
        start: [Double],
        gradientTolerance: Double = 1e-9,
        maxNelderMead: Int = 5_000,
        maxQuasiNewton: Int = 200
    ) -> MinimizationResult {
        let safe: ([Double]) -> Double = { x in
            let v = f(x)
            return v.isNaN ? .infinity : v
        }
        let (nmX, nmIterations) = nelderMead(safe, start: start, maxIterations: maxNelderMead)
        let (x, value, grad, qnIterations) = bfgs(safe, start: nmX, tolerance: gradientTolerance, maxIterations: maxQuasiNewton)
        let norm = grad.map(Swift.abs).max() ?? 0
        return MinimizationResult(x: x, value: value, gradientNorm: norm,
                                  nelderMeadIterations: nmIterations, quasiNewtonIterations: qnIterations,
                                  converged: norm <= Swift.max(gradientTolerance * 1_000, 1e-6) && value.isFinite)
    }

    /// BFGS with an analytic gradient from `start`, the way scipy's BFGS runs for lifetimes, but
    /// without the finite differences. Falls back to `minimize(_:start:)` (Nelder–Mead, then
    /// finite-difference BFGS) if it does not converge, so the answer is never worse.
    public static func minimize(
        valueAndGradient f: ([Double]) -> (Double, [Double]),
        start: [Double],
        gradientTolerance: Double = 1e-9,
        maxIterations: Int = 500
    ) -> MinimizationResult {
        let n = start.count
        func safe(_ x: [Double]) -> (Double, [Double]) {
            let (v, g) = f(x)
            return v.isFinite && g.allSatisfy(\.isFinite) ? (v, g) : (.infinity, g)
        }
        var x = start
        var (fx, g) = safe(x)
        var H = identity(n)
        var iteration = 0
        func norm(_ v: [Double]) -> Double { v.map(Swift.abs).max() ?? 0 }
        while iteration < maxIterations && fx.isFinite && norm(g) > gradientTolerance {
            iteration += 1
            var d = (0..<n).map { i in -(0..<n).reduce(0.0) { $0 + H[i][$1] * g[$1] } }
            var slope = zip(d, g).reduce(0.0) { $0 + $1.0 * $1.1 }
            if slope >= 0 {
                H = identity(n)
                d = g.map { -$0 }
                slope = -g.reduce(0.0) { $0 + $1 * $1 }
            }
            // Backtracking (Armijo); the first BFGS steps can overshoot, so cap the step length.
            let length = d.map(Swift.abs).max() ?? 0
            var step = length > 5 ? 5 / length : 1.0
            var accepted = false
            var xNew = x, fNew = fx, gNew = g
            for _ in 0..<60 {
                xNew = (0..<n).map { x[$0] + step * d[$0] }
                (fNew, gNew) = safe(xNew)
                if fNew <= fx + 1e-4 * step * slope { accepted = true; break }
                step *= 0.5
            }
            if !accepted { break }
            let s = (0..<n).map { xNew[$0] - x[$0] }
            let y = (0..<n).map { gNew[$0] - g[$0] }
            let sy = zip(s, y).reduce(0.0) { $0 + $1.0 * $1.1 }
            let improvement = fx - fNew
            x = xNew; fx = fNew; g = gNew
            if sy > 1e-16 {
                if iteration == 1 {
                    // Scale the first inverse-Hessian guess to the curvature seen (Nocedal & Wright 6.20).
                    let yy = y.reduce(0.0) { $0 + $1 * $1 }
                    H = identity(n).map { $0.map { $0 * sy / yy } }
                }
                inverseHessianUpdate(&H, s: s, y: y, sy: sy)
            }
            if improvement <= 1e-16 * Swift.max(1, Swift.abs(fx)) && norm(g) <= Swift.max(gradientTolerance * 1_000, 1e-7) { break }
        }
        let gradientNorm = norm(g)
        if fx.isFinite && gradientNorm <= Swift.max(gradientTolerance * 1_000, 1e-7) {
            return MinimizationResult(x: x, value: fx, gradientNorm: gradientNorm, nelderMeadIterations: 0,
                                      quasiNewtonIterations: iteration, converged: true)
        }
        return minimize({ f($0).0 }, start: start, gradientTolerance: gradientTolerance)
    }

    /// Nelder–Mead with standard coefficients (1, 2, 0.5, 0.5).
    static func nelderMead(_ f: ([Double]) -> Double, start: [Double], maxIterations: Int) -> ([Double], Int) {
        let n = start.count
        var simplex: [[Double]] = [start]
        for i in 0..<n {
            var p = start
            p[i] += p[i] == 0 ? 0.05 : 0.1 * Swift.max(Swift.abs(p[i]), 1)
            simplex.append(p)
        }
        var values = simplex.map(f)
        var iteration = 0
        while iteration < maxIterations {
            iteration += 1
            let order = values.indices.sorted { values[$0] < values[$1] }
            simplex = order.map { simplex[$0] }
            values = order.map { values[$0] }
            let spread = Swift.abs(values[n] - values[0])
            var size = 0.0
            for p in simplex.dropFirst() {
                for j in 0..<n { size = Swift.max(size, Swift.abs(p[j] - simplex[0][j])) }
            }
            if spread <= 1e-12 * (Swift.abs(values[0]) + 1e-12) && size <= 1e-8 { break }

            var centroid = [Double](repeating: 0, count: n)
            for p in simplex.dropLast() { for j in 0..<n { centroid[j] += p[j] / Double(n) } }
            func along(_ t: Double) -> [Double] { (0..<n).map { centroid[$0] + t * (simplex[n][$0] - centroid[$0]) } }

            let reflected = along(-1)
            let fr = f(reflected)
            if fr < values[0] {
                let expanded = along(-2)
                let fe = f(expanded)
                if fe < fr { simplex[n] = expanded; values[n] = fe } else { simplex[n] = reflected; values[n] = fr }
            } else if fr < values[n - 1] {
                simplex[n] = reflected; values[n] = fr
            } else {
                let outside = fr < values[n]
                let contracted = along(outside ? -0.5 : 0.5)
                let fc = f(contracted)
                if fc < (outside ? fr : values[n]) {
                    simplex[n] = contracted; values[n] = fc
                } else {
                    for i in 1...n {
                        simplex[i] = (0..<n).map { simplex[0][$0] + 0.5 * (simplex[i][$0] - simplex[0][$0]) }
                        values[i] = f(simplex[i])
                    }
                }
            }
        }
        let best = values.indices.min { values[$0] < values[$1] }!
        return (simplex[best], iteration)
    }

    static func gradient(_ f: ([Double]) -> Double, at x: [Double]) -> [Double] {
        (0..<x.count).map { i in
            let h = 1e-6 * Swift.max(1, Swift.abs(x[i]))
            var up = x, down = x
            up[i] += h
            down[i] -= h
            return (f(up) - f(down)) / (2 * h)
        }
    }

    static func bfgs(_ f: ([Double]) -> Double, start: [Double], tolerance: Double, maxIterations: Int)
        -> ([Double], Double, [Double], Int)
    {
        let n = start.count
        var x = start
        var fx = f(x)
        var g = gradient(f, at: x)
        var H = identity(n)
        var iteration = 0
        var stalled = 0
        while iteration < maxIterations {
            if (g.map(Swift.abs).max() ?? 0) <= tolerance { break }
            // Finite-difference gradients have a noise floor: stop once the value stops improving.
            if stalled >= 3 { break }
            iteration += 1
            var d = (0..<n).map { i in -(0..<n).reduce(0.0) { $0 + H[i][$1] * g[$1] } }
            var slope = zip(d, g).reduce(0.0) { $0 + $1.0 * $1.1 }
            if slope >= 0 {  // not a descent direction: restart from steepest descent
                H = identity(n)
                d = g.map { -$0 }
                slope = -g.reduce(0.0) { $0 + $1 * $1 }
            }
            var step = 1.0
            var xNew = x, fNew = fx
            var accepted = false
            for _ in 0..<60 {
                xNew = (0..<n).map { x[$0] + step * d[$0] }
                fNew = f(xNew)
                if fNew <= fx + 1e-4 * step * slope { accepted = true; break }
                step *= 0.5
            }
            if !accepted { break }
            let gNew = gradient(f, at: xNew)
            let s = (0..<n).map { xNew[$0] - x[$0] }
            let y = (0..<n).map { gNew[$0] - g[$0] }
            let sy = zip(s, y).reduce(0.0) { $0 + $1.0 * $1.1 }
            stalled = fx - fNew <= 1e-15 * Swift.max(1, Swift.abs(fx)) ? stalled + 1 : 0
            x = xNew; fx = fNew; g = gNew
            if sy > 1e-16 {
                inverseHessianUpdate(&H, s: s, y: y, sy: sy)
            }
        }
        return (x, fx, g, iteration)
    }

    /// The BFGS update of the inverse Hessian: H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ, ρ = 1/(sᵀy).
    static func inverseHessianUpdate(_ H: inout [[Double]], s: [Double], y: [Double], sy: Double) {
        let n = s.count
        let rho = 1 / sy
        let Hy = (0..<n).map { i in (0..<n).reduce(0.0) { $0 + H[i][$1] * y[$1] } }
        let yHy = zip(y, Hy).reduce(0.0) { $0 + $1.0 * $1.1 }
        for i in 0..<n {
            for j in 0..<n {
                H[i][j] += -rho * (Hy[i] * s[j] + s[i] * Hy[j]) + (rho * rho * yHy + rho) * s[i] * s[j]
            }
        }
    }

    static func identity(_ n: Int) -> [[Double]] {
        (0..<n).map { i in (0..<n).map { $0 == i ? 1.0 : 0.0 } }
    }
}
