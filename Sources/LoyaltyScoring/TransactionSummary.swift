import Foundation

/// One purchase: who, when, and how much in integer minor units (cents).
public struct ScoringTransaction: Sendable, Hashable {
    public var customerId: String
    public var date: Date
    public var amountMinor: Int64

    public init(customerId: String, date: Date, amountMinor: Int64 = 0) {
        self.customerId = customerId
        self.date = date
        self.amountMinor = amountMinor
    }
}

/// The period that purchases are counted in. Purchases in the same period are merged.
public enum SummaryPeriod: String, Sendable, Hashable, CaseIterable {
    /// Calendar days.
    case day
    /// Weeks from Monday to Sunday (pandas' `W`, i.e. `W-SUN`), measured in units of 7 days.
    case week
}

/// The (frequency, recency, T, monetary value) of one customer, in periods and minor units.
public struct CustomerSummary: Sendable, Hashable {
    public var customerId: String
    /// Number of repeat purchase periods (periods with a purchase, less the first).
    public var frequency: Double
    /// Periods between the first and the last purchase period.
    public var recency: Double
    /// Periods between the first purchase period and the observation end's period.
    public var T: Double
    /// Mean spend (minor units) of the repeat periods; 0 when frequency is 0.
    public var monetaryValue: Double

    public init(customerId: String, frequency: Double, recency: Double, T: Double, monetaryValue: Double = 0) {
        self.customerId = customerId
        self.frequency = frequency
        self.recency = recency
        self.T = T
        self.monetaryValue = monetaryValue
    }
}

/// Builds per-customer summaries with the definitions of `lifetimes.utils.summary_data_from_transaction_data`.
///
/// - Every date is mapped to the start of its period in `timeZone`.
/// - The observation end is mapped to the start of its period; a transaction is kept when its period
///   starts at or before that (so with weeks, a purchase later in the observation end's week counts,
///   exactly as in lifetimes).
/// - Purchases in the same period are merged (their amounts summed).
/// - frequency = periods with a purchase − 1; recency = last period − first period;
///   T = observation end period − first period; monetary value = mean of the repeat periods' spend.
/// Results are sorted by customer id.
public enum TransactionSummary {
    public static func summarize(
        _ transactions: some Sequence<ScoringTransaction>,
        observationEnd: Date? = nil,
        period: SummaryPeriod = .day,
        timeZone: TimeZone = TimeZone(secondsFromGMT: 0)!
    ) -> [CustomerSummary] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var all: [(id: String, start: Int, amount: Int64)] = []
        var maxDate: Date?
        for t in transactions {
            all.append((t.customerId, periodStart(of: t.date, period: period, calendar: calendar), t.amountMinor))
            if maxDate == nil || t.date > maxDate! { maxDate = t.date }
        }
        guard let endDate = observationEnd ?? maxDate else { return [] }
        let end = periodStart(of: endDate, period: period, calendar: calendar)
        let unit = Double(period == .week ? 7 : 1)

        // customer -> period start (in days) -> spend
        var byCustomer: [String: [Int: Int64]] = [:]
        for t in all where t.start <= end {
            byCustomer[t.id, default: [:]][t.start, default: 0] += t.amount
        }
        var result: [CustomerSummary] = []
        result.reserveCapacity(byCustomer.count)
        for (id, periods) in byCustomer {
            let starts = periods.keys.sorted()
            let first = starts.first!, last = starts.last!
            let repeats = starts.dropFirst()
            let monetary = repeats.isEmpty
                ? 0
                : Double(repeats.reduce(Int64(0)) { $0 + periods[$1]! }) / Double(repeats.count)
            result.append(CustomerSummary(
                customerId: id,
                frequency: Double(repeats.count),
                recency: Double(last - first) / unit,
                T: Double(end - first) / unit,
                monetaryValue: monetary))
        }
        result.sort { $0.customerId < $1.customerId }
        return result
    }

    /// The start of the period holding `date`, as a day number (days since 1970-01-01).
    static func periodStart(of date: Date, period: SummaryPeriod, calendar: Calendar) -> Int {
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        let day = daysFromCivil(year: c.year!, month: c.month!, day: c.day!)
        switch period {
        case .day:
            return day
        case .week:
            // 1970-01-01 was a Thursday; Monday = 0.
            let weekday = ((day + 3) % 7 + 7) % 7
            return day - weekday
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
