import Foundation
import GRDB
import Logging
import LoyaltyEvents
import LoyaltyScoring
import PluginRuntime

/// An event the plugin derives; `CustomerScoringPlugin.apply` hands each to the runtime's `Emitter`.
public struct ScoringEmission: Sendable, Equatable {
    public var type: String
    public var key: String
    public var payload: JSONObject
}

/// The `customer-scoring` plugin: per customer and purchase period, spend and margin maintained from
/// purchases and returns; BG/NBD and Gamma-Gamma refit inside `apply` (so a replay reproduces the same
/// fits), scores per customer, `customer.scored` when a score changes materially, and `customer.score`.
public struct CustomerScoringPlugin: LoyaltyPlugin {
    public let name = "customer-scoring"
    public let topics: Set<String> = [EventType.purchase, EventType.return]
    public static let scoredType = "customer.scored"
    public static let serviceName = "customer.score"
    public var settings: ScoringSettings
    /// Where to log; nil: the process's logging system, as `loyalty.plugin.customer-scoring`. Made
    /// when used, because the plugin is built before the launcher bootstraps logging.
    public var logger: Logger?

    public init(settings: ScoringSettings = ScoringSettings(), logger: Logger? = nil) {
        self.settings = settings
        self.logger = logger
    }

    private var log: Logger { logger ?? Logger(label: "loyalty.plugin.\(name)") }

    public func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("customer-scoring v1") { db in
            try db.execute(sql: """
                -- Spend and margin per customer and purchase period (periodStart: days since 1970-01-01 UTC of the period's first day).
                CREATE TABLE scoring_periods (
                    customerId TEXT NOT NULL,
                    periodStart INTEGER NOT NULL,
                    purchases INTEGER NOT NULL,
                    spend INTEGER NOT NULL,
                    margin INTEGER NOT NULL,
                    marginUnknown INTEGER NOT NULL,   -- purchases in the period with a line without margin
                    PRIMARY KEY (customerId, periodStart)
                ) WITHOUT ROWID;
                -- Each applied purchase, so that a return finds the period it belongs to.
                CREATE TABLE scoring_purchases (
                    eventId TEXT PRIMARY KEY,
                    customerId TEXT NOT NULL,
                    periodStart INTEGER NOT NULL,
                    amount INTEGER NOT NULL,
                    margin INTEGER,                   -- NULL when a line has no margin
                    returned INTEGER NOT NULL DEFAULT 0
                ) WITHOUT ROWID;
                CREATE TABLE scoring_state (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    purchasesApplied INTEGER NOT NULL,
                    customers INTEGER NOT NULL,
                    lastFitAttempt INTEGER,           -- purchasesApplied at the last attempt
                    currentFitSeq INTEGER             -- scoring_fits.fitSeq in force
                );
                INSERT INTO scoring_state (id, purchasesApplied, customers) VALUES (1, 0, 0);
                CREATE TABLE scoring_fits (
                    fitSeq INTEGER PRIMARY KEY,       -- journal seq of the event whose apply refit the model
                    observedAt TEXT NOT NULL,         -- that event's occurredAt: the observation end
                    period TEXT NOT NULL,
                    purchasesApplied INTEGER NOT NULL,
                    customers INTEGER NOT NULL,
                    r REAL NOT NULL, alpha REAL NOT NULL, a REAL NOT NULL, b REAL NOT NULL,
                    bgLogLikelihood REAL NOT NULL,
                    ggP REAL NOT NULL, ggQ REAL NOT NULL, ggV REAL NOT NULL,
                    ggLogLikelihood REAL NOT NULL, ggCustomers INTEGER NOT NULL,
                    marginP REAL, marginQ REAL, marginV REAL,
                    marginLogLikelihood REAL, marginCustomers INTEGER,
                    -- The population's rank boundaries at this fit (RankCuts): between refits a customer
                    -- is ranked against them, in O(log n) and without reading anyone else's score.
                    clvCuts BLOB NOT NULL, recencyCuts BLOB NOT NULL, frequencyCuts BLOB NOT NULL, monetaryCuts BLOB NOT NULL
                );
                -- Fits refused (did not converge, or degenerate: see FitGate); the fit in force stays.
                CREATE TABLE scoring_fit_failures (seq INTEGER PRIMARY KEY, purchasesApplied INTEGER NOT NULL, error TEXT NOT NULL);
                CREATE TABLE scoring_scores (
                    customerId TEXT PRIMARY KEY,
                    fitSeq INTEGER NOT NULL,
                    scoredSeq INTEGER NOT NULL,
                    observedAt TEXT NOT NULL,
                    frequency REAL NOT NULL, recency REAL NOT NULL, T REAL NOT NULL, monetaryValue REAL NOT NULL,
                    pAlive REAL NOT NULL,
                    expectedPurchases REAL NOT NULL,  -- next 26 weeks
                    expectedAverageSpend REAL NOT NULL,
                    clvValue REAL NOT NULL,
                    clv INTEGER NOT NULL,             -- minor units, 12 months at 1 %/month
                    profitClv INTEGER,                -- same on margin; NULL when margins are not known
                    clvPercentile INTEGER NOT NULL,
                    rfm TEXT NOT NULL,
                    segment TEXT NOT NULL,
                    emittedPAlive REAL, emittedPercentile INTEGER, emittedSegment TEXT
                ) WITHOUT ROWID;
                CREATE INDEX scoring_scores_clv ON scoring_scores (clvValue);
                """)
        }
        migrator.registerMigration("customer-scoring v2 refusals in a row") { db in
            // Attempts refused after the optimiser ran, since the last accepted fit: each one
            // doubles the spacing of the next attempt (`refitBackoffLimit`).
            try db.execute(sql: "ALTER TABLE scoring_state ADD COLUMN refusedInARow INTEGER NOT NULL DEFAULT 0")
        }
    }

    public func apply(_ event: StoredEvent, in db: Database, emit: inout Emitter) throws {
        for emission in try applyEvent(event, in: db) {
            emit.emit(type: emission.type, key: emission.key, payload: emission.payload)
        }
    }

    /// The whole effect of one event on the database, and the events to emit. Deterministic:
    /// it depends only on the database and the event, never on the clock.
    public func applyEvent(_ event: StoredEvent, in db: Database) throws -> [ScoringEmission] {
        switch event.envelope.payload {
        case .purchase(let purchase):
            return try applyPurchase(purchase, event: event, in: db)
        case .return(let returned):
            return try applyReturn(returned, event: event, in: db)
        default:
            return []
        }
    }

    // MARK: - State maintenance

    /// Day number (days since 1970-01-01 UTC) of the first day of the period holding `time`.
    func periodStart(_ time: Timestamp) -> Int64 {
        let ms = time.epochMilliseconds
        let day = ms >= 0 ? ms / 86_400_000 : -((-ms + 86_399_999) / 86_400_000)
        switch settings.period {
        case .day: return day
        case .week:
            let weekday = ((day + 3) % 7 + 7) % 7  // 1970-01-01 was a Thursday; Monday = 0
            return day - weekday
        }
    }

    private func applyPurchase(_ purchase: Purchase, event: StoredEvent, in db: Database) throws -> [ScoringEmission] {
        guard let customerId = purchase.customerId else { return [] }  // anonymous: not scored
        let period = periodStart(event.envelope.occurredAt)
        var margin: Int64? = 0
        for line in purchase.lines {
            guard let m = line.margin, let current = margin else { margin = nil; break }
            let (product, o1) = m.multipliedReportingOverflow(by: line.quantity)
            let (sum, o2) = current.addingReportingOverflow(product)
            margin = (o1 || o2) ? nil : sum
        }
        // Margin of the receipt discount is taken off the margin, as it is off the spend.
        if let m = margin { margin = m - purchase.discount }

        try db.cachedStatement(sql: """
            INSERT INTO scoring_purchases (eventId, customerId, periodStart, amount, margin) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(eventId) DO NOTHING
            """).execute(arguments: [event.envelope.eventId, customerId, period, purchase.total, margin])
        guard db.changesCount == 1 else { return [] }  // the same purchase twice: applied once

        let isNewCustomer = try Int64.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM scoring_periods WHERE customerId = ? LIMIT 1"),
                                               arguments: [customerId]) == nil
        try db.cachedStatement(sql: """
            INSERT INTO scoring_periods (customerId, periodStart, purchases, spend, margin, marginUnknown) VALUES (?, ?, 1, ?, ?, ?)
            ON CONFLICT(customerId, periodStart) DO UPDATE SET purchases = purchases + 1, spend = spend + excluded.spend,
                margin = margin + excluded.margin, marginUnknown = marginUnknown + excluded.marginUnknown
            """).execute(arguments: [customerId, period, purchase.total, margin ?? 0, margin == nil ? 1 : 0])
        try db.cachedStatement(sql: "UPDATE scoring_state SET purchasesApplied = purchasesApplied + 1, customers = customers + ? WHERE id = 1")
            .execute(arguments: [isNewCustomer ? 1 : 0])

        let state = try State.fetch(db)
        if isRefitDue(state), let emissions = try refit(event: event, state: state, in: db) {
            return emissions
        }
        return try rescore(customerId: customerId, event: event, in: db)
    }

    /// Whether this purchase is the time to attempt a fit.
    ///
    /// An attempt reads and scores every customer: spaced in proportion to them, its cost per
    /// purchase stays the same however large the chain grows. Each attempt refused after the
    /// optimiser ran doubles the spacing, up to `refitBackoffLimit` times: on data the models
    /// cannot describe (everyone buying alike: the likelihood has no finite optimum, and the
    /// optimiser searches the ridge for seconds before giving up) the plugin would otherwise
    /// spend most of its time on fits it refuses, and fall behind the tills.
    func isRefitDue(_ state: State) -> Bool {
        let sinceAttempt = Double(state.purchasesApplied - (state.lastFitAttempt ?? 0))
        let spacing = settings.refitPurchasesPerCustomer * Double(state.customers)
        let backoff = Double(settings.refitBackoff(afterRefusals: state.refusedInARow))
        if state.purchasesApplied % Int64(settings.refitEvery) == 0,
           sinceAttempt >= max(spacing, backoff > 1 ? Double(settings.refitEvery) : 0) * backoff {
            return true
        }
        // Before the first fit, retries come sooner than `refitEvery`.
        guard state.currentFitSeq == nil, state.customers >= Int64(settings.minimumCustomersForFirstFit) else { return false }
        let retry = state.lastFitAttempt == nil ? 0 : Double(settings.firstFitRetryEvery)
        return sinceAttempt >= max(spacing, retry) * backoff
    }

    private func applyReturn(_ returned: Return, event: StoredEvent, in db: Database) throws -> [ScoringEmission] {
        guard let original = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT customerId, periodStart, amount, margin, returned FROM scoring_purchases WHERE eventId = ?
            """), arguments: [returned.originalEventId]) else {
            return []  // a return of an anonymous or unknown purchase: nothing to correct
        }
        let customerId: String = original["customerId"]
        let period: Int64 = original["periodStart"]
        let amount: Int64 = original["amount"]
        let alreadyReturned: Int64 = original["returned"]
        let marginOfPurchase: Int64? = original["margin"]
        // Never more than what is left of the purchase.
        let refund = max(0, min(returned.total, amount - alreadyReturned))
        guard refund > 0 else { return [] }
        // The margin goes back in proportion to the amount refunded.
        let marginBack: Int64 = marginOfPurchase.map { m in
            amount > 0 ? Int64((Double(m) * Double(refund) / Double(amount)).rounded()) : 0
        } ?? 0
        try db.cachedStatement(sql: "UPDATE scoring_purchases SET returned = returned + ? WHERE eventId = ?")
            .execute(arguments: [refund, returned.originalEventId])
        try db.cachedStatement(sql: "UPDATE scoring_periods SET spend = spend - ?, margin = margin - ? WHERE customerId = ? AND periodStart = ?")
            .execute(arguments: [refund, marginBack, customerId, period])
        return try rescore(customerId: customerId, event: event, in: db)
    }

    struct State {
        var purchasesApplied: Int64
        var customers: Int64
        var lastFitAttempt: Int64?
        var currentFitSeq: Int64?
        /// Attempts refused after the optimiser ran, since the last accepted fit.
        var refusedInARow: Int = 0

        static func fetch(_ db: Database) throws -> State {
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM scoring_state WHERE id = 1")) else {
                throw ScoringStateError(message: "scoring_state has no row: the database was not created by this plugin's migrations")
            }
            return State(purchasesApplied: row["purchasesApplied"], customers: row["customers"],
                         lastFitAttempt: row["lastFitAttempt"], currentFitSeq: row["currentFitSeq"], refusedInARow: row["refusedInARow"])
        }
    }

    // MARK: - Summaries

    /// Every customer's summary (spend, and margin for customers whose margins are all known), at the
    /// event's time, with the definitions of `TransactionSummary.summarize`.
    func summaries(at event: StoredEvent, customerId: String? = nil, in db: Database)
        throws -> (spend: [CustomerSummary], margin: [String: CustomerSummary])
    {
        try PeriodSummaries.read(db, through: periodStart(event.envelope.occurredAt), customerId: customerId, period: settings.period)
    }

    // MARK: - Fits

    struct Fit {
        var fitSeq: Int64
        var purchases: BetaGeoParameters
        var spend: GammaGammaParameters
        var margin: GammaGammaParameters?
        var cuts: RankCuts

        static func fetch(_ db: Database, fitSeq: Int64) throws -> Fit? {
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM scoring_fits WHERE fitSeq = ?"), arguments: [fitSeq])
            else { return nil }
            func cuts(_ column: String) throws -> [Double] {
                guard let data: Data = row[column] else {
                    throw ScoringStateError(message: "scoring_fits.\(column) is NULL for fit \(fitSeq)")
                }
                return try RankCuts.decode(data, column: column)
            }
            var margin: GammaGammaParameters?
            if let p: Double = row["marginP"], let q: Double = row["marginQ"], let v: Double = row["marginV"] {
                margin = GammaGammaParameters(p: p, q: q, v: v)
            }
            return Fit(fitSeq: fitSeq, purchases: BetaGeoParameters(r: row["r"], alpha: row["alpha"], a: row["a"], b: row["b"]),
                       spend: GammaGammaParameters(p: row["ggP"], q: row["ggQ"], v: row["ggV"]), margin: margin,
                       cuts: RankCuts(clv: try cuts("clvCuts"), recency: try cuts("recencyCuts"),
                                      frequency: try cuts("frequencyCuts"), monetary: try cuts("monetaryCuts")))
        }
    }

    /// Gamma-Gamma on the repeat customers with a positive mean; nil when it cannot be fitted
    /// (too few customers, no convergence, or q ≤ 1: no finite population mean).
    static func fitSpend(_ data: [CustomerSummary]) -> Result<GammaGammaFit, any Error> {
        let repeaters = data.filter { $0.frequency > 0 && $0.monetaryValue > 0 }
        guard repeaters.count >= 2 else { return .failure(ScoringError.invalidInput("\(repeaters.count) repeat customers with positive spend")) }
        do {
            let fit = try GammaGamma.fit(repeaters)
            guard fit.parameters.q > 1 else { return .failure(ScoringError.invalidInput("Gamma-Gamma q = \(fit.parameters.q) ≤ 1")) }
            return .success(fit)
        } catch {
            return .failure(error)
        }
    }

    /// Gamma-Gamma on margins. The model is scale-equivariant (fitting k·m gives p, q, k·v), so the
    /// margins are scaled to the spend's mean first: the optimizer then starts from the same ground
    /// as the spend fit, which it reaches reliably. Nil when there is no usable fit.
    static func fitMargin(_ data: [CustomerSummary], like spend: [CustomerSummary]) -> GammaGammaFit? {
        let usable = data.filter { $0.frequency > 0 && $0.monetaryValue > 0 }
        let spendUsable = spend.filter { $0.frequency > 0 && $0.monetaryValue > 0 }
        guard !usable.isEmpty, !spendUsable.isEmpty else { return nil }
        let marginMean = usable.map(\.monetaryValue).reduce(0, +) / Double(usable.count)
        let spendMean = spendUsable.map(\.monetaryValue).reduce(0, +) / Double(spendUsable.count)
        let k = spendMean / marginMean
        guard k.isFinite, k > 0 else { return nil }
        let scaled = usable.map { var c = $0; c.monetaryValue *= k; return c }
        guard var fit = try? fitSpend(scaled).get() else { return nil }
        fit.parameters.v /= k
        fit.logLikelihood = GammaGamma.logLikelihood(fit.parameters, usable)
        return fit
    }

    /// Refits both models at this event and rescores everyone. Nil when the fit fails or is refused
    /// as degenerate (recorded in `scoring_fit_failures` and logged): the fit in force stays.
    private func refit(event: StoredEvent, state: State, in db: Database) throws -> [ScoringEmission]? {
        try db.execute(sql: "UPDATE scoring_state SET lastFitAttempt = purchasesApplied WHERE id = 1")
        let (spend, margin) = try summaries(at: event, in: db)
        let fit: Fit
        let purchaseFit: BetaGeoFit
        let spendFit: GammaGammaFit
        let marginFit: GammaGammaFit?
        var scores: [Score]
        do {
            try FitGate.checkHistory(spend, settings: settings)
            purchaseFit = try BetaGeo.fit(spend)
            try FitGate.checkPurchases(purchaseFit, longestHistory: spend.map(\.T).max() ?? 1)
            spendFit = try Self.fitSpend(spend).get()
            let repeaters = spend.filter { $0.frequency > 0 && $0.monetaryValue > 0 }
            try FitGate.checkSpend(spendFit, meanSpend: repeaters.map(\.monetaryValue).reduce(0, +) / Double(max(1, repeaters.count)))
            // The margin model is optional: a degenerate one is dropped, not a reason to refuse the rest.
            let margins = Array(margin.values).sorted { $0.customerId < $1.customerId }
            let marginRepeaters = margins.filter { $0.frequency > 0 && $0.monetaryValue > 0 }
            let meanMargin = marginRepeaters.map(\.monetaryValue).reduce(0, +) / Double(max(1, marginRepeaters.count))
            marginFit = Self.fitMargin(margins, like: spend).flatMap { candidate in
                (try? FitGate.checkSpend(candidate, meanSpend: meanMargin)).map { candidate }
            }
            let draft = Fit(fitSeq: event.seq, purchases: purchaseFit.parameters, spend: spendFit.parameters, margin: marginFit?.parameters,
                            cuts: RankCuts(clv: [], recency: [], frequency: [], monetary: []))
            let forecasts = Forecasts()
            scores = spend.map { score($0, margin: margin[$0.customerId], fit: draft, forecasts: forecasts) }
            try FitGate.checkScores(scores, purchases: draft.purchases, horizon: settings.expectedPurchasesHorizon)
            fit = Fit(fitSeq: event.seq, purchases: draft.purchases, spend: draft.spend, margin: draft.margin,
                      cuts: RankCuts(clvValues: scores.map(\.clvValue), summaries: spend))
        } catch {
            let kept = state.currentFitSeq.map { "the fit of seq \($0) stays in force" } ?? "no customer is scored until a fit is accepted"
            let shortHistory = (error as? FitRefusal)?.isShortHistory == true, fitInForce = state.currentFitSeq != nil
            var spacing = ""
            if !shortHistory {
                // Too little history is checked before any fitting, cheaply, and goes away with
                // time; a refusal after the optimiser ran spaces the next attempt further.
                try db.execute(sql: "UPDATE scoring_state SET refusedInARow = refusedInARow + 1 WHERE id = 1")
                let backoff = settings.refitBackoff(afterRefusals: state.refusedInARow + 1)
                if backoff > 1 { spacing = "; \(state.refusedInARow + 1) refused in a row, so the next attempt waits \(backoff) times as long (refitBackoffLimit)" }
            }
            let message: Logger.Message = "model refit refused at seq \(event.seq) (\(state.purchasesApplied) purchases, \(spend.count) customers): \(error); \(kept)\(spacing)"
            let earlier = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM scoring_fit_failures") ?? 0
            let level = RefusalLogging.level(earlierRefusals: earlier, shortHistory: shortHistory, fitInForce: fitInForce)
            let counted = level != .debug && RefusalLogging.isThrottled(shortHistory: shortHistory, fitInForce: fitInForce)
            log.log(level: level, counted ? "\(message) (refusal \(earlier + 1); only every \(RefusalLogging.every)th is logged at this level, the others at debug)" : message)
            try db.execute(sql: "INSERT OR REPLACE INTO scoring_fit_failures (seq, purchasesApplied, error) VALUES (?, ?, ?)",
                           arguments: [event.seq, state.purchasesApplied, String(describing: error)])
            return nil
        }
        let bg = fit.purchases, gg = fit.spend, mg = fit.margin
        try db.execute(sql: """
            INSERT OR REPLACE INTO scoring_fits (fitSeq, observedAt, period, purchasesApplied, customers, r, alpha, a, b, bgLogLikelihood,
                ggP, ggQ, ggV, ggLogLikelihood, ggCustomers, marginP, marginQ, marginV, marginLogLikelihood, marginCustomers,
                clvCuts, recencyCuts, frequencyCuts, monetaryCuts)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [event.seq, event.envelope.occurredAt.rfc3339, settings.period.rawValue, state.purchasesApplied, purchaseFit.customers,
                             bg.r, bg.alpha, bg.a, bg.b, purchaseFit.logLikelihood,
                             gg.p, gg.q, gg.v, spendFit.logLikelihood, spendFit.customers,
                             mg?.p, mg?.q, mg?.v, marginFit?.logLikelihood, marginFit?.customers,
                             RankCuts.encode(fit.cuts.clv), RankCuts.encode(fit.cuts.recency),
                             RankCuts.encode(fit.cuts.frequency), RankCuts.encode(fit.cuts.monetary)])
        try db.execute(sql: "UPDATE scoring_state SET currentFitSeq = ?, refusedInARow = 0 WHERE id = 1", arguments: [event.seq])

        // Population ranks (CLV percentile, RFM quintiles) from the full sorted lists.
        let clvs = scores.map(\.clvValue).sorted()
        for i in scores.indices {
            scores[i].clvPercentile = Self.percentile(below: Self.countBelow(scores[i].clvValue, in: clvs), of: clvs.count)
        }
        for (i, rfm) in RFM.score(spend).enumerated() {  // same order as `spend`
            precondition(scores[i].customerId == rfm.customerId)
            scores[i].rfm = rfm.code
            scores[i].segment = rfm.segment
        }
        var emissions: [ScoringEmission] = []
        for score in scores {
            if let emission = try store(score, event: event, in: db) { emissions.append(emission) }
        }
        return emissions
    }

    // MARK: - Scores

    struct Score {
        var customerId: String
        var summary: CustomerSummary
        var fitSeq: Int64
        var pAlive: Double
        var expectedPurchases: Double
        var expectedAverageSpend: Double
        var clvValue: Double
        var profitClv: Double?
        var clvPercentile = 0
        var rfm = "111"
        var segment = RFMSegment.needsAttention

        var clv: Int64 { Int64(clvValue.rounded()) }

        /// Numbers in their ranges: what may be stored and published. Tiny negative values are
        /// rounding in the difference of two expectations.
        var isValid: Bool {
            (0...1).contains(pAlive) && expectedPurchases.isFinite && expectedPurchases >= -1e-9
                && clvValue.isFinite && clvValue >= -1e-6 && clvValue < 9e18 && expectedAverageSpend.isFinite
                && (profitClv.map { $0.isFinite && abs($0) < 9e18 } ?? true)
        }
    }

    func score(_ c: CustomerSummary, margin: CustomerSummary?, fit: Fit, forecasts: Forecasts = Forecasts()) -> Score {
        let s = settings
        let forecast = forecasts.of(c) {
            Forecast(pAlive: BetaGeo.probabilityAlive(fit.purchases, frequency: c.frequency, recency: c.recency, T: c.T),
                     expected: BetaGeo.conditionalExpectedPurchases(fit.purchases, t: s.expectedPurchasesHorizon,
                                                                    frequency: c.frequency, recency: c.recency, T: c.T),
                     discounted: GammaGamma.discountedExpectedPurchases(fit.purchases, customer: c, months: s.clvMonths,
                                                                        monthlyDiscountRate: s.monthlyDiscountRate, period: s.clvPeriod))
        }
        let averageSpend = GammaGamma.conditionalExpectedAverageSpend(fit.spend, frequency: c.frequency, monetaryValue: c.monetaryValue)
        let clv = averageSpend * forecast.discounted
        var profit: Double?
        if let marginModel = fit.margin, let m = margin {
            // The margin summary has the customer's periods, so the same purchases ahead.
            profit = GammaGamma.conditionalExpectedAverageSpend(marginModel, frequency: m.frequency, monetaryValue: m.monetaryValue)
                * forecast.discounted
        }
        return Score(customerId: c.customerId, summary: c, fitSeq: fit.fitSeq, pAlive: forecast.pAlive, expectedPurchases: forecast.expected,
                     expectedAverageSpend: averageSpend, clvValue: clv, profitClv: profit)
    }

    /// What BG/NBD says of a customer's purchases ahead. It depends on frequency, recency and T
    /// only, and customers share those (whole periods): a refit of 50,000 customers spent most of
    /// its scoring time in the 14 hypergeometric series per customer that this computes.
    struct Forecast {
        var pAlive: Double
        var expected: Double
        /// Expected purchases in each of the CLV's months, discounted (`discountedExpectedPurchases`).
        var discounted: Double
    }

    /// Forecasts computed so far under one fit.
    final class Forecasts {
        private struct Key: Hashable {
            var frequency: Double, recency: Double, T: Double
        }
        private var known: [Key: Forecast] = [:]

        func of(_ c: CustomerSummary, compute: () -> Forecast) -> Forecast {
            let key = Key(frequency: c.frequency, recency: c.recency, T: c.T)
            if let forecast = known[key] { return forecast }
            let forecast = compute()
            known[key] = forecast
            return forecast
        }
    }

    static func countBelow(_ value: Double, in sorted: [Double]) -> Int {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Share of customers with a strictly smaller CLV, in whole percent (0–99); ties share a percentile.
    static func percentile(below: Int, of n: Int) -> Int { n == 0 ? 0 : (100 * below) / n }

    /// One customer's scores after a purchase or return of theirs, with the fit in force. Between
    /// refits the customer is ranked (CLV percentile, RFM quintiles) against the population as it was
    /// at that fit (its `RankCuts`); everyone is re-ranked at the next refit.
    private func rescore(customerId: String, event: StoredEvent, in db: Database) throws -> [ScoringEmission] {
        guard let fitSeq = try State.fetch(db).currentFitSeq, let fit = try Fit.fetch(db, fitSeq: fitSeq) else { return [] }
        let (spend, margin) = try summaries(at: event, customerId: customerId, in: db)
        guard let summary = spend.first else { return [] }
        var score = score(summary, margin: margin[customerId], fit: fit)
        // The fit in force was checked on everyone at its time; a history it never saw (much longer
        // since) could still be out of its reach. The previous score then stays, as the fit does.
        guard score.isValid else {
            log.warning(
                "customer \(customerId) not rescored at seq \(event.seq): the fit of seq \(fitSeq) gives pAlive=\(score.pAlive), clv=\(score.clvValue)")
            return []
        }
        score.clvPercentile = fit.cuts.clvPercentile(score.clvValue)
        let (r, f, m) = fit.cuts.rfm(summary)
        score.rfm = "\(r)\(f)\(m)"
        score.segment = RFM.segment(r: r, f: f, m: m)
        return try store(score, event: event, in: db).map { [$0] } ?? []
    }

    /// Writes the score; returns the `customer.scored` event when it changed materially since the
    /// last one emitted for this customer (or none was).
    private func store(_ score: Score, event: StoredEvent, in db: Database) throws -> ScoringEmission? {
        let previous = try Row.fetchOne(db.cachedStatement(sql: "SELECT emittedPAlive, emittedPercentile, emittedSegment FROM scoring_scores WHERE customerId = ?"),
                                        arguments: [score.customerId])
        let lastPAlive: Double? = previous?["emittedPAlive"]
        let lastPercentile: Int? = previous?["emittedPercentile"]
        let lastSegment: String? = previous?["emittedSegment"]
        let material: Bool
        if let lastPAlive, let lastPercentile, let lastSegment {
            material = abs(score.pAlive - lastPAlive) >= settings.pAliveChange - 1e-12
                || abs(score.clvPercentile - lastPercentile) >= settings.percentileChange
                || score.segment.rawValue != lastSegment
        } else {
            material = true
        }
        let c = score.summary
        try db.cachedStatement(sql: """
            INSERT INTO scoring_scores (customerId, fitSeq, scoredSeq, observedAt, frequency, recency, T, monetaryValue, pAlive,
                expectedPurchases, expectedAverageSpend, clvValue, clv, profitClv, clvPercentile, rfm, segment,
                emittedPAlive, emittedPercentile, emittedSegment)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(customerId) DO UPDATE SET fitSeq = excluded.fitSeq, scoredSeq = excluded.scoredSeq, observedAt = excluded.observedAt,
                frequency = excluded.frequency, recency = excluded.recency, T = excluded.T, monetaryValue = excluded.monetaryValue,
                pAlive = excluded.pAlive, expectedPurchases = excluded.expectedPurchases, expectedAverageSpend = excluded.expectedAverageSpend,
                clvValue = excluded.clvValue, clv = excluded.clv, profitClv = excluded.profitClv, clvPercentile = excluded.clvPercentile,
                rfm = excluded.rfm, segment = excluded.segment,
                emittedPAlive = excluded.emittedPAlive, emittedPercentile = excluded.emittedPercentile, emittedSegment = excluded.emittedSegment
            """).execute(arguments: [score.customerId, score.fitSeq, event.seq, event.envelope.occurredAt.rfc3339,
                             c.frequency, c.recency, c.T, c.monetaryValue, score.pAlive,
                             score.expectedPurchases, score.expectedAverageSpend, score.clvValue, score.clv,
                             score.profitClv.map { Int64($0.rounded()) }, score.clvPercentile, score.rfm, score.segment.rawValue,
                             material ? score.pAlive : lastPAlive, material ? score.clvPercentile : lastPercentile,
                             material ? score.segment.rawValue : lastSegment])
        guard material else { return nil }
        var payload: JSONObject = [
            "customerId": .string(score.customerId),
            "clv": .int(score.clv),
            "clvPercentile": .int(Int64(score.clvPercentile)),
            "pAlive": .double(Self.rounded(score.pAlive)),
            "expectedPurchases": .double(Self.rounded(score.expectedPurchases)),
            "segment": .string(score.segment.rawValue),
            "rfm": .string(score.rfm),
            "modelFitSeq": .int(score.fitSeq),
            "rulesVersion": .string("\(name)/fit-\(score.fitSeq)"),
        ]
        if let profit = score.profitClv { payload["profitClv"] = .int(Int64(profit.rounded())) }
        return ScoringEmission(type: Self.scoredType, key: "scored/\(score.customerId)/\(score.fitSeq)", payload: payload)
    }

    static func rounded(_ x: Double) -> Double { (x * 1e6).rounded() / 1e6 }

    // MARK: - Service

    public var services: [String: ServiceHandler] {
        [Self.serviceName: { request, pool in try Self.handle(request.body, pool: pool) }]
    }

    /// `customer.score`: `{"customerId":"C000042"}` → the customer's scores, or an error naming them.
    public static func handle(_ body: [UInt8], pool: DatabasePool) throws -> ServiceResponse {
        guard case .object(let query)? = try? JSONParser.parse(body),
              case .string(let customerId)? = query["customerId"] else {
            return .error("expected a JSON object with \"customerId\", e.g. {\"customerId\":\"C000042\"}")
        }
        return try pool.read { db in try answer(customerId: customerId, in: db) }
    }

    /// The answer of `customer.score`, also used by tests.
    public static func answer(customerId: String, in db: Database) throws -> ServiceResponse {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT s.*, f.observedAt AS fittedAt, f.customers AS fitCustomers, f.bgLogLikelihood
            FROM scoring_scores s JOIN scoring_fits f ON f.fitSeq = s.fitSeq WHERE s.customerId = ?
            """, arguments: [customerId]) else {
            let periods = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM scoring_periods WHERE customerId = ?", arguments: [customerId]) ?? 0
            if periods > 0 {
                let customers = try Int.fetchOne(db, sql: "SELECT customers FROM scoring_state WHERE id = 1") ?? 0
                return .error("customer '\(customerId)' has purchases but no score yet: the model has not been fitted (\(customers) customers so far)")
            }
            return .error("unknown customer '\(customerId)': no purchase of theirs has been applied")
        }
        var answer: JSONObject = [
            "customerId": .string(customerId),
            "pAlive": .double(rounded(row["pAlive"])),
            "expectedPurchases26Weeks": .double(rounded(row["expectedPurchases"])),
            "expectedAverageSpend": .int(Int64((row["expectedAverageSpend"] as Double).rounded())),
            "clv": .int(row["clv"]),
            "clvPercentile": .int(row["clvPercentile"]),
            "rfm": .string(row["rfm"]),
            "segment": .string(row["segment"]),
            "frequency": .double(row["frequency"]),
            "recency": .double(row["recency"]),
            "T": .double(row["T"]),
            "monetaryValue": .double(rounded(row["monetaryValue"])),
            "scoredAt": .string(row["observedAt"]),
            "scoredSeq": .int(row["scoredSeq"]),
            "modelFitSeq": .int(row["fitSeq"]),
            "modelFittedAt": .string(row["fittedAt"]),
            "modelCustomers": .int(row["fitCustomers"]),
        ]
        if let profit: Int64 = row["profitClv"] { answer["profitClv"] = .int(profit) }
        return .ok(JSONWriter.serialize(.object(answer)))
    }
}
