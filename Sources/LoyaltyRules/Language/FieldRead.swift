/// A plain field read, known at compile time, so that a comparison of the field with a constant
/// compiles into one closure (`{ $0.purchase.total >= c }`) instead of a comparison closure
/// calling a field closure.
///
/// Each field has a caseless type whose `read` the generic builders below are specialised for,
/// so the read is inlined into the comparison. The reads are exactly those of the field closures
/// in `ExpressionCompiler.compileMember` and `lineField`.
enum FieldRead: Sendable {
    // Numbers, money, durations, dates and times.
    case customerPoints, customerQualifyingPoints, customerVisits, customerSpend, customerSinceLastVisit, customerMemberFor
    case customerClv, customerClvPercentile, customerPAlive, customerLastNps
    case purchaseTotal, purchaseSubtotal, purchaseDiscount, purchaseMargin, purchaseItems
    case surveyNps, surveyExpectations, surveyValueForMoney, surveyServiceLevel
    case clockHour, clockTime, clockDate, clockDay, clockMonth, clockYear
    case lineQuantity, linePrice, lineAmount, lineMargin
    // Text.
    case customerId, customerTier, purchaseStore, purchaseTerminal, surveyStore, lineSku, lineCategory
    /// `clock.weekday`: text to the language, 1 = Monday … 7 = Sunday in the facts.
    case clockWeekday
}

protocol NumberRead { static func read(_ f: Facts) -> Double }
protocol TextRead { static func read(_ f: Facts) -> String }

private enum CustomerPoints: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.customer.points } }
private enum CustomerQualifyingPoints: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.customer.qualifyingPoints } }
private enum CustomerVisits: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.customer.visits } }
private enum CustomerSpend: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.customer.spend } }
private enum CustomerSinceLastVisit: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.customer.sinceLastVisit } }
private enum CustomerMemberFor: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.customer.memberFor } }
private enum CustomerClv: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.customer.clv } }
private enum CustomerClvPercentile: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.customer.clvPercentile } }
private enum CustomerPAlive: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.customer.pAlive } }
private enum CustomerLastNps: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.customer.lastNps } }
private enum PurchaseTotal: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.purchase.total } }
private enum PurchaseSubtotal: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.purchase.subtotal } }
private enum PurchaseDiscount: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.purchase.discount } }
private enum PurchaseMargin: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.purchase.margin } }
private enum PurchaseItems: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.purchase.items } }
private enum SurveyNps: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.survey.nps } }
private enum SurveyExpectations: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.survey.expectations } }
private enum SurveyValueForMoney: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.survey.valueForMoney } }
private enum SurveyServiceLevel: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.survey.serviceLevel } }
private enum ClockHour: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { Double(f.clock.hour) } }
private enum ClockTime: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { Double(f.clock.minuteOfDay) } }
private enum ClockDate: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { Double(f.clock.day) } }
private enum ClockDay: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { Double(f.clock.dayOfMonth) } }
private enum ClockMonth: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { Double(f.clock.month) } }
private enum ClockYear: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { Double(f.clock.year) } }
private enum LineQuantity: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.purchase.lines[f.lineIndex].quantity } }
private enum LinePrice: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.purchase.lines[f.lineIndex].price } }
private enum LineAmount: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.purchase.lines[f.lineIndex].amount } }
private enum LineMargin: NumberRead { @inline(__always) static func read(_ f: Facts) -> Double { f.purchase.lines[f.lineIndex].margin } }

private enum CustomerId: TextRead { @inline(__always) static func read(_ f: Facts) -> String { f.customer.id } }
private enum CustomerTier: TextRead { @inline(__always) static func read(_ f: Facts) -> String { f.customer.tier } }
private enum PurchaseStore: TextRead { @inline(__always) static func read(_ f: Facts) -> String { f.purchase.store } }
private enum PurchaseTerminal: TextRead { @inline(__always) static func read(_ f: Facts) -> String { f.purchase.terminal } }
private enum SurveyStore: TextRead { @inline(__always) static func read(_ f: Facts) -> String { f.survey.store } }
private enum LineSku: NumberedTextRead {
    @inline(__always) static func read(_ f: Facts) -> String { f.purchase.lines[f.lineIndex].sku }
    @inline(__always) static func readId(_ f: Facts) -> Int32 { f.purchase.lines[f.lineIndex].skuId }
}
private enum LineCategory: NumberedTextRead {
    @inline(__always) static func read(_ f: Facts) -> String { f.purchase.lines[f.lineIndex].category }
    @inline(__always) static func readId(_ f: Facts) -> Int32 { f.purchase.lines[f.lineIndex].categoryId }
}

/// A text field that may carry its `TextIds` number (-1 when it does not).
protocol NumberedTextRead: TextRead, SendableMetatype { static func readId(_ f: Facts) -> Int32 }

extension FieldRead {
    /// `field op c` as one closure, for a numeric field; nil for a text field.
    /// The same semantics as the unfused comparison, NaN included (`!=` is `v < c || v > c`).
    func compare(_ op: String, _ c: Double) -> BoolCode? {
        switch self {
        case .customerPoints: Self.compare(CustomerPoints.self, op, c)
        case .customerQualifyingPoints: Self.compare(CustomerQualifyingPoints.self, op, c)
        case .customerVisits: Self.compare(CustomerVisits.self, op, c)
        case .customerSpend: Self.compare(CustomerSpend.self, op, c)
        case .customerSinceLastVisit: Self.compare(CustomerSinceLastVisit.self, op, c)
        case .customerMemberFor: Self.compare(CustomerMemberFor.self, op, c)
        case .customerClv: Self.compare(CustomerClv.self, op, c)
        case .customerClvPercentile: Self.compare(CustomerClvPercentile.self, op, c)
        case .customerPAlive: Self.compare(CustomerPAlive.self, op, c)
        case .customerLastNps: Self.compare(CustomerLastNps.self, op, c)
        case .purchaseTotal: Self.compare(PurchaseTotal.self, op, c)
        case .purchaseSubtotal: Self.compare(PurchaseSubtotal.self, op, c)
        case .purchaseDiscount: Self.compare(PurchaseDiscount.self, op, c)
        case .purchaseMargin: Self.compare(PurchaseMargin.self, op, c)
        case .purchaseItems: Self.compare(PurchaseItems.self, op, c)
        case .surveyNps: Self.compare(SurveyNps.self, op, c)
        case .surveyExpectations: Self.compare(SurveyExpectations.self, op, c)
        case .surveyValueForMoney: Self.compare(SurveyValueForMoney.self, op, c)
        case .surveyServiceLevel: Self.compare(SurveyServiceLevel.self, op, c)
        case .clockHour: Self.compare(ClockHour.self, op, c)
        case .clockTime: Self.compare(ClockTime.self, op, c)
        case .clockDate: Self.compare(ClockDate.self, op, c)
        case .clockDay: Self.compare(ClockDay.self, op, c)
        case .clockMonth: Self.compare(ClockMonth.self, op, c)
        case .clockYear: Self.compare(ClockYear.self, op, c)
        case .lineQuantity: Self.compare(LineQuantity.self, op, c)
        case .linePrice: Self.compare(LinePrice.self, op, c)
        case .lineAmount: Self.compare(LineAmount.self, op, c)
        case .lineMargin: Self.compare(LineMargin.self, op, c)
        case .customerId, .customerTier, .purchaseStore, .purchaseTerminal, .surveyStore, .lineSku, .lineCategory, .clockWeekday: nil
        }
    }

    /// `field == c` (or `!=` when `equal` is false) as one closure, for a text field; nil for a
    /// numeric one. For `clock.weekday`, `c` must be one of `Scope.weekdays` (the compiler checks).
    func compare(equal: Bool, _ c: String) -> BoolCode? {
        switch self {
        case .customerId: Self.compare(CustomerId.self, equal, c)
        case .customerTier: Self.compare(CustomerTier.self, equal, c)
        case .purchaseStore: Self.compare(PurchaseStore.self, equal, c)
        case .purchaseTerminal: Self.compare(PurchaseTerminal.self, equal, c)
        case .surveyStore: Self.compare(SurveyStore.self, equal, c)
        case .lineSku: Self.compareNumbered(LineSku.self, equal, c)
        case .lineCategory: Self.compareNumbered(LineCategory.self, equal, c)
        case .clockWeekday:
            Self.weekdayMask([c]).map { mask in Self.weekday(in: mask, isIn: equal) }
        default: nil
        }
    }

    /// `field in texts` (or `not in`) as one closure, for a text field; nil for a numeric one.
    func member(isIn: Bool, _ texts: [String]) -> BoolCode? {
        switch self {
        case .customerId: Self.member(CustomerId.self, isIn, texts)
        case .customerTier: Self.member(CustomerTier.self, isIn, texts)
        case .purchaseStore: Self.member(PurchaseStore.self, isIn, texts)
        case .purchaseTerminal: Self.member(PurchaseTerminal.self, isIn, texts)
        case .surveyStore: Self.member(SurveyStore.self, isIn, texts)
        case .lineSku: Self.memberNumbered(LineSku.self, isIn, texts)
        case .lineCategory: Self.memberNumbered(LineCategory.self, isIn, texts)
        case .clockWeekday:
            Self.weekdayMask(texts).map { mask in Self.weekday(in: mask, isIn: isIn) }
        default: nil
        }
    }

    private static func compare<R: NumberRead>(_: R.Type, _ op: String, _ c: Double) -> BoolCode {
        switch op {
        case "==": { R.read($0) == c }
        case "!=": { let v = R.read($0); return v < c || v > c }
        case "<": { R.read($0) < c }
        case "<=": { R.read($0) <= c }
        case ">": { R.read($0) > c }
        default: { R.read($0) >= c }
        }
    }

    private static func compare<R: TextRead>(_: R.Type, _ equal: Bool, _ c: String) -> BoolCode {
        if equal { return { R.read($0) == c } }
        return { R.read($0) != c }
    }

    private static func member<R: TextRead>(_: R.Type, _ isIn: Bool, _ texts: [String]) -> BoolCode {
        switch (texts.count, isIn) {
        case (1, true): let a = texts[0]; return { R.read($0) == a }
        case (1, false): let a = texts[0]; return { R.read($0) != a }
        case (2, true): let a = texts[0], b = texts[1]; return { let v = R.read($0); return v == a || v == b }
        case (2, false): let a = texts[0], b = texts[1]; return { let v = R.read($0); return !(v == a || v == b) }
        case (3, true): let a = texts[0], b = texts[1], c = texts[2]; return { let v = R.read($0); return v == a || v == b || v == c }
        case (3, false): let a = texts[0], b = texts[1], c = texts[2]; return { let v = R.read($0); return !(v == a || v == b || v == c) }
        case (_, true): return { texts.contains(R.read($0)) }
        case (_, false): return { !texts.contains(R.read($0)) }
        }
    }

    /// As `compare` for text, by number when the field has one (`TextIds`: equal numbers exactly
    /// when equal texts), by text otherwise.
    private static func compareNumbered<R: NumberedTextRead>(_: R.Type, _ equal: Bool, _ c: String) -> BoolCode {
        let id = TextIds.id(c)
        if equal {
            return { f in
                let v = R.readId(f)
                return v >= 0 ? v == id : R.read(f) == c
            }
        }
        return { f in
            let v = R.readId(f)
            return v >= 0 ? v != id : R.read(f) != c
        }
    }

    /// As `member`, by number when the field has one.
    private static func memberNumbered<R: NumberedTextRead>(_: R.Type, _ isIn: Bool, _ texts: [String]) -> BoolCode {
        let ids = texts.map(TextIds.id)
        let byText = member(R.self, isIn, texts)
        switch ids.count {
        case 1:
            let a = ids[0]
            return { f in
                let v = R.readId(f)
                return v >= 0 ? (v == a) == isIn : byText(f)
            }
        case 2:
            let a = ids[0], b = ids[1]
            return { f in
                let v = R.readId(f)
                return v >= 0 ? (v == a || v == b) == isIn : byText(f)
            }
        case 3:
            let a = ids[0], b = ids[1], c = ids[2]
            return { f in
                let v = R.readId(f)
                return v >= 0 ? (v == a || v == b || v == c) == isIn : byText(f)
            }
        default:
            return { f in
                let v = R.readId(f)
                return v >= 0 ? ids.contains(v) == isIn : byText(f)
            }
        }
    }

    /// Bit n set for weekday n (1 = Monday); nil when a text is not a weekday name.
    private static func weekdayMask(_ texts: [String]) -> UInt8? {
        var mask: UInt8 = 0
        for text in texts {
            guard let index = Scope.weekdays.firstIndex(of: text) else { return nil }
            mask |= 1 << UInt8(index + 1)
        }
        return mask
    }

    /// The weekday's bit in `mask`. A weekday outside 1...7 traps, as indexing `Scope.weekdays` does.
    private static func weekday(in mask: UInt8, isIn: Bool) -> BoolCode {
        if isIn {
            return { f in
                let w = f.clock.weekday
                precondition(w >= 1 && w <= 7, "Index out of range")
                return mask & (1 << UInt8(truncatingIfNeeded: w)) != 0
            }
        }
        return { f in
            let w = f.clock.weekday
            precondition(w >= 1 && w <= 7, "Index out of range")
            return mask & (1 << UInt8(truncatingIfNeeded: w)) == 0
        }
    }
}
