/// A span of an expression's text, in Unicode scalars from its start.
public struct SourceSpan: Sendable, Hashable {
    public var start: Int
    public var end: Int

    public init(start: Int, end: Int) {
        self.start = start
        self.end = max(end, start)
    }

    func union(_ other: SourceSpan) -> SourceSpan {
        SourceSpan(start: min(start, other.start), end: max(end, other.end))
    }
}

/// A problem in an expression, at a span of its text. The rule-file loader turns the span
/// into a file, line and column.
public struct ExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var span: SourceSpan
    public var message: String
    public var suggestion: String?

    public init(_ message: String, at span: SourceSpan, suggestion: String? = nil) {
        self.span = span
        self.message = message
        self.suggestion = suggestion
    }

    public var description: String {
        "column \(span.start + 1): \(message)" + (suggestion.map { " — \($0)" } ?? "")
    }
}

enum TokenKind: Equatable {
    case number(Double)
    /// `30d`, `12h`: seconds.
    case duration(Double)
    /// `2026-12-24`: days since 1970-01-01.
    case date(Int)
    /// `18:30`: minutes since midnight.
    case time(Int)
    case string(String)
    case identifier(String)
    case symbol(String)
    case end
}

struct Token {
    var kind: TokenKind
    var span: SourceSpan
}

/// Splits an expression into tokens. Knows the literal forms marketers write: `200 NOK`
/// (a number, then a currency the parser joins to it), `30d`, `2026-12-24`, `18:30`.
struct Lexer {
    private let scalars: [Unicode.Scalar]
    private var position = 0

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }

    static func tokenize(_ text: String) throws(ExpressionError) -> [Token] {
        var lexer = Lexer(text)
        var tokens: [Token] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        let index = position + offset
        return index < scalars.count ? scalars[index] : nil
    }

    private static func isDigit(_ s: Unicode.Scalar?) -> Bool {
        guard let s else { return false }
        return s >= "0" && s <= "9"
    }

    private static func isIdentifierStart(_ s: Unicode.Scalar?) -> Bool {
        guard let s else { return false }
        return (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") || s == "_"
    }

    private static func isIdentifierPart(_ s: Unicode.Scalar?) -> Bool {
        isIdentifierStart(s) || isDigit(s)
    }

    private mutating func next() throws(ExpressionError) -> Token {
        while let s = peek(), s == " " || s == "\t" || s == "\n" || s == "\r" { position += 1 }
        let start = position
        guard let s = peek() else { return Token(kind: .end, span: SourceSpan(start: start, end: start)) }

        if Self.isDigit(s) { return try number(start: start) }
        if Self.isIdentifierStart(s) {
            while Self.isIdentifierPart(peek()) { position += 1 }
            let word = String(String.UnicodeScalarView(scalars[start..<position]))
            return Token(kind: .identifier(word), span: SourceSpan(start: start, end: position))
        }
        if s == "\"" || s == "'" { return try string(quote: s, start: start) }

        let two = peek(1).map { String(s) + String($0) } ?? ""
        switch two {
        case "==", "!=", "<=", ">=":
            position += 2
            return Token(kind: .symbol(two), span: SourceSpan(start: start, end: position))
        case "&&":
            throw ExpressionError("'&&' is not an operator here", at: SourceSpan(start: start, end: start + 2),
                                  suggestion: "write 'and'")
        case "||":
            throw ExpressionError("'||' is not an operator here", at: SourceSpan(start: start, end: start + 2),
                                  suggestion: "write 'or'")
        default: break
        }
        switch s {
        case "<", ">", "+", "-", "*", "/", "(", ")", "[", "]", ",", ".", ":":
            position += 1
            return Token(kind: .symbol(String(s)), span: SourceSpan(start: start, end: position))
        case "=":
            throw ExpressionError("'=' alone is not a comparison", at: SourceSpan(start: start, end: start + 1),
                                  suggestion: "write '==' to compare")
        case "!":
            throw ExpressionError("'!' is not an operator here", at: SourceSpan(start: start, end: start + 1),
                                  suggestion: "write 'not'")
        default:
            throw ExpressionError("unexpected character '\(s)'", at: SourceSpan(start: start, end: start + 1))
        }
    }

    private mutating func digits() -> (value: Int, count: Int) {
        var value = 0, count = 0
        while let s = peek(), Self.isDigit(s) {
            if count < 18 { value = value * 10 + Int(s.value - 48) }
            count += 1
            position += 1
        }
        return (value, count)
    }

    private mutating func number(start: Int) throws(ExpressionError) -> Token {
        let first = digits()
        // 2026-12-24
        if first.count == 4, peek() == "-", Self.isDigit(peek(1)) {
            position += 1
            let month = digits()
            guard month.count == 2, peek() == "-" else {
                throw ExpressionError("a date is written YYYY-MM-DD", at: SourceSpan(start: start, end: position))
            }
            position += 1
            let day = digits()
            let span = SourceSpan(start: start, end: position)
            guard day.count == 2 else { throw ExpressionError("a date is written YYYY-MM-DD", at: span) }
            let date = CivilDate(year: first.value, month: month.value, day: day.value)
            guard date.isValid else { throw ExpressionError("\(date) is not a date in the calendar", at: span) }
            return Token(kind: .date(date.dayNumber), span: span)
        }
        // 18:30
        if first.count <= 2, peek() == ":", Self.isDigit(peek(1)) {
            position += 1
            let minutes = digits()
            let span = SourceSpan(start: start, end: position)
            guard minutes.count == 2, first.value < 24, minutes.value < 60 else {
                throw ExpressionError("a time of day is written HH:MM, from 00:00 to 23:59", at: span)
            }
            return Token(kind: .time(first.value * 60 + minutes.value), span: span)
        }
        if peek() == ".", Self.isDigit(peek(1)) {
            position += 1
            _ = digits()
        }
        let text = String(String.UnicodeScalarView(scalars[start..<position]))
        guard let value = Double(text) else {
            throw ExpressionError("'\(text)' is not a number", at: SourceSpan(start: start, end: position))
        }
        // 30d, 12h, 90min, 2w, 45s: a unit right after the digits.
        if Self.isIdentifierStart(peek()) {
            let unitStart = position
            while Self.isIdentifierPart(peek()) { position += 1 }
            let unit = String(String.UnicodeScalarView(scalars[unitStart..<position]))
            let seconds: Double? = switch unit {
            case "s": 1
            case "min": 60
            case "h": 3600
            case "d": 86_400
            case "w": 604_800
            default: nil
            }
            guard let seconds else {
                throw ExpressionError("unknown unit '\(unit)' after \(text)", at: SourceSpan(start: start, end: position),
                                      suggestion: "durations are written like 45s, 90min, 12h, 30d or 2w; money like '200 NOK' (with a space)")
            }
            return Token(kind: .duration(value * seconds), span: SourceSpan(start: start, end: position))
        }
        return Token(kind: .number(value), span: SourceSpan(start: start, end: position))
    }

    private mutating func string(quote: Unicode.Scalar, start: Int) throws(ExpressionError) -> Token {
        position += 1
        var text = String.UnicodeScalarView()
        while true {
            guard let s = peek() else {
                throw ExpressionError("text is not closed: a \(quote) is missing", at: SourceSpan(start: start, end: position))
            }
            position += 1
            if s == quote { break }
            if s == "\\" {
                guard let escaped = peek() else { continue }
                position += 1
                switch escaped {
                case "n": text.append("\n")
                case "t": text.append("\t")
                default: text.append(escaped)
                }
            } else {
                text.append(s)
            }
        }
        return Token(kind: .string(String(text)), span: SourceSpan(start: start, end: position))
    }
}
