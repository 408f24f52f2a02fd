import Foundation
import LoyaltyEvents
import LoyaltyRules
import Synchronization

/// A basket to evaluate: a quote request, or a purchase at commit.
struct Basket: Sendable {
    var storeId: String
    var terminalId: String
    var customerId: String?
    var currency: CurrencyCode
    var lines: [PurchaseLine]
    /// The instant the campaigns are evaluated at, epoch ms.
    var at: Int64
    /// Normalised (upper case), without duplicates.
    var codes: [String]

    var subtotal: Int64 { lines.reduce(0) { $0 &+ $1.quantity &* $1.unitPrice } }
}

/// The result of evaluating a basket.
struct Evaluation {
    var book: RuleBook
    var outcomes: [CampaignOutcome]

    var applied: [CampaignOutcome] { outcomes.filter(\.applied) }
    var discount: Int64 { applied.reduce(0) { $0 + Int64($1.discount) } }

    func rule(_ outcome: CampaignOutcome) -> CampaignRule { book.campaigns!.rules[outcome.campaign] }
}

/// Evaluates baskets against the campaigns in force. The clock is kept between calls (it caches
/// the time zone's offset); the lock is only ever held for one evaluation's clock reading.
final class Checkout: Sendable {
    /// The clock of the rules version it was made for (comparing versions is cheaper than time zones).
    private let clock = Mutex<(version: String, clock: LocalClock)?>(nil)

    func clockFacts(_ book: RuleBook, at: Int64) -> ClockFacts {
        clock.withLock { kept in
            if kept?.version != book.version { kept = (book.version, book.makeClock()) }
            return kept!.clock.facts(at: at)
        }
    }

    /// Every campaign's outcome for `basket`. `customer` is what the plugin knows of the basket's
    /// customer (nil: unknown or anonymous).
    func evaluate(_ basket: Basket, customer: CustomerRow?, book: RuleBook, usage: some CampaignUsage) -> Evaluation {
        guard let campaigns = book.campaigns else { return Evaluation(book: book, outcomes: []) }
        let facts = Facts()
        facts.purchase = PurchaseFacts(Purchase(storeId: basket.storeId, terminalId: basket.terminalId, receiptId: "quote",
                                                customerId: basket.customerId, currency: basket.currency, lines: basket.lines,
                                                total: basket.subtotal))
        facts.clock = clockFacts(book, at: basket.at)
        if let id = basket.customerId {
            (customer ?? CustomerRow()).fill(facts, id: id, now: basket.at, purchase: basket.subtotal)
        } else {
            facts.customer = CustomerFacts()
        }
        var scratch: [Double] = []
        var outcomes: [CampaignOutcome] = []
        campaigns.evaluate(facts, codes: basket.codes, currency: book.currency, usage: usage, scratch: &scratch, into: &outcomes)
        return Evaluation(book: book, outcomes: outcomes)
    }
}

/// Quote ids carry the instant they were quoted at, so the purchase that carries one is
/// evaluated as of its quote: `Q-<epoch ms>-<random hex>`.
enum QuoteId {
    /// How long a quote stays good: a purchase later than this after its quote is evaluated at its own time.
    static let validity: Int64 = 30 * 60 * 1000

    static func make(at: Int64) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = String(generator.next() & 0xFFFF_FFFF_FFFF, radix: 16)
        return "Q-\(at)-\(String(repeating: "0", count: 12 - random.count))\(random)"
    }

    /// The instant to evaluate a purchase at, from its quote id (when valid for this purchase) or its own time.
    static func evaluationTime(quoteId: String?, purchaseAt: Int64) -> Int64 {
        guard let quoteId else { return purchaseAt }
        let parts = quoteId.split(separator: "-")
        guard parts.count == 3, parts[0] == "Q", let quotedAt = Int64(parts[1]),
              quotedAt <= purchaseAt, purchaseAt - quotedAt <= validity else { return purchaseAt }
        return quotedAt
    }
}

/// A `campaign.quote` request, checked field by field.
struct QuoteRequest {
    var basket: Basket

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    static let fields = ["storeId", "terminalId", "customerId", "currency", "at", "codes", "lines"]
    static let lineFields = ["sku", "category", "quantity", "unitPrice", "margin"]
    static let maxLines = 500

    /// The bytes of an id on the wire (docs/protocol.md): A-Z a-z 0-9 . _ : / @ # -
    static func isIdByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            || c == 0x2E || c == 0x5F || c == 0x3A || c == 0x2F || c == 0x40 || c == 0x23 || c == 0x2D
    }

    init(_ body: [UInt8], defaultCurrency: CurrencyCode?, now: Int64) throws(Invalid) {
        let parsed: JSONValue
        do { parsed = try JSONParser.parse(body) } catch { throw Invalid(description: "the request is not JSON: \(error)") }
        guard case .object(let o) = parsed else {
            throw Invalid(description: "expected a JSON object such as {\"storeId\":\"S001\",\"customerId\":\"C000042\",\"lines\":[{\"sku\":\"COF-1\",\"category\":\"coffee\",\"quantity\":2,\"unitPrice\":3900}],\"codes\":[\"WELCOME10\"]}")
        }
        for key in o.keys where !Self.fields.contains(key) {
            throw Invalid(description: "unknown field '\(key)'; the fields are \(Self.fields.joined(separator: ", "))")
        }
        func id(_ key: String, required: Bool) throws(Invalid) -> String? {
            switch o[key] {
            case nil, .null?:
                if required { throw Invalid(description: "'\(key)' is required") }
                return nil
            case .string(let s)?:
                guard !s.isEmpty, s.utf8.count <= 128, s.utf8.allSatisfy(QuoteRequest.isIdByte) else {
                    throw Invalid(description: "'\(key)' must be 1-128 characters of A-Z a-z 0-9 . _ : / @ # -, got \"\(s.prefix(40))\"")
                }
                return s
            case let other?: throw Invalid(description: "'\(key)' must be a string, got \(other)")
            }
        }
        let store = try id("storeId", required: true)!
        let terminal = try id("terminalId", required: false) ?? "quote"
        let customer = try id("customerId", required: false)
        var currency = defaultCurrency ?? .NOK
        if let code = try id("currency", required: false) {
            guard let parsedCode = CurrencyCode(code) else { throw Invalid(description: "'currency' must be an ISO 4217 code such as NOK, got \"\(code)\"") }
            currency = parsedCode
        }
        var at = now
        switch o["at"] {
        case nil, .null?: break
        case .string(let text)?:
            guard let stamp = Timestamp.parse(text) else { throw Invalid(description: "'at' must be an RFC 3339 time such as 2026-11-27T08:00:00+01:00, got \"\(text.prefix(40))\"") }
            at = stamp.epochMilliseconds
        case let other?: throw Invalid(description: "'at' must be an RFC 3339 time string, got \(other)")
        }
        var codes: [String] = []
        switch o["codes"] {
        case nil, .null?: break
        case .array(let items)?:
            guard items.count <= EventCodec.maxCouponCodes else { throw Invalid(description: "'codes' may hold at most \(EventCodec.maxCouponCodes) codes, got \(items.count)") }
            for (n, item) in items.enumerated() {
                guard case .string(let s) = item, !s.isEmpty, s.utf8.count <= 64 else {
                    throw Invalid(description: "'codes[\(n)]' must be a code of 1-64 characters")
                }
                let code = CampaignPolicy.normalise(code: s)
                if !codes.contains(code) { codes.append(code) }
            }
        case let other?: throw Invalid(description: "'codes' must be an array of strings, got \(other)")
        }
        guard case .array(let items)? = o["lines"], !items.isEmpty else {
            throw Invalid(description: "'lines' is required: a non-empty array of {\"sku\",\"category\",\"quantity\",\"unitPrice\"}")
        }
        guard items.count <= Self.maxLines else { throw Invalid(description: "'lines' may hold at most \(Self.maxLines) lines, got \(items.count)") }
        var lines: [PurchaseLine] = []
        var sum: Int64 = 0
        for (n, item) in items.enumerated() {
            guard case .object(let line) = item else { throw Invalid(description: "'lines[\(n)]' must be an object") }
            for key in line.keys where !Self.lineFields.contains(key) {
                throw Invalid(description: "unknown field 'lines[\(n)].\(key)'; a line has \(Self.lineFields.joined(separator: ", "))")
            }
            guard case .string(let sku)? = line["sku"], !sku.isEmpty, sku.utf8.count <= 128 else {
                throw Invalid(description: "'lines[\(n)].sku' must be a non-empty string")
            }
            guard case .string(let category)? = line["category"], !category.isEmpty, category.utf8.count <= 64 else {
                throw Invalid(description: "'lines[\(n)].category' must be a string of 1-64 characters")
            }
            guard case .int(let quantity)? = line["quantity"], quantity > 0, quantity <= 1_000_000 else {
                throw Invalid(description: "'lines[\(n)].quantity' must be a whole number from 1 to 1000000")
            }
            guard case .int(let price)? = line["unitPrice"], price >= 0, price <= 1_000_000_000_000 else {
                throw Invalid(description: "'lines[\(n)].unitPrice' must be a whole number of minor units from 0 to 10^12")
            }
            let (amount, overflow) = quantity.multipliedReportingOverflow(by: price)
            let (total, overflow2) = sum.addingReportingOverflow(amount)
            guard !overflow, !overflow2, total < 1 << 52 else { throw Invalid(description: "'lines' add up to more than 2^52 minor units") }
            sum = total
            lines.append(PurchaseLine(sku: sku, category: category, quantity: quantity, unitPrice: price))
        }
        basket = Basket(storeId: store, terminalId: terminal, customerId: customer, currency: currency, lines: lines, at: at, codes: codes)
    }
}
