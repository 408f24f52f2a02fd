/// Tier levels, lowest first (`tiers:`). A customer is in the highest level whose condition
/// holds; the first level has no condition and is where everyone starts.
public struct TierPolicy: Sendable {
    public struct Level: Sendable {
        public var header: RuleHeader
        public var name: String
        public var when: CompiledCondition?
    }

    public var levels: [Level]

    public var ids: [String] { levels.map(\.header.id) }

    /// The level `facts.customer` qualifies for.
    public func level(for facts: Facts) -> Level? {
        for level in levels.reversed() {
            if let when = level.when, !when.evaluate(facts) { continue }
            return level
        }
        return nil
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
}

public struct RewardPolicy: Sendable {
    /// Sorted by priority, highest first.
    public var rules: [RewardRule]

    /// The rewards that apply to this event. `lastGranted(ruleId)` tells when the customer last
    /// received a reward (epoch milliseconds), so `once` and `once-per` can be honoured.
    public func evaluate(_ facts: Facts, lastGranted: (String) -> Int64?) -> [RewardRule] {
        var granted: [RewardRule] = []
        var gate = GroupGate()
        for rule in rules {
            if let when = rule.when, !when.evaluate(facts) { continue }
            switch rule.repeats {
            case .everyTime: break
            case .once: if lastGranted(rule.header.id) != nil { continue }
            case .oncePer(let seconds):
                if let last = lastGranted(rule.header.id),
                   Double(facts.clock.epochMilliseconds - last) < seconds * 1000 { continue }
            }
            guard gate.admit(rule.header) else { continue }
            granted.append(rule)
        }
        return granted
    }
}

/// Discount campaigns (`campaigns:`).
public struct CampaignRule: Sendable {
    public enum Discount: Sendable {
        /// Percent off the amount of the lines it covers.
        case percent(Double)
        /// A fixed amount off (minor units), never more than the lines it covers.
        case amount(Double)
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

    func isActive(_ facts: Facts) -> Bool {
        if let startDay, facts.clock.day < startDay { return false }
        if let endDay, facts.clock.day > endDay { return false }
        if !stores.isEmpty && !stores.contains(facts.purchase.store) { return false }
        return true
    }
}

public struct CampaignPolicy: Sendable {
    /// Sorted by priority, highest first.
    public var rules: [CampaignRule]

    public struct Quote: Sendable, Equatable {
        public var ruleId: String
        /// Minor units, whole.
        public var discount: Double
    }

    /// The discounts this purchase gets. Each line is discounted by at most its amount in total,
    /// so stacked campaigns never make a line negative. `remainingBudget(ruleId)` is the
    /// campaign's unspent budget (nil for none); a campaign never exceeds it.
    public func quote(_ facts: Facts, remainingBudget: (String) -> Double? = { _ in nil }, scratch: inout [Double]) -> [Quote] {
        let lineCount = facts.purchase.lines.count
        scratch.removeAll(keepingCapacity: true)
        for line in facts.purchase.lines { scratch.append(line.amount) }
        var quotes: [Quote] = []
        var gate = GroupGate()
        for rule in rules {
            guard rule.isActive(facts) else { continue }
            if let when = rule.when, !when.evaluate(facts) { continue }
            var covered = 0.0
            for i in 0..<lineCount {
                if let lines = rule.lines {
                    facts.lineIndex = i
                    guard lines.evaluate(facts) else { continue }
                }
                covered += scratch[i]
            }
            guard covered > 0 else { continue }
            var discount: Double = switch rule.discount {
            case .percent(let percent): covered * percent / 100
            case .amount(let amount): min(amount, covered)
            }
            if let cap = rule.maxDiscount { discount = min(discount, cap) }
            if let budget = rule.budget {
                discount = min(discount, max(0, remainingBudget(rule.header.id) ?? budget))
            }
            discount = discount.rounded(.down)
            guard discount > 0 else { continue }
            guard gate.admit(rule.header) else { continue }
            // Take the discount off the covered lines in proportion, so later campaigns see what is left.
            let share = discount / covered
            for i in 0..<lineCount {
                if let lines = rule.lines {
                    facts.lineIndex = i
                    guard lines.evaluate(facts) else { continue }
                }
                scratch[i] -= scratch[i] * share
            }
            quotes.append(Quote(ruleId: rule.header.id, discount: discount))
        }
        return quotes
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
}

public struct AlertPolicy: Sendable {
    /// Sorted by priority, highest first.
    public var rules: [AlertRule]

    public func evaluate(_ facts: Facts) -> [AlertRule] {
        var raised: [AlertRule] = []
        var gate = GroupGate()
        for rule in rules {
            if let when = rule.when, !when.evaluate(facts) { continue }
            guard gate.admit(rule.header) else { continue }
            raised.append(rule)
        }
        return raised
    }
}
