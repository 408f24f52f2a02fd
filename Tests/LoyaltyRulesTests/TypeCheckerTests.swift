import LoyaltyEvents
@testable import LoyaltyRules
import Testing

@Suite("Type checker")
struct TypeCheckerTests {
    @Test(arguments: [
        // Unknown fields and names, with "did you mean".
        Rejection("customer.vists >= 3", at: 9, "customer has no field 'vists'", suggestion: "did you mean 'customer.visits'?"),
        Rejection("purchase.totl > 1 NOK", at: 9, "purchase has no field 'totl'", suggestion: "'purchase.total'"),
        Rejection("clock.weekdy == \"monday\"", at: 6, "clock has no field 'weekdy'", suggestion: "'clock.weekday'"),
        Rejection("customer.favouriteColour == \"red\"", at: 9, "customer has no field 'favouriteColour'",
                  suggestion: "customer has: id, tier"),
        Rejection("custmer.visits >= 3", at: 0, "unknown name 'custmer'", suggestion: "did you mean 'customer'?"),
        Rejection("basket.total > 3", at: 0, "unknown name 'basket'", suggestion: "names start with one of: clock, customer"),
        Rejection("customer > 3", at: 0, "'customer' needs a field", suggestion: "customer.id"),
        Rejection("customer.vistis(days: 30) >= 2", at: 9, "customer.vistis(...) does not exist",
                  suggestion: "customer.visits(days: 30)"),
        Rejection("roound(purchase.total) > 1 NOK", at: 0, "unknown function 'roound'", suggestion: "did you mean 'round'?"),
        Rejection("purchase.lines.cont(quantity > 1) > 0", at: 15, "purchase.lines has no 'cont'", suggestion: "'count'"),
        Rejection("purchase.lines.any == true", at: 0, "purchase.lines.any needs parentheses"),
        Rejection("purchase.lines > 0", at: 0, "purchase.lines is a list of lines", suggestion: "purchase.lines.any(...)"),
        Rejection("line.skuu == \"x\"", at: 5, "line has no field 'skuu'", suggestion: "'line.sku'", scope: lineScope),

        // Money against plain numbers, and currencies.
        Rejection("purchase.total > 200", at: 17, "cannot compare money in NOK and a plain number", suggestion: "200 NOK"),
        Rejection("200 < purchase.total", at: 0, "cannot compare a plain number and money in NOK", suggestion: "200 NOK"),
        Rejection("purchase.total > 12.5", at: 17, "a plain number", suggestion: "12.5 NOK"),
        Rejection("purchase.total > 200 SEK", at: 0, "currency mismatch: cannot compare money in NOK and money in SEK",
                  suggestion: "this file's amounts are in NOK"),
        Rejection("purchase.total + 5 SEK > 100 NOK", at: 0, "currency mismatch: cannot add money in NOK and money in SEK"),
        Rejection("purchase.total / 10 SEK > 1", at: 0, "currency mismatch: cannot divide"),
        Rejection("purchase.total > 200 NOK", at: 0, "money fields need to know the currency",
                  suggestion: "currency: NOK", scope: noCurrencyScope),
        Rejection("customer.spend(days: 30) > 200 NOK", at: 0, "money fields need to know the currency", scope: noCurrencyScope),
        Rejection("purchase.lines.any(price > 20 NOK)", at: 19, "money fields need to know the currency", scope: noCurrencyScope),
        Rejection("purchase.total * purchase.total > 1 NOK", at: 0, "cannot multiply money in NOK and money in NOK"),
        Rejection("min(purchase.total, 100) > 1 NOK", at: 0, "min needs two values of the same kind"),

        // History functions: arguments.
        Rejection("customer.visits(30) >= 2", at: 0, "customer.visits takes one argument, days:",
                  suggestion: "customer.visits(days: 30)"),
        Rejection("customer.visits(days: 0) >= 2", at: 22, "days: must be a whole number of days from 1 to 3660"),
        Rejection("customer.visits(days: 3661) >= 2", at: 22, "days: must be a whole number of days from 1 to 3660"),
        Rejection("customer.visits(days: 2.5) >= 2", at: 22, "days: must be a whole number of days"),
        Rejection("customer.visits(days: 12h) >= 2", at: 22, "days: must be a whole number of days"),
        Rejection("customer.visits(days: clock.day) >= 2", at: 22, "written in the rule"),
        Rejection("customer.visits(weeks: 3) >= 2", at: 0, "customer.visits takes one argument, days:"),
        Rejection("customer.spend(days: 30, days: 60) > 1 NOK", at: 0, "customer.spend takes one argument, days:"),
        Rejection("customer.visits() >= 2", at: 0, "customer.visits takes one argument, days:"),
        Rejection("round(1, 2) > 0", at: 0, "round takes 1 argument, not 2"),
        Rejection("max(x: 1, 2) > 0", at: 4, "max takes no argument named 'x'"),
        Rejection("known(\"x\")", at: 6, "known(...) asks whether a number or score is known, got text"),
        Rejection("floor(customer.tier) > 1", at: 6, "floor needs a number or an amount, got text"),

        // Closed sets of text: weekdays and tiers.
        Rejection("clock.weekday == \"saturdy\"", at: 17, "clock.weekday is never \"saturdy\"", suggestion: "did you mean \"saturday\"?"),
        Rejection("clock.weekday == \"Saturday\"", at: 17, "clock.weekday is never \"Saturday\"", suggestion: "did you mean \"saturday\"?"),
        Rejection("\"sundya\" == clock.weekday", at: 0, "clock.weekday is never \"sundya\"", suggestion: "\"sunday\""),
        Rejection("clock.weekday != \"lørdag\"", at: 17, "clock.weekday is never \"lørdag\"", suggestion: "it is one of: \"monday\""),
        Rejection("clock.weekday in [\"saturday\", \"sundy\"]", at: 17, "clock.weekday is never \"sundy\"", suggestion: "\"sunday\""),
        Rejection("customer.tier == \"glod\"", at: 17, "customer.tier is never \"glod\"", suggestion: "did you mean \"gold\"?"),
        Rejection("customer.tier == \"bronze\"", at: 17, "customer.tier is never \"bronze\"",
                  suggestion: "it is one of: \"silver\", \"gold\", \"platinum\""),
        Rejection("customer.tier not in [\"gold\", \"platnum\"]", at: 21, "customer.tier is never \"platnum\"", suggestion: "\"platinum\""),
        Rejection("customer.tier < \"gold\"", at: 0, "'<' orders numbers, amounts, durations, dates and times, not text",
                  suggestion: "use == or in [...]"),

        // Conditions that are not true/false.
        Rejection("purchase.total", at: 0, "a condition must be true or false; this is money in NOK", suggestion: "100 NOK"),
        Rejection("customer.tier", at: 0, "a condition must be true or false; this is text", suggestion: "== \"gold\""),
        Rejection("clock.hour + 1", at: 0, "a condition must be true or false; this is a number", suggestion: ">= 100"),
        Rejection("clock.date", at: 0, "a condition must be true or false; this is a date"),
        Rejection("clock.hour > 3 and clock.hour", at: 19, "'and' joins conditions, but this is a number"),
        Rejection("purchase.total or true", at: 0, "'or' joins conditions, but this is money in NOK"),
        Rejection("not clock.hour", at: 4, "'not' needs a condition, but this is a number"),
        Rejection("purchase.lines.any(price)", at: 19, "this must be a condition on the line, but it is money in NOK"),
        Rejection("purchase.lines.any()", at: 0, "purchase.lines.any needs a condition on the line"),
        Rejection("purchase.lines.sum(sku) > 0", at: 19, "purchase.lines.sum adds numbers or amounts, not text"),
        Rejection("purchase.lines.sum(where: sku == \"x\") > 0", at: 0, "purchase.lines.sum takes an amount of the line"),

        // Other type errors.
        Rejection("clock.hour >= 18:00", at: 0, "cannot compare a number and a time of day"),
        Rejection("clock.date > 18:00", at: 0, "cannot compare a date and a time of day"),
        Rejection("clock.hour in [\"12\"]", at: 0, "cannot look for a number in a list of texts"),
        Rejection("clock.hour in 12", at: 14, "'in' needs a list on its right"),
        Rejection("clock.hour in [1, \"2\"]", at: 18, "all items of a list must be of one kind"),
        Rejection("clock.hour in [clock.day]", at: 15, "list items must be written out"),
        Rejection("clock.hour in []", at: 14, "the list is empty"),
        Rejection("clock.date + 2026-01-01 > 2026-01-01", at: 0, "cannot add a date and a date"),
        Rejection("-customer.tier == \"x\"", at: 1, "'-' needs a number, an amount or a duration, but this is text"),
        Rejection("purchase.items / 0 > 1", at: 17, "division by zero"),
        Rejection("10 / 0 > 1", at: 5, "division by zero"),
        Rejection("purchase.items / (2 - 2) > 1", at: 17, "division by zero"),

        // Roots a kind of rule does not have.
        Rejection("survey.nps >= 9", at: 0, "'survey' is not available in this kind of rule",
                  suggestion: "here you can use: clock, customer, purchase", scope: purchaseScope),
        Rejection("survey > 1", at: 0, "'survey' is not available in this kind of rule", scope: purchaseScope),
        Rejection("purchase.lines.any(category == \"coffee\")", at: 0, "'purchase' is not available in this kind of rule",
                  suggestion: "here you can use: clock, customer, survey", scope: surveyScope),
        Rejection("customer.visits(days: 7) > 1", at: 0, "'customer' is not available in this kind of rule",
                  scope: Scope(roots: [.purchase, .clock], currency: .NOK)),

        // Line fields outside a line, and lines inside a line.
        Rejection("category == \"coffee\"", at: 0, "'category' is a field of a purchase line", suggestion: "purchase.lines.any("),
        Rejection("amount > 10 NOK", at: 0, "'amount' is a field of a purchase line"),
        Rejection("line.sku == \"x\"", at: 0, "'line' is only available inside purchase.lines.any(...)"),
        Rejection("purchase.lines.any(purchase.lines.any(category == \"tea\"))", at: 19,
                  "purchase.lines cannot be searched from inside a line"),
        Rejection("purchase.lines.count() > 1", at: 0, "purchase.lines cannot be searched from inside a line", scope: lineScope),
    ])
    func rejected(_ rejection: Rejection) {
        expectRejected(rejection)
    }

    @Test(arguments: [
        "customer.visits(days: 30) >= 2",
        "customer.visits(days: 4w) >= 2",
        "customer.spend(days: 90d) > 1000 NOK",
        "customer.visits >= 10 and customer.spend > 10000 NOK",
        "customer.tier in [\"gold\", \"platinum\"]",
        "clock.weekday in [\"saturday\", \"sunday\"] and clock.time >= 10:00",
        "purchase.lines.any(category == \"coffee\" and amount >= 50 NOK)",
        "purchase.lines.any(line.category == \"coffee\")",
        "purchase.lines.all(margin >= 0 NOK)",
        "purchase.lines.count(quantity >= 2) >= 1",
        "purchase.lines.sum(amount, where: category == \"coffee\") > 100 NOK",
        "purchase.lines.sum(quantity) > 3",
        "purchase.lines.any(price > purchase.total / 2)",
        "known(customer.lastNps) and customer.lastNps >= 9",
        "customer.sinceLastVisit > 30d",
        "clock.date - 2026-12-01 <= 7d",
        "survey.nps <= 6 and survey.hasComment",
    ])
    func accepted(text: String) {
        #expect(conditionError(text) == nil, "\(conditionError(text).map(String.init(describing:)) ?? "")")
    }

    /// Two amounts in the same currency that cannot be combined are not a currency mismatch.
    @Test func sameCurrencyIsNotAMismatch() {
        let error = conditionError("purchase.total * purchase.total > 1 NOK")
        #expect(error?.message == "cannot multiply money in NOK and money in NOK")
        let lines = conditionError("purchase.lines.sum(amount) * 2 NOK > 1 NOK")
        #expect(lines?.message.contains("currency mismatch") == false)
    }

    @Test func tiersAreFreeTextWithoutTiersInScope() {
        #expect(conditionError("customer.tier == \"bronze\"", scope: purchaseScope) == nil)
    }

    @Test func lineScopeReadsLineFields() {
        #expect(conditionError("category == \"coffee\" and quantity >= 2 and price > 20 NOK", scope: lineScope) == nil)
        #expect(conditionError("line.amount >= 50 NOK and line.margin > 0 NOK", scope: lineScope) == nil)
        #expect(conditionError("sku == \"x\" and purchase.total > 100 NOK", scope: lineScope) == nil)
    }

    // MARK: Amounts

    @Test func amountOfTheWrongType() {
        let money = amountError("purchase.total", accepted: [.number])
        #expect(money?.message == "expected a number here, but this is money in NOK")
        #expect(money?.span.start == 0)
        #expect(money?.suggestion?.contains("'purchase.total / 10 NOK' is one point per 10 NOK") == true)

        let plain = amountError("5", accepted: [.money(.NOK)])
        #expect(plain?.message == "expected money in NOK here, but this is a number")
        #expect(plain?.suggestion == "add the currency, e.g. '5 NOK'")

        let condition = amountError("clock.hour > 3", accepted: [.number, .money(.NOK)])
        #expect(condition?.message == "expected a number or money in NOK here, but this is a condition (true/false)")

        let foreign = amountError("5 SEK", accepted: [.number, .money(.NOK)])
        #expect(foreign?.message.contains("but this is money in SEK") == true)
    }
}
