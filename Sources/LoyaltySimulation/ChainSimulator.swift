import LoyaltyEvents

/// A synthetic store chain that produces purchases, returns and surveys in time order.
///
/// Customers follow the patterns loyalty programs care about: loyal regulars who come every few
/// days, occasional shoppers, and customers who were regulars and then stop coming (churn);
/// a share of purchases is anonymous (no card). Some purchases are later partly returned, and
/// some are followed by a survey whose score depends on the store's service level.
/// Everything follows from the seed: the same configuration yields the same bytes.
public struct ChainSimulator: Sequence, IteratorProtocol {
    public struct Configuration: Sendable {
        public var seed: UInt64 = 42
        public var stores = 5
        public var terminalsPerStore = 3
        public var customers = 2000
        public var currency = CurrencyCode.NOK
        /// Simulated time of the first event.
        public var start = Timestamp(epochMilliseconds: 1_767_225_600_000) // 2026-01-01T00:00:00Z
        /// Share of purchases without a loyalty card.
        public var anonymousShare = 0.2
        public var returnShare = 0.03
        public var surveyShare = 0.05
        /// A distinct tag in every eventId, so that separate runs do not collide (empty: none).
        public var runTag = ""
        public init() {}
    }

    enum Kind: CaseIterable { case loyal, occasional, churning }

    struct Customer {
        let id: String
        let kind: Kind
        let homeStore: Int
        /// Mean days between visits.
        let meanGapDays: Double
        /// Churning customers stop after this simulated day.
        let stopsAfterDay: Double
        var nextVisit: Double
    }

    struct Product {
        let sku: String
        let category: String
        let price: Int64
        let margin: Int64
    }

    static let catalog: [Product] = [
        Product(sku: "COF-001", category: "coffee", price: 3900, margin: 2400),
        Product(sku: "COF-002", category: "coffee", price: 4900, margin: 3100),
        Product(sku: "BAK-001", category: "bakery", price: 2500, margin: 1400),
        Product(sku: "BAK-002", category: "bakery", price: 4200, margin: 2000),
        Product(sku: "DAI-001", category: "dairy", price: 2190, margin: 500),
        Product(sku: "DAI-002", category: "dairy", price: 8900, margin: 2300),
        Product(sku: "FRU-001", category: "fruit", price: 3490, margin: 1200),
        Product(sku: "FRU-002", category: "fruit", price: 1990, margin: 700),
        Product(sku: "MEA-001", category: "meat", price: 12900, margin: 3000),
        Product(sku: "MEA-002", category: "meat", price: 24900, margin: 6500),
        Product(sku: "HOU-001", category: "household", price: 5990, margin: 2500),
        Product(sku: "HOU-002", category: "household", price: 14900, margin: 6000),
        Product(sku: "WIN-001", category: "wine", price: 18900, margin: 4000),
        Product(sku: "SNA-001", category: "snacks", price: 2990, margin: 1500),
    ]

    public let configuration: Configuration
    private var random: SplitMix64
    private var customers: [Customer]
    /// Customers by next visit time.
    private var visits = VisitQueue()
    private var receiptCounter: [Int] = []
    /// Recent purchases that may still be returned: (eventId, store, customer, lines, due day).
    private var returnable: [(eventId: String, store: Int, customer: String?, lines: [PurchaseLine], dueDay: Double)] = []
    private var surveys: [(store: Int, customer: String?, related: String, dueDay: Double)] = []
    private var now: Double = 0
    private var sequence = 0
    /// Per-store service level, 0...1: drives survey scores.
    private let serviceLevel: [Double]

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        var random = SplitMix64(seed: configuration.seed)
        var customers: [Customer] = []
        customers.reserveCapacity(configuration.customers)
        for index in 0..<configuration.customers {
            let roll = Double.random(in: 0..<1, using: &random)
            let kind: Kind = roll < 0.3 ? .loyal : (roll < 0.8 ? .occasional : .churning)
            let gap: Double = switch kind {
            case .loyal: Double.random(in: 2...5, using: &random)
            case .occasional: Double.random(in: 12...40, using: &random)
            case .churning: Double.random(in: 3...7, using: &random)
            }
            customers.append(Customer(
                id: "C\(String(index + 1).leftPadded(to: 6))",
                kind: kind,
                homeStore: Int.random(in: 0..<configuration.stores, using: &random),
                meanGapDays: gap,
                stopsAfterDay: kind == .churning ? Double.random(in: 20...120, using: &random) : .infinity,
                nextVisit: Double.random(in: 0..<gap, using: &random)))
        }
        // Most stores serve well and one or two do not, as in a real chain: NPS from about −30 to +80.
        serviceLevel = (0..<configuration.stores).map { _ in Double.random(in: 0.65...0.97, using: &random) }
        self.random = random
        self.customers = customers
        for (index, customer) in customers.enumerated() { visits.push(customer.nextVisit, index) }
        receiptCounter = Array(repeating: 0, count: configuration.stores * configuration.terminalsPerStore)
    }

    public static func storeId(_ index: Int) -> String { "S\(String(index + 1).leftPadded(to: 3))" }

    /// The next event in simulated time, as an envelope. Never ends.
    public mutating func next() -> EventEnvelope? {
        sequence += 1
        // Due surveys and returns come first, in their time order.
        if let index = surveys.indices.first(where: { surveys[$0].dueDay <= now }) {
            let survey = surveys.remove(at: index)
            return makeSurvey(survey.store, survey.customer, related: survey.related)
        }
        if let index = returnable.indices.first(where: { returnable[$0].dueDay <= now }) {
            let item = returnable.remove(at: index)
            return makeReturn(item.eventId, store: item.store, customer: item.customer, lines: item.lines)
        }
        // The next visit: a registered customer, or an anonymous shopper in between.
        if Double.random(in: 0..<1, using: &random) < configuration.anonymousShare {
            now += random.exponential(mean: 0.002)
            return makePurchase(store: Int.random(in: 0..<configuration.stores, using: &random), customer: nil)
        }
        guard let pick = visits.pop() else {
            // Every customer has churned: only anonymous shoppers remain.
            now += random.exponential(mean: 0.002)
            return makePurchase(store: Int.random(in: 0..<configuration.stores, using: &random), customer: nil)
        }
        var customer = customers[pick]
        now = Swift.max(now, customer.nextVisit)
        customer.nextVisit = now + random.exponential(mean: customer.meanGapDays)
        if customer.nextVisit > customer.stopsAfterDay {
            customer.nextVisit = .infinity
        } else {
            visits.push(customer.nextVisit, pick)
        }
        customers[pick] = customer
        let store = Double.random(in: 0..<1, using: &random) < 0.85
            ? customer.homeStore : Int.random(in: 0..<configuration.stores, using: &random)
        return makePurchase(store: store, customer: customer.id)
    }

    private var timestamp: Timestamp {
        Timestamp(epochMilliseconds: configuration.start.epochMilliseconds + Int64(now * 86_400_000))
    }

    private mutating func receipt(store: Int) -> (terminal: String, receipt: String) {
        let terminal = Int.random(in: 0..<configuration.terminalsPerStore, using: &random)
        let slot = store * configuration.terminalsPerStore + terminal
        receiptCounter[slot] += 1
        let tag = configuration.runTag.isEmpty ? "" : "\(configuration.runTag)-"
        return ("T\(terminal + 1)", "\(tag)\(String(receiptCounter[slot]).leftPadded(to: 6))")
    }

    private mutating func makePurchase(store: Int, customer: String?) -> EventEnvelope {
        let (terminal, receipt) = receipt(store: store)
        let storeId = Self.storeId(store)
        let lineCount = Int.random(in: 1...4, using: &random)
        var lines: [PurchaseLine] = []
        for _ in 0..<lineCount {
            let product = Self.catalog[Int.random(in: 0..<Self.catalog.count, using: &random)]
            lines.append(PurchaseLine(sku: product.sku, category: product.category,
                                      quantity: Int64.random(in: 1...3, using: &random),
                                      unitPrice: product.price, margin: product.margin))
        }
        let total = lines.reduce(Int64(0)) { $0 + $1.quantity * $1.unitPrice }
        let eventId = "\(storeId)-\(terminal)-\(receipt)"
        let purchase = Purchase(storeId: storeId, terminalId: terminal, receiptId: receipt, customerId: customer,
                                currency: configuration.currency, lines: lines, total: total)
        if Double.random(in: 0..<1, using: &random) < configuration.returnShare {
            let line = lines[0]
            returnable.append((eventId, store, customer, [PurchaseLine(sku: line.sku, category: line.category, quantity: 1, unitPrice: line.unitPrice)],
                               now + Double.random(in: 0.5...10, using: &random)))
        }
        if Double.random(in: 0..<1, using: &random) < configuration.surveyShare {
            surveys.append((store, customer, eventId, now + Double.random(in: 0.05...2, using: &random)))
        }
        return EventEnvelope(eventId: eventId, occurredAt: timestamp, source: "pos/\(storeId)/\(terminal)",
                             payload: .purchase(purchase))
    }

    private mutating func makeReturn(_ original: String, store: Int, customer: String?, lines: [PurchaseLine]) -> EventEnvelope {
        let (terminal, receipt) = receipt(store: store)
        let storeId = Self.storeId(store)
        let returnLines = lines.map { ReturnLine(sku: $0.sku, quantity: $0.quantity, unitPrice: $0.unitPrice) }
        let total = returnLines.reduce(Int64(0)) { $0 + $1.quantity * $1.unitPrice }
        let value = Return(storeId: storeId, terminalId: terminal, receiptId: receipt, customerId: customer,
                           originalEventId: original, currency: configuration.currency, lines: returnLines, total: total)
        return EventEnvelope(eventId: "\(storeId)-\(terminal)-\(receipt)", occurredAt: timestamp,
                             source: "pos/\(storeId)/\(terminal)", payload: .return(value))
    }

    private mutating func makeSurvey(_ store: Int, _ customer: String?, related: String) -> EventEnvelope {
        let level = serviceLevel[store]
        let score = Swift.min(10, Swift.max(0, Int((level * 10 + Double.random(in: -2...2, using: &random)).rounded())))
        let drivers = [
            "expectations": Swift.min(10, Swift.max(0, score + Int.random(in: -2...2, using: &random))),
            "valueForMoney": Swift.min(10, Swift.max(0, score + Int.random(in: -3...1, using: &random))),
            "serviceLevel": Swift.min(10, Swift.max(0, Int(level * 10) + Int.random(in: -2...1, using: &random))),
        ]
        let storeId = Self.storeId(store)
        let survey = Survey(storeId: storeId, customerId: customer, nps: score, drivers: drivers,
                            comment: score <= 6 ? "Long queue at the till" : nil, relatedEventId: related)
        return EventEnvelope(eventId: "\(related)-survey", occurredAt: timestamp, source: "survey/\(storeId)",
                             payload: .survey(survey))
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// A binary min-heap of (time, customer index).
struct VisitQueue {
    private var items: [(time: Double, index: Int)] = []

    mutating func push(_ time: Double, _ index: Int) {
        items.append((time, index))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].time < items[parent].time else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Int? {
        guard !items.isEmpty else { return nil }
        let top = items[0].index
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count && items[left].time < items[smallest].time { smallest = left }
                if right < items.count && items[right].time < items[smallest].time { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
