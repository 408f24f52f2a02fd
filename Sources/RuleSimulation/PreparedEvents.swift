import LoyaltyEvents
import LoyaltyRules

/// Events made ready for fast, repeated evaluation: decoded once, customers numbered, facts
/// precomputed. A simulation then only copies facts in and evaluates.
public struct PreparedEvents: Sendable {
    public enum Kind: UInt8, Sendable {
        case purchase, `return`, survey
    }

    public struct Event: Sendable {
        public var kind: Kind
        /// Index into `customerIds`; -1 for an anonymous event.
        public var customer: Int32
        public var epochMilliseconds: Int64
        public var purchase: PurchaseFacts
        public var survey: SurveyFacts
        /// For a purchase: its event id's index in `purchaseIndex`; for a return: the returned
        /// purchase's, or -1 when it is not among the events.
        public var purchaseNumber: Int32
        /// For a return: the amount refunded (minor units).
        public var refund: Double
        /// Where `purchase.lines` is stored: a prefetch hint for the simulation, never
        /// dereferenced. 0 for none.
        var linesHint: UInt = 0
    }

    public private(set) var events: [Event] = []
    public private(set) var customerIds: [String] = []
    private var customerIndex: [String: Int32] = [:]
    private var purchaseIndex: [String: Int32] = [:]
    public private(set) var purchaseCount = 0
    /// Events skipped, with why (another currency, not a purchase/return/survey...).
    public private(set) var skipped: [String: Int] = [:]
    public private(set) var firstMilliseconds: Int64?
    public private(set) var lastMilliseconds: Int64?

    public init() {}

    /// Makes room for `events` events, when their number is known beforehand.
    public mutating func reserveCapacity(_ events: Int) {
        self.events.reserveCapacity(events)
        purchaseIndex.reserveCapacity(events)
    }

    private mutating func customer(_ id: String?) -> Int32 {
        guard let id else { return -1 }
        if let index = customerIndex[id] { return index }
        let index = Int32(customerIds.count)
        customerIds.append(id)
        customerIndex[id] = index
        return index
    }

    /// Adds an event. Events must come in the order they happened (journal order).
    public mutating func add(_ envelope: EventEnvelope, currency: CurrencyCode?) {
        var event = Event(kind: .purchase, customer: -1, epochMilliseconds: envelope.occurredAt.epochMilliseconds,
                          purchase: PurchaseFacts(), survey: SurveyFacts(), purchaseNumber: -1, refund: 0, linesHint: 0)
        switch envelope.payload {
        case .purchase(let purchase):
            if let currency, purchase.currency != currency {
                skipped["purchase in \(purchase.currency) (rules are in \(currency))", default: 0] += 1
                return
            }
            event.purchase = PurchaseFacts(purchase)
            // Each line is looked at by many rules, in every run: line conditions then compare
            // numbers, not texts.
            event.purchase.numberTexts()
            event.linesHint = event.purchase.lines.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
            event.customer = customer(purchase.customerId)
            event.purchaseNumber = Int32(purchaseCount)
            purchaseIndex[envelope.eventId] = Int32(purchaseCount)
            purchaseCount += 1
        case .return(let returned):
            if let currency, returned.currency != currency {
                skipped["return in \(returned.currency) (rules are in \(currency))", default: 0] += 1
                return
            }
            event.kind = .return
            event.customer = customer(returned.customerId)
            event.purchaseNumber = purchaseIndex[returned.originalEventId] ?? -1
            event.refund = Double(returned.total)
            event.purchase.store = returned.storeId
        case .survey(let survey):
            event.kind = .survey
            event.survey = SurveyFacts(survey)
            event.customer = customer(survey.customerId)
        case .derived:
            skipped["derived event (\(envelope.type))", default: 0] += 1
            return
        }
        if firstMilliseconds == nil { firstMilliseconds = event.epochMilliseconds }
        lastMilliseconds = event.epochMilliseconds
        events.append(event)
    }
}
