import Foundation
import LoyaltyScoring
import Yams

/// What the plugin can be told, from `plugins/customer-scoring/scoring.yaml` (every key optional).
public struct ScoringSettings: Sendable, Equatable {
    /// Purchases of one customer in the same period are merged (lifetimes' `freq`). UTC.
    public var period: SummaryPeriod = .week
    /// Refit after every this-many applied (non-anonymous) purchases.
    public var refitEvery: Int = 1000
    /// An attempt to fit reads and scores every customer, so attempts are also at least this many
    /// purchases per known customer apart (0.1: 5,000 purchases at 50,000 customers). Refits are
    /// spaced by `refitEvery` alone below `refitEvery` / 0.1 customers (10,000); retries before the
    /// first fit by `firstFitRetryEvery` alone below 500.
    public var refitPurchasesPerCustomer: Double = 0.1
    /// Each attempt refused after the optimiser ran (no convergence, degenerate parameters or
    /// scores) doubles the spacing of the next one, up to this factor; an accepted fit resets it.
    /// 1: no back-off.
    public var refitBackoffLimit: Int = 16
    /// The first fit happens as soon as this many customers have a purchase.
    public var minimumCustomersForFirstFit: Int = 50
    /// A fit is refused (the fit in force stays) until this many customers have bought in two periods or more…
    public var minimumRepeatCustomers: Int = 20
    /// …and the oldest customer's history spans this many periods.
    public var minimumHistoryPeriods: Int = 4
    /// While the model has never fitted, a failed attempt is retried after this many more purchases.
    public var firstFitRetryEvery: Int = 50
    /// Horizon of `expectedPurchases`: 26 weeks.
    public var expectedPurchasesDays: Int = 182
    /// CLV horizon and discount.
    public var clvMonths: Int = 12
    public var monthlyDiscountRate: Double = 0.01
    /// What counts as a material change of a customer's score.
    public var pAliveChange: Double = 0.05
    public var percentileChange: Int = 5

    public init() {}

    public static let fileName = "scoring.yaml"

    /// How many times its usual spacing an attempt waits after `refused` refusals in a row.
    func refitBackoff(afterRefusals refused: Int) -> Int {
        min(refitBackoffLimit, 1 << min(max(refused, 0), 30))
    }

    /// Periods per day-count horizon, in the data's period.
    var expectedPurchasesHorizon: Double {
        Double(expectedPurchasesDays) / (period == .week ? 7 : 1)
    }

    var clvPeriod: CLVPeriod { period == .week ? .week : .day }

    /// Reads the settings file; a missing file means all defaults. Errors name the file and key.
    public static func load(path: String) throws -> ScoringSettings {
        var settings = ScoringSettings()
        guard FileManager.default.fileExists(atPath: path) else { return settings }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch {
            throw ScoringSettingsError(message: "\(path): not valid YAML: \(error)")
        }
        guard let root else { return settings }
        guard let map = root as? [String: Any] else {
            throw ScoringSettingsError(message: "\(path): expected a mapping of settings")
        }
        let known = ["period", "refitEvery", "refitPurchasesPerCustomer", "refitBackoffLimit", "minimumCustomersForFirstFit",
                     "minimumRepeatCustomers", "minimumHistoryPeriods"]
        for key in map.keys where !known.contains(key) {
            throw ScoringSettingsError(message: "\(path): unknown key '\(key)' (known: \(known.joined(separator: ", ")))")
        }
        if let value = map["period"] {
            guard let text = value as? String, let period = SummaryPeriod(rawValue: text) else {
                throw ScoringSettingsError(message: "\(path): 'period' must be 'week' or 'day', not '\(value)'")
            }
            settings.period = period
        }
        if let value = map["refitEvery"] {
            guard let n = value as? Int, n >= 1 else {
                throw ScoringSettingsError(message: "\(path): 'refitEvery' must be an integer ≥ 1, not '\(value)'")
            }
            settings.refitEvery = n
        }
        if let value = map["refitPurchasesPerCustomer"] {
            guard let share = (value as? Double) ?? (value as? Int).map(Double.init), share >= 0, share <= 1000 else {
                throw ScoringSettingsError(message: "\(path): 'refitPurchasesPerCustomer' must be a number from 0 to 1000, not '\(value)'")
            }
            settings.refitPurchasesPerCustomer = share
        }
        if let value = map["refitBackoffLimit"] {
            guard let n = value as? Int, (1...1_000_000).contains(n) else {
                throw ScoringSettingsError(message: "\(path): 'refitBackoffLimit' must be an integer from 1 (no back-off) to 1000000, not '\(value)'")
            }
            settings.refitBackoffLimit = n
        }
        if let value = map["minimumCustomersForFirstFit"] {
            guard let n = value as? Int, n >= 2 else {
                throw ScoringSettingsError(message: "\(path): 'minimumCustomersForFirstFit' must be an integer ≥ 2, not '\(value)'")
            }
            settings.minimumCustomersForFirstFit = n
        }
        if let value = map["minimumRepeatCustomers"] {
            guard let n = value as? Int, n >= 2 else {
                throw ScoringSettingsError(message: "\(path): 'minimumRepeatCustomers' must be an integer ≥ 2, not '\(value)'")
            }
            settings.minimumRepeatCustomers = n
        }
        if let value = map["minimumHistoryPeriods"] {
            guard let n = value as? Int, n >= 1 else {
                throw ScoringSettingsError(message: "\(path): 'minimumHistoryPeriods' must be an integer ≥ 1, not '\(value)'")
            }
            settings.minimumHistoryPeriods = n
        }
        return settings
    }
}

public struct ScoringSettingsError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
