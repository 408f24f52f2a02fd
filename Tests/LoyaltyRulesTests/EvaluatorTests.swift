import Foundation
import LoyaltyEvents
@testable import LoyaltyRules
import Testing

@Suite("Evaluator")
struct EvaluatorTests {
    // MARK: Purchases

    @Test(arguments: [
        ("purchase.total == 239 NOK", true),
        ("purchase.total >= 200 NOK", true),
        ("purchase.total > 239 NOK", false),
        ("purchase.total >= 239.01 NOK", false),
        ("purchase.subtotal == 244 NOK", true),
        ("purchase.discount == 5 NOK", true),
        ("purchase.margin == 40 NOK", true),
        ("purchase.items == 4", true),
        ("purchase.store == \"oslo-1\"", true),
        ("purchase.terminal == \"t-2\"", true),
        ("purchase.subtotal - purchase.discount == purchase.total", true),
        ("purchase.total > purchase.subtotal", false),
    ])
    func purchaseFields(text: String, expected: Bool) throws {
        #expect(try holds(text, cafeFacts()) == expected)
    }

    @Test(arguments: [
        ("purchase.lines.any(category == \"coffee\")", true),
        ("purchase.lines.any(category == \"tea\")", false),
        ("purchase.lines.any(line.sku == \"bea-1\" and price > 100 NOK)", true),
        ("purchase.lines.any(amount > purchase.total / 2)", true),
        ("purchase.lines.any(quantity >= 2 and category == \"pastry\")", false),
        ("purchase.lines.all(price >= 35 NOK)", true),
        ("purchase.lines.all(quantity == 1)", false),
        ("purchase.lines.all(category in [\"coffee\", \"pastry\", \"beans\"])", true),
        ("purchase.lines.count(quantity >= 1) == 3", true),
        ("purchase.lines.count() == 3", true),
        ("purchase.lines.count(margin > 0 NOK) == 2", true),
        ("purchase.lines.count(category == \"coffee\") == 1", true),
        ("purchase.lines.sum(amount) == 244 NOK", true),
        ("purchase.lines.sum(amount, where: category == \"coffee\") == 70 NOK", true),
        ("purchase.lines.sum(quantity, where: category != \"beans\") == 3", true),
        ("purchase.lines.sum(margin) == purchase.margin", true),
        ("purchase.lines.sum(price, where: false) == 0 NOK", true),
        ("purchase.lines.any(category == \"coffee\") and not purchase.lines.any(category == \"tea\")", true),
    ])
    func lines(text: String, expected: Bool) throws {
        #expect(try holds(text, cafeFacts()) == expected)
    }

    @Test func linesOfAnEmptyPurchase() throws {
        let empty = Purchase(storeId: "s", terminalId: "t", receiptId: "r", currency: .NOK, lines: [], total: 0)
        let f = cafeFacts(purchase: empty)
        #expect(try holds("purchase.lines.any(category == \"coffee\")", f) == false)
        #expect(try holds("purchase.lines.all(category == \"coffee\")", f) == true)
        #expect(try holds("purchase.lines.count() == 0", f))
        #expect(try holds("purchase.lines.sum(amount) == 0 NOK", f))
        #expect(try holds("purchase.items == 0", f))
    }

    /// A rule's `lines:` condition looks at the line the evaluator points `lineIndex` at.
    @Test func lineScopedConditionFollowsLineIndex() throws {
        let condition = try ExpressionCompiler.condition("category == \"coffee\" or line.price > 100 NOK", scope: lineScope)
        let f = cafeFacts()
        let results = (0..<f.purchase.lines.count).map { index in
            f.lineIndex = index
            return condition.evaluate(f)
        }
        #expect(results == [true, false, true])
    }

    // MARK: Arithmetic

    @Test func pointsPerTenKroner() throws {
        let points = try ExpressionCompiler.amount("purchase.total / 10 NOK", scope: fullScope, accepted: [.number])
        #expect(points.type == .number)
        #expect(points.constant == nil)
        #expect(abs(points.evaluate(cafeFacts()) - 23.9) < 1e-12)
        #expect(try amountValue("floor(purchase.total / 10 NOK)", cafeFacts()) == 23)
        #expect(try amountValue("purchase.lines.sum(amount, where: category == \"coffee\") / 10 NOK", cafeFacts()) == 7)
        #expect(try amountValue("max(purchase.total / 100 NOK, 1)", cafeFacts()) == 2.39)
    }

    /// Whole points must come out whole: 17 NOK at one point per 17 NOK is one point, not 0.999….
    @Test(arguments: [
        ("floor(purchase.total / 17 NOK)", 1_700, 1.0),
        ("floor(purchase.total / 29 NOK)", 5_800, 2.0),
        ("floor(purchase.total / 55 NOK)", 22_000, 4.0),
        ("ceil(purchase.total / 59 NOK)", 41_300, 7.0),
        ("ceil(purchase.total / 59 NOK)", 88_500, 15.0),
        ("purchase.total / 17 NOK", 3_400, 2.0),
    ])
    func divisionIsExact(text: String, total: Int64, expected: Double) throws {
        let purchase = Purchase(storeId: "s", terminalId: "t", receiptId: "r", currency: .NOK,
                                lines: [PurchaseLine(sku: "x", category: "x", quantity: 1, unitPrice: total)], total: total)
        #expect(try amountValue(text, cafeFacts(purchase: purchase)) == expected)
    }

    @Test func moneyScalesByTheCurrencysMinorUnits() throws {
        let nok = cafeFacts()
        #expect(try amountValue("purchase.total * 2", nok) == 47_800)
        #expect(try amountValue("2 * purchase.total", nok) == 47_800)
        #expect(try amountValue("round(purchase.total * 0.1)", nok) == 2_400)
        #expect(try amountValue("floor(purchase.total / 7)", nok) == 3_400)
        #expect(try amountValue("ceil(purchase.total / 7)", nok) == 3_500)
        #expect(try amountValue("purchase.total - purchase.discount", nok) == 23_400)
        #expect(try amountValue("-purchase.discount", nok) == -500)
        #expect(try amountValue("12.50 NOK") == 1_250)

        let jpyScope = Scope(roots: [.purchase, .customer, .clock], currency: yen)
        let yenPurchase = Purchase(storeId: "tokyo-1", terminalId: "t", receiptId: "r", currency: yen,
                                   lines: [PurchaseLine(sku: "ramen", category: "food", quantity: 1, unitPrice: 1_500)], total: 1_500)
        let jpy = cafeFacts(purchase: yenPurchase)
        let accepted: [ValueType] = [.number, .money(yen)]
        #expect(try holds("purchase.total >= 1000 JPY and purchase.total < 1501 JPY", jpy, scope: jpyScope))
        #expect(try amountValue("1000 JPY", scope: jpyScope, accepted: accepted) == 1_000)
        #expect(try amountValue("purchase.total / 100 JPY", jpy, scope: jpyScope, accepted: accepted) == 15)
        #expect(try amountValue("floor(purchase.total / 7)", jpy, scope: jpyScope, accepted: accepted) == 214)
        #expect(try amountValue("round(purchase.total / 1000)", jpy, scope: jpyScope, accepted: accepted) == 2)
        #expect(CurrencyUnits.scale(of: yen) == 1)
        #expect(CurrencyUnits.scale(of: .NOK) == 100)
        #expect(CurrencyUnits.format(minorUnits: 23_900, currency: .NOK) == "239 NOK")
        #expect(CurrencyUnits.format(minorUnits: 1_250, currency: .NOK) == "12.50 NOK")
        #expect(CurrencyUnits.format(minorUnits: 1_500, currency: yen) == "1500 JPY")
    }

    // MARK: Clock

    @Test func summerInstantInOslo() throws {
        var clock = LocalClock(timeZone: osloZone)
        let c = clock.facts(at: epochMilliseconds("2026-07-04T10:00:00Z"))
        #expect(c.epochMilliseconds == 1_783_159_200_000)
        #expect(c.weekday == 6)
        #expect(c.hour == 12)
        #expect(c.minuteOfDay == 720)
        #expect(c.day == 20_638)
        #expect((c.year, c.month, c.dayOfMonth) == (2026, 7, 4))

        let f = cafeFacts(at: "2026-07-04T10:00:00Z")
        for text in [
            "clock.weekday == \"saturday\" and clock.hour == 12 and clock.time == 12:00",
            "clock.weekday in [\"saturday\", \"sunday\"]",
            "clock.date == 2026-07-04 and clock.day == 4 and clock.month == 7 and clock.year == 2026",
            "clock.time >= 11:00 and clock.time < 13:00",
            "clock.date >= 2026-07-01 and clock.date <= 2026-07-31",
            "clock.date - 2026-07-01 == 3d",
            "clock.date + 1d == 2026-07-05",
            "2026-12-24 - clock.date == 173d",
        ] {
            #expect(try holds(text, f), "\(text)")
        }
        #expect(try holds("clock.time < 12:00 or clock.weekday == \"friday\"", f) == false)
    }

    @Test func winterInstantInOsloIsTheNextLocalDay() throws {
        var clock = LocalClock(timeZone: osloZone)
        let c = clock.facts(at: epochMilliseconds("2026-01-05T23:30:00Z"))
        #expect(c.weekday == 2)
        #expect(c.hour == 0)
        #expect(c.minuteOfDay == 30)
        #expect((c.year, c.month, c.dayOfMonth) == (2026, 1, 6))
        #expect(c.day == 20_459)

        let f = cafeFacts(at: "2026-01-05T23:30:00Z")
        #expect(try holds("clock.weekday == \"tuesday\" and clock.hour == 0 and clock.time == 00:30", f))
        #expect(try holds("clock.date == 2026-01-06", f))
        #expect(try holds("clock.weekday == \"monday\" or clock.date == 2026-01-05", f) == false)
    }

    /// One clock, walked forwards and backwards across both transitions of 2026, agrees with
    /// local times worked out by hand.
    @Test(arguments: [
        ("2026-01-05T23:30:00Z", 0, 30),
        ("2026-03-29T00:59:00Z", 1, 59), // last minute of CET
        ("2026-03-29T01:00:00Z", 3, 0), // first minute of CEST
        ("2026-07-04T10:00:00Z", 12, 0),
        ("2026-10-25T00:30:00Z", 2, 30), // 02:30 CEST
        ("2026-10-25T01:30:00Z", 2, 30), // 02:30 again, CET
        ("2026-10-25T02:00:00Z", 3, 0),
        ("2026-07-04T10:00:00Z", 12, 0), // backwards again
        ("2026-01-05T23:30:00Z", 0, 30),
        ("1969-12-31T23:30:00Z", 0, 30),
    ] as [(String, Int, Int)])
    func clockAcrossTransitions(instant: String, hour: Int, minute: Int) {
        // The same walk with a clock reused from the previous instants.
        var reused = LocalClock(timeZone: osloZone)
        let walk = ["2026-01-05T23:30:00Z", "2026-03-29T00:59:00Z", "2026-03-29T01:00:00Z", "2026-07-04T10:00:00Z",
                    "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:00:00Z"]
        for earlier in walk { _ = reused.facts(at: epochMilliseconds(earlier)) }
        var fresh = LocalClock(timeZone: osloZone)
        for c in [fresh.facts(at: epochMilliseconds(instant)), reused.facts(at: epochMilliseconds(instant))] {
            #expect(c.hour == hour, "\(instant)")
            #expect(c.minuteOfDay == hour * 60 + minute, "\(instant)")
        }
    }

    /// Every 97 minutes through 2025–2027 (and a stretch before 1970), one clock agrees with
    /// Foundation's calendar.
    @Test func clockAgreesWithFoundation() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = osloZone
        var clock = LocalClock(timeZone: osloZone)
        let ranges: [(String, String)] = [("2025-01-01T00:00:00Z", "2027-12-31T00:00:00Z"),
                                          ("1969-11-01T00:00:00Z", "1970-02-01T00:00:00Z")]
        var checked = 0
        for (from, to) in ranges {
            var ms = epochMilliseconds(from)
            let end = epochMilliseconds(to)
            while ms < end {
                let c = clock.facts(at: ms)
                let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .weekday],
                                                    from: Date(timeIntervalSince1970: Double(ms) / 1000))
                let isoWeekday = (parts.weekday! + 5) % 7 + 1
                let agrees = c.year == parts.year && c.month == parts.month && c.dayOfMonth == parts.day
                    && c.hour == parts.hour && c.minuteOfDay == parts.hour! * 60 + parts.minute! && c.weekday == isoWeekday
                    && c.day == CivilDate(year: parts.year!, month: parts.month!, day: parts.day!).dayNumber
                if !agrees {
                    Issue.record("\(ms): \(c) vs \(parts)")
                    return
                }
                checked += 1
                ms += 97 * 60_000
            }
        }
        #expect(checked > 16_000)
    }

    // MARK: Unknown values

    @Test(arguments: [
        "customer.lastNps >= 9",
        "customer.lastNps < 9",
        "customer.lastNps == 9",
        "customer.lastNps != 9",
        "customer.lastNps in [9, 10]",
        "customer.lastNps not in [9, 10]",
        "known(customer.lastNps)",
        "customer.lastNps + 1 > 0",
        "round(customer.lastNps) >= 0",
        "min(customer.lastNps, 10) >= 0",
        "min(10, customer.lastNps) >= 0",
        "max(customer.lastNps, 0) >= 0",
        "max(0, customer.lastNps) >= 0",
        "customer.clv > 0 NOK",
        "customer.clv != 0 NOK",
        "customer.pAlive <= 1",
        "customer.clvPercentile >= 0",
        "customer.sinceLastVisit > 30d",
        "customer.sinceLastVisit <= 30d",
        "customer.lastNps == customer.lastNps",
        "customer.lastNps != customer.clvPercentile",
    ])
    func unknownValuesMakeComparisonsFalse(text: String) throws {
        #expect(try holds(text, cafeFacts()) == false)
    }

    @Test func knownValuesCompare() throws {
        let f = cafeFacts()
        f.customer.lastNps = 9
        f.customer.sinceLastVisit = 40 * 86_400
        #expect(try holds("known(customer.lastNps) and customer.lastNps >= 9", f))
        #expect(try holds("customer.lastNps != 8 and customer.lastNps not in [10]", f))
        #expect(try holds("customer.lastNps != 9", f) == false)
        #expect(try holds("min(customer.lastNps, 10) == 9 and max(0, customer.lastNps) == 9", f))
        #expect(try holds("customer.sinceLastVisit > 30d and customer.sinceLastVisit < 6w", f))
    }

    @Test func surveyDriversNotGivenAreUnknown() throws {
        let f = Facts()
        f.load(survey: Survey(storeId: "oslo-1", nps: 9, drivers: ["serviceLevel": 8]))
        #expect(try holds("survey.nps >= 9 and survey.serviceLevel == 8", f, scope: surveyScope))
        #expect(try holds("survey.valueForMoney < 5 or survey.valueForMoney >= 5", f, scope: surveyScope) == false)
        #expect(try holds("known(survey.expectations)", f, scope: surveyScope) == false)
        #expect(try holds("survey.hasComment", f, scope: surveyScope) == false)
        f.load(survey: Survey(storeId: "oslo-1", nps: 3, comment: "cold coffee"))
        #expect(try holds("survey.hasComment and survey.nps <= 6 and survey.store == \"oslo-1\"", f, scope: surveyScope))
    }

    // MARK: History

    @Test func historyFunctionsCountBackFromTheLocalDay() throws {
        let f = cafeFacts(at: "2026-07-04T10:00:00Z")
        let today = f.clock.day
        #expect(today == 20_638)
        f.customer.history = DayHistory(byDay: [
            today: (1, 23_900),
            today - 6: (2, 10_000),
            today - 7: (1, 99_900),
            today - 40: (1, 5_000),
            today - 638: (3, 1_000),
        ])
        f.customer.visits = 8
        f.customer.spend = 139_800
        for text in [
            "customer.visits(days: 1) == 1",
            "customer.visits(days: 7) == 3",
            "customer.visits(days: 1w) == 3",
            "customer.visits(days: 8) == 4",
            "customer.visits(days: 60) == 5",
            "customer.visits(days: 3660) == customer.visits",
            "customer.spend(days: 7) == 339 NOK",
            "customer.spend(days: 8) == 1338 NOK",
            "customer.spend(days: 3660) == customer.spend",
            "customer.spend(days: 30) / customer.visits(days: 30) > 200 NOK",
            "purchase.lines.any(customer.visits(days: 7) >= 3)",
        ] {
            #expect(try holds(text, f), "\(text)")
        }
        #expect(try amountValue("customer.visits(days: 7) * 10", f) == 30)
    }

    @Test func usageRecordsTheLongestHistoryWindow() throws {
        let condition = try ExpressionCompiler.condition(
            "customer.visits(days: 30) >= 2 or customer.spend(days: 90) > 1000 NOK", scope: fullScope)
        #expect(condition.usage.historyDays == 90)
        #expect(condition.usage.customerFields == ["visits", "spend"])

        let inLines = try ExpressionCompiler.condition(
            "customer.visits(days: 7) > 1 and purchase.lines.any(customer.visits(days: 400) > 1)", scope: fullScope)
        #expect(inLines.usage.historyDays == 400)

        let fields = try ExpressionCompiler.condition("customer.lastNps >= 9 and customer.tier == \"gold\"", scope: fullScope)
        #expect(fields.usage.historyDays == 0)
        #expect(fields.usage.customerFields == ["lastNps", "tier"])

        let points = try ExpressionCompiler.amount("customer.visits(days: 2w) * 10", scope: fullScope, accepted: [.number])
        #expect(points.usage.historyDays == 14)
        #expect(points.usage.customerFields == ["visits"])
    }

    // MARK: Constant folding and shapes

    @Test(arguments: [
        ("10 * 2", 20.0),
        ("max(1, 2) * 3", 6.0),
        ("round(12.40 NOK)", 1_200.0),
        ("1000 NOK / 100 NOK", 10.0),
        ("-(2 + 3)", -5.0),
        ("2w / 1d", 14.0),
        ("min(5 NOK, 3 NOK) * 2", 600.0),
    ])
    func constantAmountsFold(text: String, value: Double) throws {
        let compiled = try ExpressionCompiler.amount(text, scope: fullScope, accepted: [.number, .money(.NOK)])
        #expect(compiled.constant == value)
        #expect(compiled.evaluate(Facts()) == value)
    }

    @Test func nonConstantAmountsDoNotFold() throws {
        let compiled = try ExpressionCompiler.amount("purchase.total / 10 NOK + 0 * 5", scope: fullScope, accepted: [.number])
        #expect(compiled.constant == nil)
        #expect(compiled.type == .number)
        let money = try ExpressionCompiler.amount("round(12.40 NOK)", scope: fullScope, accepted: [.money(.NOK)])
        #expect(money.type == .money(.NOK))
    }

    @Test func conditionShapeOfThresholdAndWeekday() throws {
        let compiled = try ExpressionCompiler.condition(
            "purchase.total >= 200 NOK and clock.weekday in [\"saturday\"]", scope: fullScope)
        #expect(compiled.shape == ConditionShape(clauses: [
            .atom(Atom(subject: "purchase.total", relation: .greaterOrEqual, values: [.numeric(20_000)])),
            .atom(Atom(subject: "clock.weekday", relation: .member, values: [.string("saturday")])),
        ], neverTrue: false))
        #expect(compiled.text == "purchase.total >= 200 NOK and clock.weekday in [\"saturday\"]")
    }

    @Test(arguments: [
        ("200 NOK <= purchase.total", Atom(subject: "purchase.total", relation: .greaterOrEqual, values: [.numeric(20_000)])),
        ("not (clock.weekday == \"monday\")", Atom(subject: "clock.weekday", relation: .notEqual, values: [.string("monday")])),
        ("customer.tier not in [\"gold\"]", Atom(subject: "customer.tier", relation: .notMember, values: [.string("gold")])),
        ("not customer.tier in [\"gold\"]", Atom(subject: "customer.tier", relation: .notMember, values: [.string("gold")])),
        ("false or clock.hour > 3", Atom(subject: "clock.hour", relation: .greater, values: [.numeric(3)])),
        ("survey.hasComment", Atom(subject: "survey.hasComment", relation: .equal, values: [.bool(true)])),
        ("not survey.hasComment", Atom(subject: "survey.hasComment", relation: .equal, values: [.bool(false)])),
        ("clock.date >= 2026-12-24", Atom(subject: "clock.date", relation: .greaterOrEqual, values: [.numeric(20_811)])),
        ("customer.visits(days: 30) >= 3",
         Atom(subject: "customer.visits(days: 30)", relation: .greaterOrEqual, values: [.numeric(3)])),
    ] as [(String, Atom)])
    func singleAtoms(text: String, atom: Atom) throws {
        let compiled = try ExpressionCompiler.condition(text, scope: fullScope)
        #expect(compiled.shape == ConditionShape(clauses: [.atom(atom)], neverTrue: false))
    }

    /// A number may be unknown, and `not (x >= c)` then holds while `x < c` does not: the
    /// analysis must not treat the negation as the opposite comparison.
    @Test func theNegationOfANumericComparisonIsNotAnAtom() throws {
        let compiled = try ExpressionCompiler.condition("not (customer.lastNps >= 9)", scope: fullScope)
        #expect(compiled.shape.clauses.count == 1)
        if case .atom = compiled.shape.clauses[0] { Issue.record("negated numeric comparison became an atom") }
        let facts = Facts()
        #expect(compiled.evaluate(facts))   // unknown NPS: not (false) is true
    }

    @Test func constantConditionsFold() throws {
        #expect(try ExpressionCompiler.condition("true", scope: fullScope).shape == .always)
        #expect(try ExpressionCompiler.condition("1 > 2", scope: fullScope).shape == .never)
        #expect(try ExpressionCompiler.condition("clock.hour > 3 and false", scope: fullScope).shape == .never)
        #expect(try ExpressionCompiler.condition("clock.hour > 3 or true", scope: fullScope).shape == .always)
        #expect(try holds("clock.hour > 3 or true", cafeFacts()))
        let opaque = try ExpressionCompiler.condition("purchase.lines.any(category == \"coffee\")", scope: fullScope)
        guard case .opaque? = opaque.shape.clauses.first else {
            Issue.record("expected an opaque clause, got \(opaque.shape)")
            return
        }
        #expect(opaque.shape.neverTrue == false)
    }

    // MARK: Calendar

    @Test func civilDateRoundTrips() {
        var previous = CivilDate(dayNumber: -1_000_001)
        for n in -1_000_000...1_000_000 {
            let date = CivilDate(dayNumber: n)
            guard date.dayNumber == n, date.isValid else {
                Issue.record("\(n) → \(date) → \(date.dayNumber)")
                return
            }
            // Each day follows the one before: the next day of the month, or the 1st of the next month.
            let follows = (date.year == previous.year && date.month == previous.month && date.day == previous.day + 1)
                || (date.day == 1 && (date.month == previous.month + 1 && date.year == previous.year
                    || date.month == 1 && previous.month == 12 && date.year == previous.year + 1))
            guard follows else {
                Issue.record("\(previous) then \(date)")
                return
            }
            previous = date
        }
    }

    @Test func civilDateAnchors() {
        #expect(CivilDate(dayNumber: 0) == CivilDate(year: 1970, month: 1, day: 1))
        #expect(CivilDate(year: 2026, month: 12, day: 24).dayNumber == 20_811)
        #expect(CivilDate(year: 2000, month: 2, day: 29).dayNumber == 11_016)
        #expect(CivilDate(dayNumber: -719_468) == CivilDate(year: 0, month: 3, day: 1))
        #expect(CivilDate(year: 2026, month: 12, day: 24).description == "2026-12-24")
        #expect(CivilDate(year: 2000, month: 2, day: 29).isValid)
        #expect(!CivilDate(year: 1900, month: 2, day: 29).isValid)
        #expect(!CivilDate(year: 2026, month: 2, day: 29).isValid)
        #expect(!CivilDate(year: 2026, month: 4, day: 31).isValid)
        #expect(!CivilDate(year: 2026, month: 0, day: 1).isValid)
        #expect(!CivilDate(year: 2026, month: 13, day: 1).isValid)

        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for n in stride(from: -135_000, through: 157_000, by: 13) { // 1600 to 2400
            let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(n) * 86_400))
            guard CivilDate(dayNumber: n) == CivilDate(year: parts.year!, month: parts.month!, day: parts.day!) else {
                Issue.record("day \(n): \(CivilDate(dayNumber: n)) vs \(parts)")
                return
            }
        }
    }
}
