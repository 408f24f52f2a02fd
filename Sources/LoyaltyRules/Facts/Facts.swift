import LoyaltyEvents

/// What a rule can look at while it is evaluated: the event, the customer, the clock.
///
/// One instance is filled per event and handed to compiled rules by reference, so evaluation
/// allocates nothing. It is not `Sendable`: each evaluating thread owns its own.
///
/// Every compiled field read goes through these properties, so they opt out of the runtime's
/// dynamic exclusivity check (a `swift_beginAccess` call per read, most of the cost of a simple
/// comparison). That is sound because a `Facts` is only ever used by the one thread that owns it,
/// and compiled code never holds an access to one property across a write to it.
public final class Facts {
    @exclusivity(unchecked) public var purchase = PurchaseFacts()
    @exclusivity(unchecked) public var survey = SurveyFacts()
    @exclusivity(unchecked) public var customer = CustomerFacts()
    @exclusivity(unchecked) public var clock = ClockFacts()
    /// Index into `purchase.lines` of the line a line-scoped expression is looking at.
    @exclusivity(unchecked) public var lineIndex = 0

    public init() {}

    /// Fills the purchase facts from a purchase event. Money stays in minor units.
    public func load(purchase: Purchase) {
        self.purchase = PurchaseFacts(purchase)
    }

    public func load(survey: Survey) {
        self.survey = SurveyFacts(survey)
    }

    /// The line a line-scoped expression is looking at.
    @inline(__always) var line: LineFacts { purchase.lines[lineIndex] }
}

/// A purchase, with money as minor units in a `Double` (exact below 2^53 minor units).
public struct PurchaseFacts: Sendable {
    public var present = false
    public var currency: CurrencyCode = .NOK
    public var store = ""
    public var terminal = ""
    public var total = 0.0
    public var subtotal = 0.0
    public var discount = 0.0
    /// Sum of the lines' margins; a line without a margin counts 0.
    public var margin = 0.0
    /// Sum of the lines' quantities.
    public var items = 0.0
    public var lines: [LineFacts] = []

    public init() {}

    /// The facts of a purchase event. Money stays in minor units.
    public init(_ purchase: Purchase) {
        present = true
        currency = purchase.currency
        store = purchase.storeId
        terminal = purchase.terminalId
        discount = Double(purchase.discount)
        total = Double(purchase.total)
        lines.reserveCapacity(purchase.lines.count)
        var subtotal = 0.0, margin = 0.0, items = 0.0
        for line in purchase.lines {
            let quantity = Double(line.quantity)
            let amount = quantity * Double(line.unitPrice)
            let lineMargin = quantity * Double(line.margin ?? 0)
            lines.append(LineFacts(sku: line.sku, category: line.category, quantity: quantity,
                                   price: Double(line.unitPrice), amount: amount, margin: lineMargin))
            subtotal += amount
            margin += lineMargin
            items += quantity
        }
        self.subtotal = subtotal
        self.margin = margin
        self.items = items
    }
}

public struct LineFacts: Sendable {
    public var sku: String {
        didSet { skuId = -1 }
    }
    public var category: String {
        didSet { categoryId = -1 }
    }
    public var quantity: Double
    /// Unit price, minor units.
    public var price: Double
    /// quantity × price, minor units.
    public var amount: Double
    /// quantity × unit margin, minor units (0 when the POS sent no margin).
    public var margin: Double
    /// `category`'s and `sku`'s numbers in `TextIds` (`PurchaseFacts.numberTexts()`); -1 until
    /// given, and then line conditions compare the texts.
    var categoryId: Int32 = -1
    var skuId: Int32 = -1

    public init(sku: String, category: String, quantity: Double, price: Double, amount: Double, margin: Double) {
        self.sku = sku
        self.category = category
        self.quantity = quantity
        self.price = price
        self.amount = amount
        self.margin = margin
    }
}

/// A satisfaction survey. Scores not given are NaN, so every comparison with them is false.
public struct SurveyFacts: Sendable {
    public var present = false
    public var store = ""
    public var nps = Double.nan
    public var expectations = Double.nan
    public var valueForMoney = Double.nan
    public var serviceLevel = Double.nan
    public var hasComment = false

    public init() {}

    /// The facts of a survey event.
    public init(_ survey: Survey) {
        present = true
        store = survey.storeId
        nps = Double(survey.nps)
        expectations = survey.drivers["expectations"].map(Double.init) ?? .nan
        valueForMoney = survey.drivers["valueForMoney"].map(Double.init) ?? .nan
        serviceLevel = survey.drivers["serviceLevel"].map(Double.init) ?? .nan
        hasComment = !(survey.comment ?? "").isEmpty
    }
}

/// The customer as the plugin evaluating the rules knows them. Values a plugin does not know
/// (no score yet, no survey yet) are NaN: comparisons with them are false.
public struct CustomerFacts {
    public var id = ""
    public var known = false
    public var tier = ""
    /// Spendable points.
    public var points = 0.0
    /// Points that count toward tiers.
    public var qualifyingPoints = 0.0
    /// Lifetime visits (purchases) before and including this event.
    public var visits = 0.0
    /// Lifetime spend, minor units.
    public var spend = 0.0
    /// Seconds since the previous visit; NaN before the second visit.
    public var sinceLastVisit = Double.nan
    /// Seconds since the first visit; 0 at the first.
    public var memberFor = 0.0
    /// Customer lifetime value, minor units.
    public var clv = Double.nan
    public var clvPercentile = Double.nan
    public var pAlive = Double.nan
    public var lastNps = Double.nan
    /// Per-day history for `customer.visits(days:)` and `customer.spend(days:)`.
    public var history: any CustomerHistory = EmptyHistory()

    public init() {}
}

/// A customer's recent visits, by store-local day number. `days` counts back from `today`,
/// including it: `visits(days: 1, today:)` is today's visits.
public protocol CustomerHistory {
    func visits(days: Int, today: Int) -> Int
    /// Minor units.
    func spend(days: Int, today: Int) -> Double
}

/// A customer's visits and spend by store-local day, oldest first, as a plugin reads them from
/// its tables: what `customer.visits(days:)` and `customer.spend(days:)` sum over.
public struct VisitHistory: CustomerHistory {
    public struct Day: Sendable {
        public var day: Int
        public var visits: Int
        /// Minor units.
        public var spend: Double

        public init(day: Int, visits: Int, spend: Double) {
            self.day = day
            self.visits = visits
            self.spend = spend
        }
    }

    public let days: [Day]

    /// `days` oldest first.
    public init(days: [Day]) {
        self.days = days
    }

    public func visits(days count: Int, today: Int) -> Int {
        var total = 0
        var i = days.count - 1
        while i >= 0 && days[i].day > today - count {
            if days[i].day <= today { total += days[i].visits }
            i -= 1
        }
        return total
    }

    public func spend(days count: Int, today: Int) -> Double {
        var total = 0.0
        var i = days.count - 1
        while i >= 0 && days[i].day > today - count {
            if days[i].day <= today { total += days[i].spend }
            i -= 1
        }
        return total
    }
}

public struct EmptyHistory: CustomerHistory {
    public init() {}
    public func visits(days: Int, today: Int) -> Int { 0 }
    public func spend(days: Int, today: Int) -> Double { 0 }
}

/// The event's time in the chain's time zone.
public struct ClockFacts: Sendable {
    /// Milliseconds since the epoch (UTC).
    public var epochMilliseconds: Int64 = 0
    /// Days since 1970-01-01 in local time.
    public var day = 0
    /// 1 = Monday … 7 = Sunday (ISO 8601).
    public var weekday = 4
    public var hour = 0
    /// Minutes since local midnight.
    public var minuteOfDay = 0
    public var month = 1
    public var dayOfMonth = 1
    public var year = 1970

    public init() {}
}
