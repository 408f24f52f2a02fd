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

    /// What a return does when the points it takes back were already spent.
    public enum Shortfall: String, Sendable, CaseIterable {
        /// The balance goes below zero; new points pay it back first.
        case negative
        /// The balance stays at zero; what is owed is taken from new points as they are earned.
        case clawback
        /// The balance stays at zero and the rest is written off (and recorded).
        case floor
    }

    public var rounding: Rounding = .down
    public var shortfall: Shortfall = .clawback
    /// How long before points expire the customer is told (a `points.expiring` event); nil: not told.
    public var expiryNoticeSeconds: Double?
    public var expiry: Expiry = .never
    /// Seconds during which earned points are pending (not spendable, not tier-qualifying).
    public var pendingSeconds: Double = 0
    public var capPerPurchase: Double?
    public var capPerDay: Double?
    /// What one point costs the chain when redeemed, minor units; for reports.
    public var pointValue: Double?
    /// Sorted by priority, highest first.
    public var rules: [Rule] = [] {
        didSet { plan = EarningPlan(rules) }
    }

    /// `rules` as evaluation reads them: only the compiled code and group numbers, by kind.
    private var plan = EarningPlan([])

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
        var contributions: [Contribution] = []
        /// Only grown, to one place per rule (a rule contributes at most once per purchase): the
        /// first `contributionCount` are the last outcome's. Written through pointers, since an
        /// append per contribution checked the array's uniqueness and capacity each time.
        var contributionRules: [Int] = []
        var contributionPoints: [Double] = []
        var contributionCount = 0
        let ruleIds: Bool

        public init() {
            ruleIds = true
        }

        /// `ruleIds: false` leaves outcomes' `contributions` empty: callers that want only
        /// `rulesOfContributions` and `pointsOfContributions` (a simulation) then do not pay for
        /// a text per contribution, retained, then released with the array's generic destroy.
        public init(ruleIds: Bool) {
            self.ruleIds = ruleIds
        }

        /// For the last outcome's contributions, in order: each one's position in `rules`.
        public var rulesOfContributions: [Int] { Array(contributionRules[0..<contributionCount]) }
        /// For the last outcome's contributions, in order: each one's points.
        public var pointsOfContributions: [Double] { Array(contributionPoints[0..<contributionCount]) }

        /// Calls `body` with each of the last outcome's contributions, in order: its rule's
        /// position in `rules` and its points. Unlike `rulesOfContributions`, makes no array.
        @inline(__always)
        public func forEachContribution(_ body: (_ rule: Int, _ points: Double) throws -> Void) rethrows {
            for k in 0..<contributionCount { try body(contributionRules[k], contributionPoints[k]) }
        }
    }

    /// The points `facts.purchase` earns. `earnedToday` is what the customer has already earned
    /// today (store-local), for the daily cap. Rules that compute a non-finite or negative amount
    /// contribute nothing.
    ///
    /// The outcome's `contributions` share their storage with `scratch` until the next call;
    /// `scratch.rulesOfContributions` gives each contribution's rule by position (and
    /// `pointsOfContributions` its points, also when `scratch` was made with `ruleIds: false`).
    public func evaluate(_ facts: Facts, earnedToday: Double = 0, scratch: inout Scratch) -> Outcome {
        let plan = self.plan
        let lineCount = facts.purchase.lines.count
        // Work on local arrays (uniquely referenced, so no copy-on-write checks in the loops),
        // and hand them back to `scratch` at the end so their capacity is reused.
        var lineBase: [Double] = []
        var contributions: [Contribution] = []
        var contributionRules: [Int] = []
        var contributionPoints: [Double] = []
        swap(&lineBase, &scratch.lineBase)
        swap(&contributions, &scratch.contributions)
        swap(&contributionRules, &scratch.contributionRules)
        swap(&contributionPoints, &scratch.contributionPoints)
        // Only grown: the first `lineCount` entries are this purchase's, zeroed below. Emptying and
        // refilling it cost two calls into the array's code per purchase.
        if lineBase.count < lineCount { lineBase.append(contentsOf: repeatElement(0, count: lineCount - lineBase.count)) }
        contributions.empty()
        let places = Swift.max(1, rules.count)
        if contributionRules.count < places {
            contributionRules.append(contentsOf: repeatElement(0, count: places - contributionRules.count))
        }
        if contributionPoints.count < places {
            contributionPoints.append(contentsOf: repeatElement(0, count: places - contributionPoints.count))
        }
        var contributionCount = 0
        let ruleIds = scratch.ruleIds
        let outcome = lineBase.withUnsafeMutableBufferPointer { storage in
            // Through a pointer: `lineBase[i] += x` on the array checked its uniqueness each time.
            let lineBase = UnsafeMutableBufferPointer(rebasing: storage[0..<lineCount])
            lineBase.update(repeating: 0)
            return contributionRules.withUnsafeMutableBufferPointer { rulesOut in
                contributionPoints.withUnsafeMutableBufferPointer { pointsOut in
                    evaluate(facts, earnedToday: earnedToday, plan: plan, lineCount: lineCount, lineBase: lineBase,
                             ruleIds: ruleIds, contributions: &contributions, rulesOut: rulesOut, pointsOut: pointsOut,
                             count: &contributionCount)
                }
            }
        }
        scratch.contributionCount = contributionCount
        swap(&lineBase, &scratch.lineBase)
        swap(&contributions, &scratch.contributions)
        swap(&contributionRules, &scratch.contributionRules)
        swap(&contributionPoints, &scratch.contributionPoints)
        return outcome
    }

    /// `evaluate(_:earnedToday:scratch:)` with its buffers: `lineBase` holds `lineCount` zeros.
    @inline(__always)
    private func evaluate(_ facts: Facts, earnedToday: Double, plan: EarningPlan, lineCount: Int,
                          lineBase: UnsafeMutableBufferPointer<Double>, ruleIds: Bool, contributions: inout [Contribution],
                          rulesOut: UnsafeMutableBufferPointer<Int>, pointsOut: UnsafeMutableBufferPointer<Double>,
                          count: inout Int) -> Outcome {
        func contribute(_ rule: Int, _ points: Double) {
            if ruleIds { contributions.append(Contribution(ruleId: rules[rule].header.id, points: points)) }
            // Each rule contributes at most once, and there is a place per rule; checked anyway,
            // since the writes are unchecked.
            precondition(count < rulesOut.count && count < pointsOut.count)
            rulesOut.baseAddress.unsafelyUnwrapped[count] = rule
            pointsOut.baseAddress.unsafelyUnwrapped[count] = points
            count += 1
        }
        var gate = GroupGate()
        let subtotal = facts.purchase.subtotal
        var unattributed = 0.0 // base points of a purchase without lines (or with a zero subtotal)

        // 1. Base points.
        /// A rule with `lines:` applies only to a purchase with a matching line; only then does
        /// it take its group.
        func someLineMatches(_ lines: BoolCode) -> Bool {
            for i in 0..<lineCount {
                facts.lineIndex = i
                if lines(facts) { return true }
            }
            return false
        }

        plan.points.forEach { step in
            if gate.isTaken(step.group) { return }
            guard step.applies(facts) else { return }
            if step.hasLines && step.group >= 0 && !someLineMatches(step.lines) { return }
            guard gate.admit(step.group) else { return }
            var earned = 0.0
            if step.hasLines {
                for i in 0..<lineCount {
                    facts.lineIndex = i
                    guard step.lines(facts) else { continue }
                    let value = step.value(facts)
                    guard value.isFinite, value > 0 else { continue }
                    lineBase[i] += value
                    earned += value
                }
            } else {
                let value = step.value(facts)
                guard value.isFinite, value > 0 else { return }
                earned = value
                if subtotal > 0 && lineCount > 0 {
                    for i in 0..<lineCount { lineBase[i] += value * facts.purchase.lines[i].amount / subtotal }
                } else {
                    unattributed += value
                }
            }
            if earned > 0 {
                contribute(step.rule, earned)
            }
        }

        // 2. Multipliers, in priority order, each on the points its lines have so far.
        plan.multipliers.forEach { step in
            if gate.isTaken(step.group) { return }
            guard step.applies(facts) else { return }
            let factor: Double
            if step.isConstant {
                guard step.constantIsFactor else { return }
                factor = step.constant
            } else {
                factor = step.amount(facts)
                guard factor.isFinite, factor >= 0, factor != 1 else { return }
            }
            if step.hasLines && step.group >= 0 && !someLineMatches(step.lines) { return }
            guard gate.admit(step.group) else { return }
            var extra = 0.0
            for i in 0..<lineCount {
                if step.hasLines {
                    facts.lineIndex = i
                    guard step.lines(facts) else { continue }
                }
                let added = lineBase[i] * (factor - 1)
                lineBase[i] += added
                extra += added
            }
            if !step.hasLines && unattributed > 0 {
                let added = unattributed * (factor - 1)
                unattributed += added
                extra += added
            }
            if extra != 0 {
                contribute(step.rule, extra)
            }
        }

        var total = unattributed
        for value in lineBase { total += value }

        // 3. Fixed bonuses.
        plan.bonuses.forEach { step in
            if gate.isTaken(step.group) { return }
            guard step.applies(facts) else { return }
            if step.hasLines {
                var any = false
                for i in 0..<lineCount {
                    facts.lineIndex = i
                    if step.lines(facts) { any = true; break }
                }
                guard any else { return }
            }
            let value = step.value(facts)
            guard value.isFinite, value > 0 else { return }
            guard gate.admit(step.group) else { return }
            total += value
            contribute(step.rule, value)
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

/// An earning policy's rules reduced to what evaluation needs, split by kind (each in priority
/// order): the compiled code, the group number and the rule's position in `rules`.
final class EarningPlan: Sendable {
    let points: RuleCodes
    let multipliers: RuleCodes
    let bonuses: RuleCodes

    init(_ rules: [EarningPolicy.Rule]) {
        let groups = groupNumbers(rules.map(\.header))
        var points: [RuleCode] = [], multipliers: [RuleCode] = [], bonuses: [RuleCode] = []
        for (index, rule) in rules.enumerated() {
            func code(_ amount: CompiledAmount) -> RuleCode {
                RuleCode(rule: index, group: groups[index], when: rule.when, lines: rule.lines, amount: amount)
            }
            switch rule.effect {
            case .points(let amount): points.append(code(amount))
            case .multiplier(let amount): multipliers.append(code(amount))
            case .bonus(let amount): bonuses.append(code(amount))
            }
        }
        self.points = RuleCodes(points)
        self.multipliers = RuleCodes(multipliers)
        self.bonuses = RuleCodes(bonuses)
    }
}
