/// One event on the bus: the envelope and its typed payload.
public struct EventEnvelope: Sendable, Equatable {
    /// Protocol version (JSON `v`). Only 1 is supported.
    public var version: Int
    /// Producer-chosen unique id (POS: store + terminal + receipt number). Used for deduplication.
    public var eventId: String
    /// `purchase`, `return`, `survey`, or a dotted name such as `points.accrued`.
    public var type: String
    public var occurredAt: Timestamp
    /// Who produced the event, e.g. `pos/S001/T01` or `plugin/points-accrual`.
    public var source: String
    /// Global sequence number, set by the bus once the event is stored.
    public var seq: Int64?
    public var payload: EventPayload

    public init(
        version: Int = 1, eventId: String, type: String, occurredAt: Timestamp, source: String,
        seq: Int64? = nil, payload: EventPayload
    ) {
        self.version = version
        self.eventId = eventId
        self.type = type
        self.occurredAt = occurredAt
        self.source = source
        self.seq = seq
        self.payload = payload
    }

    /// Builds a purchase, return or survey envelope; `type` follows from the payload.
    public init(
        eventId: String, occurredAt: Timestamp, source: String, seq: Int64? = nil, payload: EventPayload
    ) {
        let type: String
        switch payload {
        case .purchase: type = EventType.purchase
        case .return: type = EventType.return
        case .survey: type = EventType.survey
        case .derived: type = "derived.event"
        }
        self.init(eventId: eventId, type: type, occurredAt: occurredAt, source: source, seq: seq, payload: payload)
    }

    /// The loyalty customer of a purchase, return or survey; nil for anonymous or derived events.
    public var customerId: String? {
        switch payload {
        case .purchase(let p): return p.customerId
        case .return(let r): return r.customerId
        case .survey(let s): return s.customerId
        case .derived: return nil
        }
    }

    /// The store of a purchase, return or survey; nil for derived events.
    public var storeId: String? {
        switch payload {
        case .purchase(let p): return p.storeId
        case .return(let r): return r.storeId
        case .survey(let s): return s.storeId
        case .derived: return nil
        }
    }

    /// Checks this envelope against every rule `EventCodec.decode` applies (by encoding and
    /// decoding it), so that events built in code are held to the same rules as the wire.
    public func validate(limits: EventLimits = .default) throws(EventValidationError) {
        let bytes = EventCodec.encode(self)
        _ = try EventCodec.decode(bytes, limits: limits)
    }
}

/// The well-known event types.
public enum EventType {
    public static let purchase = "purchase"
    public static let `return` = "return"
    public static let survey = "survey"
}

public enum EventPayload: Sendable, Equatable {
    case purchase(Purchase)
    case `return`(Return)
    case survey(Survey)
    /// Any other event type (emitted by plugins: `points.accrued`, `reward.granted`,
    /// `alert.config`...). The payload object is kept as is and not checked field by field.
    case derived(JSONObject)
}

public struct Purchase: Sendable, Equatable {
    public var storeId: String
    public var terminalId: String
    public var receiptId: String
    /// Loyalty card id; nil for an anonymous purchase.
    public var customerId: String?
    public var currency: CurrencyCode
    public var lines: [PurchaseLine]
    /// Receipt-level discount in minor units, ≥ 0.
    public var discount: Int64
    /// Amount paid in minor units: sum(quantity × unitPrice) − discount.
    public var total: Int64
    /// The `campaign.quote` whose discounts the till gave (optional; absent in older events).
    public var quoteId: String?
    /// Coupon codes the customer presented (optional, at most 10; absent in older events).
    public var couponCodes: [String]

    public init(
        storeId: String, terminalId: String, receiptId: String, customerId: String? = nil,
        currency: CurrencyCode, lines: [PurchaseLine], discount: Int64 = 0, total: Int64,
        quoteId: String? = nil, couponCodes: [String] = []
    ) {
        self.storeId = storeId
        self.terminalId = terminalId
        self.receiptId = receiptId
        self.customerId = customerId
        self.currency = currency
        self.lines = lines
        self.discount = discount
        self.total = total
        self.quoteId = quoteId
        self.couponCodes = couponCodes
    }

    /// Builds a purchase whose total is computed from the lines; nil on arithmetic overflow.
    public init?(
        storeId: String, terminalId: String, receiptId: String, customerId: String? = nil,
        currency: CurrencyCode, lines: [PurchaseLine], discount: Int64 = 0, quoteId: String? = nil, couponCodes: [String] = []
    ) {
        guard let sum = PurchaseLine.sum(lines) else { return nil }
        let (t, o) = sum.subtractingReportingOverflow(discount)
        guard !o else { return nil }
        self.init(
            storeId: storeId, terminalId: terminalId, receiptId: receiptId, customerId: customerId,
            currency: currency, lines: lines, discount: discount, total: t, quoteId: quoteId, couponCodes: couponCodes)
    }

    public var totalMoney: Money { Money(minorUnits: total, currency: currency) }
}

public struct PurchaseLine: Sendable, Equatable {
    public var sku: String
    public var category: String
    /// > 0
    public var quantity: Int64
    /// Minor units per unit, ≥ 0.
    public var unitPrice: Int64
    /// Per-unit gross margin in minor units, ≤ unitPrice; may be negative.
    public var margin: Int64?

    public init(sku: String, category: String, quantity: Int64, unitPrice: Int64, margin: Int64? = nil) {
        self.sku = sku
        self.category = category
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.margin = margin
    }

    /// quantity × unitPrice, nil on overflow.
    public var amount: Int64? {
        let (a, o) = quantity.multipliedReportingOverflow(by: unitPrice)
        return o ? nil : a
    }

    /// Sum of the line amounts, nil on overflow.
    static func sum(_ lines: [PurchaseLine]) -> Int64? {
        var s: Int64 = 0
        for l in lines {
            guard let a = l.amount else { return nil }
            let (n, o) = s.addingReportingOverflow(a)
            if o { return nil }
            s = n
        }
        return s
    }
}

public struct Return: Sendable, Equatable {
    public var storeId: String
    public var terminalId: String
    /// The return's own receipt.
    public var receiptId: String
    public var customerId: String?
    /// The eventId of the purchase being returned.
    public var originalEventId: String
    public var currency: CurrencyCode
    public var lines: [ReturnLine]
    /// Amount refunded in minor units: sum(quantity × unitPrice).
    public var total: Int64

    public init(
        storeId: String, terminalId: String, receiptId: String, customerId: String? = nil,
        originalEventId: String, currency: CurrencyCode, lines: [ReturnLine], total: Int64
    ) {
        self.storeId = storeId
        self.terminalId = terminalId
        self.receiptId = receiptId
        self.customerId = customerId
        self.originalEventId = originalEventId
        self.currency = currency
        self.lines = lines
        self.total = total
    }

    public var totalMoney: Money { Money(minorUnits: total, currency: currency) }
}

public struct ReturnLine: Sendable, Equatable {
    public var sku: String
    /// > 0
    public var quantity: Int64
    /// Minor units per unit, ≥ 0.
    public var unitPrice: Int64

    public init(sku: String, quantity: Int64, unitPrice: Int64) {
        self.sku = sku
        self.quantity = quantity
        self.unitPrice = unitPrice
    }
}

public struct Survey: Sendable, Equatable {
    public static let driverNames = ["expectations", "valueForMoney", "serviceLevel"]

    public var storeId: String
    public var customerId: String?
    /// Net Promoter Score answer, 0...10.
    public var nps: Int
    /// Optional driver scores 0...10, keys among `Survey.driverNames`.
    public var drivers: [String: Int]
    public var comment: String?
    /// The event (usually a purchase) the survey is about.
    public var relatedEventId: String?

    public init(
        storeId: String, customerId: String? = nil, nps: Int, drivers: [String: Int] = [:],
        comment: String? = nil, relatedEventId: String? = nil
    ) {
        self.storeId = storeId
        self.customerId = customerId
        self.nps = nps
        self.drivers = drivers
        self.comment = comment
        self.relatedEventId = relatedEventId
    }
}

/// Size limits applied when decoding.
public struct EventLimits: Sendable, Equatable {
    /// Largest accepted message in bytes.
    public var maxBytes: Int
    /// Most lines in a purchase or return.
    public var maxLines: Int
    /// Admission only (`admissionProblem`, applied by the bus to new events, not when decoding):
    /// the largest quantity on a line, the largest unit price or total in minor units, and how
    /// far `occurredAt` may lie ahead of / behind the bus's clock (nil: unchecked).
    public var maxQuantity: Int64 = 1_000_000
    public var maxAmountMinorUnits: Int64 = 1_000_000_000_000
    public var maxFutureMilliseconds: Int64? = 3650 * 86_400_000
    public var maxAgeMilliseconds: Int64? = 50 * 366 * 86_400_000

    public init(maxBytes: Int = 65_536, maxLines: Int = 500) {
        self.maxBytes = maxBytes
        self.maxLines = maxLines
    }

    public static let `default` = EventLimits()
}

/// Why an event was rejected, in words a POS developer can act on.
public struct EventValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case malformedJSON = "malformed_json"
        case unknownField = "unknown_field"
        case missingField = "missing_field"
        case invalidValue = "invalid_value"
        case tooLarge = "too_large"
        case unsupportedVersion = "unsupported_version"
    }

    public var code: Code
    /// Path of the offending field, e.g. `payload.lines[2].quantity`; "" for the whole message.
    public var field: String
    public var message: String

    public init(code: Code, field: String, message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    /// `<field>: <message>`, or just the message when it concerns the whole message.
    public var description: String { field.isEmpty ? message : "\(field): \(message)" }
}
