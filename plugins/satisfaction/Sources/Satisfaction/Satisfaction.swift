import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// The satisfaction monitor: keeps every survey answer, each customer's visits and scores, and
/// raises the alerts of the `alerts:` rules — per answer (`kind: survey`, the default), NPS over
/// rolling windows per store and for the chain, detractor surges, churn risk of valuable
/// customers, the driver that weighs most on a store's detractors. An alert is raised once per
/// cause and followed by `alert.resolved` when the cause goes away.
///
/// Time is the events' time (the latest seen), never the wall clock, so a replay of the journal
/// into a fresh database raises the same alerts with the same ids. Windows are re-checked on
/// every answer for its store and the chain, and for all stores whenever the events' time has
/// moved an hour since the last sweep (answers age out of windows; customers stop coming).
public struct SatisfactionPlugin: LoyaltyPlugin {
    public static let raisedType = "alert.raised"
    public static let resolvedType = "alert.resolved"
    public static let scoredType = "customer.scored"
    /// How often, in event time, every store's windows and every customer's visit gap are re-checked.
    static let sweepEvery: Int64 = 3_600_000

    public let name = "satisfaction"
    public let topics: Set<String> = [EventType.survey, EventType.purchase, SatisfactionPlugin.scoredType]
    public let rules: LiveRules

    public init(rules: LiveRules = LiveRules()) {
        self.rules = rules
    }

    public var liveRules: LiveRules? { rules }

    public func registerMigrations(_ migrator: inout DatabaseMigrator) {
        Schema.register(&migrator)
    }

    public func apply(_ event: StoredEvent, in db: Database, emit: inout Emitter) throws {
        let book = rules.current
        let envelope = event.envelope
        let (previousNow, lastSweep) = try Self.clock(db)
        let now = max(previousNow, envelope.occurredAt.epochMilliseconds)
        var monitor = Monitor(db: db, book: book, now: now,
                              alerts: StandingAlerts(db: db, input: envelope, pluginName: name, rulesVersion: book.version))
        switch envelope.payload {
        case .survey(let survey):
            try monitor.answer(survey, eventId: envelope.eventId, at: envelope.occurredAt.epochMilliseconds, emit: &emit)
        case .purchase(let purchase):
            if let customerId = purchase.customerId {
                try monitor.visit(customerId: customerId, store: purchase.storeId, total: purchase.total,
                                  at: envelope.occurredAt.epochMilliseconds, emit: &emit)
            }
        case .derived(let payload) where envelope.type == Self.scoredType:
            try monitor.scored(payload, at: envelope.occurredAt.epochMilliseconds, emit: &emit)
        default:
            break
        }
        var swept = lastSweep
        if now - lastSweep >= Self.sweepEvery {
            try monitor.sweep(since: lastSweep, emit: &emit)
            swept = now
        }
        if now != previousNow || swept != lastSweep {
            try db.cachedStatement(sql: "UPDATE sat_clock SET now = ?, lastSweep = ? WHERE id = 1").execute(arguments: [now, swept])
        }
    }

    static func clock(_ db: Database) throws -> (now: Int64, lastSweep: Int64) {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT now, lastSweep FROM sat_clock WHERE id = 1")) else { return (0, 0) }
        return (row[0], row[1])
    }

    public var services: [String: ServiceHandler] {
        let rules = self.rules
        return [
            "satisfaction.report": { request, pool in try Report.handle(request.body, pool: pool, book: rules.current) },
            "satisfaction.alerts": { _, pool in try Report.standing(pool: pool) },
            "satisfaction.trend": { request, pool in try Trend.handle(request.body, pool: pool, timeZone: rules.current.timeZone) },
        ]
    }
}

/// The evaluation of one event against the alert rules.
struct Monitor {
    let db: Database
    let book: RuleBook
    /// The plugin's clock: the latest event time seen, this event included.
    let now: Int64
    let alerts: StandingAlerts

    private var watches: [AlertWatch] { book.alerts?.watches ?? [] }

    // MARK: survey answers

    mutating func answer(_ survey: Survey, eventId: String, at: Int64, emit: inout Emitter) throws {
        try db.cachedStatement(sql: """
            INSERT INTO sat_responses (eventId, storeId, customerId, at, nps, expectations, valueForMoney, serviceLevel, comment)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(eventId) DO NOTHING
            """).execute(arguments: [eventId, survey.storeId, survey.customerId, at, survey.nps, survey.drivers["expectations"],
                                     survey.drivers["valueForMoney"], survey.drivers["serviceLevel"], survey.comment])
        try surveyRules(survey, eventId: eventId, at: at, emit: &emit)
        if let customerId = survey.customerId {
            try db.cachedStatement(sql: """
                INSERT INTO sat_customers (customerId, lastNps, lastStore) VALUES (?, ?, ?)
                ON CONFLICT(customerId) DO UPDATE SET lastNps = excluded.lastNps
                """).execute(arguments: [customerId, survey.nps, survey.storeId])
        }
        for watch in watches {
            switch watch.kind {
            case .npsBelow, .npsDrop, .detractorSurge:
                if watch.coverage != .chain { try window(watch, store: survey.storeId, emit: &emit) }
                if watch.coverage != .stores { try window(watch, store: nil, emit: &emit) }
            case .topDriver:
                try topDriver(watch, store: survey.storeId, emit: &emit)
            case .churnRisk:
                break
            }
        }
    }

    /// `kind: survey` rules: each answer is checked on its own. The alert stands per customer
    /// (per store for anonymous answers) until that customer's (store's) next answer no longer
    /// meets the condition.
    private func surveyRules(_ survey: Survey, eventId: String, at: Int64, emit: inout Emitter) throws {
        guard let policy = book.alerts, !policy.rules.isEmpty else { return }
        let facts = Facts()
        var clock = book.makeClock()
        facts.clock = clock.facts(at: at)
        facts.load(survey: survey)
        if let customerId = survey.customerId {
            // The customer as known before this answer (lastNps is the previous answer).
            facts.customer = try customerFacts(customerId, today: facts.clock.day, at: at)
        }
        let raised = Set(policy.evaluate(facts).map(\.header.id))
        let subject = AlertSubject(storeId: survey.storeId, customerId: survey.customerId)
        for rule in policy.rules {
            if raised.contains(rule.header.id) {
                var details: JSONObject = ["nps": .int(Int64(survey.nps)), "surveyEventId": .string(eventId)]
                for driver in Driver.allCases { if let score = survey.drivers[driver.rawValue] { details[driver.rawValue] = .int(Int64(score)) } }
                if let comment = survey.comment { details["comment"] = .string(comment) }
                if survey.customerId != nil {
                    if facts.customer.clv.isFinite { details["clv"] = .double(facts.customer.clv) }
                    if facts.customer.clvPercentile.isFinite { details["clvPercentile"] = .double(facts.customer.clvPercentile) }
                    if facts.customer.pAlive.isFinite { details["pAlive"] = .double(facts.customer.pAlive) }
                }
                let who = survey.customerId.map { "customer \($0)" } ?? "an anonymous customer"
                let draft = AlertDraft(
                    ruleId: rule.header.id, kind: "survey", severity: rule.severity, subject: subject,
                    message: "\(rule.message) (\(who) at \(survey.storeId) scored \(survey.nps)\(survey.comment.map { ": \"\(Self.clip($0))\"" } ?? ""))",
                    action: rule.action ?? (survey.customerId != nil
                        ? "Call the customer back within 24 hours, listen, and put right what went wrong"
                        : "Read the answer with the store team and fix its cause"),
                    details: details)
                try alerts.ensure(draft, emit: &emit)
            } else {
                try alerts.clear(ruleId: rule.header.id, subject: subject,
                                 reason: "a later answer (\(survey.nps)) no longer meets the condition", emit: &emit)
            }
        }
    }

    static func clip(_ text: String) -> String {
        text.count <= 120 ? text : String(text.prefix(117)) + "..."
    }

    // MARK: windows

    /// NPS below a threshold, a drop against the window before, a surge of detractors: for one
    /// store, or the chain when `store` is nil.
    func window(_ watch: AlertWatch, store: String?, emit: inout Emitter) throws {
        let span = Int64(watch.window * 1000)
        let current = try NPSCount.count(store: store, from: now - span, to: now, in: db)
        let subject = AlertSubject(storeId: store, customerId: nil)
        let place = store.map { "store \($0)" } ?? "the chain"
        let windowText = durationText(watch.window)
        var details: JSONObject = ["window": .string(windowText), "responses": .int(Int64(current.responses)),
                                   "promoters": .int(Int64(current.promoters)), "detractors": .int(Int64(current.detractors))]
        if let nps = current.nps { details["nps"] = .double((nps * 10).rounded() / 10) }
        switch watch.kind {
        case .npsBelow:
            guard current.responses >= watch.minResponses, let nps = current.nps else {
                return try alerts.clear(ruleId: watch.header.id, subject: subject,
                                        reason: "fewer than \(watch.minResponses) answers in the last \(windowText)", emit: &emit)
            }
            guard nps < watch.below else {
                return try alerts.clear(ruleId: watch.header.id, subject: subject,
                                        reason: "NPS over \(windowText) is \(oneDecimal(nps)), not below \(oneDecimal(watch.below))", emit: &emit)
            }
            details["below"] = .double(watch.below)
            try alerts.ensure(AlertDraft(
                ruleId: watch.header.id, kind: watch.kind.rawValue, severity: watch.severity, subject: subject,
                message: "\(watch.message) (\(place): NPS \(oneDecimal(nps)) over \(windowText), \(current.responses) answers, below \(oneDecimal(watch.below)))",
                action: watch.action ?? "Read this period's detractor comments with the store team and agree on one fix this week",
                details: details), emit: &emit)
        case .npsDrop:
            let before = try NPSCount.count(store: store, from: now - 2 * span, to: now - span, in: db)
            guard current.responses >= watch.minResponses, before.responses >= watch.minResponses,
                  let nps = current.nps, let previous = before.nps else {
                return try alerts.clear(ruleId: watch.header.id, subject: subject,
                                        reason: "fewer than \(watch.minResponses) answers in the last \(windowText) or the \(windowText) before", emit: &emit)
            }
            guard previous - nps >= watch.drop else {
                return try alerts.clear(ruleId: watch.header.id, subject: subject,
                                        reason: "NPS over \(windowText) is \(oneDecimal(nps)) against \(oneDecimal(previous)) before", emit: &emit)
            }
            details["previousNps"] = .double((previous * 10).rounded() / 10)
            details["previousResponses"] = .int(Int64(before.responses))
            details["drop"] = .double(((previous - nps) * 10).rounded() / 10)
            try alerts.ensure(AlertDraft(
                ruleId: watch.header.id, kind: watch.kind.rawValue, severity: watch.severity, subject: subject,
                message: "\(watch.message) (\(place): NPS \(oneDecimal(nps)) over the last \(windowText), down \(oneDecimal(previous - nps)) from \(oneDecimal(previous)))",
                action: watch.action ?? "Find what changed at the store in this period (staff, stock, queues, prices) and undo it",
                details: details), emit: &emit)
        case .detractorSurge:
            let base = Int64(watch.baseline * 1000)
            let before = try NPSCount.count(store: store, from: now - span - base, to: now - span, in: db)
            let share = current.detractorShare ?? 0
            let baseShare = before.detractorShare
            let surging = current.detractors >= watch.minDetractors && (baseShare.map { share >= watch.factor * $0 && share > $0 } ?? true)
            guard surging else {
                return try alerts.clear(ruleId: watch.header.id, subject: subject,
                                        reason: "\(current.detractors) detractors in the last \(windowText), \(Int((share * 100).rounded()))% of answers", emit: &emit)
            }
            details["detractorShare"] = .double((share * 1000).rounded() / 1000)
            if let baseShare { details["baselineShare"] = .double((baseShare * 1000).rounded() / 1000) }
            let comparison = baseShare.map { " against \(Int(($0 * 100).rounded()))% over the \(durationText(watch.baseline)) before" } ?? ""
            try alerts.ensure(AlertDraft(
                ruleId: watch.header.id, kind: watch.kind.rawValue, severity: watch.severity, subject: subject,
                message: "\(watch.message) (\(place): \(current.detractors) detractors in \(windowText), \(Int((share * 100).rounded()))% of \(current.responses) answers\(comparison))",
                action: watch.action ?? "Go to the store today: something is going wrong now; read the comments and talk to the shift",
                details: details), emit: &emit)
        case .churnRisk, .topDriver:
            break
        }
    }

    /// The driver with the lowest average among the store's detractors over the window.
    func topDriver(_ watch: AlertWatch, store: String, emit: inout Emitter) throws {
        let span = Int64(watch.window * 1000)
        let averages = try DriverAverages.of(store: store, from: now - span, to: now, in: db)
        let subject = AlertSubject(storeId: store, customerId: nil)
        let windowText = durationText(watch.window)
        guard averages.detractors >= watch.minDetractors, let top = averages.top else {
            return try alerts.clear(ruleId: watch.header.id, subject: subject,
                                    reason: "fewer than \(watch.minDetractors) detractors with driver scores in the last \(windowText)", emit: &emit)
        }
        var details: JSONObject = ["window": .string(windowText), "detractors": .int(Int64(averages.detractors)),
                                   "driver": .string(top.driver.rawValue), "average": .double((top.average * 10).rounded() / 10)]
        for driver in Driver.allCases {
            if let (average, _) = averages.averages[driver] { details["average." + driver.rawValue] = .double((average * 10).rounded() / 10) }
        }
        try alerts.ensure(AlertDraft(
            ruleId: watch.header.id, kind: watch.kind.rawValue, severity: watch.severity, subject: subject,
            message: "\(watch.message) (store \(store): \(top.driver.label) weighs most on detractors, average \(oneDecimal(top.average)) of 10 from \(top.answers) of \(averages.detractors) detractors over \(windowText))",
            action: watch.action ?? "Make \(top.driver.label) this store's first improvement; brief the team on it",
            details: details, detail: top.driver.rawValue), emit: &emit)
    }

    // MARK: customers

    /// A purchase: one more visit. A customer who comes back is no longer at risk by their gap.
    func visit(customerId: String, store: String, total: Int64, at: Int64, emit: inout Emitter) throws {
        var clock = book.makeClock()
        let day = clock.facts(at: at).day
        try db.cachedStatement(sql: """
            INSERT INTO sat_customers (customerId, visits, spend, firstVisit, lastVisit, lastStore) VALUES (?, 1, ?, ?, ?, ?)
            ON CONFLICT(customerId) DO UPDATE SET visits = visits + 1, spend = spend + excluded.spend,
                firstVisit = MIN(COALESCE(firstVisit, excluded.firstVisit), excluded.firstVisit),
                lastVisit = MAX(COALESCE(lastVisit, excluded.lastVisit), excluded.lastVisit),
                lastStore = CASE WHEN lastVisit IS NULL OR excluded.lastVisit >= lastVisit THEN excluded.lastStore ELSE lastStore END
            """).execute(arguments: [customerId, total, at, at, store])
        try db.cachedStatement(sql: """
            INSERT INTO sat_customer_days (customerId, day, visits, spend) VALUES (?, ?, 1, ?)
            ON CONFLICT(customerId, day) DO UPDATE SET visits = visits + 1, spend = spend + excluded.spend
            """).execute(arguments: [customerId, day, total])
        let keep = max(book.usage.historyDays, 1)
        try db.cachedStatement(sql: "DELETE FROM sat_customer_days WHERE customerId = ? AND day <= ?").execute(arguments: [customerId, day - keep])
        for watch in watches where watch.kind == .churnRisk {
            if try alerts.standing("\(watch.header.id)@customer:\(customerId)") != nil {
                try churn(watch, customerId: customerId, emit: &emit)
            }
        }
    }

    /// A `customer.scored` event: new CLV, percentile and probability alive.
    func scored(_ payload: JSONObject, at: Int64, emit: inout Emitter) throws {
        guard case .string(let customerId)? = payload["customerId"] else { return }
        func number(_ key: String) -> Double? {
            switch payload[key] {
            case .int(let value)?: Double(value)
            case .double(let value)? where value.isFinite: value
            default: nil
            }
        }
        try db.cachedStatement(sql: """
            INSERT INTO sat_customers (customerId, clv, clvPercentile, pAlive, scoredAt) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(customerId) DO UPDATE SET clv = COALESCE(excluded.clv, clv),
                clvPercentile = COALESCE(excluded.clvPercentile, clvPercentile), pAlive = COALESCE(excluded.pAlive, pAlive),
                scoredAt = excluded.scoredAt
            """).execute(arguments: [customerId, number("clv"), number("clvPercentile"), number("pAlive"), at])
        for watch in watches where watch.kind == .churnRisk {
            try churn(watch, customerId: customerId, emit: &emit)
        }
    }

    /// Churn risk: a watched (e.g. valuable) customer whose probability alive is below the
    /// threshold, or whose time since the last visit is far beyond their usual gap.
    func churn(_ watch: AlertWatch, customerId: String, emit: inout Emitter) throws {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT visits, firstVisit, lastVisit, lastStore FROM sat_customers WHERE customerId = ?
            """), arguments: [customerId]) else { return }
        var clock = book.makeClock()
        let facts = Facts()
        facts.clock = clock.facts(at: now)
        facts.customer = try customerFacts(customerId, today: facts.clock.day, at: now)
        let store: String? = row[3]
        let subject = AlertSubject(storeId: store, customerId: customerId)
        let watched = watch.when?.evaluate(facts) ?? true
        var reasons: [String] = []
        var details: JSONObject = [:]
        if let threshold = watch.pAliveBelow, facts.customer.pAlive < threshold {
            reasons.append("probability alive \(Self.percent(facts.customer.pAlive)) is below \(Self.percent(threshold))")
            details["pAlive"] = .double(facts.customer.pAlive)
        }
        let visits: Int = row[0]
        if let factor = watch.gapFactor, visits >= watch.minVisits, let first = row[1] as Int64?, let last = row[2] as Int64? {
            let usual = Double(last - first) / Double(visits - 1)
            let since = Double(now - last)
            if usual > 0, since > factor * usual {
                reasons.append("no visit for \(Self.days(since)), against a usual \(Self.days(usual)) between visits")
                details["daysSinceLastVisit"] = .double((since / 86_400_000 * 10).rounded() / 10)
                details["usualGapDays"] = .double((usual / 86_400_000 * 10).rounded() / 10)
            }
        }
        guard watched, !reasons.isEmpty else {
            let reason = watched ? "the customer is no longer at risk (visits or score recovered)" : "the customer no longer matches the rule's condition"
            return try alerts.clear(ruleId: watch.header.id, subject: subject, reason: reason, emit: &emit)
        }
        if facts.customer.clv.isFinite { details["clv"] = .double(facts.customer.clv) }
        if facts.customer.clvPercentile.isFinite { details["clvPercentile"] = .double(facts.customer.clvPercentile) }
        details["visits"] = .int(Int64(visits))
        try alerts.ensure(AlertDraft(
            ruleId: watch.header.id, kind: watch.kind.rawValue, severity: watch.severity, subject: subject,
            message: "\(watch.message) (customer \(customerId)\(store.map { " of store \($0)" } ?? ""): \(reasons.joined(separator: "; ")))",
            action: watch.action ?? "Contact the customer personally with a win-back offer before they are gone",
            details: details), emit: &emit)
    }

    static func percent(_ value: Double) -> String { "\(Int((value * 100).rounded()))%" }
    static func days(_ milliseconds: Double) -> String {
        let days = milliseconds / 86_400_000
        return days >= 10 ? "\(Int(days.rounded())) days" : "\(oneDecimal(days)) days"
    }

    /// The customer as this plugin knows them: visits, spend, scores, last answer, visit history.
    /// Tier and points belong to the points plugin: they read as empty here.
    func customerFacts(_ customerId: String, today: Int, at: Int64) throws -> CustomerFacts {
        var customer = CustomerFacts()
        customer.id = customerId
        customer.known = true
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT visits, spend, firstVisit, lastVisit, lastNps, clv, clvPercentile, pAlive FROM sat_customers WHERE customerId = ?
            """), arguments: [customerId]) else { return customer }
        customer.visits = Double(row[0] as Int)
        customer.spend = Double(row[1] as Int64)
        if let first = row[2] as Int64? { customer.memberFor = Double(max(0, at - first)) / 1000 }
        if let last = row[3] as Int64? { customer.sinceLastVisit = Double(max(0, at - last)) / 1000 }
        customer.lastNps = (row[4] as Int?).map(Double.init) ?? .nan
        customer.clv = row[5] as Double? ?? .nan
        customer.clvPercentile = row[6] as Double? ?? .nan
        customer.pAlive = row[7] as Double? ?? .nan
        if book.usage.historyDays > 0 {
            let days = try Row.fetchAll(db.cachedStatement(sql: "SELECT day, visits, spend FROM sat_customer_days WHERE customerId = ? AND day > ? ORDER BY day"),
                                        arguments: [customerId, today - book.usage.historyDays])
            customer.history = VisitHistory(days: days.map { VisitHistory.Day(day: $0[0], visits: $0[1], spend: Double($0[2] as Int64)) })
        }
        return customer
    }

    // MARK: sweep

    /// Every hour of event time: windows of every store that answered lately or has an alert
    /// standing, and customers whose visit gap crossed a churn threshold since the last sweep.
    mutating func sweep(since lastSweep: Int64, emit: inout Emitter) throws {
        try alerts.resolveRetired(keeping: Set(book.ruleIds["alerts"] ?? []), emit: &emit)
        let windowWatches = watches.filter { $0.kind != .churnRisk }
        if !windowWatches.isEmpty {
            let reach = windowWatches.map { max(2 * $0.window, $0.window + $0.baseline) }.max()! * 1000
            var stores = Set(try Stores.answering(after: now - Int64(reach), in: db))
            stores.formUnion(try String.fetchAll(db, sql: "SELECT DISTINCT storeId FROM sat_alerts WHERE storeId IS NOT NULL AND customerId IS NULL"))
            for watch in windowWatches {
                for store in stores.sorted() {
                    if watch.kind == .topDriver { try topDriver(watch, store: store, emit: &emit) }
                    else if watch.coverage != .chain { try window(watch, store: store, emit: &emit) }
                }
                if watch.kind != .topDriver, watch.coverage != .stores { try window(watch, store: nil, emit: &emit) }
            }
        }
        for watch in watches where watch.kind == .churnRisk {
            var customers = Set(try alerts.standingKeys(ruleId: watch.header.id).compactMap(\.customerId))
            if let factor = watch.gapFactor {
                // Customers whose gap passed factor × their usual gap since the last sweep.
                customers.formUnion(try String.fetchAll(db.cachedStatement(sql: """
                    SELECT customerId FROM sat_customers
                    WHERE visits >= ? AND lastVisit > firstVisit
                      AND lastVisit + ? * (lastVisit - firstVisit) / (visits - 1.0) > ?
                      AND lastVisit + ? * (lastVisit - firstVisit) / (visits - 1.0) <= ?
                    """), arguments: [watch.minVisits, factor, lastSweep, factor, now]))
            }
            for customerId in customers.sorted() { try churn(watch, customerId: customerId, emit: &emit) }
        }
    }
}
