import LoyaltyEvents

/// An expression as written, before type checking.
struct Syntax {
    indirect enum Kind {
        case number(Double)
        /// Major units as written (`12.50 NOK`).
        case money(Double, CurrencyCode)
        case duration(Double)
        case date(Int)
        case time(Int)
        case string(String)
        case bool(Bool)
        case name(String)
        case member(Syntax, String, SourceSpan)
        case call(Syntax, [Argument])
        case unary(String, Syntax)
        case binary(String, Syntax, Syntax)
        case list([Syntax])
    }

    struct Argument {
        var label: String?
        var labelSpan: SourceSpan?
        var value: Syntax
    }

    var kind: Kind
    var span: SourceSpan
}

/// Precedence climbing over the tokens:
/// `or` < `and` < `not` < comparisons and `in` < `+ -` < `* /` < unary `-` < `.member` and calls.
struct Parser {
    private var tokens: [Token]
    private var index = 0
    private var currency: CurrencyCode?

    /// `currency` is the rule file's currency, preferred when suggesting a fix for a misspelt code.
    static func parse(_ text: String, currency: CurrencyCode? = nil) throws(ExpressionError) -> Syntax {
        var parser = Parser(tokens: try Lexer.tokenize(text))
        parser.currency = currency
        if parser.current.kind == .end {
            throw ExpressionError("the expression is empty", at: parser.current.span)
        }
        let syntax = try parser.parseOr()
        guard parser.current.kind == .end else {
            if case .identifier(let word) = parser.current.kind, ["AND", "OR", "NOT", "IN"].contains(word) {
                throw ExpressionError("'\(word)' was not expected: words of the language are lowercase", at: parser.current.span,
                                      suggestion: "write '\(word.lowercased())'")
            }
            if case .identifier(let word) = parser.current.kind, word.count == 3, let code = CurrencyCode(word.uppercased()) {
                throw ExpressionError("currency codes are written in capitals", at: parser.current.span, suggestion: "write \(code)")
            }
            throw ExpressionError("\(parser.describe(parser.current)) was not expected after a complete expression",
                                  at: parser.current.span, suggestion: "join conditions with 'and' or 'or'")
        }
        return syntax
    }

    private init(tokens: [Token]) {
        self.tokens = tokens
    }

    private var current: Token { tokens[index] }
    private var nextToken: Token { tokens[min(index + 1, tokens.count - 1)] }

    private mutating func advance() -> Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    private func isSymbol(_ symbol: String) -> Bool {
        if case .symbol(symbol) = current.kind { return true }
        return false
    }

    private func isKeyword(_ word: String) -> Bool {
        if case .identifier(word) = current.kind { return true }
        return false
    }

    private func describe(_ token: Token) -> String {
        switch token.kind {
        case .number(let n): "the number \(format(n))"
        case .duration: "a duration"
        case .date: "a date"
        case .time: "a time of day"
        case .string(let s): "the text \"\(s)\""
        case .identifier(let word): "'\(word)'"
        case .symbol(let symbol): "'\(symbol)'"
        case .end: "the end of the expression"
        }
    }

    private mutating func expect(_ symbol: String, _ context: String) throws(ExpressionError) -> Token {
        guard isSymbol(symbol) else {
            throw ExpressionError("expected '\(symbol)' \(context), found \(describe(current))", at: current.span)
        }
        return advance()
    }

    private mutating func parseOr() throws(ExpressionError) -> Syntax {
        var left = try parseAnd()
        while isKeyword("or") {
            _ = advance()
            let right = try parseAnd()
            left = Syntax(kind: .binary("or", left, right), span: left.span.union(right.span))
        }
        return left
    }

    private mutating func parseAnd() throws(ExpressionError) -> Syntax {
        var left = try parseNot()
        while isKeyword("and") {
            _ = advance()
            let right = try parseNot()
            left = Syntax(kind: .binary("and", left, right), span: left.span.union(right.span))
        }
        return left
    }

    private mutating func parseNot() throws(ExpressionError) -> Syntax {
        if isKeyword("not") {
            let not = advance()
            let operand = try parseNot()
            return Syntax(kind: .unary("not", operand), span: not.span.union(operand.span))
        }
        return try parseComparison()
    }

    private mutating func parseComparison() throws(ExpressionError) -> Syntax {
        let left = try parseAdditive()
        var op: String?
        if case .symbol(let symbol) = current.kind, ["==", "!=", "<", "<=", ">", ">="].contains(symbol) {
            op = symbol
            _ = advance()
        } else if isKeyword("in") {
            op = "in"
            _ = advance()
        } else if isKeyword("not"), case .identifier("in") = nextToken.kind {
            op = "not in"
            _ = advance()
            _ = advance()
        }
        guard let op else { return left }
        let right = try parseAdditive()
        let result = Syntax(kind: .binary(op, left, right), span: left.span.union(right.span))
        if case .symbol(let symbol) = current.kind, ["==", "!=", "<", "<=", ">", ">="].contains(symbol) {
            throw ExpressionError("comparisons cannot be chained", at: current.span,
                                  suggestion: "write 'a < b and b < c'")
        }
        return result
    }

    private mutating func parseAdditive() throws(ExpressionError) -> Syntax {
        var left = try parseMultiplicative()
        while isSymbol("+") || isSymbol("-") {
            guard case .symbol(let op) = advance().kind else { break }
            let right = try parseMultiplicative()
            left = Syntax(kind: .binary(op, left, right), span: left.span.union(right.span))
        }
        return left
    }

    private mutating func parseMultiplicative() throws(ExpressionError) -> Syntax {
        var left = try parseUnary()
        while isSymbol("*") || isSymbol("/") {
            guard case .symbol(let op) = advance().kind else { break }
            let right = try parseUnary()
            left = Syntax(kind: .binary(op, left, right), span: left.span.union(right.span))
        }
        return left
    }

    private mutating func parseUnary() throws(ExpressionError) -> Syntax {
        if isSymbol("-") {
            let minus = advance()
            let operand = try parseUnary()
            return Syntax(kind: .unary("-", operand), span: minus.span.union(operand.span))
        }
        return try parsePostfix()
    }

    private mutating func parsePostfix() throws(ExpressionError) -> Syntax {
        var base = try parsePrimary()
        while true {
            if isSymbol(".") {
                _ = advance()
                guard case .identifier(let name) = current.kind else {
                    throw ExpressionError("expected a field name after '.', found \(describe(current))", at: current.span)
                }
                let nameToken = advance()
                base = Syntax(kind: .member(base, name, nameToken.span), span: base.span.union(nameToken.span))
            } else if isSymbol("(") {
                _ = advance()
                var arguments: [Syntax.Argument] = []
                while !isSymbol(")") {
                    var label: String?
                    var labelSpan: SourceSpan?
                    if case .identifier(let word) = current.kind, case .symbol(":") = nextToken.kind {
                        label = word
                        labelSpan = advance().span
                        _ = advance()
                    }
                    let value = try parseOr()
                    arguments.append(Syntax.Argument(label: label, labelSpan: labelSpan, value: value))
                    if isSymbol(",") { _ = advance(); continue }
                    guard isSymbol(")") else {
                        throw ExpressionError("expected ',' or ')' in the arguments, found \(describe(current))", at: current.span)
                    }
                }
                let close = advance()
                base = Syntax(kind: .call(base, arguments), span: base.span.union(close.span))
            } else {
                return base
            }
        }
    }

    private mutating func parsePrimary() throws(ExpressionError) -> Syntax {
        let token = current
        switch token.kind {
        case .number(let value):
            _ = advance()
            // `200 NOK`: a number followed by a currency code.
            if case .identifier(let word) = current.kind, word.count == 3, word.uppercased() == word {
                let currencyToken = advance()
                if ["AND", "NOT"].contains(word) {
                    throw ExpressionError("'\(word)' is not a currency; words of the language are lowercase", at: currencyToken.span,
                                          suggestion: "write '\(word.lowercased())'")
                }
                guard let currency = CurrencyCode(word) else {
                    // Ties (NKO is one edit from both NIO and NOK) go to the file's currency, then to a swap of letters.
                    let preferred = self.currency?.code
                    func rank(_ code: String) -> (Int, Int, Int) {
                        (editDistance(code, word), code == preferred ? 0 : 1, code.sorted() == word.sorted() ? 0 : 1)
                    }
                    let close = CurrencyCode.allActive.min { rank($0) < rank($1) }
                    throw ExpressionError("'\(word)' is not an ISO 4217 currency code", at: currencyToken.span,
                                          suggestion: close.map { "did you mean '\($0)'?" })
                }
                return Syntax(kind: .money(value, currency), span: token.span.union(currencyToken.span))
            }
            return Syntax(kind: .number(value), span: token.span)
        case .duration(let seconds):
            _ = advance()
            return Syntax(kind: .duration(seconds), span: token.span)
        case .date(let day):
            _ = advance()
            return Syntax(kind: .date(day), span: token.span)
        case .time(let minutes):
            _ = advance()
            return Syntax(kind: .time(minutes), span: token.span)
        case .string(let text):
            _ = advance()
            return Syntax(kind: .string(text), span: token.span)
        case .identifier(let word):
            switch word {
            case "true", "false":
                _ = advance()
                return Syntax(kind: .bool(word == "true"), span: token.span)
            case "and", "or", "in":
                throw ExpressionError("'\(word)' needs something on its left", at: token.span)
            default:
                _ = advance()
                return Syntax(kind: .name(word), span: token.span)
            }
        case .symbol("("):
            _ = advance()
            let inner = try parseOr()
            let close = try expect(")", "to close '('")
            return Syntax(kind: inner.kind, span: token.span.union(close.span))
        case .symbol("["):
            _ = advance()
            var items: [Syntax] = []
            while !isSymbol("]") {
                items.append(try parseOr())
                if isSymbol(",") { _ = advance(); continue }
                guard isSymbol("]") else {
                    throw ExpressionError("expected ',' or ']' in the list, found \(describe(current))", at: current.span)
                }
            }
            let close = advance()
            return Syntax(kind: .list(items), span: token.span.union(close.span))
        case .end:
            throw ExpressionError("the expression ends too early", at: token.span)
        case .symbol:
            throw ExpressionError("\(describe(token)) was not expected here", at: token.span)
        }
    }
}

func format(_ number: Double) -> String {
    if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
    return String(number)
}

/// Edit distance (Levenshtein, plus swaps of neighbours), for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.lowercased()), b = Array(b.lowercased())
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var beforePrevious = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            // A swap of two neighbours ("hihg" for "high") counts as one edit.
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                current[j] = min(current[j], beforePrevious[j - 2] + 1)
            }
        }
        (beforePrevious, previous, current) = (previous, current, beforePrevious)
    }
    return previous[b.count]
}

/// The closest candidate within a distance that scales with the word's length, if any.
func closest(to word: String, in candidates: some Sequence<String>) -> String? {
    let limit = word.count <= 4 ? 1 : (word.count <= 8 ? 2 : 3)
    var best: (String, Int)?
    for candidate in candidates {
        let distance = editDistance(word, candidate)
        if distance <= limit, distance < (best?.1 ?? .max) { best = (candidate, distance) }
    }
    return best?.0
}
