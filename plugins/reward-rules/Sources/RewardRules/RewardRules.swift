import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// The reward-rules plugin: decides who gets what from the `rewards:` rules (free items,
/// vouchers, bonus points, tier changes, custom rewards for other systems), keeps each
/// customer's tier from the `tiers:` rules (upgrade at once, downgrade by policy), enforces
/// per-customer limits and per-rule budgets, lets rewards lapse, and redeems them
/// (`reward.redeem`, idempotent).
///
/// Time is the events' time (the latest seen), never the wall clock, so a replay of the journal
/// into a fresh database gives the same rewards with the same ids. Scheduled work (top
/// customers, the tiers' period end, expiry) runs when the events' time passes its moment.
public struct RewardRulesPlugin: LoyaltyPlugin {
    public static let grantedType = "reward.granted"
    public static let redeemedType = "reward.redeemed"
    public static let expiredType = "reward.expired"
    public static let tierChangedType = "tier.changed"
    public static let scoredType = "customer.scored"
    public static let accruedType = "points.accrued"
    public static let reversedType = "points.reversed"
    /// How often, in event time, expiry and schedules are checked.
    static let sweepEvery: Int64 = 3_600_000

    public let name = "reward-rules"
    public let topics: Set<String> = [EventType.purchase, EventType.return, EventType.survey, RewardRulesPlugin.scoredType,
                                      RewardRulesPlugin.accruedType, RewardRulesPlugin.reversedType, RewardRulesPlugin.redeemedType]
    public let rules: LiveRules
    /// The till's clock for `reward.redeem` (the only thing not driven by events); tests set it.
    let wallClock: @Sendable () -> Int64

    public init(rules: LiveRules = LiveRules(), wallClock: @escaping @Sendable () -> Int64 = { Timestamp.now().epochMilliseconds }) {
        self.rules = rules
        self.wallClock = wallClock
    }

    public var liveRules: LiveRules? { rules }

    public func registerMigrations(_ migrator: inout DatabaseMigrator) {
        Schema.register(&migrator)
    }

    public func apply(_ event: StoredEvent, in db: Database, emit: inout Emitter) throws {
        let book = rules.current
        let envelope = event.envelope
        let at = envelope.occurredAt.epochMilliseconds
        let (previousNow, lastSweep) = try Self.clock(db)
        let now = max(previousNow, at)
        var engine = Engine(db: db, book: book, input: envelope, pluginName: name)
        switch envelope.payload {
        case .purchase(let purchase):
            if let customerId = purchase.customerId, Engine.validId(customerId) {
                try engine.purchase(purchase, customerId: customerId, at: at, emit: &emit)
            }
        case .return(let returned):
            if let customerId = returned.customerId, Engine.validId(customerId) {
                try engine.returned(returned, customerId: customerId, at: at, emit: &emit)
            }
        case .survey(let survey):
            if let customerId = survey.customerId, Engine.validId(customerId) {
                try engine.survey(survey, customerId: customerId, at: at, emit: &emit)
            }
        case .derived(let payload):
            switch envelope.type {
            case Self.scoredType: try engine.scored(payload, at: at, emit: &emit)
            case Self.accruedType: try engine.accrued(payload, at: at, emit: &emit)
            case Self.reversedType: try engine.reversed(payload, at: at, emit: &emit)
            case Self.redeemedType: try Redemption.replay(payload, at: at, db: db)
            default: break
            }
        }
        var swept = lastSweep
        if now - lastSweep >= Self.sweepEvery {
            try engine.sweep(now: now, since: lastSweep, emit: &emit)
            swept = now
        }
        if now != previousNow || swept != lastSweep {
            try db.cachedStatement(sql: "UPDATE rr_clock SET now = ?, lastSweep = ? WHERE id = 1").execute(arguments: [now, swept])
        }
    }

    static func clock(_ db: Database) throws -> (now: Int64, lastSweep: Int64) {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT now, lastSweep FROM rr_clock WHERE id = 1")) else { return (0, 0) }
        return (row[0], row[1])
    }

    public var services: [String: ServiceHandler] {
        let name = self.name, wallClock = self.wallClock
        return [
            "reward.redeem": { request, pool in try Redemption.handle(request.body, pool: pool, plugin: name, now: wallClock()) },
            "reward.list": { request, pool in try Redemption.list(request.body, pool: pool) },
        ]
    }
}
