import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// Earns points on purchases, as the `earning:` section of the rule files says, into a ledger
/// of lots: one lot per purchase, with the rules that made it, the rules version, when it
/// becomes spendable (after the return window) and when it expires.
///
/// Not built yet (issue 4): returns taking points back, redemption, expiry events.
struct PointsAccrual: LoyaltyPlugin {
    let name = "points-accrual"
    let topics: Set<String> = [EventType.purchase, EventType.survey]
    let rules = LiveRules()

    var liveRules: LiveRules? { rules }

    func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("points-accrual v1") { db in
            try db.execute(sql: """
                CREATE TABLE customers (
                    customerId TEXT PRIMARY KEY,
                    visits INTEGER NOT NULL DEFAULT 0,
                    spend INTEGER NOT NULL DEFAULT 0,
                    firstVisit INTEGER,
                    lastVisit INTEGER,
                    lastNps INTEGER,
                    tier TEXT,
                    earnedDay INTEGER,
                    earnedToday INTEGER NOT NULL DEFAULT 0
                );
                -- Visits and spend per store-local day, for customer.visits(days:) and customer.spend(days:).
                CREATE TABLE customer_days (
                    customerId TEXT NOT NULL,
                    day INTEGER NOT NULL,
                    visits INTEGER NOT NULL,
                    spend INTEGER NOT NULL,
                    PRIMARY KEY (customerId, day)
                ) WITHOUT ROWID;
                -- One lot per purchase that earned points.
                CREATE TABLE lots (
                    lotId INTEGER PRIMARY KEY,
                    customerId TEXT NOT NULL,
                    eventId TEXT NOT NULL UNIQUE,
                    earnedAt INTEGER NOT NULL,
                    points INTEGER NOT NULL,
                    remaining INTEGER NOT NULL,
                    pendingUntil INTEGER NOT NULL,
                    expiresOnDay INTEGER,
                    rulesVersion TEXT NOT NULL,
                    rules TEXT NOT NULL
                );
                CREATE INDEX lots_by_customer ON lots (customerId, pendingUntil);
                """)
        }
    }

    func apply(_ event: StoredEvent, in db: Database, emit: inout Emitter) throws {
        switch event.envelope.payload {
        case .purchase(let purchase):
            guard let customerId = purchase.customerId else { return }  // anonymous: nobody to credit
            try accrue(purchase, customerId: customerId, event: event.envelope, in: db, emit: &emit)
        case .survey(let survey):
            guard let customerId = survey.customerId else { return }
            try db.execute(sql: """
                INSERT INTO customers (customerId, lastNps) VALUES (?, ?)
                ON CONFLICT(customerId) DO UPDATE SET lastNps = excluded.lastNps
                """, arguments: [customerId, survey.nps])
        default:
            break
        }
    }

    private func accrue(_ purchase: Purchase, customerId: String, event: EventEnvelope, in db: Database, emit: inout Emitter) throws {
        let book = rules.current
        let now = event.occurredAt.epochMilliseconds
        let facts = Facts()
        var clock = book.makeClock()
        facts.clock = clock.facts(at: now)
        facts.load(purchase: purchase)
        let today = facts.clock.day

        // The customer as they are after this visit.
        let row = try Row.fetchOne(db, sql: "SELECT * FROM customers WHERE customerId = ?", arguments: [customerId])
        let previousVisit: Int64? = row?["lastVisit"]
        let firstVisit: Int64 = row?["firstVisit"] ?? now
        let visits: Int64 = (row?["visits"] ?? 0) + 1
        let spend: Int64 = (row?["spend"] ?? 0) + purchase.total
        try db.execute(sql: """
            INSERT INTO customer_days (customerId, day, visits, spend) VALUES (?, ?, 1, ?)
            ON CONFLICT(customerId, day) DO UPDATE SET visits = visits + 1, spend = spend + excluded.spend
            """, arguments: [customerId, today, purchase.total])
        let window = max(book.usage.historyDays, 1)
        try db.execute(sql: "DELETE FROM customer_days WHERE customerId = ? AND day <= ?", arguments: [customerId, today - max(window, 400)])

        var customer = CustomerFacts()
        customer.id = customerId
        customer.known = true
        customer.visits = Double(visits)
        customer.spend = Double(spend)
        customer.sinceLastVisit = previousVisit.map { Double(now - $0) / 1000 } ?? .nan
        customer.memberFor = Double(now - firstVisit) / 1000
        customer.lastNps = (row?["lastNps"] as Int64?).map(Double.init) ?? .nan
        let balance = try Self.balance(customerId: customerId, at: now, today: today, in: db)
        customer.points = Double(balance.available)
        customer.qualifyingPoints = Double(balance.qualifying)
        if book.usage.historyDays > 0 {
            let days = try Row.fetchAll(db, sql: "SELECT day, visits, spend FROM customer_days WHERE customerId = ? AND day > ? ORDER BY day",
                                        arguments: [customerId, today - book.usage.historyDays])
            customer.history = StoredHistory(days: days.map { ($0["day"], $0["visits"], $0["spend"]) })
        }
        facts.customer = customer
        let tier = book.tiers?.level(for: facts)?.header.id ?? ""
        facts.customer.tier = tier

        var earnedDay: Int64? = row?["earnedDay"]
        var earnedToday: Int64 = row?["earnedToday"] ?? 0
        if earnedDay != Int64(today) {
            earnedDay = Int64(today)
            earnedToday = 0
        }
        var points: Int64 = 0
        if let earning = book.earning, book.currency == nil || book.currency == purchase.currency {
            var scratch = EarningPolicy.Scratch()
            let outcome = earning.evaluate(facts, earnedToday: Double(earnedToday), scratch: &scratch)
            points = outcome.points
            if points > 0 {
                let pendingUntil = now + Int64(earning.pendingSeconds * 1000)
                let expiresOnDay = earning.expiryDay(earnedOn: facts.clock)
                let contributions = outcome.contributions.map { contribution -> JSONValue in
                    .object(["rule": .string(contribution.ruleId), "points": .double((contribution.points * 100).rounded() / 100)])
                }
                let rulesText = String(decoding: JSONWriter.serialize(.array(contributions)), as: UTF8.self)
                try db.execute(sql: """
                    INSERT INTO lots (customerId, eventId, earnedAt, points, remaining, pendingUntil, expiresOnDay, rulesVersion, rules)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [customerId, event.eventId, now, points, points, pendingUntil, expiresOnDay, book.version, rulesText])
                earnedToday += points
                var payload: JSONObject = [
                    "customerId": .string(customerId), "purchaseEventId": .string(event.eventId),
                    "points": .int(points), "pendingUntil": .string(Timestamp(epochMilliseconds: pendingUntil).rfc3339),
                    "rulesVersion": .string(book.version), "rules": .array(contributions),
                ]
                if let expiresOnDay { payload["expiresOn"] = .string(CivilDate(dayNumber: expiresOnDay).description) }
                if outcome.cappedBy > 0 { payload["cappedBy"] = .double((outcome.cappedBy * 100).rounded() / 100) }
                if !tier.isEmpty { payload["tier"] = .string(tier) }
                emit.emit(type: "points.accrued", key: "accrued", payload: payload)
            }
        }
        try db.execute(sql: """
            INSERT INTO customers (customerId, visits, spend, firstVisit, lastVisit, tier, earnedDay, earnedToday)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(customerId) DO UPDATE SET visits = excluded.visits, spend = excluded.spend, lastVisit = excluded.lastVisit,
                tier = excluded.tier, earnedDay = excluded.earnedDay, earnedToday = excluded.earnedToday
            """, arguments: [customerId, visits, spend, firstVisit, now, tier, earnedDay, earnedToday])
    }

    struct Balance {
        var available: Int64 = 0
        var pending: Int64 = 0
        var expiringSoon: Int64 = 0
        /// Released points: what counts toward tiers.
        var qualifying: Int64 = 0
    }

    /// The customer's points at `now`: spendable, pending (in the return window), expiring
    /// within 30 days, and tier-qualifying (released, whether spent or not).
    static func balance(customerId: String, at now: Int64, today: Int, in db: Database) throws -> Balance {
        var balance = Balance()
        let rows = try Row.fetchAll(db, sql: "SELECT points, remaining, pendingUntil, expiresOnDay FROM lots WHERE customerId = ?",
                                    arguments: [customerId])
        for row in rows {
            let points: Int64 = row["points"], remaining: Int64 = row["remaining"], pendingUntil: Int64 = row["pendingUntil"]
            let expiresOnDay: Int? = row["expiresOnDay"]
            if let expiresOnDay, expiresOnDay <= today { continue }
            if pendingUntil > now {
                balance.pending += remaining
                continue
            }
            balance.available += remaining
            balance.qualifying += points
            if let expiresOnDay, expiresOnDay <= today + 30 { balance.expiringSoon += remaining }
        }
        return balance
    }

    var services: [String: ServiceHandler] {
        let rules = self.rules
        return ["points.balance": { request, pool in
            guard case .object(let query)? = try? JSONParser.parse(request.body),
                  case .string(let customerId)? = query["customerId"] else {
                return .error("expected a JSON object with \"customerId\", e.g. {\"customerId\":\"C000042\"}")
            }
            let now = Timestamp.now().epochMilliseconds
            var clock = rules.current.makeClock()
            let today = clock.facts(at: now).day
            let (balance, tier) = try pool.read { db in
                (try Self.balance(customerId: customerId, at: now, today: today, in: db),
                 try String.fetchOne(db, sql: "SELECT tier FROM customers WHERE customerId = ?", arguments: [customerId]))
            }
            let answer: JSONValue = .object([
                "customerId": .string(customerId), "available": .int(balance.available), "pending": .int(balance.pending),
                "expiringIn30Days": .int(balance.expiringSoon), "tierQualifying": .int(balance.qualifying),
                "tier": tier.map { .string($0) } ?? .null,
            ])
            return .ok(JSONWriter.serialize(answer))
        }]
    }
}

/// A customer's per-day visits read from `customer_days`, newest last.
struct StoredHistory: CustomerHistory {
    let days: [(day: Int, visits: Int, spend: Int64)]

    func visits(days count: Int, today: Int) -> Int {
        days.reduce(0) { $1.day > today - count && $1.day <= today ? $0 + $1.visits : $0 }
    }

    func spend(days count: Int, today: Int) -> Double {
        Double(days.reduce(Int64(0)) { $1.day > today - count && $1.day <= today ? $0 + $1.spend : $0 })
    }
}
