import Foundation
import LoyaltyEvents
@testable import LoyaltyRules
import Testing

/// Every root, NOK, three tiers: what a purchase rule file with tiers sees.
let fullScope = Scope(roots: Set(Scope.Root.allCases), currency: .NOK, tiers: ["silver", "gold", "platinum"])
/// An earning rule: no survey.
let purchaseScope = Scope(roots: [.purchase, .customer, .clock], currency: .NOK)
/// A survey rule: no purchase.
let surveyScope = Scope(roots: [.survey, .customer, .clock], currency: .NOK)
/// A rule file that forgot `currency:`.
let noCurrencyScope = Scope(roots: Set(Scope.Root.allCases))
/// A rule's `lines:` condition.
let lineScope = Scope(roots: Set(Scope.Root.allCases), inLine: true, currency: .NOK)

let yen = CurrencyCode("JPY")!

/// An expression that must be rejected: where, what, and (optionally) what to do instead.
struct Rejection: Sendable, CustomTestStringConvertible {
    var text: String
    var start: Int
    var message: String
    var suggestion: String?
    var scope: Scope = fullScope

    init(_ text: String, at start: Int, _ message: String, suggestion: String? = nil, scope: Scope = fullScope) {
        self.text = text
        self.start = start
        self.message = message
        self.suggestion = suggestion
        self.scope = scope
    }

    var testDescription: String { text.isEmpty ? "(empty)" : text }
}

/// The error compiling `text` as a condition, or nil when it compiles.
func conditionError(_ text: String, scope: Scope = fullScope) -> ExpressionError? {
    do {
        _ = try ExpressionCompiler.condition(text, scope: scope)
        return nil
    } catch {
        return error
    }
}

func amountError(_ text: String, scope: Scope = fullScope, accepted: [ValueType]) -> ExpressionError? {
    do {
        _ = try ExpressionCompiler.amount(text, scope: scope, accepted: accepted)
        return nil
    } catch {
        return error
    }
}

/// Checks one rejection: the exact span start, a fragment of the message and of the suggestion.
func expectRejected(_ rejection: Rejection, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let error = conditionError(rejection.text, scope: rejection.scope) else {
        Issue.record("'\(rejection.text)' compiled, but should have been rejected", sourceLocation: sourceLocation)
        return
    }
    #expect(error.span.start == rejection.start, "\(error)", sourceLocation: sourceLocation)
    #expect(error.message.contains(rejection.message), "\(error)", sourceLocation: sourceLocation)
    if let suggestion = rejection.suggestion {
        #expect(error.suggestion?.contains(suggestion) == true, "\(error)", sourceLocation: sourceLocation)
    }
    // The span lies inside the expression (or just past it, for "ends too early").
    let length = rejection.text.unicodeScalars.count
    #expect(error.span.start <= length && error.span.end <= length, "\(error)", sourceLocation: sourceLocation)
}

/// Compiles and evaluates a condition.
func holds(_ text: String, _ facts: Facts = Facts(), scope: Scope = fullScope) throws -> Bool {
    try ExpressionCompiler.condition(text, scope: scope).evaluate(facts)
}

/// Compiles and evaluates an amount.
func amountValue(_ text: String, _ facts: Facts = Facts(), scope: Scope = fullScope,
            accepted: [ValueType] = [.number, .money(.NOK)]) throws -> Double {
    try ExpressionCompiler.amount(text, scope: scope, accepted: accepted).evaluate(facts)
}

/// Milliseconds since the epoch of an ISO 8601 UTC instant, e.g. "2026-07-04T10:00:00Z".
func epochMilliseconds(_ iso: String) -> Int64 {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    guard let date = formatter.date(from: iso) else { fatalError("bad instant \(iso)") }
    return Int64((date.timeIntervalSince1970 * 1000).rounded())
}

let osloZone = TimeZone(identifier: "Europe/Oslo")!

/// A customer's visits and spend by local day number.
struct DayHistory: CustomerHistory {
    var byDay: [Int: (visits: Int, spend: Double)] = [:]

    func visits(days: Int, today: Int) -> Int {
        (today - days + 1...today).reduce(0) { $0 + (byDay[$1]?.visits ?? 0) }
    }

    func spend(days: Int, today: Int) -> Double {
        (today - days + 1...today).reduce(0) { $0 + (byDay[$1]?.spend ?? 0) }
    }
}

/// A café purchase in NOK: 2 × coffee at 35, a pastry at 45, a bag of beans at 129, 5 off.
/// Subtotal 244 NOK, total 239 NOK, margin 40 NOK (the beans have none), 4 items.
func cafePurchase() -> Purchase {
    Purchase(storeId: "oslo-1", terminalId: "t-2", receiptId: "r-1", customerId: "c-1", currency: .NOK,
             lines: [
                 PurchaseLine(sku: "cof-1", category: "coffee", quantity: 2, unitPrice: 3500, margin: 1000),
                 PurchaseLine(sku: "pas-1", category: "pastry", quantity: 1, unitPrice: 4500, margin: 2000),
                 PurchaseLine(sku: "bea-1", category: "beans", quantity: 1, unitPrice: 12900),
             ],
             discount: 500, total: 23900)
}

func cafeFacts(purchase: Purchase = cafePurchase(), at instant: String = "2026-07-04T10:00:00Z") -> Facts {
    let facts = Facts()
    facts.load(purchase: purchase)
    var clock = LocalClock(timeZone: osloZone)
    facts.clock = clock.facts(at: epochMilliseconds(instant))
    return facts
}
