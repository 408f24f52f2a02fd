import LoyaltyEvents

/// What an expression may refer to where it is written: which of `customer`, `purchase`,
/// `survey` and `clock` exist, whether it is looking at one purchase line, and the file's
/// currency and tiers (so `200 SEK` against a NOK purchase, or a misspelt tier, is caught).
public struct Scope: Sendable {
    public enum Root: String, Sendable, CaseIterable {
        case customer, purchase, survey, clock
    }

    public var roots: Set<Root>
    /// True inside `purchase.lines.any(...)` and in a rule's `lines:` condition: `sku`,
    /// `category`, `quantity`, `price`, `amount`, `margin` refer to the line.
    public var inLine: Bool
    /// The currency of every money field (`purchase.total`, `customer.spend`...).
    public var currency: CurrencyCode?
    /// Valid values of `customer.tier`, lowest first; empty when no tiers are defined.
    public var tiers: [String]

    public init(roots: Set<Root>, inLine: Bool = false, currency: CurrencyCode? = nil, tiers: [String] = []) {
        self.roots = roots
        self.inLine = inLine
        self.currency = currency
        self.tiers = tiers
    }

    public static let weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
}

/// What compiled expressions need from the plugin that evaluates them.
public struct ExpressionUsage: Sendable, Equatable {
    /// The longest window asked of `customer.visits(days:)` or `customer.spend(days:)`.
    public var historyDays = 0
    /// Customer fields read, e.g. `clv`, `tier`, `lastNps`.
    public var customerFields: Set<String> = []

    public init() {}

    mutating func merge(_ other: ExpressionUsage) {
        historyDays = max(historyDays, other.historyDays)
        customerFields.formUnion(other.customerFields)
    }
}
