import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// The points plugin: every purchase earns what the `earning:` rules say, into a ledger of lots
/// (one per purchase, with the rules and rules version that made it, a pending period covering
/// the return window, and an expiry); returns take points back in proportion; redemptions spend
/// the oldest-expiring lots first; lots expire with notice. Time is the events' time, so a replay
/// of the journal into a fresh database gives the same ledger.
public struct PointsAccrualPlugin: LoyaltyPlugin {
    public let name = "points-accrual"
    public let topics: Set<String> = [EventType.purchase, EventType.return, EventType.survey, "points.redeemed", "customer.scored",
                                      "tier.changed", "reward.granted", "campaign.redeemed"]
    public let rules: LiveRules
    let schedule = SweepSchedule()
    /// `points.balance`'s own connection: asked at every till, so kept off GRDB's pool.
    let balanceReader = ServiceReader()

    public init(rules: LiveRules = LiveRules()) {
        self.rules = rules
    }

    public var liveRules: LiveRules? { rules }

    public func registerMigrations(_ migrator: inout DatabaseMigrator) {
        Schema.register(&migrator)
    }

    public func apply(_ event: StoredEvent, in db: Database, emit: inout Emitter) throws {
        do {
            try applyOrThrow(event, in: db, emit: &emit)
        } catch {
            // This event's writes are rolled back: what the schedule learnt from them goes too.
            schedule.forget()
            throw error
        }
    }

    private func applyOrThrow(_ event: StoredEvent, in db: Database, emit: inout Emitter) throws {
        let ledger = Ledger(db: db)
        let book = rules.current
        let now = event.envelope.occurredAt.epochMilliseconds
        // The tills' events move the plugin's clock; its own `points.redeemed` events carry the
        // time of the request and arrive whenever the bus stored them, so they do not.
        if event.envelope.type == EventType.purchase || event.envelope.type == EventType.return || event.envelope.type == EventType.survey {
            try sweep(ledger, book: book, now: now, emit: &emit)
        }
        switch event.envelope.payload {
        case .purchase(let purchase):
            guard let customerId = purchase.customerId else { return }   // anonymous: nobody to credit
            try Accrual(ledger: ledger, book: book, schedule: schedule).accrue(purchase, customerId: customerId, event: event.envelope, emit: &emit)
        case .return(let returned):
            try Reversal(ledger: ledger, book: book).reverse(returned, event: event.envelope, emit: &emit)
        case .survey(let survey):
            guard let customerId = survey.customerId else { return }
            var customer = try ledger.customer(customerId)
            customer.lastNps = Int64(survey.nps)
            try ledger.save(customer)
        case .derived(let payload) where event.envelope.type == "points.redeemed":
            try Redemption.replay(payload, event: event.envelope, ledger: ledger)
        case .derived(let payload) where event.envelope.type == "tier.changed":
            // Tiers are the reward-rules plugin's: it qualifies and downgrades customers by its
            // policy; the earning rules here read the result as customer.tier.
            let change = try TierChanged(payload)
            var customer = try ledger.customer(change.customerId)
            customer.tier = change.tier
            try ledger.save(customer)
        case .derived(let payload) where event.envelope.type == "reward.granted":
            try Accrual(ledger: ledger, book: book, schedule: schedule).bonus(payload, event: event.envelope, emit: &emit)
        case .derived(let payload) where event.envelope.type == "campaign.redeemed":
            try CampaignBonus(ledger: ledger, book: book, schedule: schedule).apply(payload, event: event.envelope, emit: &emit)
        case .derived(let payload) where event.envelope.type == "customer.scored":
            let score = try CustomerScored(payload)
            var customer = try ledger.customer(score.customerId)
            customer.clv = score.clv
            customer.clvPercentile = score.clvPercentile
            customer.pAlive = score.pAlive
            try ledger.save(customer)
        default:
            break
        }
    }

    /// Expiry and expiry notices, as of the event's time. Most events find, from the
    /// schedule, that nothing is due, without a query.
    private func sweep(_ ledger: Ledger, book: RuleBook, now: Int64, emit: inout Emitter) throws {
        var known = try schedule.current(ledger)
        let noticeAhead = book.earning?.expiryNoticeSeconds.map { Int64($0 * 1000) }
        let horizon = noticeAhead.map { now + $0 }
        guard known.nextExpiry <= now || (horizon.map { known.nextNotice <= $0 } ?? false) else { return }
        if known.nextExpiry <= now {
            for lapsed in try ledger.expire(now: now) {
                emit.emit(type: "points.expired", key: "expired-\(lapsed.lotId)", payload: [
                    "customerId": .string(lapsed.customerId), "points": .int(lapsed.points),
                    "purchaseEventId": .string(lapsed.purchaseEventId),
                ])
            }
            known.nextExpiry = try ledger.nextExpiry() ?? .max
        }
        if let horizon, known.nextNotice <= horizon {
            for due in try ledger.dueNotices(after: known.noticedThrough, horizon: horizon) {
                emit.emit(type: "points.expiring", key: "expiring-\(due.customerId)", payload: [
                    "customerId": .string(due.customerId), "points": .int(due.points),
                    "expiresAt": .string(Timestamp(epochMilliseconds: due.firstExpiry).rfc3339),
                ])
            }
            known.noticedThrough = max(known.noticedThrough, horizon)
            known.nextNotice = try ledger.nextNotice(after: known.noticedThrough) ?? .max
        }
        schedule.swept(known, in: ledger.db)
    }

    public var services: [String: ServiceHandler] {
        let rules = self.rules
        let name = self.name
        let reader = self.balanceReader
        return [
            "points.balance": { request, pool in
                guard case .object(let query)? = try? JSONParser.parse(request.body),
                      case .string(let customerId)? = query["customerId"] else {
                    return .error("expected a JSON object with \"customerId\", e.g. {\"customerId\":\"C000042\"}")
                }
                let book = rules.current
                let balance = try Balance.of(customerId, at: Timestamp.now().epochMilliseconds, shortfall: book.earning?.shortfall ?? .clawback,
                                             reader: reader, pool: pool)
                return .ok(JSONWriter.serialize(balance.json))
            },
            "points.redeem": { request, pool in
                try Redemption.handle(request.body, pool: pool, plugin: name, book: rules.current)
            },
        ]
    }
}
