/// Tier levels, lowest first (`tiers:`). A customer is in the highest level whose condition
/// holds; the first level has no condition and is where everyone starts.
public struct TierPolicy: Sendable {
    public struct Level: Sendable {
        public var header: RuleHeader
        public var name: String
        public var when: CompiledCondition?
    }

    public var levels: [Level] {
        didSet { codes = Self.codes(levels) }
    }

    /// Each level's compiled condition, highest first (the order they are tried in).
    private var codes: RuleCodes

    /// Downgrade policy and qualifying window (`tiers:` written as a mapping).
    public var settings: TierSettings

    public init(levels: [Level], settings: TierSettings = TierSettings()) {
        self.levels = levels
        self.settings = settings
        codes = Self.codes(levels)
    }

    private static func codes(_ levels: [Level]) -> RuleCodes {
        RuleCodes(levels.indices.reversed().map { RuleCode(rule: $0, group: -1, when: levels[$0].when) })
    }

    public var ids: [String] { levels.map(\.header.id) }

    /// The level `facts.customer` qualifies for.
    public func level(for facts: Facts) -> Level? {
        levelIndex(for: facts).map { levels[$0] }
    }

    /// The position in `levels` of the level `facts.customer` qualifies for.
    public func levelIndex(for facts: Facts) -> Int? {
        var found: Int?
        codes.forEach { level in
            if found == nil && level.applies(facts) { found = level.rule }
        }
        return found
    }
}

/// Rewards for repeat and most-profitable customers (`rewards:`).
public struct RewardRule: Sendable {
    /// How often one customer can receive the reward.
    public enum Repeat: Sendable, Equatable {
        /// Each time the condition holds.
        case everyTime
        /// Once per customer, ever.
        case once
        /// At most once in this many seconds.
        case oncePer(Double)
    }

    public var header: RuleHeader
    public var when: CompiledCondition?
    /// What the customer gets, in words for the customer (`free coffee`).
    public var grant: String
    /// What it costs the chain, minor units, for reports and budgets.
    public var value: Double
    public var repeats: Repeat
    /// What sets it off (`trigger:`); `.purchase` when not written.
    public var trigger: RewardTrigger = .purchase
    /// What the customer gets (`reward:`); a free item described by `grant` when not written.
    public var kind: RewardKind = .freeItem(sku: nil)
    /// Per customer, budget and expiry (`limit:`, `budget:`, `expires:`).
    public var limits = RewardLimits()
}

public struct RewardPolicy: Sendable {
    /// Sorted by priority, highest first.
    public var rules: [RewardRule] {
        didSet { steps = Self.steps(rules) }
    }

    private struct Steps: Sendable {
        let codes: RuleCodes
        let repeats: [RewardRule.Repeat]
        /// Rewards set off by anything but a plain purchase: the reward-rules plugin decides them.
        let otherTrigger: [Bool]
    }

    private var steps: Steps

    public init(rules: [RewardRule]) {
        self.rules = rules
        steps = Self.steps(rules)
    }

    private static func steps(_ rules: [RewardRule]) -> Steps {
        let groups = groupNumbers(rules.map(\.header))
        return Steps(codes: RuleCodes(rules.indices.map { RuleCode(rule: $0, group: groups[$0], when: rules[$0].when) }),
                     repeats: rules.map(\.repeats), otherTrigger: rules.map { $0.trigger != .purchase })
    }

    /// The rewards that apply to this event. `lastGranted(ruleId)` tells when the customer last
    /// received a reward (epoch milliseconds), so `once` and `once-per` can be honoured.
    public func evaluate(_ facts: Facts, lastGranted: (String) -> Int64?) -> [RewardRule] {
        var granted: [Int] = []
        evaluate(facts, lastGrantedAt: { lastGranted(rules[$0].header.id) }, into: &granted)
        return granted.map { rules[$0] }
    }

    /// The same as `evaluate(_:lastGranted:)` with rules by position in `rules`: sets `granted`
    /// to the positions of the rewards that apply; `lastGrantedAt(position)` tells when the
    /// customer last received that reward.
    public func evaluate(_ facts: Facts, lastGrantedAt: (Int) -> Int64?, into granted: inout [Int]) {
        granted.empty()
        var gate = GroupGate()
        let repeats = steps.repeats
        let otherTrigger = steps.otherTrigger
        steps.codes.forEach { step in
            let index = step.rule
            if otherTrigger[index] { return }
            if gate.isTaken(step.group) { return }
            guard step.applies(facts) else { return }
            // The group goes to the first reward whose condition holds, even if its `repeat`
            // holds it back this time: a top customer does not get the smaller voucher instead.
            guard gate.admit(step.group) else { return }
            switch repeats[index] {
            case .everyTime: break
            case .once: if lastGrantedAt(index) != nil { return }
            case .oncePer(let seconds):
                if let last = lastGrantedAt(index),
                   Double(facts.clock.epochMilliseconds - last) < seconds * 1000 { return }
            }
            granted.append(index)
        }
    }
}

/// Discount campaigns (`campaigns:`).
public struct CampaignRule: Sendable {
    public enum Discount: Sendable, Equatable {
        /// Percent off the amount of the lines it covers.
        case percent(Double)
        /// A fixed amount off (minor units), never more than the lines it covers.
        case amount(Double)
        /// Of every `buy + get` units of the covered lines, the `get` cheapest are free.
        case buyGet(buy: Int, get: Int)
        /// No money off: the purchase's points are multiplied (`pointsMultiplier:`).
        case pointsMultiplier(Double)
    }

    /// Whether a campaign combines with others (`stacking:`).
    public enum Stacking: String, Sendable, CaseIterable {
        /// With every other campaign that applies (groups aside).
        case stackable
        /// Only alone: it applies when no higher-priority campaign did, and then no other applies.
        case exclusive
    }

    /// A coupon code requirement (`code:`).
    public enum CodeRequirement: Sendable, Equatable {
        case none
        /// One of the codes issued for the campaign (`loyalty campaigns codes generate|import`).
        case issued
        /// One public code anyone may type, e.g. `WELCOME10` (upper case; compared ignoring case).
        case fixed(String)
    }

    /// Local minutes of the day, `from` included, `until` excluded; `from > until` wraps midnight.
    public struct Hours: Sendable, Equatable {
        public var from: Int
        public var until: Int

        public init(from: Int, until: Int) {
            self.from = from
            self.until = until
        }

        @inline(__always) public func contains(_ minute: Int) -> Bool {
            from <= until ? (minute >= from && minute < until) : (minute >= from || minute < until)
        }
    }

    public var header: RuleHeader
    /// Store-local day numbers, inclusive; nil for open-ended.
    public var startDay: Int?
    public var endDay: Int?
    /// Empty for every store.
    public var stores: [String]
    public var when: CompiledCondition?
    public var lines: CompiledCondition?
    public var discount: Discount
    /// Largest discount per purchase, minor units.
    public var maxDiscount: Double?
    /// The campaign's whole budget, minor units; the plugin stops it when spent.
    public var budget: Double?
    /// ISO weekdays it runs on, bit n for weekday n (1 = Monday); 0 for every day.
    public var weekdays: UInt8 = 0
    /// The hours it runs, local time; nil for all day.
    public var hours: Hours? = nil
    /// A condition on the customer (`segment:`); such a campaign needs a known customer.
    public var segment: CompiledCondition? = nil
    /// The tiers it is for; empty for everyone. Such a campaign needs a known customer.
    public var tiers: [String] = []
    public var code: CodeRequirement = .none
    /// Limits on redemptions: in total, per customer, per store-local day.
    public var maxRedemptions: Int? = nil
    public var perCustomer: Int? = nil
    public var perDay: Int? = nil
    public var stacking: Stacking = .stackable
}

public struct CampaignPolicy: Sendable {
    /// Sorted by priority, highest first.
    public var rules: [CampaignRule] {
        didSet { steps = Self.steps(rules) }
    }

    /// A campaign's settings; its code is in `codes`, at the same position.
    struct Step: Sendable {
        let startDay: Int?
        let endDay: Int?
        let stores: [String]
        let discount: CampaignRule.Discount
        let maxDiscount: Double?
        let budget: Double?

        @inline(__always) func isActive(_ facts: Facts) -> Bool {
            if let startDay, facts.clock.day < startDay { return false }
            if let endDay, facts.clock.day > endDay { return false }
            if !stores.isEmpty && !stores.contains(facts.purchase.store) { return false }
            return true
        }
    }

    /// `firstOfId`: for each campaign, the position of the first campaign with its id (itself in
    /// a loaded book, whose ids are unique), which is where `SimulatedUsage` looks up its budget.
    var steps: (settings: [Step], codes: RuleCodes, firstOfId: [Int])

    /// Each campaign's `pointsMultiplier`, by position; nil for a money discount.
    public var pointsMultipliers: [Double?] {
        rules.map { rule in
            if case .pointsMultiplier(let factor) = rule.discount { factor } else { nil }
        }
    }

    public init(rules: [CampaignRule]) {
        self.rules = rules
        steps = Self.steps(rules)
    }

    private static func steps(_ rules: [CampaignRule]) -> (settings: [Step], codes: RuleCodes, firstOfId: [Int]) {
        let groups = groupNumbers(rules.map(\.header))
        let settings = rules.map { rule in
            Step(startDay: rule.startDay, endDay: rule.endDay, stores: rule.stores, discount: rule.discount,
                 maxDiscount: rule.maxDiscount, budget: rule.budget)
        }
        let codes = rules.indices.map { RuleCode(rule: $0, group: groups[$0], when: rules[$0].when, lines: rules[$0].lines) }
        var first: [String: Int] = [:]
        for (index, rule) in rules.enumerated() where first[rule.header.id] == nil { first[rule.header.id] = index }
        return (settings, RuleCodes(codes), rules.map { first[$0.header.id]! })
    }

    public struct Quote: Sendable, Equatable {
        public var ruleId: String
        /// Minor units, whole.
        public var discount: Double
    }

    /// The discounts this purchase gets (money only: points multipliers are left out). Each line
    /// is discounted by at most its amount in total, so stacked campaigns never make a line
    /// negative. `remainingBudget(ruleId)` is the campaign's unspent budget (nil for none); a
    /// campaign never exceeds it.
    public func quote(_ facts: Facts, remainingBudget: (String) -> Double? = { _ in nil }, scratch: inout [Double]) -> [Quote] {
        var quotes: [(rule: Int, discount: Double)] = []
        quote(facts, remainingBudgetOf: { remainingBudget(rules[$0].header.id) }, scratch: &scratch, into: &quotes)
        return quotes.filter { $0.discount > 0 }.map { Quote(ruleId: rules[$0.rule].header.id, discount: $0.discount) }
    }

    /// The campaigns that apply to this purchase, by position in `rules`: sets `quotes` to
    /// (position, discount) in order, a points multiplier with discount 0 (it is redeemed as one,
    /// as the discount-campaigns plugin records it); `remainingBudgetOf(position)` is that
    /// campaign's unspent budget (nil for none).
    public func quote(_ facts: Facts, remainingBudgetOf: (Int) -> Double?, scratch: inout [Double],
                      into quotes: inout [(rule: Int, discount: Double)]) {
        // Through `evaluate`, outcome by outcome: `RuleSimulationTests` compare the simulation,
        // which takes the shortcut below, with this.
        var outcomes: [CampaignOutcome] = []
        quotes.empty()
        // The simulator knows money budgets only: redemption limits and issued codes do not hold it back.
        withoutActuallyEscaping(remainingBudgetOf) { remaining in
            let usage = SimulatedUsage(rules: rules, remaining: remaining)
            evaluate(facts, codes: [], usage: usage, scratch: &scratch, into: &outcomes)
            for outcome in outcomes where outcome.applied && (outcome.discount > 0 || outcome.pointsMultiplier != nil) {
                quotes.append((outcome.campaign, outcome.discount))
            }
        }
    }

    /// The same, for a simulation quoting every purchase: the campaigns that apply only, without
    /// building the outcome of each campaign (refused ones included) that the overload above
    /// throws away.
    /// `outcomes` is not used; it stays for callers written against the earlier version.
    public func quote(_ facts: Facts, remainingBudgetOf: (Int) -> Double?, scratch: inout [Double],
                      outcomes: inout [CampaignOutcome], into quotes: inout [(rule: Int, discount: Double)]) {
        discounts(facts, remainingBudgetOf: remainingBudgetOf, scratch: &scratch, into: &quotes)
    }
}

/// Satisfaction alerts (`alerts:`).
public struct AlertRule: Sendable {
    public enum Severity: String, Sendable, CaseIterable {
        case info, warning, high, critical
    }

    public var header: RuleHeader
    public var when: CompiledCondition?
    public var severity: Severity
    /// What the store manager reads.
    public var message: String
    /// What to do about it (`action:`); nil when the rule does not say.
    public var action: String? = nil
}

public struct AlertPolicy: Sendable {
    /// Sorted by priority, highest first.
    public var rules: [AlertRule] {
        didSet { steps = Self.steps(rules) }
    }

    private var steps: RuleCodes
    /// Alerts over many answers and events (`kind:` other than `survey`), in file order.
    public var watches: [AlertWatch]

    public init(rules: [AlertRule], watches: [AlertWatch] = []) {
        self.rules = rules
        self.watches = watches
        steps = Self.steps(rules)
    }

    private static func steps(_ rules: [AlertRule]) -> RuleCodes {
        let groups = groupNumbers(rules.map(\.header))
        return RuleCodes(rules.indices.map { RuleCode(rule: $0, group: groups[$0], when: rules[$0].when) })
    }

    public func evaluate(_ facts: Facts) -> [AlertRule] {
        var raised: [Int] = []
        evaluate(facts, into: &raised)
        return raised.map { rules[$0] }
    }

    /// The same as `evaluate(_:)` with rules by position: sets `raised` to the positions in
    /// `rules` of the alerts raised.
    public func evaluate(_ facts: Facts, into raised: inout [Int]) {
        raised.empty()
        var gate = GroupGate()
        steps.forEach { step in
            if gate.isTaken(step.group) { return }
            guard step.applies(facts) else { return }
            guard gate.admit(step.group) else { return }
            raised.append(step.rule)
        }
    }
}
