/// How purchases earn points: the `earning:` section.
///
/// Per purchase: the `points` rules that apply are added up (a rule with `lines:` adds its
/// amount for each matching line); each `multiplier` rule then multiplies the points of the
/// lines it covers (all lines, or those matching its `lines:`); `bonus` rules add fixed points
/// last. The sum is capped (per purchase, then per day) and rounded as the file says. Base
/// points from a purchase-level rule are spread over the lines in proportion to their amount,
/// so a category multiplier multiplies that category's share.
public struct EarningPolicy: Sendable {
    public enum Rounding: String, Sendable, CaseIterable {
        case down, nearest, up
    }

    /// When earned points lapse.
    public enum Expiry: Sendable, Equatable {
        case never
        /// This many days after they are earned.
        case afterDays(Int)
        /// At the end of the month they are earned in (store-local).
        case endOfMonth
        /// At the end of the year they are earned in (store-local).
        case endOfYear
    }

    public enum Effect: Sendable {
        case points(CompiledAmount)
        case multiplier(CompiledAmount)
        case bonus(CompiledAmount)

        public var kind: String {
            switch self {
            case .points: "points"
            case .multiplier: "multiplier"
            case .bonus: "bonus"
            }
        }
    }

    public struct Rule: Sendable {
        public var header: RuleHeader
        public var when: CompiledCondition?
        public var lines: CompiledCondition?
        public var effect: Effect
    }

    public var rounding: Rounding = .down
    public var expiry: Expiry = .never
    /// Seconds during which earned points are pending (not spendable, not tier-qualifying).
    public var pendingSeconds: Double = 0
    public var capPerPurchase: Double?
    public var capPerDay: Double?
    /// What one point costs the chain when redeemed, minor units; for reports.
    public var pointValue: Double?
    /// Sorted by priority, highest first.
    public var rules: [Rule] = []

    public init() {}

    /// One rule's part in a purchase's points.
    public struct Contribution: Sendable, Equatable {
        public var ruleId: String
        public var points: Double
    }

    public struct Outcome: Sendable, Equatable {
        /// Points earned, rounded and capped.
        public var points: Int64
        public var contributions: [Contribution]
        /// Points removed by the caps, before rounding.
        public var cappedBy: Double
    }

    /// Reusable buffers, so evaluation does not allocate per purchase.
    public struct Scratch {
        var lineBase: [Double] = []
        var lineTotal: [Double] = []
        public init() {}
    }

    /// The points `facts.purchase` earns. `earnedToday` is what the customer has already earned
    /// today (store-local), for the daily cap. Rules that compute a non-finite or negative amount
    /// contribute nothing.
    public func evaluate(_ facts: Facts, earnedToday: Double = 0, scratch: inout Scratch) -> Outcome {
        let lineCount = facts.purchase.lines.count
        scratch.lineBase.removeAll(keepingCapacity: true)
        scratch.lineBase.append(contentsOf: repeatElement(0, count: lineCount))
        var contributions: [Contribution] = []
        var gate = GroupGate()
        let subtotal = facts.purchase.subtotal
        var unattributed = 0.0 // base points of a purchase without lines (or with a zero subtotal)

        // 1. Base points.
        for rule in rules {
            guard case .points(let amount) = rule.effect else { continue }
            if let when = rule.when, !when.evaluate(facts) { continue }
            guard gate.admit(rule.header) else { continue }
            var earned = 0.0
            if let lines = rule.lines {
                for i in 0..<lineCount {
                    facts.lineIndex = i
                    guard lines.evaluate(facts) else { continue }
                    let value = amount.evaluate(facts)
                    guard value.isFinite, value > 0 else { continue }
                    scratch.lineBase[i] += value
                    earned += value
                }
            } else {
                let value = amount.evaluate(facts)
                guard value.isFinite, value > 0 else { continue }
                earned = value
                if subtotal > 0 && lineCount > 0 {
                    for i in 0..<lineCount { scratch.lineBase[i] += value * facts.purchase.lines[i].amount / subtotal }
                } else {
                    unattributed += value
                }
            }
            if earned > 0 { contributions.append(Contribution(ruleId: rule.header.id, points: earned)) }
        }

        // 2. Multipliers, in priority order, each on the points its lines have so far.
        for rule in rules {
            guard case .multiplier(let amount) = rule.effect else { continue }
            if let when = rule.when, !when.evaluate(facts) { continue }
            let factor = amount.evaluate(facts)
            guard factor.isFinite, factor >= 0, factor != 1 else { continue }
            guard gate.admit(rule.header) else { continue }
            var extra = 0.0
            for i in 0..<lineCount {
                if let lines = rule.lines {
                    facts.lineIndex = i
                    guard lines.evaluate(facts) else { continue }
                }
                let added = scratch.lineBase[i] * (factor - 1)
                scratch.lineBase[i] += added
                extra += added
            }
            if rule.lines == nil && unattributed > 0 {
                let added = unattributed * (factor - 1)
                unattributed += added
                extra += added
            }
            if extra != 0 { contributions.append(Contribution(ruleId: rule.header.id, points: extra)) }
        }

        var total = unattributed
        for value in scratch.lineBase { total += value }

        // 3. Fixed bonuses.
        for rule in rules {
            guard case .bonus(let amount) = rule.effect else { continue }
            if let when = rule.when, !when.evaluate(facts) { continue }
            if let lines = rule.lines {
                var any = false
                for i in 0..<lineCount {
                    facts.lineIndex = i
                    if lines.evaluate(facts) { any = true; break }
                }
                guard any else { continue }
            }
            let value = amount.evaluate(facts)
            guard value.isFinite, value > 0 else { continue }
            guard gate.admit(rule.header) else { continue }
            total += value
            contributions.append(Contribution(ruleId: rule.header.id, points: value))
        }

        // 4. Caps, then rounding.
        var capped = total
        if let cap = capPerPurchase { capped = min(capped, cap) }
        if let cap = capPerDay { capped = min(capped, max(0, cap - earnedToday)) }
        let rounded: Double = switch rounding {
        case .down: capped.rounded(.down)
        case .nearest: capped.rounded(.toNearestOrAwayFromZero)
        case .up: capped.rounded(.up)
        }
        return Outcome(points: Int64(max(0, rounded)), contributions: contributions, cappedBy: total - capped)
    }

    /// When points earned at `facts.clock` expire, as a store-local day number (the points
    /// lapse at the start of that day); nil when they never do.
    public func expiryDay(earnedOn clock: ClockFacts) -> Int? {
        switch expiry {
        case .never: return nil
        case .afterDays(let days): return clock.day + days
        case .endOfMonth:
            let next = clock.month == 12 ? CivilDate(year: clock.year + 1, month: 1, day: 1) : CivilDate(year: clock.year, month: clock.month + 1, day: 1)
            return next.dayNumber
        case .endOfYear:
            return CivilDate(year: clock.year + 1, month: 1, day: 1).dayNumber
        }
    }
}
