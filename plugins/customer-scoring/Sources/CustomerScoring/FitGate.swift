import Foundation
import LoyaltyScoring

/// Why a refit is not adopted. The fit in force (if any) keeps scoring customers.
struct FitRefusal: Error, CustomStringConvertible {
    var reason: String
    /// Too little history yet: expected on a new chain, not a sign of trouble.
    var isShortHistory = false
    var description: String { reason }
}

/// Decides whether a fit may score customers. On a short history the likelihood is flat or peaks at
/// the edge of the parameter space: the optimiser then "converges" to r and α up to 10¹⁷, or b up to
/// 10¹¹ with a → 0, and the scores computed from such parameters are noise: the conditional
/// expectation is a difference of two numbers that agree to 1/b, and (α + T)/(α + T + t) rounds to 1.
/// Such fits are refused with a reason instead of stored.
///
/// What is not refused: limits the data do support and the formulas evaluate well. a → 0 with b
/// large is "nobody has been seen to drop out yet" (a short history of loyal customers); q and v
/// large together is "everyone spends alike". Those fits score sensibly, and the bound on each score
/// below catches any that would not.
enum FitGate {
    /// Range of r, α/(longest history) and b within which the BG/NBD formulas keep about 8 digits
    /// (CDNOW: r = 0.24, α/max T = 0.057, b = 2.4).
    static let lowest = 1e-8
    static let highest = 1e8

    /// Enough history to learn anything: someone has bought again, over more than a few periods.
    static func checkHistory(_ customers: [CustomerSummary], settings: ScoringSettings) throws {
        let repeaters = customers.reduce(0) { $0 + ($1.frequency > 0 ? 1 : 0) }
        guard repeaters >= settings.minimumRepeatCustomers else {
            throw FitRefusal(reason: "\(repeaters) of \(customers.count) customers have bought in more than one period; "
                             + "a fit needs at least \(settings.minimumRepeatCustomers) (minimumRepeatCustomers)", isShortHistory: true)
        }
        let span = customers.map(\.T).max() ?? 0
        guard span >= Double(settings.minimumHistoryPeriods) else {
            throw FitRefusal(reason: "the oldest customer's history spans \(span) \(settings.period.rawValue)s; "
                             + "a fit needs at least \(settings.minimumHistoryPeriods) (minimumHistoryPeriods)", isShortHistory: true)
        }
    }

    static func checkPurchases(_ fit: BetaGeoFit, longestHistory: Double) throws {
        try checkPurchases(fit.parameters, longestHistory: longestHistory,
                           optimiserMoved: fit.optimizer.quasiNewtonIterations > 0 || fit.optimizer.nelderMeadIterations > 0)
    }

    static func checkPurchases(_ p: BetaGeoParameters, longestHistory: Double, optimiserMoved: Bool) throws {
        try check("BG/NBD", [("r", p.r), ("alpha/max T", p.alpha / longestHistory), ("b", p.b)])
        guard p.a.isFinite, p.a > 0, p.a <= highest else {
            throw FitRefusal(reason: "BG/NBD degenerate: a = \(String(format: "%.4g", p.a)) is not a positive number up to \(highest)")
        }
        guard optimiserMoved else {
            throw FitRefusal(reason: "BG/NBD: the optimiser did not move from its start: the likelihood is flat there")
        }
    }

    static func checkSpend(_ fit: GammaGammaFit, meanSpend: Double) throws {
        try checkSpend(fit.parameters, meanSpend: meanSpend)
    }

    /// p is the shape of each customer's spend; q and v may both grow without bound (spend
    /// heterogeneity vanishing), so what is checked is the population mean they imply, p·v/(q − 1).
    static func checkSpend(_ p: GammaGammaParameters, meanSpend: Double) throws {
        let implied = p.q > 1 ? p.p * p.v / (p.q - 1) : .infinity
        try check("Gamma-Gamma", [("p", p.p), ("population mean/observed mean", implied / meanSpend)])
        guard p.q > 1, p.q.isFinite, p.v.isFinite, p.v > 0 else {
            throw FitRefusal(reason: "Gamma-Gamma degenerate: q = \(p.q), v = \(p.v): need q > 1 and v > 0, finite")
        }
    }

    private static func check(_ model: String, _ values: [(String, Double)]) throws {
        for (name, value) in values where !(value.isFinite && value >= lowest && value <= highest) {
            let all = values.map { "\($0.0)=\(String(format: "%.4g", $0.1))" }.joined(separator: ", ")
            throw FitRefusal(reason: "\(model) degenerate: \(name) = \(String(format: "%.4g", value)) is outside "
                             + "[\(lowest), \(highest)] (\(all)); the history does not determine it")
        }
    }

    /// Every score must be a number in its range; the first that is not names the customer.
    /// Expected purchases are also bounded above by what the customer would buy if certainly alive,
    /// (r + x)·t/(α + T): a value beyond it can only be rounding noise.
    static func checkScores(_ scores: [CustomerScoringPlugin.Score], purchases p: BetaGeoParameters, horizon t: Double) throws {
        for s in scores {
            let c = s.summary
            let ceiling = (p.r + c.frequency) * t / (p.alpha + c.T)
            guard s.isValid, s.expectedPurchases <= ceiling * (1 + 1e-6) + 1e-9 else {
                throw FitRefusal(reason: "customer \(s.customerId) would score pAlive=\(s.pAlive), expectedPurchases=\(s.expectedPurchases) "
                                 + "(at most \(ceiling) if certainly alive), clv=\(s.clvValue): not computable with these parameters")
            }
        }
    }
}
