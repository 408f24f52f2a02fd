import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// The evaluation of one event against the reward and tier rules, inside the runtime's transaction.
struct Engine {
    let db: Database
    let book: RuleBook
    let input: EventEnvelope
    let pluginName: String
    /// Days of visit history the rules and triggers read.
    let historyDays: Int

    init(db: Database, book: RuleBook, input: EventEnvelope, pluginName: String) {
        self.db = db
        self.book = book
        self.input = input
        self.pluginName = pluginName
        var days = book.usage.historyDays
        for rule in book.rewards?.rules ?? [] { days = max(days, rule.trigger.historyDays) }
        historyDays = days
    }

    static let day: Int64 = 86_400_000

    /// Customer ids come from the network: ids as the bus defines them.
    static func validId(_ id: String) -> Bool { Ids.isValid(id) }

    /// The key of a derived event, short enough for the bus's id limit.
    private func eventKey(_ prefix: String, _ detail: String) -> String {
        Ids.key(prefix, detail, fixed: input.eventId.utf8.count + pluginName.utf8.count + 2)
    }

    private var rewardRules: [RewardRule] { book.rewards?.rules ?? [] }

    private func localDay(_ at: Int64) -> Int {
        var clock = book.makeClock()
        return clock.facts(at: at).day
    }

    private func facts(_ customerId: String, at: Int64) throws -> Facts {
        let facts = Facts()
        var clock = book.makeClock()
        facts.clock = clock.facts(at: at)
        facts.customer = try customerFacts(customerId, at: at, today: facts.clock.day)
        return facts
    }

    // MARK: events

    mutating func purchase(_ purchase: Purchase, customerId: String, at: Int64, emit: inout Emitter) throws {
        let day = localDay(at)
        try db.cachedStatement(sql: """
            INSERT INTO rr_customers (customerId, visits, spend, firstVisit, lastVisit) VALUES (?, 1, ?, ?, ?)
            ON CONFLICT(customerId) DO UPDATE SET visits = visits + 1, spend = spend + excluded.spend,
                firstVisit = MIN(COALESCE(firstVisit, excluded.firstVisit), excluded.firstVisit),
                previousVisit = lastVisit, lastVisit = MAX(COALESCE(lastVisit, excluded.lastVisit), excluded.lastVisit)
            """).execute(arguments: [customerId, purchase.total, at, at])
        try db.cachedStatement(sql: """
            INSERT INTO rr_customer_days (customerId, day, visits, spend) VALUES (?, ?, 1, ?)
            ON CONFLICT(customerId, day) DO UPDATE SET visits = visits + 1, spend = spend + excluded.spend
            """).execute(arguments: [customerId, day, purchase.total])
        try db.cachedStatement(sql: "DELETE FROM rr_customer_days WHERE customerId = ? AND day <= ?")
            .execute(arguments: [customerId, day - max(historyDays, 366, book.tiers?.settings.windowDays ?? 0)])
        try db.cachedStatement(sql: "INSERT INTO rr_purchases (eventId, customerId, day, remaining) VALUES (?, ?, ?, ?) ON CONFLICT(eventId) DO NOTHING")
            .execute(arguments: [input.eventId, customerId, day, purchase.total])
        let facts = try facts(customerId, at: at)
        facts.load(purchase: purchase)
        try checkTier(customerId, facts: facts, at: at, cause: "purchase", emit: &emit)
        // Purchases in another currency than the rules' get nothing from them.
        if let currency = book.currency, purchase.currency != currency { return }
        var groups = Set<String>()
        for rule in rewardRules where rule.trigger.onPurchase {
            guard rule.when?.evaluate(facts) ?? true else { continue }
            guard let reason = try purchaseTrigger(rule, customerId: customerId, facts: facts, total: Double(purchase.total), at: at) else { continue }
            try offer(rule, customerId: customerId, facts: facts, at: at, reason: reason, groups: &groups, emit: &emit)
        }
    }

    /// Whether the rule's trigger fires on this purchase (whose `when` holds), with the reason
    /// for the clerk. Punch cards and streaks move forward here.
    private func purchaseTrigger(_ rule: RewardRule, customerId: String, facts: Facts, total: Double, at: Int64) throws -> String? {
        let id = rule.header.id
        switch rule.trigger {
        case .purchase:
            // ": " marks a reason that is a sentence of its own: the rule's description.
            return rule.header.description.map { ": \($0)" } ?? "a purchase that meets rule \(id)"
        case .firstPurchase:
            return facts.customer.visits == 1 ? "the first purchase" : nil
        case .frequency(let visits, let days):
            let count = facts.customer.history.visits(days: days, today: facts.clock.day)
            return count >= visits ? "\(count) visits in \(days) days" : nil
        case .spend(let amount, let days):
            let after = days.map { facts.customer.history.spend(days: $0, today: facts.clock.day) } ?? facts.customer.spend
            let before = after - total
            guard before < amount, after >= amount else { return nil }
            return "spending \(money(amount)) \(days.map { "in \($0) days" } ?? "in all")"
        case .nthPurchase(let count, let within, let label):
            let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT count, cardStart FROM rr_progress WHERE customerId = ? AND ruleId = ?"),
                                       arguments: [customerId, id])
            var punches: Int = row?[0] ?? 0
            var cardStart: Int64? = row?[1]
            if let within, let start = cardStart, Double(at - start) > within * 1000 { punches = 0 }
            if punches == 0 { cardStart = at }
            punches += 1
            try db.cachedStatement(sql: """
                INSERT INTO rr_progress (customerId, ruleId, count, cardStart) VALUES (?, ?, ?, ?)
                ON CONFLICT(customerId, ruleId) DO UPDATE SET count = excluded.count, cardStart = excluded.cardStart
                """).execute(arguments: [customerId, id, punches, cardStart])
            guard punches >= count else { return nil }
            return "the \(ordinal(count)) \(label ?? "qualifying purchase")\(within.map { " in \(durationWords($0))" } ?? "")"
        case .streak(let weeks):
            let week = CalendarPeriod.week.index(ofDay: facts.clock.day)
            let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT count, lastWeek FROM rr_progress WHERE customerId = ? AND ruleId = ?"),
                                       arguments: [customerId, id])
            let streak: Int = row?[0] ?? 0
            let lastWeek: Int? = row?[1]
            if lastWeek == week { return nil }
            let length = lastWeek == week - 1 ? streak + 1 : 1
            try db.cachedStatement(sql: """
                INSERT INTO rr_progress (customerId, ruleId, count, lastWeek) VALUES (?, ?, ?, ?)
                ON CONFLICT(customerId, ruleId) DO UPDATE SET count = excluded.count, lastWeek = excluded.lastWeek
                """).execute(arguments: [customerId, id, length, week])
            return length >= weeks ? "visiting \(weeks) weeks in a row" : nil
        case .topCustomers, .winBack, .promoter, .detractor:
            return nil
        }
    }

    mutating func returned(_ returned: Return, customerId: String, at: Int64, emit: inout Emitter) throws {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT day, remaining FROM rr_purchases WHERE eventId = ? AND customerId = ?"),
                                         arguments: [returned.originalEventId, customerId]) else { return }
        let day: Int = row[0], remaining: Int64 = row[1]
        let taken = max(0, min(returned.total, remaining))
        guard taken > 0 else { return }
        try db.cachedStatement(sql: "UPDATE rr_purchases SET remaining = remaining - ? WHERE eventId = ?").execute(arguments: [taken, returned.originalEventId])
        try db.cachedStatement(sql: "UPDATE rr_customers SET spend = spend - ? WHERE customerId = ?").execute(arguments: [taken, customerId])
        try db.cachedStatement(sql: "UPDATE rr_customer_days SET spend = spend - ? WHERE customerId = ? AND day = ?").execute(arguments: [taken, customerId, day])
        try checkTier(customerId, facts: try facts(customerId, at: at), at: at, cause: "return", emit: &emit)
    }

    mutating func survey(_ survey: Survey, customerId: String, at: Int64, emit: inout Emitter) throws {
        let facts = try facts(customerId, at: at)
        facts.load(survey: survey)
        var groups = Set<String>()
        for rule in rewardRules {
            let reason: String
            switch rule.trigger {
            case .promoter where survey.nps >= 9: reason = "scoring us \(survey.nps) of 10 (a promoter)"
            case .detractor where survey.nps <= 6: reason = "scoring us \(survey.nps) of 10: we want to put it right"
            default: continue
            }
            guard rule.when?.evaluate(facts) ?? true else { continue }
            try offer(rule, customerId: customerId, facts: facts, at: at, reason: reason, groups: &groups, emit: &emit)
        }
        try db.cachedStatement(sql: """
            INSERT INTO rr_customers (customerId, lastNps) VALUES (?, ?) ON CONFLICT(customerId) DO UPDATE SET lastNps = excluded.lastNps
            """).execute(arguments: [customerId, survey.nps])
    }

    /// A `customer.scored` event. Fields are checked: a malformed one is ignored.
    mutating func scored(_ payload: JSONObject, at: Int64, emit: inout Emitter) throws {
        guard case .string(let customerId)? = payload["customerId"], Self.validId(customerId) else { return }
        let clv = number(payload["clv"]), profit = number(payload["profitClv"])
        let percentile = number(payload["clvPercentile"]).flatMap { (0...100).contains($0) ? $0 : nil }
        let pAlive = number(payload["pAlive"]).flatMap { (0...1).contains($0) ? $0 : nil }
        let previous = try Double.fetchOne(db.cachedStatement(sql: "SELECT pAlive FROM rr_customers WHERE customerId = ?"), arguments: [customerId])
        try db.cachedStatement(sql: """
            INSERT INTO rr_customers (customerId, clv, profitClv, clvPercentile, pAlive) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(customerId) DO UPDATE SET clv = COALESCE(excluded.clv, clv), profitClv = COALESCE(excluded.profitClv, profitClv),
                clvPercentile = COALESCE(excluded.clvPercentile, clvPercentile), pAlive = COALESCE(excluded.pAlive, pAlive)
            """).execute(arguments: [customerId, clv, profit, percentile, pAlive])
        guard let pAlive else { return }
        let facts = try facts(customerId, at: at)
        var groups = Set<String>()
        for rule in rewardRules {
            guard case .winBack(let threshold) = rule.trigger else { continue }
            // Falling below: not while it stays below.
            guard pAlive < threshold, previous.map({ $0 >= threshold }) ?? true else { continue }
            guard rule.when?.evaluate(facts) ?? true else { continue }
            let reason = "coming back: a valued customer we may be losing (\(Int((pAlive * 100).rounded()))% likely still active)"
            try offer(rule, customerId: customerId, facts: facts, at: at, reason: reason, groups: &groups, emit: &emit)
        }
    }

    /// A `points.accrued` event: earned points count toward tiers from their release (the
    /// end of the return window) for the tiers' window. Never the spendable balance.
    mutating func accrued(_ payload: JSONObject, at: Int64, emit: inout Emitter) throws {
        guard case .string(let customerId)? = payload["customerId"], Self.validId(customerId),
              case .string(let purchaseEventId)? = payload["purchaseEventId"], !purchaseEventId.isEmpty,
              case .int(let points)? = payload["points"], points >= 0, points <= 1_000_000_000_000 else { return }
        var releaseAt = at
        if case .string(let text)? = payload["pendingUntil"], let until = Timestamp.parse(text) { releaseAt = max(at, until.epochMilliseconds) }
        // A multiplier campaign's bonus (`campaignBonus: true`) is more points for the same
        // purchase, released with it: added to its row, where a later return takes its share.
        let onConflict = payload["campaignBonus"] == .bool(true) ? "DO UPDATE SET points = points + excluded.points" : "DO NOTHING"
        try db.cachedStatement(sql: """
            INSERT INTO rr_points (purchaseEventId, customerId, at, releaseAt, points) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(purchaseEventId) \(onConflict)
            """).execute(arguments: [purchaseEventId, customerId, at, releaseAt, points])
        try db.cachedStatement(sql: "INSERT INTO rr_customers (customerId) VALUES (?) ON CONFLICT(customerId) DO NOTHING").execute(arguments: [customerId])
        try checkTier(customerId, facts: try facts(customerId, at: at), at: at, cause: "points earned", emit: &emit)
    }

    /// A `points.reversed` event (a return): those points no longer qualify.
    mutating func reversed(_ payload: JSONObject, at: Int64, emit: inout Emitter) throws {
        guard case .string(let customerId)? = payload["customerId"], Self.validId(customerId),
              case .string(let purchaseEventId)? = payload["purchaseEventId"],
              case .int(let points)? = payload["points"], points > 0 else { return }
        try db.cachedStatement(sql: "UPDATE rr_points SET points = MAX(0, points - ?) WHERE purchaseEventId = ? AND customerId = ?")
            .execute(arguments: [points, purchaseEventId, customerId])
        guard db.changesCount > 0 else { return }
        try checkTier(customerId, facts: try facts(customerId, at: at), at: at, cause: "points taken back", emit: &emit)
    }

    private func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .int(let n)?: Double(n)
        case .double(let x)? where x.isFinite: x
        default: nil
        }
    }

    // MARK: granting

    /// Gives `rule`'s reward if its group is free, its limits allow it and its budget has room.
    /// The group goes to the first reward whose trigger fires, even when `repeat` or
    /// `perCustomer` holds it back (as in `rules simulate`); a spent budget leaves it to the next.
    private mutating func offer(_ rule: RewardRule, customerId: String, facts: Facts, at: Int64, reason: String,
                                groups: inout Set<String>, emit: inout Emitter) throws {
        if let group = rule.header.group, groups.contains(group) { return }
        if try heldBack(rule, customerId: customerId, at: at) {
            if let group = rule.header.group { groups.insert(group) }
            return
        }
        guard try reserveBudget(rule) else { return }
        if let group = rule.header.group { groups.insert(group) }
        try grant(rule, customerId: customerId, facts: facts, at: at, reason: reason, emit: &emit)
    }

    /// `repeat` and `perCustomer`.
    private func heldBack(_ rule: RewardRule, customerId: String, at: Int64) throws -> Bool {
        let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*), MAX(grantedAt) FROM rr_rewards WHERE customerId = ? AND ruleId = ?"),
                                   arguments: [customerId, rule.header.id])
        let count: Int = row?[0] ?? 0
        let last: Int64? = row?[1]
        if let cap = rule.limits.perCustomer, count >= cap { return true }
        switch rule.repeats {
        case .everyTime: return false
        case .once: return count > 0
        case .oncePer(let seconds): return last.map { Double(at - $0) < seconds * 1000 } ?? false
        }
    }

    /// Takes one reward (and its value) from the rule's budget in one conditional UPDATE: it
    /// changes the row only while the cap allows, so the check and the write are one step.
    /// False when the budget is spent.
    private func reserveBudget(_ rule: RewardRule) throws -> Bool {
        let value = Int64(rule.value.rounded())
        try db.cachedStatement(sql: "INSERT INTO rr_budgets (ruleId) VALUES (?) ON CONFLICT(ruleId) DO NOTHING").execute(arguments: [rule.header.id])
        try db.cachedStatement(sql: """
            UPDATE rr_budgets SET countUsed = countUsed + 1, amountUsed = amountUsed + :value
            WHERE ruleId = :rule AND (:countCap IS NULL OR countUsed + 1 <= :countCap)
                AND (:amountCap IS NULL OR amountUsed + :value <= :amountCap)
            """).execute(arguments: ["value": value, "rule": rule.header.id, "countCap": rule.limits.budgetCount,
                                     "amountCap": rule.limits.budgetAmount.map { Int64($0.rounded(.down)) }])
        return db.changesCount == 1
    }

    private mutating func grant(_ rule: RewardRule, customerId: String, facts: Facts, at: Int64, reason: String, emit: inout Emitter) throws {
        let id = rule.header.id
        let rewardId = "\(input.eventId)/\(id)/\(customerId)"
        let expiresAt = rule.limits.expiresSeconds.map { at + Int64($0 * 1000) }
        let sentence = capitalized(rule.grant) + (reason.hasPrefix(": ") ? reason : " for \(reason)")
        let value = Int64(rule.value.rounded())
        try db.cachedStatement(sql: """
            INSERT INTO rr_rewards (rewardId, customerId, ruleId, rulesVersion, kind, grantText, value, sentence, sourceEventId, grantedAt, expiresAt, status)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [rewardId, customerId, id, book.version, rule.kind.name, rule.grant, value, sentence, input.eventId, at, expiresAt,
                                     rule.kind.isRedeemable ? "active" : "applied"])
        switch rule.trigger {
        case .nthPurchase:
            try db.cachedStatement(sql: "UPDATE rr_progress SET count = 0, cardStart = NULL WHERE customerId = ? AND ruleId = ?").execute(arguments: [customerId, id])
        case .streak:
            try db.cachedStatement(sql: "UPDATE rr_progress SET count = 0 WHERE customerId = ? AND ruleId = ?").execute(arguments: [customerId, id])
        default: break
        }
        var payload: JSONObject = [
            "rewardId": .string(rewardId), "customerId": .string(customerId), "rule": .string(id), "rulesVersion": .string(book.version),
            "kind": .string(rule.kind.name), "grant": .string(rule.grant), "value": .int(value), "trigger": .string(rule.trigger.name),
            "sentence": .string(sentence), "sourceEventId": .string(input.eventId),
        ]
        if let currency = book.currency { payload["currency"] = .string(currency.code) }
        if let expiresAt { payload["expiresAt"] = .string(Timestamp(epochMilliseconds: expiresAt).rfc3339) }
        switch rule.kind {
        case .freeItem(let sku): if let sku { payload["sku"] = .string(sku) }
        case .voucher(let amount, let percent):
            if let amount { payload["amount"] = .int(Int64(amount.rounded())) }
            if let percent { payload["percent"] = .double(percent) }
        case .bonusPoints(let points): payload["points"] = .int(Int64(points))
        case .tier(let tier, let seconds):
            payload["tier"] = .string(tier)
            if let seconds { payload["until"] = .string(Timestamp(epochMilliseconds: at + Int64(seconds * 1000)).rfc3339) }
        case .custom(let type, let params):
            payload["type"] = .string(type)
            payload["params"] = .object(JSONObject(params.map { ($0.0, JSONValue.string($0.1)) }))
        }
        emit.emit(type: RewardRulesPlugin.grantedType, key: eventKey("granted", "\(id)/\(customerId)"), payload: payload)
        if case .tier(let tier, let seconds) = rule.kind {
            try db.cachedStatement(sql: "INSERT INTO rr_customers (customerId) VALUES (?) ON CONFLICT(customerId) DO NOTHING").execute(arguments: [customerId])
            try db.cachedStatement(sql: "UPDATE rr_customers SET tierFloor = ?, tierFloorUntil = ? WHERE customerId = ?")
                .execute(arguments: [tier, seconds.map { at + Int64($0 * 1000) }, customerId])
            try checkTier(customerId, facts: facts, at: at, cause: "reward \(id): \(rule.grant)", emit: &emit)
        }
    }

    // MARK: tiers

    /// Moves the customer to the level they qualify for: up at once, down as `downgrade` says
    /// (`atPeriodEnd` is set by the sweep at the end of the tiers' period). Sets `facts.customer.tier`.
    mutating func checkTier(_ customerId: String, facts: Facts, at: Int64, cause: String, atPeriodEnd: Bool = false,
                            emit: inout Emitter) throws {
        guard let tiers = book.tiers, !tiers.levels.isEmpty else { return }
        let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT tier, tierFloor, tierFloorUntil FROM rr_customers WHERE customerId = ?"),
                                   arguments: [customerId])
        let stored: String? = row?[0]
        let ids = tiers.ids
        // A level retired from the rules: start from what the customer qualifies for.
        let currentIndex = stored.flatMap { ids.firstIndex(of: $0) }
        facts.customer.tier = stored.flatMap { ids.contains($0) ? $0 : nil } ?? ids[0]
        let qualified = tiers.levelIndex(for: facts) ?? 0
        var target = qualified
        var floorNote: String?
        if let floor = row?[1] as String?, let floorIndex = ids.firstIndex(of: floor), (row?[2] as Int64?).map({ $0 > at }) ?? true,
           floorIndex > target {
            target = floorIndex
            floorNote = "kept by a tier reward"
        }
        let current = currentIndex ?? target
        var next = current
        if target > current {
            next = target
        } else if target < current {
            switch tiers.settings.downgrade {
            case .immediately: next = target
            case .none: next = current
            case .periodEnd: next = atPeriodEnd ? target : current
            case .oneLevel: next = atPeriodEnd ? max(target, current - 1) : current
            }
        }
        facts.customer.tier = ids[next]
        if stored == ids[next] { return }
        try db.cachedStatement(sql: """
            INSERT INTO rr_customers (customerId, tier, tierSince) VALUES (?, ?, ?)
            ON CONFLICT(customerId) DO UPDATE SET tier = excluded.tier, tierSince = excluded.tierSince
            """).execute(arguments: [customerId, ids[next], at])
        // The first level is where everyone starts: reaching it first is no change.
        guard next != current || currentIndex == nil && next != 0 else { return }
        guard next != 0 || currentIndex != nil else { return }
        let from = currentIndex.map { tiers.levels[$0] } ?? tiers.levels[0]
        let to = tiers.levels[next]
        let up = next > (currentIndex ?? 0)
        let why: String
        if let floorNote, next == target, target != qualified {
            why = floorNote + " (\(cause))"
        } else if up {
            why = to.when.map { "qualifies by \($0.text)" } ?? cause
        } else if next == 0 && tiers.levels.count > 1 {
            why = "no longer qualifies for \(from.name)" + (atPeriodEnd ? " at the end of the \(tiers.settings.period.rawValue)" : "")
        } else {
            why = "no longer qualifies for \(from.name)" + (atPeriodEnd ? " at the end of the \(tiers.settings.period.rawValue)" : "")
                + (tiers.settings.downgrade == .oneLevel ? ", down one level" : "")
        }
        let sentence = "\(up ? "Up" : "Down") to \(to.name) from \(from.name): \(why)"
        var payload: JSONObject = [
            "customerId": .string(customerId), "from": .string(from.header.id), "to": .string(to.header.id),
            "fromName": .string(from.name), "toName": .string(to.name), "direction": .string(up ? "up" : "down"),
            "rule": .string(to.header.id), "rulesVersion": .string(book.version),
            "reason": .string(cause), "sentence": .string(sentence),
        ]
        if atPeriodEnd { payload["periodEnd"] = .bool(true) }
        emit.emit(type: RewardRulesPlugin.tierChangedType, key: eventKey("tier", "\(customerId)/\(to.header.id)"), payload: payload)
    }

    // MARK: customers

    /// The customer as this plugin knows them. `points` (the spendable balance) belongs to the
    /// points plugin and reads as unknown; `qualifyingPoints` is what was earned, released, over the tiers' window.
    func customerFacts(_ customerId: String, at: Int64, today: Int) throws -> CustomerFacts {
        var customer = CustomerFacts()
        customer.id = customerId
        customer.known = true
        customer.points = .nan
        if let tiers = book.tiers, let first = tiers.ids.first { customer.tier = first }
        let window = Int64(book.tiers?.settings.windowDays ?? 365) * Self.day
        customer.qualifyingPoints = Double(try Int64.fetchOne(db.cachedStatement(sql: """
            SELECT COALESCE(SUM(points), 0) FROM rr_points WHERE customerId = ? AND at > ? AND releaseAt <= ?
            """), arguments: [customerId, at - window, at]) ?? 0)
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT visits, spend, firstVisit, lastVisit, previousVisit, lastNps, clv, clvPercentile, pAlive, tier FROM rr_customers WHERE customerId = ?
            """), arguments: [customerId]) else { return customer }
        customer.visits = Double(row[0] as Int)
        customer.spend = Double(row[1] as Int64)
        if let first = row[2] as Int64? { customer.memberFor = Double(max(0, at - first)) / 1000 }
        // At a purchase, the visit before it; otherwise the last one.
        let last: Int64? = row[3], previous: Int64? = row[4]
        if let reference = (last == at ? previous : last) { customer.sinceLastVisit = Double(max(0, at - reference)) / 1000 }
        customer.lastNps = (row[5] as Int?).map(Double.init) ?? .nan
        customer.clv = row[6] as Double? ?? .nan
        customer.clvPercentile = row[7] as Double? ?? .nan
        customer.pAlive = row[8] as Double? ?? .nan
        if let tier = row[9] as String? { customer.tier = tier }
        if historyDays > 0 {
            let days = try Row.fetchAll(db.cachedStatement(sql: "SELECT day, visits, spend FROM rr_customer_days WHERE customerId = ? AND day > ? ORDER BY day"),
                                        arguments: [customerId, today - historyDays])
            customer.history = VisitHistory(days: days.map { VisitHistory.Day(day: $0[0], visits: $0[1], spend: Double($0[2] as Int64)) })
        }
        return customer
    }

    // MARK: sweep

    /// Hourly in event time: rewards past their expiry lapse; customers whose pending points were
    /// released since the last sweep move up if they now qualify; top-customer rewards whose
    /// period turned are given; at the end of the tiers' period, downgrades are applied.
    mutating func sweep(now: Int64, since lastSweep: Int64, emit: inout Emitter) throws {
        let expired = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT rewardId, customerId, ruleId, rulesVersion, sentence, expiresAt FROM rr_rewards
            WHERE status = 'active' AND expiresAt <= ? ORDER BY expiresAt, rewardId
            """), arguments: [now])
        for row in expired {
            let rewardId: String = row[0]
            try db.cachedStatement(sql: "UPDATE rr_rewards SET status = 'expired' WHERE rewardId = ?").execute(arguments: [rewardId])
            emit.emit(type: RewardRulesPlugin.expiredType, key: eventKey("expired", rewardId), payload: [
                "rewardId": .string(rewardId), "customerId": .string(row[1]), "rule": .string(row[2]), "rulesVersion": .string(row[3]),
                "expiredAt": .string(Timestamp(epochMilliseconds: row[5]).rfc3339), "sentence": .string("Lapsed unused: \(row[4] as String)"),
            ])
        }
        if let tiers = book.tiers, tiers.levels.count > 1 {
            let released = try String.fetchAll(db.cachedStatement(sql: """
                SELECT DISTINCT customerId FROM rr_points WHERE releaseAt > at AND releaseAt > ? AND releaseAt <= ? ORDER BY customerId
                """), arguments: [lastSweep, now])
            for customerId in released {
                try checkTier(customerId, facts: try facts(customerId, at: now), at: now, cause: "points released", emit: &emit)
            }
        }
        let today = localDay(now)
        for rule in rewardRules {
            guard case .topCustomers(let by, let percent, let period) = rule.trigger else { continue }
            let slot = period.index(ofDay: today)
            guard try turned("top/\(rule.header.id)", to: slot) else { continue }
            try topCustomers(rule, by: by, percent: percent, period: period, now: now, emit: &emit)
        }
        if let tiers = book.tiers, tiers.levels.count > 1 {
            let slot = tiers.settings.period.index(ofDay: today)
            if try turned("tiers/\(tiers.settings.period.rawValue)", to: slot) {
                let customers = try String.fetchAll(db.cachedStatement(sql: "SELECT customerId FROM rr_customers WHERE tier IS NOT NULL AND tier != ? ORDER BY customerId"),
                                                    arguments: [tiers.ids[0]])
                for customerId in customers {
                    try checkTier(customerId, facts: try facts(customerId, at: now), at: now, cause: "period end", atPeriodEnd: true, emit: &emit)
                }
            }
        }
    }

    /// True when schedule `name` moved to a later slot (its first sighting only records it).
    private func turned(_ name: String, to slot: Int) throws -> Bool {
        let stored = try Int.fetchOne(db.cachedStatement(sql: "SELECT slot FROM rr_schedule WHERE name = ?"), arguments: [name])
        guard stored != slot else { return false }
        try db.cachedStatement(sql: "INSERT INTO rr_schedule (name, slot) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET slot = excluded.slot")
            .execute(arguments: [name, slot])
        return stored.map { slot > $0 } ?? false
    }

    /// The top `percent` % of scored customers by CLV (or profit CLV), ties by customer id.
    private mutating func topCustomers(_ rule: RewardRule, by: RewardTrigger.RankBy, percent: Double, period: CalendarPeriod,
                                       now: Int64, emit: inout Emitter) throws {
        let column = by == .clv ? "clv" : "profitClv"
        let scored = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rr_customers WHERE \(column) IS NOT NULL") ?? 0
        let take = Int((Double(scored) * percent / 100).rounded(.up))
        guard take > 0 else { return }
        let customers = try String.fetchAll(db, sql: "SELECT customerId FROM rr_customers WHERE \(column) IS NOT NULL ORDER BY \(column) DESC, customerId LIMIT ?",
                                            arguments: [take])
        let reason = "being in the top \(oneDecimal(percent))% of customers by \(by == .clv ? "lifetime value" : "profit") this \(period.rawValue)"
        for customerId in customers {
            let facts = try facts(customerId, at: now)
            guard rule.when?.evaluate(facts) ?? true else { continue }
            var groups = Set<String>()
            try offer(rule, customerId: customerId, facts: facts, at: now, reason: reason, groups: &groups, emit: &emit)
        }
    }

    // MARK: words

    private func money(_ minor: Double) -> String {
        guard let currency = book.currency else { return oneDecimal(minor) }
        return CurrencyUnits.format(minorUnits: minor, currency: currency)
    }
}

func ordinal(_ n: Int) -> String {
    let suffix = (11...13).contains(n % 100) ? "th" : n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th"
    return "\(n)\(suffix)"
}

func capitalized(_ text: String) -> String {
    guard let first = text.first else { return text }
    return first.uppercased() + text.dropFirst()
}

func oneDecimal(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}

/// "30 days", "2 weeks", "36 hours".
func durationWords(_ seconds: Double) -> String {
    func unit(_ n: Int, _ word: String) -> String { n == 1 ? "1 \(word)" : "\(n) \(word)s" }
    if seconds >= 86_400, seconds.truncatingRemainder(dividingBy: 86_400) == 0 { return unit(Int(seconds / 86_400), "day") }
    if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return unit(Int(seconds / 3600), "hour") }
    return unit(max(1, Int(seconds / 60)), "minute")
}
