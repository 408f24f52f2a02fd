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

    func accrue(_ purchase: Purchase, customerId: String, event: EventEnvelope, emit: inout Emitter) throws {
        let db = ledger.db
        let now = event.occurredAt.epochMilliseconds
        let facts = Facts()
        var clock = book.makeClock()
        facts.clock = clock.facts(at: now)
        facts.load(purchase: purchase)
        let today = facts.clock.day

        var customer = try ledger.customer(customerId)
        try ledger.catchUp(&customer, now: now)
        let previousVisit = customer.lastVisit
        customer.firstVisit = customer.firstVisit ?? now
        customer.visits += 1
        customer.spend += purchase.total
        customer.lastVisit = now
        try db.cachedStatement(sql: """
            INSERT INTO customer_days (customerId, day, visits, spend) VALUES (?, ?, 1, ?)
            ON CONFLICT(customerId, day) DO UPDATE SET visits = visits + 1, spend = spend + excluded.spend
            """).execute(arguments: [customerId, today, purchase.total])
        try db.cachedStatement(sql: "INSERT INTO purchases (eventId, customerId, total) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            .execute(arguments: [event.eventId, customerId, purchase.total])

        var facts_customer = CustomerFacts()
        facts_customer.id = customerId
        facts_customer.known = true
        facts_customer.visits = Double(customer.visits)
        facts_customer.spend = Double(customer.spend)
        facts_customer.sinceLastVisit = previousVisit.map { Double(now - $0) / 1000 } ?? .nan
        facts_customer.memberFor = Double(now - (customer.firstVisit ?? now)) / 1000
        facts_customer.lastNps = customer.lastNps.map(Double.init) ?? .nan
        facts_customer.points = Double(customer.available - customer.owed)
        facts_customer.qualifyingPoints = Double(customer.qualifying)
        if book.usage.historyDays > 0 {
            let days = try Row.fetchAll(db.cachedStatement(sql: "SELECT day, visits, spend FROM customer_days WHERE customerId = ? AND day > ? ORDER BY day"),
                                        arguments: [customerId, today - book.usage.historyDays])
            facts_customer.history = VisitHistory(days: days.map { VisitHistory.Day(day: $0[0], visits: $0[1], spend: Double($0[2] as Int64)) })
            // Days older than any rule looks at are not needed any more.
            try db.cachedStatement(sql: "DELETE FROM customer_days WHERE customerId = ? AND day <= ?")
                .execute(arguments: [customerId, today - book.usage.historyDays])
        }
        // A tier condition that reads customer.tier sees the tier the customer had so far.
        facts_customer.tier = customer.tier ?? ""
        facts.customer = facts_customer
        let tier = book.tiers?.level(for: facts)?.header.id
        facts.customer.tier = tier ?? ""
        customer.tier = tier

        if customer.earnedDay != Int64(today) {
            customer.earnedDay = Int64(today)
            customer.earnedToday = 0
        }
        guard let earning = book.earning, book.currency == nil || book.currency == purchase.currency else {
            try ledger.save(customer)
            return
        }
        var scratch = EarningPolicy.Scratch()
        let outcome = earning.evaluate(facts, earnedToday: Double(customer.earnedToday), scratch: &scratch)
        let points = outcome.points
        guard points > 0 else {
            try ledger.save(customer)
            return
        }
        let pendingUntil = now + Int64(earning.pendingSeconds * 1000)
        let expiresOnDay = earning.expiryDay(earnedOn: facts.clock)
        let expiresAt = expiresOnDay.map { day -> Int64 in
            let utcMidnight = Int64(day) * 86_400_000
            return utcMidnight - clock.offset(at: utcMidnight)
        }
        let contributions = outcome.contributions.map { contribution -> JSONValue in
            .object(["rule": .string(contribution.ruleId), "points": .double((contribution.points * 100).rounded() / 100)])
        }
        let rulesText = String(decoding: JSONWriter.serialize(.array(contributions)), as: UTF8.self)
        // Points owed from an earlier return are repaid first.
        let repaid = min(points, customer.owed)
        customer.owed -= repaid
        try db.cachedStatement(sql: """
            INSERT INTO lots (customerId, eventId, earnedAt, points, remaining, pendingUntil, expiresOnDay, expiresAt, rulesVersion, rules)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [customerId, event.eventId, now, points, points - repaid, pendingUntil, expiresOnDay, expiresAt,
                                     book.version, rulesText])
        let lotId = db.lastInsertedRowID
        try db.cachedStatement(sql: "UPDATE purchases SET lotId = ? WHERE eventId = ?").execute(arguments: [lotId, event.eventId])
        try ledger.record(customerId, at: now, kind: "accrued", points: points, lotId: lotId, cause: event.eventId,
                          rulesVersion: book.version, detail: rulesText)
        if repaid > 0 {
            try ledger.record(customerId, at: now, kind: "repaid", points: -repaid, lotId: lotId, cause: event.eventId,
                              detail: "owed from an earlier return")
        }
        customer.earnedToday += points
        if pendingUntil <= now {
            // No return window: spendable and tier-qualifying at once.
            try ledger.catchUp(&customer, now: now)
        }
        try ledger.save(customer)

        var payload: JSONObject = [
            "customerId": .string(customerId), "purchaseEventId": .string(event.eventId),
            "points": .int(points), "pendingUntil": .string(Timestamp(epochMilliseconds: pendingUntil).rfc3339),
            "rulesVersion": .string(book.version), "rules": .array(contributions),
        ]
        if let expiresOnDay { payload["expiresOn"] = .string(CivilDate(dayNumber: expiresOnDay).description) }
        if outcome.cappedBy > 0 { payload["cappedBy"] = .double((outcome.cappedBy * 100).rounded() / 100) }
        if repaid > 0 { payload["repaidOwed"] = .int(repaid) }
        if let tier { payload["tier"] = .string(tier) }
        emit.emit(type: "points.accrued", key: "accrued", payload: payload)
    }
}
