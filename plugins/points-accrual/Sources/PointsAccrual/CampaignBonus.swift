import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// A points-multiplier campaign (`pointsMultiplier: N` in the campaign rules, committed by the
/// discount-campaigns plugin and announced in its `campaign.redeemed` event) promises N times the
/// purchase's points. The extra points go into the purchase's own lot, so that everything that
/// follows the lot — release after the return window, tier counting, returns taking back in
/// proportion, expiry — treats them as the purchase's points.
///
/// - Several multipliers on one purchase multiply (2× and 3× make 6×).
/// - bonus = points the purchase earned × (product − 1), rounded as the earning section's
///   `rounding` says (down unless the file says otherwise). The earning caps do not apply: the
///   campaign is the marketer's explicit promise, and the bonus does not use up the day's cap.
/// - Owed points are repaid from it first; a share already returned is taken back at once; a lot
///   that already expired gets nothing spendable (a ledger row says so).
struct CampaignBonus {
    let ledger: Ledger
    let book: RuleBook
    let schedule: SweepSchedule

    /// One `campaigns` entry that carries a multiplier.
    struct Multiplier: Equatable {
        var campaign: String
        var factor: Double
    }

    /// What `campaign.redeemed` says, checked.
    struct Redeemed {
        var purchaseEventId: String
        var customerId: String?
        var rulesVersion: String
        var multipliers: [Multiplier]

        /// The rule files accept multipliers from 1 to 100 (RuleLoader+Campaigns); anything else
        /// did not come from them.
        static let factors: ClosedRange<Double> = 1...100

        init(_ payload: JSONObject, eventId: String) throws(CampaignBonusInvalid) {
            func refuse(_ problem: String) -> CampaignBonusInvalid { CampaignBonusInvalid(eventId: eventId, problem: problem) }
            guard case .string(let purchase)? = payload["purchaseEventId"], !purchase.isEmpty else {
                throw refuse("purchaseEventId (the purchase's event id, text) is missing")
            }
            guard case .string(let version)? = payload["rulesVersion"] else {
                throw refuse("rulesVersion (text) is missing")
            }
            guard case .array(let entries)? = payload["campaigns"] else {
                throw refuse("campaigns (an array of {campaign, discount, pointsMultiplier?}) is missing")
            }
            switch payload["customerId"] {
            case nil, .null?: customerId = nil
            case .string(let id)?: customerId = id
            default: throw refuse("customerId must be text when present")
            }
            var multipliers: [Multiplier] = []
            for (index, entry) in entries.enumerated() {
                guard case .object(let item) = entry, case .string(let campaign)? = item["campaign"], !campaign.isEmpty else {
                    throw refuse("campaigns[\(index)] needs a campaign id (text)")
                }
                let factor: Double
                switch item["pointsMultiplier"] {
                case nil: continue                       // a money discount: nothing for the points
                case .int(let n)?: factor = Double(n)
                case .double(let x)?: factor = x
                default:
                    // JSON writers turn NaN and infinity into null, so null is a bad number too.
                    throw refuse("campaigns[\(index)] (\(campaign)): pointsMultiplier must be a number from 1 to 100, found \(Self.text(item["pointsMultiplier"]!))")
                }
                guard factor.isFinite, Self.factors.contains(factor) else {
                    throw refuse("campaigns[\(index)] (\(campaign)): pointsMultiplier must be a number from 1 to 100, found \(factor)")
                }
                multipliers.append(Multiplier(campaign: campaign, factor: factor))
            }
            purchaseEventId = purchase
            rulesVersion = version
            self.multipliers = multipliers
        }

        private static func text(_ value: JSONValue) -> String {
            String(decoding: JSONWriter.serialize(value), as: UTF8.self)
        }
    }

    /// No bonus is believable beyond this (100× on a purchase of ten million points).
    static let largestBonus: Double = 1_000_000_000_000

    func apply(_ payload: JSONObject, event: EventEnvelope, emit: inout Emitter) throws {
        let redeemed = try Redeemed(payload, eventId: event.eventId)
        guard !redeemed.multipliers.isEmpty else { return }
        // Anonymous: no lot, nobody to credit.
        guard let claimed = redeemed.customerId else { return }
        let db = ledger.db
        guard let lot = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT lotId, customerId, points, campaignBonus, remaining, reversed, total, returned, pendingUntil, earnedAt, expired,
                       expiresAt, expiresOnDay, rules
                FROM lots WHERE eventId = ?
                """), arguments: [redeemed.purchaseEventId]) else {
            return   // the purchase is not one this plugin credited (it never saw it, or it was not a customer's)
        }
        let lotId: Int64 = lot["lotId"], customerId: String = lot["customerId"]
        guard claimed == customerId else {
            throw CampaignBonusInvalid(eventId: event.eventId,
                                       problem: "it names customer \(claimed), but purchase \(redeemed.purchaseEventId) is customer \(customerId)'s")
        }
        // What the purchase's rules earned, without any bonus an earlier campaign.redeemed added.
        let earned: Int64 = (lot["points"] as Int64) - (lot["campaignBonus"] as Int64)
        guard earned > 0 else { return }

        // In the payload's order (the campaigns' priority): each campaign's share is what its
        // factor adds to the points so far, so the shares add up to the whole bonus.
        var running = Double(earned)
        var contributions: [JSONValue] = []
        for multiplier in redeemed.multipliers {
            let share = running * (multiplier.factor - 1)
            running *= multiplier.factor
            contributions.append(.object(["rule": .string("campaign:\(multiplier.campaign)"), "points": .double((share * 100).rounded() / 100)]))
        }
        let exact = running - Double(earned)
        guard exact <= Self.largestBonus else {
            throw CampaignBonusInvalid(eventId: event.eventId, problem: "the multipliers' product would give \(exact) bonus points, beyond any believable campaign")
        }
        let rounded: Double = switch book.earning?.rounding ?? .down {
        case .down: exact.rounded(.down)
        case .nearest: exact.rounded(.toNearestOrAwayFromZero)
        case .up: exact.rounded(.up)
        }
        let bonus = Int64(max(0, rounded))
        guard bonus > 0 else { return }

        let now = event.occurredAt.epochMilliseconds
        let product = running / Double(earned)
        let names = redeemed.multipliers.map { "\($0.campaign) ×\(Self.format($0.factor))" }.joined(separator: ", ")
        let what = (redeemed.multipliers.count == 1 ? "campaign " : "campaigns ") + names
            + (redeemed.multipliers.count > 1 ? " (×\(Self.format(product)))" : "")
        if lot["expired"] as Bool {
            // The lot's points have lapsed: the bonus would lapse with them at once.
            try ledger.record(customerId, at: now, kind: "expired", points: 0, lotId: lotId, cause: event.eventId,
                              rulesVersion: redeemed.rulesVersion,
                              detail: "\(what) on purchase \(redeemed.purchaseEventId): \(bonus) bonus points not credited, the purchase's points had expired")
            return
        }

        var customer = try ledger.customer(customerId)
        try ledger.catchUp(&customer, now: now)
        let pendingUntil: Int64 = lot["pendingUntil"], earnedAt: Int64 = lot["earnedAt"]
        let released = pendingUntil <= customer.releasedThrough
        let countsForTiers = ledger.countsForTiers(pendingUntil: pendingUntil, earnedAt: earnedAt, of: customer)

        // A receipt returned (in part) before this arrived: the returned share of the bonus goes
        // back at once, computed as Reversal does, so that a later return continues from here.
        let points: Int64 = lot["points"], reversedBefore: Int64 = lot["reversed"]
        let total: Int64 = lot["total"], returned: Int64 = lot["returned"]
        let newPoints = points + bonus
        var takenBack: Int64 = 0
        if total > 0, returned > 0 {
            let target = returned >= total ? newPoints : Int64((Double(newPoints) * Double(returned) / Double(total)).rounded(.down))
            takenBack = min(bonus, max(0, target - reversedBefore))
        }
        let credited = bonus - takenBack
        // Points owed from an earlier return are repaid first, as from any new points.
        let repaid = min(credited, customer.owed)
        customer.owed -= repaid
        let added = credited - repaid

        var rules: [JSONValue] = []
        if case .array(let existing)? = try? JSONParser.parse(lot["rules"] as String) { rules = existing }
        rules += contributions
        try db.cachedStatement(sql: """
            UPDATE lots SET points = points + ?, campaignBonus = campaignBonus + ?, reversed = reversed + ?, remaining = remaining + ?,
                            rules = ?
            WHERE lotId = ?
            """).execute(arguments: [bonus, bonus, takenBack, added, String(decoding: JSONWriter.serialize(.array(rules)), as: UTF8.self), lotId])
        // A pending lot is counted when released: catchUp then reads remaining and
        // points − reversed, which already hold the bonus. A counted one changes the figures now.
        if released { customer.available += added }
        if countsForTiers { customer.qualifying += credited }

        try ledger.record(customerId, at: now, kind: "accrued", points: bonus, lotId: lotId, cause: event.eventId,
                          rulesVersion: redeemed.rulesVersion,
                          detail: "\(what) on purchase \(redeemed.purchaseEventId): \(earned) points earned, \(bonus) bonus")
        if takenBack > 0 {
            try ledger.record(customerId, at: now, kind: "reversed", points: -takenBack, lotId: lotId, cause: event.eventId,
                              rulesVersion: redeemed.rulesVersion,
                              detail: "the bonus's share of what was already returned of \(redeemed.purchaseEventId)")
        }
        if repaid > 0 {
            try ledger.record(customerId, at: now, kind: "repaid", points: -repaid, lotId: lotId, cause: event.eventId,
                              detail: "owed from an earlier return")
        }
        try ledger.save(customer)

        var accrued: JSONObject = [
            "customerId": .string(customerId), "points": .int(bonus), "purchaseEventId": .string(redeemed.purchaseEventId),
            "campaignBonus": .bool(true), "campaigns": .array(redeemed.multipliers.map { .string($0.campaign) }),
            "pointsMultiplier": .double(product), "earned": .int(earned),
            "pendingUntil": .string(Timestamp(epochMilliseconds: pendingUntil).rfc3339),
            "rulesVersion": .string(redeemed.rulesVersion), "rules": .array(contributions),
        ]
        if let day = lot["expiresOnDay"] as Int? { accrued["expiresOn"] = .string(CivilDate(dayNumber: day).description) }
        if repaid > 0 { accrued["repaidOwed"] = .int(repaid) }
        if takenBack > 0 { accrued["returnedShare"] = .int(takenBack) }
        emit.emit(type: "points.accrued", key: "campaign-bonus", payload: accrued)
        if takenBack > 0 {
            // For those counting the purchase's points (reward-rules' tiers): the returned
            // share, as a return would have said.
            emit.emit(type: "points.reversed", key: "campaign-bonus-reversed", payload: [
                "customerId": .string(customerId), "purchaseEventId": .string(redeemed.purchaseEventId), "points": .int(takenBack),
                "takenFrom": .array([.object(["purchaseEventId": .string(redeemed.purchaseEventId), "points": .int(takenBack)])]),
                "rulesVersion": .string(redeemed.rulesVersion), "campaignBonus": .bool(true),
            ])
        }
        if added > 0, let expiresAt = lot["expiresAt"] as Int64?, book.earning?.expiryNoticeSeconds != nil,
           expiresAt <= (try schedule.current(ledger)).noticedThrough {
            // The lot's expiry notice already went out without these points.
            emit.emit(type: "points.expiring", key: "campaign-bonus-expiring", payload: [
                "customerId": .string(customerId), "points": .int(added),
                "expiresAt": .string(Timestamp(epochMilliseconds: expiresAt).rfc3339),
            ])
        }
    }

    /// 2 → "2", 1.5 → "1.5".
    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }
}

struct CampaignBonusInvalid: Error, CustomStringConvertible {
    var eventId: String
    var problem: String
    var description: String { "campaign.redeemed \(eventId) refused: \(problem)" }
}
