import Foundation
@testable import LoyaltyRules
import Testing

/// Line conditions compare a line's category and sku by number once `numberTexts()` has given
/// them one (the simulation does); the answer must be the one comparing the texts gives.
@Suite("Numbered line texts")
struct NumberedTextTests {
    static func facts(_ lines: [(sku: String, category: String)], numbered: Bool) -> Facts {
        let facts = Facts()
        facts.purchase.lines = lines.map {
            LineFacts(sku: $0.sku, category: $0.category, quantity: 1, price: 100, amount: 100, margin: 0)
        }
        if numbered { facts.purchase.numberTexts() }
        return facts
    }

    static let baskets: [[(sku: String, category: String)]] = [
        [("COF-001", "coffee")],
        [("BAK-002", "bakery"), ("DAI-002", "dairy")],
        [("TEA-001", "tea"), ("HOU-002", "household"), ("COF-002", "coffee")],
        // Canonically equivalent to "Kcoffee" and "café" written precomposed: Swift's `==` says
        // equal, so the numbers must be equal too.
        [("\u{212A}-1", "cafe\u{301}")],
        [("K-1", "café")],
        [],
    ]

    @Test(arguments: [
        "purchase.lines.any(category == \"coffee\")",
        "purchase.lines.any(category != \"coffee\")",
        "purchase.lines.all(category == \"coffee\")",
        "purchase.lines.any(category == \"café\")",
        "purchase.lines.any(sku == \"K-1\")",
        "purchase.lines.any(sku == \"\u{212A}-1\")",
        "purchase.lines.any(sku in [\"BAK-002\", \"DAI-002\", \"HOU-002\"])",
        "purchase.lines.any(sku not in [\"BAK-002\", \"DAI-002\", \"HOU-002\"])",
        "purchase.lines.any(category in [\"tea\"])",
        "purchase.lines.any(category not in [\"tea\", \"coffee\"])",
        "purchase.lines.any(category in [\"tea\", \"dairy\", \"café\", \"meat\"])",
        "purchase.lines.any(category not in [\"tea\", \"dairy\", \"café\", \"meat\"])",
        "purchase.lines.count(category == \"coffee\" or sku == \"BAK-002\") == 1",
    ])
    func sameAnswerByNumberAndByText(text: String) throws {
        let condition = try ExpressionCompiler.condition(text, scope: fullScope)
        for basket in Self.baskets {
            let byText = condition.evaluate(Self.facts(basket, numbered: false))
            let byNumber = condition.evaluate(Self.facts(basket, numbered: true))
            #expect(byText == byNumber, "\(text) over \(basket)")
        }
        // The equivalent spellings really are compared as equal.
        let precomposed = try ExpressionCompiler.condition("purchase.lines.any(category == \"café\")", scope: fullScope)
        #expect(precomposed.evaluate(Self.facts([("\u{212A}-1", "cafe\u{301}")], numbered: true)))
    }

    @Test func changingATextDropsItsNumber() throws {
        let condition = try ExpressionCompiler.condition("purchase.lines.any(category == \"coffee\")", scope: fullScope)
        let facts = Self.facts([("COF-001", "coffee")], numbered: true)
        #expect(facts.purchase.lines[0].categoryId >= 0)
        #expect(condition.evaluate(facts))
        facts.purchase.lines[0].category = "tea"
        #expect(facts.purchase.lines[0].categoryId == -1)
        #expect(!condition.evaluate(facts))
        facts.purchase.lines[0].sku = "TEA-001"
        #expect(facts.purchase.lines[0].skuId == -1)
    }
}
