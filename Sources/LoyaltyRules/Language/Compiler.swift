import LoyaltyEvents

/// Type-checks an expression and compiles it into closures, once, at load time.
///
/// Every check a marketer can get wrong is made here, with the position of the mistake:
/// an unknown field (with "did you mean"), money compared with a plain number, two currencies
/// mixed, a function given the wrong arguments, a tier or weekday that does not exist.
public struct ExpressionCompiler {
    public let scope: Scope
    private var usage = ExpressionUsage()

    public init(scope: Scope) {
        self.scope = scope
    }

    /// Compiles a condition; it must be true or false.
    public static func condition(_ text: String, scope: Scope) throws(ExpressionError) -> CompiledCondition {
        var compiler = ExpressionCompiler(scope: scope)
        let syntax = try Parser.parse(text, currency: scope.currency)
        let typed = try compiler.compile(syntax)
        guard typed.type == .bool, case .bool(let code) = typed.code else {
            throw ExpressionError("a condition must be true or false; this is \(typed.type)", at: typed.span,
                                  suggestion: Self.conditionHint(typed.type))
        }
        let shape: ConditionShape
        if case .bool(let value)? = typed.constant { shape = value ? .always : .never } else { shape = typed.shape ?? .always }
        return CompiledCondition(text: text, shape: shape, usage: compiler.usage, code: code)
    }

    /// Compiles an amount that must be of one of `accepted` types (a number, or money in the
    /// scope's currency).
    public static func amount(_ text: String, scope: Scope, accepted: [ValueType]) throws(ExpressionError) -> CompiledAmount {
        var compiler = ExpressionCompiler(scope: scope)
        let syntax = try Parser.parse(text, currency: scope.currency)
        let typed = try compiler.compile(syntax)
        guard accepted.contains(typed.type), case .numeric(let code) = typed.code else {
            let wanted = accepted.map(\.description).joined(separator: " or ")
            var suggestion: String?
            if case .money(let currency) = typed.type, accepted.contains(.number) {
                suggestion = "divide money by money to get a number: 'purchase.total / 10 \(currency)' is one point per 10 \(currency)"
            } else if typed.type == .number, let currency = scope.currency, accepted.contains(.money(currency)) {
                suggestion = "add the currency, e.g. '\(text) \(currency)'"
            }
            throw ExpressionError("expected \(wanted) here, but this is \(typed.type)", at: typed.span, suggestion: suggestion)
        }
        var constant: Double?
        if case .numeric(let value)? = typed.constant { constant = value }
        return CompiledAmount(text: text, type: typed.type, usage: compiler.usage, constant: constant, code: code)
    }

    private static func conditionHint(_ type: ValueType) -> String? {
        switch type {
        case .money(let currency): "compare it, e.g. '>= 100 \(currency)'"
        case .number: "compare it, e.g. '>= 100'"
        case .string: "compare it, e.g. '== \"gold\"'"
        default: nil
        }
    }

    // MARK: - Typed tree

    enum Code {
        case bool(BoolCode)
        case numeric(NumberCode)
        case string(StringCode)
        case list([Constant])
    }

    struct Typed {
        var type: ValueType
        var code: Code
        var span: SourceSpan
        var constant: Constant?
        /// Canonical text of a plain field read, for the shadowing analysis.
        var subject: String?
        /// For text fields with a closed set of values (tiers, weekdays).
        var domain: [String]?
        var shape: ConditionShape?
        /// Set for a plain field read, so a comparison with a constant can fuse with the read.
        var field: FieldRead? = nil
    }

    private static func constantTyped(_ constant: Constant, type: ValueType, span: SourceSpan) -> Typed {
        let code: Code = switch constant {
        case .bool(let b): .bool { _ in b }
        case .numeric(let n): .numeric { _ in n }
        case .string(let s): .string { _ in s }
        }
        return Typed(type: type, code: code, span: span, constant: constant)
    }

    // MARK: - Compilation

    mutating func compile(_ syntax: Syntax) throws(ExpressionError) -> Typed {
        switch syntax.kind {
        case .number(let n): return Self.constantTyped(.numeric(n), type: .number, span: syntax.span)
        case .money(let major, let currency):
            let exact = major * CurrencyUnits.scale(of: currency)
            let minor = exact.rounded()
            guard abs(exact - minor) < 1e-6 else {
                let exponent = CurrencyUnits.exponent(of: currency)
                throw ExpressionError("\(currency) has \(exponent == 0 ? "no" : "only \(exponent)") decimal\(exponent == 1 ? "" : "s"); \(format(major)) \(currency) cannot be paid",
                                      at: syntax.span)
            }
            return Self.constantTyped(.numeric(minor), type: .money(currency), span: syntax.span)
        case .duration(let seconds): return Self.constantTyped(.numeric(seconds), type: .duration, span: syntax.span)
        case .date(let day): return Self.constantTyped(.numeric(Double(day)), type: .date, span: syntax.span)
        case .time(let minutes): return Self.constantTyped(.numeric(Double(minutes)), type: .timeOfDay, span: syntax.span)
        case .string(let s): return Self.constantTyped(.string(s), type: .string, span: syntax.span)
        case .bool(let b):
            var typed = Self.constantTyped(.bool(b), type: .bool, span: syntax.span)
            typed.shape = b ? .always : .never
            return typed
        case .name(let name): return try compileName(name, span: syntax.span)
        case .member(let base, let name, let nameSpan): return try compileMember(base, name, nameSpan, whole: syntax.span)
        case .call(let callee, let arguments): return try compileCall(callee, arguments, whole: syntax.span)
        case .unary(let op, let operand): return try compileUnary(op, operand, whole: syntax.span)
        case .binary(let op, let left, let right): return try compileBinary(op, left, right, whole: syntax.span)
        case .list(let items): return try compileList(items, whole: syntax.span)
        }
    }

    private func requireRoot(_ root: Scope.Root, span: SourceSpan) throws(ExpressionError) {
        guard scope.roots.contains(root) else {
            let available = scope.roots.map(\.rawValue).sorted().joined(separator: ", ")
            throw ExpressionError("'\(root.rawValue)' is not available in this kind of rule", at: span,
                                  suggestion: "here you can use: \(available)")
        }
    }

    private func moneyCurrency(span: SourceSpan) throws(ExpressionError) -> CurrencyCode {
        guard let currency = scope.currency else {
            throw ExpressionError("money fields need to know the currency", at: span,
                                  suggestion: "add 'currency: NOK' (your currency) at the top of the rule file")
        }
        return currency
    }

    private mutating func compileName(_ name: String, span: SourceSpan) throws(ExpressionError) -> Typed {
        if scope.inLine, let field = try lineField(name, span: span) { return field }
        if let root = Scope.Root(rawValue: name) {
            try requireRoot(root, span: span)
            throw ExpressionError("'\(name)' needs a field", at: span,
                                  suggestion: "for example \(name).\(Self.fieldNames(of: root).first ?? "")")
        }
        if name == "line" {
            throw ExpressionError("'line' is only available inside purchase.lines.any(...) and a rule's 'lines:'", at: span)
        }
        if Self.lineFieldNames.contains(name) {
            throw ExpressionError("'\(name)' is a field of a purchase line", at: span,
                                  suggestion: "use it inside purchase.lines.any(...), .all(...), .count(...), .sum(...) or a rule's 'lines:'")
        }
        var candidates = scope.roots.map(\.rawValue) + ["true", "false", "not", "and", "or", "in"]
        if scope.inLine { candidates += Self.lineFieldNames }
        let suggestion = closest(to: name, in: candidates).map { "did you mean '\($0)'?" }
            ?? "names start with one of: \(scope.roots.map(\.rawValue).sorted().joined(separator: ", "))"
        throw ExpressionError("unknown name '\(name)'", at: span, suggestion: suggestion)
    }

    static let lineFieldNames = ["sku", "category", "quantity", "price", "amount", "margin"]

    private func lineField(_ name: String, span: SourceSpan) throws(ExpressionError) -> Typed? {
        switch name {
        case "sku":
            return Typed(type: .string, code: .string { $0.purchase.lines[$0.lineIndex].sku }, span: span, subject: "line.sku", field: .lineSku)
        case "category":
            return Typed(type: .string, code: .string { $0.purchase.lines[$0.lineIndex].category }, span: span, subject: "line.category", field: .lineCategory)
        case "quantity":
            return Typed(type: .number, code: .numeric { $0.purchase.lines[$0.lineIndex].quantity }, span: span, subject: "line.quantity", field: .lineQuantity)
        case "price":
            return Typed(type: .money(try moneyCurrency(span: span)), code: .numeric { $0.purchase.lines[$0.lineIndex].price },
                         span: span, subject: "line.price", field: .linePrice)
        case "amount":
            return Typed(type: .money(try moneyCurrency(span: span)), code: .numeric { $0.purchase.lines[$0.lineIndex].amount },
                         span: span, subject: "line.amount", field: .lineAmount)
        case "margin":
            return Typed(type: .money(try moneyCurrency(span: span)), code: .numeric { $0.purchase.lines[$0.lineIndex].margin },
                         span: span, subject: "line.margin", field: .lineMargin)
        default:
            return nil
        }
    }

    static func fieldNames(of root: Scope.Root) -> [String] {
        switch root {
        case .customer: ["id", "tier", "points", "qualifyingPoints", "visits", "spend", "sinceLastVisit", "memberFor",
                         "clv", "clvPercentile", "pAlive", "lastNps"]
        case .purchase: ["total", "subtotal", "discount", "margin", "items", "store", "terminal", "lines"]
        case .survey: ["nps", "expectations", "valueForMoney", "serviceLevel", "store", "hasComment"]
        case .clock: ["weekday", "hour", "time", "date", "day", "month", "year"]
        }
    }

    private mutating func compileMember(_ base: Syntax, _ name: String, _ nameSpan: SourceSpan, whole: SourceSpan) throws(ExpressionError) -> Typed {
        guard case .name(let baseName) = base.kind else {
            if case .member(let inner, "lines", _) = base.kind, case .name("purchase") = inner.kind {
                throw ExpressionError("purchase.lines.\(name) needs parentheses", at: whole,
                                      suggestion: "for example purchase.lines.any(category == \"coffee\")")
            }
            throw ExpressionError("'\(name)' cannot be read from this", at: nameSpan)
        }
        if baseName == "line" && scope.inLine {
            if let field = try lineField(name, span: whole) { return field }
            throw unknownField(name, of: "line", candidates: Self.lineFieldNames, span: nameSpan)
        }
        guard let root = Scope.Root(rawValue: baseName) else {
            _ = try compileName(baseName, span: base.span)
            throw ExpressionError("unknown name '\(baseName)'", at: base.span)
        }
        try requireRoot(root, span: base.span)
        let subject = "\(baseName).\(name)"
        func number(_ field: FieldRead, _ code: @escaping NumberCode) -> Typed {
            Typed(type: .number, code: .numeric(code), span: whole, subject: subject, field: field)
        }
        func money(_ field: FieldRead, _ code: @escaping NumberCode) throws(ExpressionError) -> Typed {
            Typed(type: .money(try moneyCurrency(span: whole)), code: .numeric(code), span: whole, subject: subject, field: field)
        }
        func text(_ field: FieldRead, _ code: @escaping StringCode, domain: [String]? = nil) -> Typed {
            Typed(type: .string, code: .string(code), span: whole, subject: subject, domain: domain, field: field)
        }
        switch root {
        case .customer:
            usage.customerFields.insert(name)
            switch name {
            case "id": return text(.customerId) { $0.customer.id }
            case "tier": return text(.customerTier, { $0.customer.tier }, domain: scope.tiers.isEmpty ? nil : scope.tiers)
            case "points": return number(.customerPoints) { $0.customer.points }
            case "qualifyingPoints": return number(.customerQualifyingPoints) { $0.customer.qualifyingPoints }
            case "visits": return number(.customerVisits) { $0.customer.visits }
            case "spend": return try money(.customerSpend) { $0.customer.spend }
            case "sinceLastVisit":
                return Typed(type: .duration, code: .numeric { $0.customer.sinceLastVisit }, span: whole, subject: subject, field: .customerSinceLastVisit)
            case "memberFor":
                return Typed(type: .duration, code: .numeric { $0.customer.memberFor }, span: whole, subject: subject, field: .customerMemberFor)
            case "clv": return try money(.customerClv) { $0.customer.clv }
            case "clvPercentile": return number(.customerClvPercentile) { $0.customer.clvPercentile }
            case "pAlive": return number(.customerPAlive) { $0.customer.pAlive }
            case "lastNps": return number(.customerLastNps) { $0.customer.lastNps }
            default: break
            }
        case .purchase:
            switch name {
            case "total": return try money(.purchaseTotal) { $0.purchase.total }
            case "subtotal": return try money(.purchaseSubtotal) { $0.purchase.subtotal }
            case "discount": return try money(.purchaseDiscount) { $0.purchase.discount }
            case "margin": return try money(.purchaseMargin) { $0.purchase.margin }
            case "items": return number(.purchaseItems) { $0.purchase.items }
            case "store": return text(.purchaseStore) { $0.purchase.store }
            case "terminal": return text(.purchaseTerminal) { $0.purchase.terminal }
            case "lines":
                throw ExpressionError("purchase.lines is a list of lines; ask something of it", at: whole,
                                      suggestion: "purchase.lines.any(...), .all(...), .count(...) or .sum(...)")
            default: break
            }
        case .survey:
            switch name {
            case "nps": return number(.surveyNps) { $0.survey.nps }
            case "expectations": return number(.surveyExpectations) { $0.survey.expectations }
            case "valueForMoney": return number(.surveyValueForMoney) { $0.survey.valueForMoney }
            case "serviceLevel": return number(.surveyServiceLevel) { $0.survey.serviceLevel }
            case "store": return text(.surveyStore) { $0.survey.store }
            case "hasComment":
                var typed = Typed(type: .bool, code: .bool { $0.survey.hasComment }, span: whole, subject: subject)
                typed.shape = ConditionShape(clauses: [.atom(Atom(subject: subject, relation: .equal, values: [.bool(true)]))], neverTrue: false)
                return typed
            default: break
            }
        case .clock:
            switch name {
            case "weekday": return text(.clockWeekday, { Scope.weekdays[$0.clock.weekday - 1] }, domain: Scope.weekdays)
            case "hour": return number(.clockHour) { Double($0.clock.hour) }
            case "time":
                return Typed(type: .timeOfDay, code: .numeric { Double($0.clock.minuteOfDay) }, span: whole, subject: subject, field: .clockTime)
            case "date":
                return Typed(type: .date, code: .numeric { Double($0.clock.day) }, span: whole, subject: subject, field: .clockDate)
            case "day": return number(.clockDay) { Double($0.clock.dayOfMonth) }
            case "month": return number(.clockMonth) { Double($0.clock.month) }
            case "year": return number(.clockYear) { Double($0.clock.year) }
            default: break
            }
        }
        throw unknownField(name, of: baseName, candidates: Self.fieldNames(of: root), span: nameSpan)
    }

    private func unknownField(_ name: String, of base: String, candidates: [String], span: SourceSpan) -> ExpressionError {
        let suggestion = closest(to: name, in: candidates).map { "did you mean '\(base).\($0)'?" }
            ?? "\(base) has: \(candidates.joined(separator: ", "))"
        return ExpressionError("\(base) has no field '\(name)'", at: span, suggestion: suggestion)
    }

    // MARK: Calls

    private mutating func compileCall(_ callee: Syntax, _ arguments: [Syntax.Argument], whole: SourceSpan) throws(ExpressionError) -> Typed {
        switch callee.kind {
        case .name(let function):
            return try compileFunction(function, callee.span, arguments, whole: whole)
        case .member(let base, let method, let methodSpan):
            if case .name("customer") = base.kind {
                try requireRoot(.customer, span: base.span)
                return try compileHistory(method, methodSpan, arguments, whole: whole)
            }
            if case .member(let inner, "lines", _) = base.kind, case .name("purchase") = inner.kind {
                try requireRoot(.purchase, span: inner.span)
                return try compileLines(method, methodSpan, arguments, whole: whole)
            }
            throw ExpressionError("this cannot be called", at: callee.span)
        default:
            throw ExpressionError("this cannot be called", at: callee.span)
        }
    }

    private func unlabeled(_ arguments: [Syntax.Argument], count: Int, _ function: String, whole: SourceSpan) throws(ExpressionError) -> [Syntax] {
        guard arguments.count == count else {
            throw ExpressionError("\(function) takes \(count) argument\(count == 1 ? "" : "s"), not \(arguments.count)", at: whole)
        }
        for argument in arguments where argument.label != nil {
            throw ExpressionError("\(function) takes no argument named '\(argument.label!)'", at: argument.labelSpan ?? whole)
        }
        return arguments.map(\.value)
    }

    private mutating func compileFunction(_ function: String, _ span: SourceSpan, _ arguments: [Syntax.Argument], whole: SourceSpan) throws(ExpressionError) -> Typed {
        switch function {
        case "min", "max":
            let values = try unlabeled(arguments, count: 2, function, whole: whole)
            let a = try compile(values[0]), b = try compile(values[1])
            guard a.type.isNumeric, a.type == b.type, case .numeric(let fa) = a.code, case .numeric(let fb) = b.code else {
                throw ExpressionError("\(function) needs two values of the same kind, got \(a.type) and \(b.type)", at: whole)
            }
            if case .numeric(let x)? = a.constant, case .numeric(let y)? = b.constant {
                return Self.constantTyped(.numeric(function == "min" ? Swift.min(x, y) : Swift.max(x, y)), type: a.type, span: whole)
            }
            let code: NumberCode
            // An unknown (NaN) value stays unknown whichever side it is on.
            if function == "min" {
                code = { f in let a = fa(f), b = fb(f); return a.isNaN || b.isNaN ? .nan : Swift.min(a, b) }
            } else {
                code = { f in let a = fa(f), b = fb(f); return a.isNaN || b.isNaN ? .nan : Swift.max(a, b) }
            }
            return Typed(type: a.type, code: .numeric(code), span: whole)
        case "round", "floor", "ceil", "abs":
            let value = try compile(try unlabeled(arguments, count: 1, function, whole: whole)[0])
            guard value.type.isNumeric, case .numeric(let fv) = value.code else {
                throw ExpressionError("\(function) needs a number or an amount, got \(value.type)", at: value.span)
            }
            // Money rounds to whole major units (round(12.40 NOK) is 12 NOK).
            let scale: Double = if case .money(let currency) = value.type { CurrencyUnits.scale(of: currency) } else { 1 }
            let operation: @Sendable (Double) -> Double = switch function {
            case "round": { ($0 / scale).rounded(.toNearestOrAwayFromZero) * scale }
            case "floor": { ($0 / scale).rounded(.down) * scale }
            case "ceil": { ($0 / scale).rounded(.up) * scale }
            default: { Swift.abs($0) }
            }
            if case .numeric(let x)? = value.constant {
                return Self.constantTyped(.numeric(operation(x)), type: value.type, span: whole)
            }
            return Typed(type: value.type, code: .numeric { operation(fv($0)) }, span: whole)
        case "known":
            let value = try compile(try unlabeled(arguments, count: 1, function, whole: whole)[0])
            guard value.type.isNumeric, case .numeric(let fv) = value.code else {
                throw ExpressionError("known(...) asks whether a number or score is known, got \(value.type)", at: value.span)
            }
            return Typed(type: .bool, code: .bool { !fv($0).isNaN }, span: whole,
                         shape: ConditionShape(clauses: [.opaque("known(\(value.subject ?? "…"))")], neverTrue: false))
        default:
            let functions = ["min", "max", "round", "floor", "ceil", "abs", "known"]
            throw ExpressionError("unknown function '\(function)'", at: span,
                                  suggestion: closest(to: function, in: functions).map { "did you mean '\($0)'?" }
                                    ?? "functions: \(functions.joined(separator: ", "))")
        }
    }

    private mutating func compileHistory(_ method: String, _ methodSpan: SourceSpan, _ arguments: [Syntax.Argument], whole: SourceSpan) throws(ExpressionError) -> Typed {
        guard method == "visits" || method == "spend" else {
            throw ExpressionError("customer.\(method)(...) does not exist", at: methodSpan,
                                  suggestion: closest(to: method, in: ["visits", "spend"]).map { "did you mean customer.\($0)(days: 30)?" }
                                    ?? "history functions: customer.visits(days: N), customer.spend(days: N)")
        }
        guard arguments.count == 1, arguments[0].label == "days" else {
            throw ExpressionError("customer.\(method) takes one argument, days:", at: whole,
                                  suggestion: "for example customer.\(method)(days: 30)")
        }
        let argument = try compile(arguments[0].value)
        let days: Int
        switch (argument.type, argument.constant) {
        case (.number, .numeric(let n)?) where n >= 1 && n <= 3660 && n == n.rounded():
            days = Int(n)
        case (.duration, .numeric(let seconds)?) where seconds >= 86_400 && seconds <= 3660 * 86_400 && seconds.truncatingRemainder(dividingBy: 86_400) == 0:
            days = Int(seconds / 86_400)
        default:
            throw ExpressionError("days: must be a whole number of days from 1 to 3660, written in the rule", at: argument.span,
                                  suggestion: "for example customer.\(method)(days: 30)")
        }
        usage.historyDays = Swift.max(usage.historyDays, days)
        usage.customerFields.insert(method)
        let subject = "customer.\(method)(days: \(days))"
        // The history is reached `inout` (see `visits(in:days:today:)`), not read as a value.
        if method == "visits" {
            return Typed(type: .number, code: .numeric { Double(Self.visits(in: &$0.customer.history, days: days, today: $0.clock.day)) },
                         span: whole, subject: subject)
        }
        return Typed(type: .money(try moneyCurrency(span: whole)),
                     code: .numeric { Self.spend(in: &$0.customer.history, days: days, today: $0.clock.day) }, span: whole, subject: subject)
    }

    /// Asks the history where it is stored. Read as a value (`facts.customer.history.visits(...)`),
    /// the existential was copied out of the facts and destroyed per call: a retain, a release and
    /// two calls through its value witnesses, more than the question itself. Nothing is written.
    @inline(__always)
    private static func visits(in history: inout any CustomerHistory, days: Int, today: Int) -> Int {
        history.visits(days: days, today: today)
    }

    @inline(__always)
    private static func spend(in history: inout any CustomerHistory, days: Int, today: Int) -> Double {
        history.spend(days: days, today: today)
    }

    private mutating func compileLines(_ method: String, _ methodSpan: SourceSpan, _ arguments: [Syntax.Argument], whole: SourceSpan) throws(ExpressionError) -> Typed {
        guard !scope.inLine else {
            throw ExpressionError("purchase.lines cannot be searched from inside a line", at: whole)
        }
        var inner = ExpressionCompiler(scope: Scope(roots: scope.roots, inLine: true, currency: scope.currency, tiers: scope.tiers))
        defer { usage.merge(inner.usage) }
        func predicate(_ syntax: Syntax) throws(ExpressionError) -> BoolCode {
            let typed = try inner.compile(syntax)
            guard case .bool(let code) = typed.code else {
                throw ExpressionError("this must be a condition on the line, but it is \(typed.type)", at: typed.span,
                                      suggestion: "for example category == \"coffee\"")
            }
            return code
        }
        let canonical = "purchase.lines.\(method)(\(arguments.map { $0.label.map { "\($0): " } ?? "" }.joined()))"
        switch method {
        case "any", "all", "count":
            guard arguments.count <= 1, arguments.first?.label == nil else {
                throw ExpressionError("purchase.lines.\(method) takes one condition on the line", at: whole,
                                      suggestion: "for example purchase.lines.\(method)(category == \"coffee\")")
            }
            guard let argument = arguments.first else {
                if method == "count" {
                    return Typed(type: .number, code: .numeric { Double($0.purchase.lines.count) }, span: whole, subject: "purchase.lines.count()")
                }
                throw ExpressionError("purchase.lines.\(method) needs a condition on the line", at: whole,
                                      suggestion: "for example purchase.lines.\(method)(category == \"coffee\")")
            }
            let test = try predicate(argument.value)
            switch method {
            case "any":
                return Typed(type: .bool, code: .bool { f in
                    let count = f.purchase.lines.count
                    var i = 0
                    while i < count {
                        f.lineIndex = i
                        if test(f) { return true }
                        i += 1
                    }
                    return false
                }, span: whole, shape: ConditionShape(clauses: [.opaque(canonical)], neverTrue: false))
            case "all":
                return Typed(type: .bool, code: .bool { f in
                    let count = f.purchase.lines.count
                    var i = 0
                    while i < count {
                        f.lineIndex = i
                        if !test(f) { return false }
                        i += 1
                    }
                    return true
                }, span: whole, shape: ConditionShape(clauses: [.opaque(canonical)], neverTrue: false))
            default:
                return Typed(type: .number, code: .numeric { f in
                    let count = f.purchase.lines.count
                    var matched = 0.0
                    var i = 0
                    while i < count {
                        f.lineIndex = i
                        if test(f) { matched += 1 }
                        i += 1
                    }
                    return matched
                }, span: whole)
            }
        case "sum":
            guard let first = arguments.first, first.label == nil, arguments.count <= 2,
                  arguments.count == 1 || arguments[1].label == "where" else {
                throw ExpressionError("purchase.lines.sum takes an amount of the line, and optionally where: a condition", at: whole,
                                      suggestion: "for example purchase.lines.sum(amount, where: category == \"coffee\")")
            }
            let value = try inner.compile(first.value)
            guard value.type.isNumeric, value.type != .date, value.type != .timeOfDay, case .numeric(let amount) = value.code else {
                throw ExpressionError("purchase.lines.sum adds numbers or amounts, not \(value.type)", at: value.span)
            }
            if arguments.count == 2 {
                let test = try predicate(arguments[1].value)
                return Typed(type: value.type, code: .numeric { f in
                    let count = f.purchase.lines.count
                    var total = 0.0
                    var i = 0
                    while i < count {
                        f.lineIndex = i
                        if test(f) { total += amount(f) }
                        i += 1
                    }
                    return total
                }, span: whole)
            }
            return Typed(type: value.type, code: .numeric { f in
                let count = f.purchase.lines.count
                var total = 0.0
                var i = 0
                while i < count {
                    f.lineIndex = i
                    total += amount(f)
                    i += 1
                }
                return total
            }, span: whole)
        default:
            let methods = ["any", "all", "count", "sum"]
            throw ExpressionError("purchase.lines has no '\(method)'", at: methodSpan,
                                  suggestion: closest(to: method, in: methods).map { "did you mean '\($0)'?" }
                                    ?? "use any, all, count or sum")
        }
    }

    // MARK: Operators

    private mutating func compileUnary(_ op: String, _ operand: Syntax, whole: SourceSpan) throws(ExpressionError) -> Typed {
        let value = try compile(operand)
        if op == "not" {
            guard case .bool(let code) = value.code else {
                throw ExpressionError("'not' needs a condition, but this is \(value.type)", at: value.span)
            }
            if case .bool(let b)? = value.constant { return Self.constantTyped(.bool(!b), type: .bool, span: whole) }
            var typed = Typed(type: .bool, code: .bool { !code($0) }, span: whole)
            typed.shape = Self.negate(value.shape)
            return typed
        }
        guard value.type.isNumeric, value.type != .date, value.type != .timeOfDay, case .numeric(let code) = value.code else {
            throw ExpressionError("'-' needs a number, an amount or a duration, but this is \(value.type)", at: value.span)
        }
        if case .numeric(let n)? = value.constant { return Self.constantTyped(.numeric(-n), type: value.type, span: whole) }
        return Typed(type: value.type, code: .numeric { -code($0) }, span: whole)
    }

    /// The negation of a single atom stays an atom; anything else becomes opaque.
    private static func negate(_ shape: ConditionShape?) -> ConditionShape {
        // A number may be unknown (NaN): `not (x >= 9)` then holds while `x < 9` does not, so the
        // negation of a numeric atom is not an atom.
        guard let shape, shape.clauses.count == 1, case .atom(var atom) = shape.clauses[0],
              !atom.values.contains(where: { if case .numeric = $0 { true } else { false } }) else {
            return ConditionShape(clauses: [.opaque("not(\(shape.map { "\($0.clauses)" } ?? "?"))")], neverTrue: false)
        }
        switch atom.relation {
        case .equal:
            if atom.values == [.bool(true)] { atom.values = [.bool(false)] } else if atom.values == [.bool(false)] { atom.values = [.bool(true)] } else { atom.relation = .notEqual }
        case .notEqual: atom.relation = .equal
        case .less: atom.relation = .greaterOrEqual
        case .lessOrEqual: atom.relation = .greater
        case .greater: atom.relation = .lessOrEqual
        case .greaterOrEqual: atom.relation = .less
        case .member: atom.relation = .notMember
        case .notMember: atom.relation = .member
        }
        return ConditionShape(clauses: [.atom(atom)], neverTrue: false)
    }

    private mutating func compileList(_ items: [Syntax], whole: SourceSpan) throws(ExpressionError) -> Typed {
        guard !items.isEmpty else { throw ExpressionError("the list is empty", at: whole) }
        var values: [Constant] = []
        var elementType: ValueType?
        for item in items {
            let typed = try compile(item)
            guard let constant = typed.constant else {
                throw ExpressionError("list items must be written out (text, numbers, amounts)", at: typed.span)
            }
            if let elementType, elementType != typed.type {
                throw ExpressionError("all items of a list must be of one kind: this is \(typed.type), the first was \(elementType)", at: typed.span)
            }
            elementType = typed.type
            values.append(constant)
        }
        return Typed(type: .list(elementType!), code: .list(values), span: whole)
    }

    private mutating func compileBinary(_ op: String, _ leftSyntax: Syntax, _ rightSyntax: Syntax, whole: SourceSpan) throws(ExpressionError) -> Typed {
        let left = try compile(leftSyntax)
        let right = try compile(rightSyntax)
        switch op {
        case "and", "or": return try logical(op, left, right, whole: whole)
        case "in", "not in": return try membership(op == "in", left, right, whole: whole)
        case "==", "!=", "<", "<=", ">", ">=": return try comparison(op, left, right, whole: whole)
        default: return try arithmetic(op, left, right, whole: whole)
        }
    }

    private func logical(_ op: String, _ left: Typed, _ right: Typed, whole: SourceSpan) throws(ExpressionError) -> Typed {
        for side in [left, right] {
            guard side.type == .bool else {
                throw ExpressionError("'\(op)' joins conditions, but this is \(side.type)", at: side.span,
                                      suggestion: Self.conditionHint(side.type))
            }
        }
        guard case .bool(let l) = left.code, case .bool(let r) = right.code else { throw ExpressionError("internal: not a condition", at: whole) }
        let isAnd = op == "and"
        // Fold constants: `true and x` is x, `false or x` is x.
        if case .bool(let a)? = left.constant {
            if a == isAnd { return right }
            return Self.constantTyped(.bool(a), type: .bool, span: whole)
        }
        if case .bool(let b)? = right.constant {
            if b == isAnd { return left }
            return Self.constantTyped(.bool(b), type: .bool, span: whole)
        }
        let code: BoolCode
        if isAnd { code = { l($0) && r($0) } } else { code = { l($0) || r($0) } }
        var typed = Typed(type: .bool, code: .bool(code), span: whole)
        let leftShape = left.shape ?? .always, rightShape = right.shape ?? .always
        if isAnd {
            typed.shape = ConditionShape(clauses: leftShape.clauses + rightShape.clauses,
                                         neverTrue: leftShape.neverTrue || rightShape.neverTrue)
        } else {
            typed.shape = ConditionShape(clauses: [.opaque("(\(leftShape.clauses)) or (\(rightShape.clauses))")], neverTrue: false)
        }
        return typed
    }

    private func checkDomain(_ field: Typed, _ value: Typed) throws(ExpressionError) {
        guard let domain = field.domain, case .string(let text)? = value.constant, !domain.contains(text) else { return }
        throw ExpressionError("\(field.subject ?? "this") is never \"\(text)\"", at: value.span,
                              suggestion: closest(to: text, in: domain).map { "did you mean \"\($0)\"?" }
                                ?? "it is one of: \(domain.map { "\"\($0)\"" }.joined(separator: ", "))")
    }

    private func mismatch(_ left: Typed, _ right: Typed, verb: String, whole: SourceSpan) -> ExpressionError {
        switch (left.type, right.type) {
        case (.money(let a), .money(let b)) where a != b:
            return ExpressionError("currency mismatch: cannot \(verb) money in \(a) and money in \(b)", at: whole,
                                   suggestion: "this file's amounts are in \(scope.currency?.code ?? a.code)")
        case (.money(let c), .number):
            return ExpressionError("cannot \(verb) money in \(c) and a plain number", at: right.span,
                                   suggestion: right.constant != nil ? "write the currency: \(Self.text(right.constant)) \(c)" : nil)
        case (.number, .money(let c)):
            return ExpressionError("cannot \(verb) a plain number and money in \(c)", at: left.span,
                                   suggestion: left.constant != nil ? "write the currency: \(Self.text(left.constant)) \(c)" : nil)
        default:
            return ExpressionError("cannot \(verb) \(left.type) and \(right.type)", at: whole)
        }
    }

    private static func text(_ constant: Constant?) -> String {
        switch constant {
        case .numeric(let n)?: format(n)
        case .string(let s)?: "\"\(s)\""
        case .bool(let b)?: String(b)
        case nil: "…"
        }
    }

    private func comparison(_ op: String, _ left: Typed, _ right: Typed, whole: SourceSpan) throws(ExpressionError) -> Typed {
        guard left.type == right.type else { throw mismatch(left, right, verb: "compare", whole: whole) }
        if op != "==" && op != "!=" && !left.type.isOrdered {
            throw ExpressionError("'\(op)' orders numbers, amounts, durations, dates and times, not \(left.type)", at: whole,
                                  suggestion: left.type == .string ? "use == or in [...]" : nil)
        }
        try checkDomain(left, right)
        try checkDomain(right, left)
        var typed: Typed
        switch (left.code, right.code) {
        case (.numeric(let l), .numeric(let r)):
            if case .numeric(let a)? = left.constant, case .numeric(let b)? = right.constant {
                return Self.constantTyped(.bool(Self.compare(op, a, b)), type: .bool, span: whole)
            }
            let code: BoolCode
            if case .numeric(let c)? = right.constant, let fused = left.field?.compare(op, c) {
                code = fused
            } else if case .numeric(let c)? = right.constant {
                code = switch op {
                case "==": { l($0) == c }
                case "!=": { let v = l($0); return v < c || v > c }
                case "<": { l($0) < c }
                case "<=": { l($0) <= c }
                case ">": { l($0) > c }
                default: { l($0) >= c }
                }
            } else {
                code = switch op {
                case "==": { l($0) == r($0) }
                case "!=": { let a = l($0), b = r($0); return a < b || a > b }
                case "<": { l($0) < r($0) }
                case "<=": { l($0) <= r($0) }
                case ">": { l($0) > r($0) }
                default: { l($0) >= r($0) }
                }
            }
            typed = Typed(type: .bool, code: .bool(code), span: whole)
        case (.string(let l), .string(let r)):
            if case .string(let a)? = left.constant, case .string(let b)? = right.constant {
                return Self.constantTyped(.bool((a == b) == (op == "==")), type: .bool, span: whole)
            }
            let code: BoolCode
            if case .string(let c)? = right.constant, let fused = left.field?.compare(equal: op == "==", c) {
                code = fused
            } else if case .string(let c)? = right.constant {
                if op == "==" { code = { l($0) == c } } else { code = { l($0) != c } }
            } else {
                if op == "==" { code = { l($0) == r($0) } } else { code = { l($0) != r($0) } }
            }
            typed = Typed(type: .bool, code: .bool(code), span: whole)
        case (.bool(let l), .bool(let r)):
            let code: BoolCode
            if op == "==" { code = { l($0) == r($0) } } else { code = { l($0) != r($0) } }
            typed = Typed(type: .bool, code: .bool(code), span: whole)
        default:
            throw ExpressionError("cannot compare \(left.type) with \(right.type)", at: whole)
        }
        typed.shape = Self.atomShape(op, left, right)
        return typed
    }

    private static func compare(_ op: String, _ a: Double, _ b: Double) -> Bool {
        switch op {
        case "==": a == b
        case "!=": a != b
        case "<": a < b
        case "<=": a <= b
        case ">": a > b
        default: a >= b
        }
    }

    /// `field op constant` (either way round) becomes an atom; other comparisons stay opaque.
    private static func atomShape(_ op: String, _ left: Typed, _ right: Typed) -> ConditionShape {
        let flipped: [String: String] = ["<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="]
        if let subject = left.subject, let constant = right.constant, let relation = Atom.Relation(rawValue: op) {
            return ConditionShape(clauses: [.atom(Atom(subject: subject, relation: relation, values: [constant]))], neverTrue: false)
        }
        if let subject = right.subject, let constant = left.constant, let relation = flipped[op].flatMap(Atom.Relation.init(rawValue:)) {
            return ConditionShape(clauses: [.atom(Atom(subject: subject, relation: relation, values: [constant]))], neverTrue: false)
        }
        return ConditionShape(clauses: [.opaque("\(left.subject ?? "?") \(op) \(right.subject ?? "?")")], neverTrue: false)
    }

    private func membership(_ isIn: Bool, _ left: Typed, _ right: Typed, whole: SourceSpan) throws(ExpressionError) -> Typed {
        guard case .list(let values) = right.code, case .list(let elementType) = right.type else {
            throw ExpressionError("'in' needs a list on its right, like [\"saturday\", \"sunday\"]", at: right.span)
        }
        guard elementType == left.type else {
            throw ExpressionError("cannot look for \(left.type) in a list of \(elementType.plural)", at: whole)
        }
        for value in values {
            try checkDomain(left, Typed(type: elementType, code: .list([]), span: right.span, constant: value))
        }
        var typed: Typed
        switch left.code {
        case .string(let l):
            let texts = values.compactMap { if case .string(let s) = $0 { s } else { nil } }
            let code: BoolCode
            if let fused = left.field?.member(isIn: isIn, texts) {
                code = fused
            } else if isIn { code = { texts.contains(l($0)) } } else { code = { !texts.contains(l($0)) } }
            typed = Typed(type: .bool, code: .bool(code), span: whole)
        case .numeric(let l):
            let numbers = values.compactMap { if case .numeric(let n) = $0 { n } else { nil } }
            let code: BoolCode
            if isIn { code = { numbers.contains(l($0)) } } else { code = { let v = l($0); return !v.isNaN && !numbers.contains(v) } }
            typed = Typed(type: .bool, code: .bool(code), span: whole)
        default:
            throw ExpressionError("'in' looks for text, numbers or amounts, not \(left.type)", at: left.span)
        }
        if let subject = left.subject {
            typed.shape = ConditionShape(clauses: [.atom(Atom(subject: subject, relation: isIn ? .member : .notMember, values: values))], neverTrue: false)
        } else {
            typed.shape = ConditionShape(clauses: [.opaque("\(left.subject ?? "?") in \(values)")], neverTrue: false)
        }
        return typed
    }

    private func arithmetic(_ op: String, _ left: Typed, _ right: Typed, whole: SourceSpan) throws(ExpressionError) -> Typed {
        let verb = ["+": "add", "-": "subtract", "*": "multiply", "/": "divide"][op] ?? op
        guard case .numeric(let l) = left.code, case .numeric(let r) = right.code else {
            throw ExpressionError("cannot \(verb) \(left.type) and \(right.type)", at: whole)
        }
        let resultType: ValueType
        switch (op, left.type, right.type) {
        case ("+", let a, let b) where a == b && (a == .number || a == .duration): resultType = a
        case ("-", let a, let b) where a == b && (a == .number || a == .duration): resultType = a
        case ("+", .money(let a), .money(let b)), ("-", .money(let a), .money(let b)):
            guard a == b else { throw mismatch(left, right, verb: verb, whole: whole) }
            resultType = .money(a)
        case ("+", .date, .duration), ("-", .date, .duration): resultType = .date
        case ("+", .duration, .date): resultType = .date
        case ("-", .date, .date): resultType = .duration
        case ("*", .number, .number), ("/", .number, .number): resultType = .number
        case ("*", .money(let c), .number), ("*", .number, .money(let c)), ("/", .money(let c), .number): resultType = .money(c)
        case ("/", .money(let a), .money(let b)):
            guard a == b else { throw mismatch(left, right, verb: verb, whole: whole) }
            resultType = .number
        case ("*", .duration, .number), ("*", .number, .duration), ("/", .duration, .number): resultType = .duration
        case ("/", .duration, .duration): resultType = .number
        default:
            throw mismatch(left, right, verb: verb, whole: whole)
        }
        // Dates are day numbers and durations seconds: convert where they meet.
        var lc = l, rc = r
        var leftConstant = left.constant, rightConstant = right.constant
        if left.type == .date && right.type == .duration {
            rc = { r($0) / 86_400 }
            if case .numeric(let n)? = rightConstant { rightConstant = .numeric(n / 86_400) }
        }
        if left.type == .duration && right.type == .date {
            lc = { l($0) / 86_400 }
            if case .numeric(let n)? = leftConstant { leftConstant = .numeric(n / 86_400) }
        }
        let dateDifference = left.type == .date && right.type == .date
        let operation: @Sendable (Double, Double) -> Double
        switch op {
        case "+": operation = { $0 + $1 }
        case "-" where dateDifference: operation = { ($0 - $1) * 86_400 }
        case "-": operation = { $0 - $1 }
        case "*": operation = { $0 * $1 }
        default: operation = { $0 / $1 }
        }
        if op == "/", case .numeric(0)? = rightConstant {
            throw ExpressionError("division by zero", at: right.span)
        }
        if case .numeric(let a)? = leftConstant, case .numeric(let b)? = rightConstant {
            return Self.constantTyped(.numeric(operation(a, b)), type: resultType, span: whole)
        }
        let code: NumberCode
        if case .numeric(let c)? = rightConstant {
            let (fl, constant) = (lc, c)
            code = switch op {
            case "*": { fl($0) * constant }
            default: { operation(fl($0), constant) }
            }
        } else if case .numeric(let c)? = leftConstant {
            let (fr, constant) = (rc, c)
            if op == "*" { code = { constant * fr($0) } } else { code = { operation(constant, fr($0)) } }
        } else {
            let (fl, fr) = (lc, rc)
            code = { operation(fl($0), fr($0)) }
        }
        return Typed(type: resultType, code: .numeric(code), span: whole)
    }
}
