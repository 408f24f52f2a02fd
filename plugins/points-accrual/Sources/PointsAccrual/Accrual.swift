import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// A purchase earns points: the customer's figures are brought up to the purchase's time, the
/// earning rules are evaluated on them, and the points become a lot.
struct Accrual {
    let ledger: Ledger
    let book: RuleBook
    let schedule: SweepSchedule

    func accrue(_ purchase: Purchase, customerId: String, event: EventEnvelope, emit: inout Emitter) throws {
        let now = event.occurredAt.epochMilliseconds
        let facts = Facts()
        facts.clock = Clocks.facts(at: now, book: book)
        facts.load(purchase: purchase)
        let today = facts.clock.day

        var customer = try ledger.customer(customerId)
        try ledger.catchUp(&customer, now: now)
        let previousVisit = customer.lastVisit
        customer.firstVisit = customer.firstVisit ?? now
        customer.visits += 1
        customer.spend += purchase.total
        customer.lastVisit = now
        let historyDays = book.usage.historyDays
        if historyDays > 0 {
            // Days older than any rule looks at are not kept.
            customer.days.removeAll { $0.day <= today - historyDays }
            if let index = customer.days.lastIndex(where: { $0.day == today }) {
                customer.days[index].visits += 1
                customer.days[index].spend += Double(purchase.total)
            } else {
                let day = VisitHistory.Day(day: today, visits: 1, spend: Double(purchase.total))
                // Purchases arrive nearly in time order; one from an earlier day goes in its place.
                let index = customer.days.firstIndex { $0.day > today } ?? customer.days.endIndex
                customer.days.insert(day, at: index)
            }
        } else {
            customer.days = []
        }

        var facts_customer = CustomerFacts()
        facts_customer.id = customerId
        facts_customer.known = true
        facts_customer.visits = Double(customer.visits)
        facts_customer.spend = Double(customer.spend)
        facts_customer.sinceLastVisit = previousVisit.map { Double(now - $0) / 1000 } ?? .nan
        facts_customer.memberFor = Double(now - (customer.firstVisit ?? now)) / 1000
        facts_customer.lastNps = customer.lastNps.map(Double.init) ?? .nan
        facts_customer.clv = customer.clv ?? .nan
        facts_customer.clvPercentile = customer.clvPercentile ?? .nan
        facts_customer.pAlive = customer.pAlive ?? .nan
        facts_customer.points = Double(customer.available - customer.owed)
        facts_customer.qualifyingPoints = Double(customer.qualifying)
        if historyDays > 0 { facts_customer.history = VisitHistory(days: customer.days) }
        // The tier is the reward-rules plugin's (its `tier.changed` events); before any, the
        // lowest level.
        let tier = customer.tier ?? book.tiers?.levels.first?.header.id
        facts_customer.tier = tier ?? ""
        facts.customer = facts_customer

        if customer.earnedDay != Int64(today) {
            customer.earnedDay = Int64(today)
            customer.earnedToday = 0
        }
        // Every purchase of a known customer is kept, as a lot of 0 points if it earned
        // nothing, so that a return finds its receipt.
        func keepReceiptOnly() throws {
            try insertLot(customerId: customerId, eventId: event.eventId, now: now, total: purchase.total, points: 0, remaining: 0,
                          pendingUntil: now, expiresOnDay: nil, expiresAt: nil, rulesVersion: book.version, rulesText: "[]")
            try ledger.save(customer)
        }
        guard let earning = book.earning, book.currency == nil || book.currency == purchase.currency else {
            try keepReceiptOnly()
            return
        }
        var scratch = EarningPolicy.Scratch()
        let outcome = earning.evaluate(facts, earnedToday: Double(customer.earnedToday), scratch: &scratch)
        let points = outcome.points
        guard points > 0 else {
            try keepReceiptOnly()
            return
        }
        let contributions = outcome.contributions.map { contribution -> JSONValue in
            .object(["rule": .string(contribution.ruleId), "points": .double((contribution.points * 100).rounded() / 100)])
        }
        customer.earnedToday += points
        var extra: JSONObject = ["purchaseEventId": .string(event.eventId)]
        if outcome.cappedBy > 0 { extra["cappedBy"] = .double((outcome.cappedBy * 100).rounded() / 100) }
        if let tier { extra["tier"] = .string(tier) }
        try credit(points, to: &customer, lotEventId: event.eventId, total: purchase.total, pendingSeconds: earning.pendingSeconds,
                   rulesVersion: book.version, contributions: contributions, cause: event.eventId, facts: facts,
                   now: now, payload: extra, emit: &emit)
    }

    /// Bonus points a reward granted (a `reward.granted` of kind bonus-points): a lot of their
    /// own, keyed by the reward event, spendable at once (no purchase, so no return window),
    /// expiring as the earning rules say. Not a purchase: no visit, no tier points.
    func bonus(_ payload: JSONObject, event: EventEnvelope, emit: inout Emitter) throws {
        guard case .string(let kind)? = payload["kind"], kind == "bonus-points" else { return }
        guard case .string(let customerId)? = payload["customerId"], !customerId.isEmpty, customerId.utf8.count <= 128,
              case .int(let points)? = payload["points"], (1...1_000_000_000).contains(points),
              case .string(let rule)? = payload["rule"], case .string(let version)? = payload["rulesVersion"] else {
            throw BonusInvalid(eventId: event.eventId)
        }
        let now = event.occurredAt.epochMilliseconds
        let facts = Facts()
        facts.clock = Clocks.facts(at: now, book: book)
        var customer = try ledger.customer(customerId)
        try ledger.catchUp(&customer, now: now)
        var extra: JSONObject = ["bonus": .bool(true)]
        if case .string(let rewardId)? = payload["rewardId"] { extra["rewardId"] = .string(rewardId) }
        try credit(points, to: &customer, lotEventId: event.eventId, total: 0, pendingSeconds: 0, rulesVersion: version,
                   contributions: [.object(["rule": .string(rule), "points": .double(Double(points))])], cause: event.eventId,
                   facts: facts, now: now, payload: extra, emit: &emit)
    }

    struct BonusInvalid: Error, CustomStringConvertible {
        var eventId: String
        var description: String {
            "reward.granted \(eventId) of kind bonus-points refused: it needs customerId (text), points (1 to 1000000000), rule and rulesVersion"
        }
    }

    /// Points become a lot: owed points are repaid from them first, the lot gets its pending
    /// period and expiry, and `points.accrued` says why.
    private func credit(_ points: Int64, to customer: inout CustomerRecord, lotEventId: String, total: Int64, pendingSeconds: Double,
                        rulesVersion: String, contributions: [JSONValue], cause: String, facts: Facts,
                        now: Int64, payload extra: JSONObject, emit: inout Emitter) throws {
        let customerId = customer.customerId
        let pendingUntil = now + Int64(pendingSeconds * 1000)
        let expiresOnDay = book.earning?.expiryDay(earnedOn: facts.clock)
        let expiresAt = expiresOnDay.map { day -> Int64 in
            let utcMidnight = Int64(day) * 86_400_000
            return utcMidnight - Clocks.expiryOffset(at: utcMidnight, book: book)
        }
        let rulesText = String(decoding: JSONWriter.serialize(.array(contributions)), as: UTF8.self)
        // Points owed from an earlier return are repaid first.
        let repaid = min(points, customer.owed)
        customer.owed -= repaid
        let lotId = try insertLot(customerId: customerId, eventId: lotEventId, now: now, total: total, points: points,
                                  remaining: points - repaid, pendingUntil: pendingUntil, expiresOnDay: expiresOnDay,
                                  expiresAt: expiresAt, rulesVersion: rulesVersion, rulesText: rulesText)
        try schedule.notePending(pendingUntil - now, ledger)
        ledger.added(lot: pendingUntil, earnedAt: now, points: points, remaining: points - repaid, to: &customer)
        schedule.lotAdded(expiresAt: expiresAt)
        if let expiresAt, book.earning?.expiryNoticeSeconds != nil, expiresAt <= (try schedule.current(ledger)).noticedThrough {
            // Expiring sooner than the notice period: notices already went out up to beyond
            // this lot's expiry, so it gets its own now.
            emit.emit(type: "points.expiring", key: "expiring-lot-\(lotId)", payload: [
                "customerId": .string(customerId), "points": .int(points - repaid),
                "expiresAt": .string(Timestamp(epochMilliseconds: expiresAt).rfc3339),
            ])
        }
        if repaid > 0 {
            try ledger.record(customerId, at: now, kind: "repaid", points: -repaid, lotId: lotId, cause: cause,
                              detail: "owed from an earlier return")
        }
        if pendingUntil <= now {
            // No return window: spendable and tier-qualifying at once.
            try ledger.catchUp(&customer, now: now)
        }
        try ledger.save(customer)

        var payload: JSONObject = [
            "customerId": .string(customerId), "points": .int(points),
            "pendingUntil": .string(Timestamp(epochMilliseconds: pendingUntil).rfc3339),
            "rulesVersion": .string(rulesVersion), "rules": .array(contributions),
        ]
        for (key, value) in extra.pairs { payload[key] = value }
        if let expiresOnDay { payload["expiresOn"] = .string(CivilDate(dayNumber: expiresOnDay).description) }
        if repaid > 0 { payload["repaidOwed"] = .int(repaid) }
        emit.emit(type: "points.accrued", key: "accrued", payload: payload)
    }

    /// The purchase's lot: the receipt a return is matched against, and the accrual itself
    /// (its points, rules and rules version are what `loyalty customer show` prints).
    @discardableResult
    private func insertLot(customerId: String, eventId: String, now: Int64, total: Int64, points: Int64, remaining: Int64,
                           pendingUntil: Int64, expiresOnDay: Int?, expiresAt: Int64?, rulesVersion: String, rulesText: String) throws -> Int64 {
        let insert = try RawStatement(ledger.db, sql: """
            INSERT INTO lots (customerId, eventId, earnedAt, points, remaining, pendingUntil, expiresOnDay, expiresAt, rulesVersion, rules,
                              total)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        insert.bind(1, customerId)
        insert.bind(2, eventId)
        insert.bind(3, now)
        insert.bind(4, points)
        insert.bind(5, remaining)
        insert.bind(6, pendingUntil)
        insert.bind(7, expiresOnDay.map(Int64.init))
        insert.bind(8, expiresAt)
        insert.bind(9, rulesVersion)
        insert.bind(10, rulesText)
        insert.bind(11, total)
        try insert.execute()
        return ledger.db.lastInsertedRowID
    }
}
