import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// A return takes back points in proportion to the amount refunded, from the returned
/// purchase's lot first. A return of an unknown receipt, or of another customer's, is refused;
/// returned amounts add up, so a receipt is never reversed beyond what it earned. When the
/// points were already spent, the rule files' `returnShortfall` says what happens.
struct Reversal {
    let ledger: Ledger
    let book: RuleBook

    func reverse(_ returned: Return, event: EventEnvelope, emit: inout Emitter) throws {
        let db = ledger.db
        let now = event.occurredAt.epochMilliseconds
        func refuse(_ reason: String) {
            emit.emit(type: "points.return-refused", key: "refused", payload: [
                "returnEventId": .string(event.eventId), "originalEventId": .string(returned.originalEventId),
                "customerId": returned.customerId.map { .string($0) } ?? .null, "reason": .string(reason),
            ])
        }
        guard let lot = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT lotId, customerId, total, returned, points, reversed, rulesVersion, pendingUntil, earnedAt FROM lots WHERE eventId = ?
                """), arguments: [returned.originalEventId]) else {
            refuse("unknown receipt: no purchase by a loyalty customer with event id \(returned.originalEventId)")
            return
        }
        let lotId: Int64 = lot[0], customerId: String = lot[1], total: Int64 = lot[2], returnedBefore: Int64 = lot[3]
        if let claimant = returned.customerId, claimant != customerId {
            refuse("the receipt belongs to another customer")
            return
        }
        let returnedNow = min(total, returnedBefore + returned.total)
        try db.cachedStatement(sql: "UPDATE lots SET returned = ? WHERE lotId = ?").execute(arguments: [returnedNow, lotId])
        guard total > 0, (lot[4] as Int64) > 0 else {
            return   // the purchase earned no points: nothing to take back
        }
        let points: Int64 = lot[4], reversedBefore: Int64 = lot[5], rulesVersion: String = lot[6]
        // Rounded down, except that returning everything takes back everything.
        let target = returnedNow >= total ? points : Int64((Double(points) * Double(returnedNow) / Double(total)).rounded(.down))
        let delta = target - reversedBefore
        guard delta > 0 else { return }

        var customer = try ledger.customer(customerId)
        try ledger.catchUp(&customer, now: now)
        // Asked after catching up, which may just have released the lot into the tier count.
        let inQualifying = ledger.countsForTiers(pendingUntil: lot[7], earnedAt: lot[8], of: customer)
        try db.cachedStatement(sql: "UPDATE lots SET reversed = reversed + ? WHERE lotId = ?").execute(arguments: [delta, lotId])
        if inQualifying { customer.qualifying -= delta }
        let taken = try ledger.take(delta, from: &customer, firstLot: lotId, now: now)
        var lotEvents: [String: Int64] = [:]
        for part in taken {
            try ledger.record(customerId, at: now, kind: "reversed", points: -part.points, lotId: part.lotId, cause: event.eventId,
                              rulesVersion: rulesVersion, detail: "return of \(returned.originalEventId)")
            if let eventId = try String.fetchOne(db.cachedStatement(sql: "SELECT eventId FROM lots WHERE lotId = ?"), arguments: [part.lotId]) {
                lotEvents[eventId, default: 0] += part.points
            }
        }
        let shortfall = delta - taken.reduce(0) { $0 + $1.points }
        let policy = book.earning?.shortfall ?? .clawback
        if shortfall > 0 {
            switch policy {
            case .negative, .clawback:
                customer.owed += shortfall
                try ledger.record(customerId, at: now, kind: "owed", points: -shortfall, lotId: lotId, cause: event.eventId,
                                  detail: "already spent; \(policy == .negative ? "the balance goes below zero" : "taken from the next points earned")")
            case .floor:
                try ledger.record(customerId, at: now, kind: "written-off", points: 0, lotId: lotId, cause: event.eventId,
                                  detail: "\(shortfall) points already spent could not be taken back")
            }
        }
        try ledger.save(customer)
        var payload: JSONObject = [
            "customerId": .string(customerId), "returnEventId": .string(event.eventId),
            "purchaseEventId": .string(returned.originalEventId), "points": .int(delta),
            "takenFrom": .array(lotEvents.keys.sorted().map { .object(["purchaseEventId": .string($0), "points": .int(lotEvents[$0]!)]) }),
            "rulesVersion": .string(rulesVersion),
        ]
        if shortfall > 0 {
            payload["shortfall"] = .int(shortfall)
            payload["shortfallPolicy"] = .string(policy.rawValue)
        }
        emit.emit(type: "points.reversed", key: "reversed", payload: payload)
    }
}
