import LoyaltyEvents
@testable import LoyaltyRules
import Testing

@Suite("Parser")
struct ParserTests {
    // MARK: Valid input

    /// Constant expressions: precedence, associativity, every literal form.
    @Test(arguments: [
        // Arithmetic precedence and associativity.
        ("1 + 2 * 3 == 7", true),
        ("(1 + 2) * 3 == 9", true),
        ("10 - 2 - 3 == 5", true),
        ("100 / 10 / 2 == 5", true),
        ("-2 * 3 == -6", true),
        ("- -2 == 2", true),
        ("2.5 * 2 == 5", true),
        ("7 - 10 < 0", true),
        // Logic: not > and > or.
        ("true or false and false", true),
        ("(true or false) and false", false),
        ("not true or true", true),
        ("not (true or true)", false),
        ("not not true", true),
        ("not 1 > 2", true),
        ("1 == 1 and 2 != 3", true),
        ("1 < 2 and 2 < 3 and 3 < 2", false),
        // Durations.
        ("2.5h == 150min", true),
        ("2w == 14d", true),
        ("1d == 24h", true),
        ("90min == 5400s", true),
        ("45s < 1min", true),
        ("30d > 4w", true),
        // Money literals: minor units, exact.
        ("12.50 NOK == 1250 NOK / 100", true),
        ("0.1 NOK + 0.2 NOK == 0.3 NOK", true),
        ("200 NOK / 10 NOK == 20", true),
        ("2 * 100 NOK == 200 NOK", true),
        ("-5 NOK < 0 NOK", true),
        // Dates.
        ("2026-12-24 > 2026-12-01", true),
        ("2026-12-24 - 2026-12-01 == 23d", true),
        ("2026-12-31 + 1d == 2027-01-01", true),
        ("1d + 2026-12-31 == 2027-01-01", true),
        ("2024-02-28 + 1d == 2024-02-29", true),
        ("2024-02-29 < 2024-03-01", true),
        ("2026-03-01 - 1d == 2026-02-28", true),
        // Times of day.
        ("18:30 > 9:15", true),
        ("18:30 == 18:30", true),
        ("00:00 < 23:59", true),
        // Text, both quotes, escapes.
        ("\"it's\" == 'it\\'s'", true),
        ("\"a\\\"b\" != \"a\"", true),
        ("\"tab\\there\" == 'tab\\there'", true),
        ("\"gold\" == \"Gold\"", false),
        // Lists.
        ("1 in [1, 2, 3]", true),
        ("4 not in [1, 2, 3]", true),
        ("\"b\" in [\"a\", \"b\",]", true),
        ("not 4 in [1]", true),
        ("5 NOK in [5 NOK, 10 NOK]", true),
        // Functions.
        ("min(3, 5) == 3", true),
        ("max(3 NOK, 5 NOK) == 5 NOK", true),
        ("round(2.5) == 3", true),
        ("round(-2.5) == -3", true),
        ("floor(2.7) == 2", true),
        ("ceil(2.1) == 3", true),
        ("abs(-4) == 4", true),
        ("round(12.40 NOK) == 12 NOK", true),
        ("round(12.50 NOK) == 13 NOK", true),
        ("ceil(12.01 NOK) == 13 NOK", true),
        ("floor(12.99 NOK) == 12 NOK", true),
        ("abs(-3d) == 3d", true),
        // Whitespace of every kind.
        ("\t1\n>=\r\n0 ", true),
        ("1+2==3", true),
    ])
    func constantExpressions(text: String, expected: Bool) throws {
        #expect(try holds(text) == expected)
    }

    @Test func fieldsAndCallsParse() throws {
        let f = cafeFacts()
        #expect(try holds("purchase.total>=200 NOK", f))
        #expect(try holds("customer.visits(days:30)>=0", f))
        #expect(try holds("customer.visits( days : 30 , ) >= 0", f))
        #expect(try holds("purchase.lines.sum(amount, where: category == \"coffee\") == 70 NOK", f))
        #expect(try holds("clock.weekday not in [\"monday\", \"tuesday\"]", f))
        #expect(try holds("not clock.weekday in [\"monday\"]", f))
        #expect(try holds("(((purchase.items))) == 4", f))
    }

    @Test func literalValues() throws {
        #expect(try amountValue("12.50 NOK") == 1250)
        #expect(try amountValue("1234 JPY", scope: Scope(roots: [], currency: yen), accepted: [.money(yen)]) == 1234)
        #expect(try amountValue("0.125 KWD", scope: Scope(roots: [], currency: CurrencyCode("KWD")!),
                           accepted: [.money(CurrencyCode("KWD")!)]) == 125)
        #expect(try amountValue("30d / 1s") == 2_592_000)
        #expect(try amountValue("12h / 1s") == 43_200)
        #expect(try amountValue("90min / 1s") == 5_400)
        #expect(try amountValue("2w / 1d") == 14)
        #expect(try amountValue("45s / 1s") == 45)
        #expect(try amountValue("(2026-12-24 - 1970-01-01) / 1d") == 20_811)
    }

    @Test func tokensCarrySpansInUnicodeScalars() throws {
        // "é" written as e + combining acute: two scalars, one character.
        let text = "customer.tier == \"e\u{301}\" and x"
        let tokens = try Lexer.tokenize(text)
        #expect(tokens.map(\.span.start) == [0, 8, 9, 14, 17, 22, 26, 27])
        #expect(tokens.last?.kind == .end)
        #expect(tokens[4].kind == .string("e\u{301}"))
    }

    @Test func lexerReadsLiteralForms() throws {
        #expect(try Lexer.tokenize("2026-12-24")[0].kind == .date(20_811))
        #expect(try Lexer.tokenize("1970-01-01")[0].kind == .date(0))
        #expect(try Lexer.tokenize("1969-12-31")[0].kind == .date(-1))
        #expect(try Lexer.tokenize("18:30")[0].kind == .time(1_110))
        #expect(try Lexer.tokenize("9:05")[0].kind == .time(545))
        #expect(try Lexer.tokenize("2.5h")[0].kind == .duration(9_000))
        #expect(try Lexer.tokenize("12.50")[0].kind == .number(12.5))
        #expect(try Lexer.tokenize("'x\\ny'")[0].kind == .string("x\ny"))
    }

    // MARK: Invalid input

    @Test(arguments: [
        Rejection("purchase.total >= 200 NKO", at: 22, "'NKO' is not an ISO 4217 currency code", suggestion: "'NOK'"),
        Rejection("purchase.total >= 200 NOX", at: 22, "'NOX' is not an ISO 4217 currency code"),
        // Misspelt codes: the file's currency wins a tie, then a swap of two letters.
        Rejection("purchase.total >= 200 NOO", at: 22, "'NOO' is not an ISO 4217 currency code", suggestion: "'NOK'"),
        Rejection("purchase.total >= 200 SKE", at: 22, "'SKE' is not an ISO 4217 currency code", suggestion: "'SEK'",
                  scope: Scope(roots: [.purchase], currency: .SEK)),
        Rejection("200 NKO > 1 NOK", at: 4, "'NKO' is not an ISO 4217 currency code", suggestion: "'NOK'",
                  scope: Scope(roots: [])),
        Rejection("customer.tier = \"gold\"", at: 14, "'=' alone is not a comparison", suggestion: "'=='"),
        Rejection("a = b", at: 2, "'=' alone is not a comparison", suggestion: "'=='"),
        Rejection("purchase.total >= 200 NOK && clock.hour < 12", at: 26, "'&&' is not an operator", suggestion: "'and'"),
        Rejection("clock.hour < 12 || clock.hour > 20", at: 16, "'||' is not an operator", suggestion: "'or'"),
        Rejection("!known(customer.lastNps)", at: 0, "'!' is not an operator", suggestion: "'not'"),
        Rejection("customer.tier == \"gold", at: 17, "text is not closed: a \" is missing"),
        Rejection("customer.tier == 'gold", at: 17, "text is not closed: a ' is missing"),
        Rejection("clock.date == 2026-02-30", at: 14, "2026-02-30 is not a date in the calendar"),
        Rejection("clock.date == 2026-02-29", at: 14, "2026-02-29 is not a date in the calendar"),
        Rejection("clock.date == 2026-04-31", at: 14, "is not a date in the calendar"),
        Rejection("clock.date == 2026-13-01", at: 14, "is not a date in the calendar"),
        Rejection("clock.date == 2026-00-10", at: 14, "is not a date in the calendar"),
        Rejection("clock.date == 2026-12-00", at: 14, "is not a date in the calendar"),
        Rejection("clock.date >= 2026-2-01", at: 14, "a date is written YYYY-MM-DD"),
        Rejection("clock.date >= 2026-02-1", at: 14, "a date is written YYYY-MM-DD"),
        Rejection("clock.time >= 25:00", at: 14, "a time of day is written HH:MM"),
        Rejection("clock.time >= 24:00", at: 14, "a time of day is written HH:MM"),
        Rejection("clock.time >= 18:60", at: 14, "a time of day is written HH:MM"),
        Rejection("clock.time >= 18:5", at: 14, "a time of day is written HH:MM"),
        Rejection("customer.sinceLastVisit > 30x", at: 26, "unknown unit 'x' after 30", suggestion: "30d"),
        Rejection("customer.sinceLastVisit > 3m", at: 26, "unknown unit 'm' after 3", suggestion: "90min"),
        Rejection("purchase.total > 200NOK", at: 17, "unknown unit 'NOK'", suggestion: "'200 NOK' (with a space)"),
        Rejection("1 < clock.hour < 5", at: 15, "comparisons cannot be chained", suggestion: "and"),
        Rejection("clock.hour >= 9 == true", at: 16, "comparisons cannot be chained"),
        Rejection("purchase.total >= 200 NOK clock.hour > 3", at: 26, "'clock' was not expected after a complete expression",
                  suggestion: "'and' or 'or'"),
        Rejection("clock.hour > 3)", at: 14, "')' was not expected after a complete expression"),
        Rejection("clock.hour > 3 4", at: 15, "the number 4 was not expected after a complete expression"),
        Rejection("", at: 0, "the expression is empty"),
        Rejection("   ", at: 3, "the expression is empty"),
        Rejection("purchase.total >=", at: 17, "the expression ends too early"),
        Rejection("(clock.hour > 3", at: 15, "expected ')' to close '('"),
        Rejection("and clock.hour > 3", at: 0, "'and' needs something on its left"),
        Rejection("clock.hour > 3 or or true", at: 18, "'or' needs something on its left"),
        Rejection("clock.hour # 3", at: 11, "unexpected character '#'"),
        Rejection("clock.hour > * 3", at: 13, "'*' was not expected here"),
        Rejection("clock.weekday in [\"saturday\", \"sunday\"", at: 38, "expected ',' or ']' in the list"),
        Rejection("customer.visits(days: 30", at: 24, "expected ',' or ')' in the arguments"),
        Rejection("purchase. > 3", at: 10, "expected a field name after '.'"),
        // Spans count Unicode scalars: "e\u{301}" is one character but two scalars.
        Rejection("customer.tier == \"e\u{301}\" and 3x > 1d", at: 26, "unknown unit 'x'"),
        Rejection("customer.tier == \"😀\" and 3x > 1d", at: 25, "unknown unit 'x'"),
    ])
    func rejected(_ rejection: Rejection) {
        expectRejected(rejection)
    }

    @Test func errorDescriptionIsOneBasedColumn() {
        let error = conditionError("purchase.total >= 200 NKO")
        #expect(error?.description.hasPrefix("column 23: 'NKO' is not an ISO 4217 currency code") == true)
        #expect(error?.span.end == 25)
    }
}

@Suite struct LiteralMistakeTests {
    @Test func aLowercaseCurrencyIsNamed() throws {
        let error = try #require(conditionError("purchase.total >= 500 nok"))
        #expect(error.span.start == 22)
        #expect(error.message == "currency codes are written in capitals")
        #expect(error.suggestion == "write NOK")
    }

    @Test func uppercaseKeywordsAfterANumberAreNotTakenForACurrency() throws {
        let error = try #require(conditionError("purchase.items >= 2 AND clock.hour > 17"))
        #expect(error.span.start == 20)
        #expect(error.message == "'AND' is not a currency; words of the language are lowercase")
        #expect(error.suggestion == "write 'and'")
    }

    @Test func moneyWithMoreDecimalsThanTheCurrencyHasIsRefused() throws {
        let error = try #require(conditionError("purchase.total >= 12.50 JPY", scope: Scope(roots: [.purchase], currency: CurrencyCode("JPY"))))
        #expect(error.span.start == 18)
        #expect(error.message == "JPY has no decimals; 12.5 JPY cannot be paid")
        #expect(conditionError("purchase.total >= 12.50 NOK") == nil)
        #expect(conditionError("purchase.total >= 12.505 NOK")?.message == "NOK has only 2 decimals; 12.505 NOK cannot be paid")
    }
}
