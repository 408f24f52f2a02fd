/// What sets a reward off (`trigger:` of a reward). Without a trigger, a reward is checked on
/// each purchase of a known customer and given when its `when` holds (`.purchase`).
public enum RewardTrigger: Sendable, Equatable {
    /// Each purchase where `when` holds.
    case purchase
    /// A punch card: every `count`th purchase where `when` holds. With `within` (seconds), the
    /// card starts again when its first punch is older than that. `label` names what is counted
    /// in the clerk's sentence ("10th coffee in 30 days").
    case nthPurchase(count: Int, withinSeconds: Double?, label: String?)
    /// Purchases where `when` holds in `weeks` local calendar weeks (Monday to Sunday) in a row.
    case streak(weeks: Int)
    /// At least `visits` purchases in the last `days` days, this one included.
    case frequency(visits: Int, days: Int)
    /// The purchase that takes the customer's spend (over the last `days` days, or ever when
    /// nil) to `amount` minor units or beyond.
    case spend(amount: Double, days: Int?)
    /// The customer's first purchase.
    case firstPurchase
    /// At the start of each `period`, the top `percent` % of scored customers by CLV or by profit CLV.
    case topCustomers(by: RankBy, percent: Double, period: CalendarPeriod)
    /// A `customer.scored` event in which probability alive falls below `pAliveBelow`.
    case winBack(pAliveBelow: Double)
    /// A survey answer of 9 or 10.
    case promoter
    /// A survey answer of 0 to 6.
    case detractor

    public enum RankBy: String, Sendable, CaseIterable {
        case clv, profit
    }

    /// The trigger's name in rule files.
    public var name: String {
        switch self {
        case .purchase: "purchase"
        case .nthPurchase: "nth-purchase"
        case .streak: "streak"
        case .frequency: "frequency"
        case .spend: "spend"
        case .firstPurchase: "first-purchase"
        case .topCustomers: "top-customers"
        case .winBack: "win-back"
        case .promoter: "promoter"
        case .detractor: "detractor"
        }
    }

    public static let names = ["purchase", "nth-purchase", "streak", "frequency", "spend", "first-purchase",
                               "top-customers", "win-back", "promoter", "detractor"]

    /// Set off by a purchase (as opposed to a score, a survey or the schedule).
    public var onPurchase: Bool {
        switch self {
        case .purchase, .nthPurchase, .streak, .frequency, .spend, .firstPurchase: true
        case .topCustomers, .winBack, .promoter, .detractor: false
        }
    }

    /// Days of visit history the trigger reads.
    public var historyDays: Int {
        switch self {
        case .frequency(_, let days): days
        case .spend(_, let days?): days
        default: 0
        }
    }
}

/// A calendar period in the rules' time zone.
public enum CalendarPeriod: String, Sendable, CaseIterable {
    case week, month, quarter, year

    /// The number of the period holding local day `day` (days since 1970-01-01); weeks start on Monday.
    public func index(ofDay day: Int) -> Int {
        switch self {
        case .week:
            // 1970-01-01 was a Thursday: day + 3 counts from the Monday before it.
            let shifted = day + 3
            return shifted >= 0 ? shifted / 7 : (shifted - 6) / 7
        case .month, .quarter, .year:
            let date = CivilDate(dayNumber: day)
            let months = date.year * 12 + date.month - 1
            return self == .month ? months : self == .quarter ? months / 3 : date.year
        }
    }
}

/// What a reward gives (`reward:` of a reward).
public enum RewardKind: Sendable, Equatable {
    /// An item the customer takes for free at the till; `sku` when the till should match one.
    case freeItem(sku: String?)
    /// Money off a later purchase: a fixed amount (minor units) or a percent.
    case voucher(amount: Double?, percent: Double?)
    /// Points the points plugin credits.
    case bonusPoints(Double)
    /// The customer is moved up to at least this tier level, for `seconds` (nil: until the
    /// level's own conditions say otherwise at the next downgrade).
    case tier(String, forSeconds: Double?)
    /// An event for other systems: `type` and the rule's `params`, passed on as written.
    case custom(type: String, params: [(String, String)])

    public static let names = ["free-item", "voucher", "bonus-points", "tier", "custom"]

    public var name: String {
        switch self {
        case .freeItem: "free-item"
        case .voucher: "voucher"
        case .bonusPoints: "bonus-points"
        case .tier: "tier"
        case .custom: "custom"
        }
    }

    /// Given at the till later (and so redeemable, and subject to expiry), as opposed to applied at once.
    public var isRedeemable: Bool {
        switch self {
        case .freeItem, .voucher: true
        case .bonusPoints, .tier, .custom: false
        }
    }

    public static func == (a: RewardKind, b: RewardKind) -> Bool {
        switch (a, b) {
        case let (.freeItem(x), .freeItem(y)): x == y
        case let (.voucher(x1, x2), .voucher(y1, y2)): x1 == y1 && x2 == y2
        case let (.bonusPoints(x), .bonusPoints(y)): x == y
        case let (.tier(x1, x2), .tier(y1, y2)): x1 == y1 && x2 == y2
        case let (.custom(x1, x2), .custom(y1, y2)): x1 == y1 && x2.map(\.0) == y2.map(\.0) && x2.map(\.1) == y2.map(\.1)
        default: false
        }
    }
}

/// How often, and how many, a reward may be given beyond `repeat`.
public struct RewardLimits: Sendable, Equatable {
    /// At most this many times per customer, ever.
    public var perCustomer: Int?
    /// The rule's budget: at most this many rewards in all.
    public var budgetCount: Int?
    /// The rule's budget in money (minor units): the rewards' `value` summed never exceeds it.
    public var budgetAmount: Double?
    /// A redeemable reward lapses this many seconds after it is given.
    public var expiresSeconds: Double?

    public init(perCustomer: Int? = nil, budgetCount: Int? = nil, budgetAmount: Double? = nil, expiresSeconds: Double? = nil) {
        self.perCustomer = perCustomer
        self.budgetCount = budgetCount
        self.budgetAmount = budgetAmount
        self.expiresSeconds = expiresSeconds
    }
}

/// When a customer moves down a tier (`downgrade:` of `tiers:`).
public enum TierDowngrade: String, Sendable, CaseIterable {
    /// As soon as the level's condition no longer holds (re-checked at each of the customer's events).
    case immediately
    /// Never: a customer keeps the highest level reached.
    case none
    /// At the end of each `period`, to the level the customer then qualifies for.
    case periodEnd = "period-end"
    /// At the end of each `period`, one level down at most.
    case oneLevel = "one-level"
}

/// Settings of the `tiers:` section written as a mapping (`levels:` beside them).
public struct TierSettings: Sendable, Equatable {
    public var downgrade: TierDowngrade = .immediately
    /// The period whose end `period-end` and `one-level` wait for.
    public var period: CalendarPeriod = .year
    /// The rolling window of `customer.qualifyingPoints`, in days.
    public var windowDays: Int = 365

    public init(downgrade: TierDowngrade = .immediately, period: CalendarPeriod = .year, windowDays: Int = 365) {
        self.downgrade = downgrade
        self.period = period
        self.windowDays = windowDays
    }
}
