import GRDB
import LoyaltyScoring

/// Customer summaries read straight from `scoring_periods`, in one pass over its primary key.
///
/// The table already holds what `TransactionSummary.summarize` would compute first (spend per
/// customer and period, periods as day numbers), so the summaries follow from each customer's run
/// of rows: the first and last period, how many, and the sums of the repeat periods. Going through
/// `summarize` instead (rows boxed by name, turned into dated transactions, the periods found again
/// with a calendar, regrouped in dictionaries, sorted) cost 46 µs per customer: 2.3 s per fit
/// attempt with 50,000 customers, and attempts come every 50 purchases until a fit is accepted.
/// The results are the same, value for value (`PeriodSummariesTests`).
enum PeriodSummaries {
    /// Every customer's summary as of the period starting on day `end` (rows of later periods are
    /// left out), or one customer's; and the margin summaries of the customers whose every row has
    /// its margin known.
    static func read(_ db: Database, through end: Int64, customerId: String? = nil, period: SummaryPeriod) throws
        -> (spend: [CustomerSummary], margin: [String: CustomerSummary])
    {
        let statement: Statement
        let arguments: StatementArguments
        if let customerId {
            statement = try db.cachedStatement(sql: """
                SELECT customerId, periodStart, spend, margin, marginUnknown FROM scoring_periods
                WHERE customerId = ? AND periodStart <= ? ORDER BY periodStart
                """)
            arguments = [customerId, end]
        } else {
            // The primary key's order: no sort.
            statement = try db.cachedStatement(sql: """
                SELECT customerId, periodStart, spend, margin, marginUnknown FROM scoring_periods
                WHERE periodStart <= ? ORDER BY customerId, periodStart
                """)
            arguments = [end]
        }
        let unit = Double(period == .week ? 7 : 1)
        var spend: [CustomerSummary] = []
        var margin: [String: CustomerSummary] = [:]
        var current: Run?
        func close(_ run: Run) {
            spend.append(run.summary(end: end, unit: unit, repeatSum: run.repeatSpend))
            if !run.marginUnknown { margin[run.customerId] = run.summary(end: end, unit: unit, repeatSum: run.repeatMargin) }
        }
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try rows.next() {
            let id: String = row[0], start: Int64 = row[1], amount: Int64 = row[2], marginAmount: Int64 = row[3]
            let unknown = (row[4] as Int64) > 0
            if current?.customerId == id {
                current!.add(start: start, spend: amount, margin: marginAmount, marginUnknown: unknown)
            } else {
                if let run = current { close(run) }
                current = Run(customerId: id, first: start, marginUnknown: unknown)
            }
        }
        if let run = current { close(run) }
        // `summarize`'s order. SQLite's (bytes) is the same for ASCII ids, so this rarely sorts.
        if zip(spend, spend.dropFirst()).contains(where: { !($0.customerId < $1.customerId) }) {
            spend.sort { $0.customerId < $1.customerId }
        }
        return (spend, margin)
    }

    /// One customer's rows so far, in period order.
    private struct Run {
        let customerId: String
        let first: Int64
        var last: Int64
        var repeats = 0
        /// Spend and margin of the periods after the first: monetary value is their mean.
        var repeatSpend: Int64 = 0
        var repeatMargin: Int64 = 0
        var marginUnknown: Bool

        init(customerId: String, first: Int64, marginUnknown: Bool) {
            self.customerId = customerId
            self.first = first
            last = first
            self.marginUnknown = marginUnknown
        }

        mutating func add(start: Int64, spend: Int64, margin: Int64, marginUnknown unknown: Bool) {
            last = start
            repeats += 1
            repeatSpend &+= spend
            repeatMargin &+= margin
            marginUnknown = marginUnknown || unknown
        }

        func summary(end: Int64, unit: Double, repeatSum: Int64) -> CustomerSummary {
            CustomerSummary(customerId: customerId, frequency: Double(repeats), recency: Double(last - first) / unit,
                            T: Double(end - first) / unit, monetaryValue: repeats == 0 ? 0 : Double(repeatSum) / Double(repeats))
        }
    }
}
