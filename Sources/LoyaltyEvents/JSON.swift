// A small, strict RFC 8259 JSON parser and writer.
//
// The parser works on raw bytes, never touches Foundation, and builds a `JSONValue` tree. It is
// strict: trailing garbage, duplicate keys inside one object, nesting deeper than
// `JSONParser.maxDepth`, invalid UTF-8 and lone surrogates are all rejected with the byte offset of
// the problem.

/// A parsed JSON value.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// An integer literal without fraction or exponent that fits in `Int64`.
    case int(Int64)
    /// Any other number.
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

/// A JSON object that keeps its keys in document order. Keys are unique.
public struct JSONObject: Sendable, Hashable {
    public private(set) var keys: [String]
    public private(set) var values: [JSONValue]

    public init() {
        keys = []
        values = []
    }

    /// Later duplicates of a key replace the earlier value (the first position is kept).
    public init(_ pairs: [(String, JSONValue)]) {
        keys = []
        values = []
        keys.reserveCapacity(pairs.count)
        values.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }

    /// Internal fast init; the caller guarantees unique keys.
    init(uniqueKeys keys: [String], values: [JSONValue]) {
        self.keys = keys
        self.values = values
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// The (key, value) pairs in order.
    public var pairs: [(key: String, value: JSONValue)] {
        Array(zip(keys, values)).map { (key: $0.0, value: $0.1) }
    }

    public subscript(key: String) -> JSONValue? {
        get {
            for i in keys.indices where keys[i] == key { return values[i] }
            return nil
        }
        set {
            if let i = keys.firstIndex(of: key) {
                if let newValue {
                    values[i] = newValue
                } else {
                    keys.remove(at: i)
                    values.remove(at: i)
                }
            } else if let newValue {
                keys.append(key)
                values.append(newValue)
            }
        }
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}

/// A JSON syntax error at a byte offset of the input.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset (0-based) in the input where the problem was found.
    public var offset: Int
    public var message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "malformed JSON at byte \(offset): \(message)" }
}

public enum JSONParser {
    /// Maximum nesting of arrays and objects (the top-level container counts as 1).
    public static let maxDepth = 32

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> JSONValue {
        var p = _Parser(bytes)
        p.keyStack.reserveCapacity(32)
        p.valueStack.reserveCapacity(32)
        p.skipWhitespace()
        let v = try p.parseValue(depth: 0)
        p.skipWhitespace()
        if p.i != p.end {
            throw JSONSyntaxError(offset: p.i, message: "unexpected data after the JSON value")
        }
        return v
    }

    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        do {
            return try bytes.withUnsafeBytes { buf in try parse(buf) }
        } catch let e as JSONSyntaxError {
            throw e
        } catch {
            fatalError("unreachable: \(error)")
        }
    }

    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

// MARK: - Parser implementation

private let _quote: UInt8 = 0x22
private let _backslash: UInt8 = 0x5C

struct _Parser {
    let base: UnsafePointer<UInt8>?
    let end: Int
    var i: Int = 0
    // Scratch stacks shared by all nesting levels, so each finished container is copied once
    // into an exactly sized array instead of growing its own.
    var keyStack: [String] = []
    var valueStack: [JSONValue] = []

    init(_ buf: UnsafeRawBufferPointer) {
        base = buf.baseAddress?.assumingMemoryBound(to: UInt8.self)
        end = buf.count
    }

    @inline(__always) func byte(_ at: Int) -> UInt8 { base.unsafelyUnwrapped[at] }

    @inline(__always) mutating func skipWhitespace() {
        while i < end {
            let c = byte(i)
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { return }
        }
    }

    func describeByte(_ at: Int) -> String {
        guard at < end else { return "end of input" }
        let c = byte(at)
        if c >= 0x21 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x" + String(c, radix: 16, uppercase: true)
    }

    func fail(_ expected: String, at: Int? = nil) -> JSONSyntaxError {
        let o = at ?? i
        if o >= end { return JSONSyntaxError(offset: o, message: "unexpected end of input, expected \(expected)") }
        return JSONSyntaxError(offset: o, message: "expected \(expected), got \(describeByte(o))")
    }

    mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard i < end else { throw fail("a value") }
        switch byte(i) {
        case 0x7B: return .object(try parseObject(depth: depth + 1))
        case 0x5B: return try parseArray(depth: depth + 1)
        case _quote: return .string(try parseString())
        case 0x74: try literal("true"); return .bool(true)
        case 0x66: try literal("false"); return .bool(false)
        case 0x6E: try literal("null"); return .null
        case 0x2D, 0x30...0x39: return try parseNumber()
        default: throw fail("a value")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let n = word.utf8CodeUnitCount
        let w = word.utf8Start
        let start = i
        for k in 0..<n {
            if i + k >= end || byte(i + k) != w[k] {
                throw JSONSyntaxError(offset: start, message: "invalid literal, expected '\(word)'")
            }
        }
        i += n
    }

    mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONObject {
        if depth > JSONParser.maxDepth {
            throw JSONSyntaxError(offset: i, message: "nesting deeper than \(JSONParser.maxDepth) levels")
        }
        i += 1  // {
        skipWhitespace()
        if i < end && byte(i) == 0x7D {
            i += 1
            return JSONObject()
        }
        let base = keyStack.count
        let vbase = valueStack.count
        var keySet: Set<String>? = nil
        while true {
            guard i < end, byte(i) == _quote else { throw fail("a string key") }
            let keyOffset = i
            let key = try parseString()
            // Duplicate detection: linear for small objects, a set for large ones.
            if var set = keySet {
                if !set.insert(key).inserted {
                    throw JSONSyntaxError(offset: keyOffset, message: "duplicate key \"\(key)\"")
                }
                keySet = set
            } else {
                for k in keyStack[base...] where k == key {
                    throw JSONSyntaxError(offset: keyOffset, message: "duplicate key \"\(key)\"")
                }
                if keyStack.count - base >= 16 {
                    var set = Set(keyStack[base...])
                    set.insert(key)
                    keySet = set
                }
            }
            skipWhitespace()
            guard i < end, byte(i) == 0x3A else { throw fail("':'") }
            i += 1
            skipWhitespace()
            keyStack.append(key)
            let value = try parseValue(depth: depth)
            valueStack.append(value)
            skipWhitespace()
            guard i < end else { throw fail("',' or '}'") }
            let c = byte(i)
            if c == 0x2C {
                i += 1
                skipWhitespace()
            } else if c == 0x7D {
                i += 1
                let obj = JSONObject(uniqueKeys: Array(keyStack[base...]), values: Array(valueStack[vbase...]))
                keyStack.removeSubrange(base...)
                valueStack.removeSubrange(vbase...)
                return obj
            } else {
                throw fail("',' or '}'")
            }
        }
    }

    mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        if depth > JSONParser.maxDepth {
            throw JSONSyntaxError(offset: i, message: "nesting deeper than \(JSONParser.maxDepth) levels")
        }
        i += 1  // [
        skipWhitespace()
        if i < end && byte(i) == 0x5D {
            i += 1
            return .array([])
        }
        let base = valueStack.count
        while true {
            let item = try parseValue(depth: depth)
            valueStack.append(item)
            skipWhitespace()
            guard i < end else { throw fail("',' or ']'") }
            let c = byte(i)
            if c == 0x2C {
                i += 1
                skipWhitespace()
            } else if c == 0x5D {
                i += 1
                let items = Array(valueStack[base...])
                valueStack.removeSubrange(base...)
                return .array(items)
            } else {
                throw fail("',' or ']'")
            }
        }
    }

    mutating func parseNumber() throws(JSONSyntaxError) -> JSONValue {
        let start = i
        var negative = false
        if byte(i) == 0x2D {
            negative = true
            i += 1
        }
        guard i < end else { throw fail("a digit") }
        var c = byte(i)
        guard c >= 0x30 && c <= 0x39 else { throw fail("a digit") }
        // Accumulate negatively so that Int64.min fits.
        var acc: Int64 = 0
        var overflow = false
        if c == 0x30 {
            i += 1
            if i < end, byte(i) >= 0x30 && byte(i) <= 0x39 {
                throw JSONSyntaxError(offset: i, message: "leading zeros are not allowed in numbers")
            }
        } else {
            while i < end {
                c = byte(i)
                guard c >= 0x30 && c <= 0x39 else { break }
                if !overflow {
                    let (m, o1) = acc.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.subtractingReportingOverflow(Int64(c &- 0x30))
                    if o1 || o2 { overflow = true } else { acc = s }
                }
                i += 1
            }
        }
        var isInteger = true
        if i < end && byte(i) == 0x2E {
            isInteger = false
            i += 1
            guard i < end, byte(i) >= 0x30 && byte(i) <= 0x39 else { throw fail("a digit after '.'") }
            while i < end, byte(i) >= 0x30 && byte(i) <= 0x39 { i += 1 }
        }
        if i < end && (byte(i) == 0x65 || byte(i) == 0x45) {
            isInteger = false
            i += 1
            if i < end && (byte(i) == 0x2B || byte(i) == 0x2D) { i += 1 }
            guard i < end, byte(i) >= 0x30 && byte(i) <= 0x39 else { throw fail("a digit in the exponent") }
            while i < end, byte(i) >= 0x30 && byte(i) <= 0x39 { i += 1 }
        }
        if isInteger && !overflow {
            if negative { return .int(acc) }
            if acc != Int64.min { return .int(-acc) }
        }
        // Fall back to the standard library's correctly rounded conversion.
        let text = String(decoding: UnsafeBufferPointer(start: base.unsafelyUnwrapped + start, count: i - start), as: UTF8.self)
        guard let d = Double(text), d.isFinite else {
            throw JSONSyntaxError(offset: start, message: "number out of range")
        }
        return .double(d)
    }

    /// Parses a string starting at the opening quote.
    mutating func parseString() throws(JSONSyntaxError) -> String {
        i += 1  // opening quote
        let start = i
        let b = base.unsafelyUnwrapped
        // Fast path: plain ASCII without escapes.
        while i < end {
            let c = b[i]
            if c == _quote {
                let s = String(decoding: UnsafeBufferPointer(start: b + start, count: i - start), as: UTF8.self)
                i += 1
                return s
            }
            if c == _backslash || c < 0x20 || c >= 0x80 { break }
            i += 1
        }
        // Slow path: escapes and/or non-ASCII; validate and copy into a buffer.
        var out: [UInt8] = []
        out.reserveCapacity(i - start + 16)
        out.append(contentsOf: UnsafeBufferPointer(start: b + start, count: i - start))
        while true {
            guard i < end else { throw JSONSyntaxError(offset: i, message: "unterminated string") }
            let c = b[i]
            if c == _quote {
                i += 1
                return String(decoding: out, as: UTF8.self)
            } else if c == _backslash {
                i += 1
                guard i < end else { throw JSONSyntaxError(offset: i, message: "unterminated string") }
                let e = b[i]
                switch e {
                case _quote: out.append(_quote)
                case _backslash: out.append(_backslash)
                case 0x2F: out.append(0x2F)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    let escStart = i - 1
                    i += 1
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        // High surrogate: a low surrogate escape must follow.
                        guard i + 1 < end, b[i] == _backslash, b[i + 1] == 0x75 else {
                            throw JSONSyntaxError(offset: escStart, message: "lone high surrogate in \\u escape")
                        }
                        i += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low <= 0xDFFF else {
                            throw JSONSyntaxError(offset: escStart, message: "high surrogate not followed by a low surrogate")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        throw JSONSyntaxError(offset: escStart, message: "lone low surrogate in \\u escape")
                    }
                    appendUTF8(scalar, to: &out)
                    continue  // i already advanced past the hex digits
                default:
                    throw JSONSyntaxError(offset: i - 1, message: "invalid escape sequence '\\\(describeByte(i))'")
                }
                i += 1
            } else if c < 0x20 {
                throw JSONSyntaxError(offset: i, message: "unescaped control character in string")
            } else if c < 0x80 {
                out.append(c)
                i += 1
            } else {
                let n = try validateUTF8Sequence(at: i)
                out.append(contentsOf: UnsafeBufferPointer(start: b + i, count: n))
                i += n
            }
        }
    }

    mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard i + 4 <= end else { throw JSONSyntaxError(offset: i, message: "incomplete \\u escape") }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = byte(i + k)
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw JSONSyntaxError(offset: i + k, message: "invalid hex digit in \\u escape")
            }
            v = v << 4 | d
        }
        i += 4
        return v
    }

    /// Validates one multi-byte UTF-8 sequence starting at `at`; returns its length.
    func validateUTF8Sequence(at: Int) throws(JSONSyntaxError) -> Int {
        let c0 = byte(at)
        let err = JSONSyntaxError(offset: at, message: "invalid UTF-8 in string")
        @inline(__always) func cont(_ k: Int) -> UInt8? {
            guard at + k < end else { return nil }
            let c = byte(at + k)
            return c & 0xC0 == 0x80 ? c : nil
        }
        switch c0 {
        case 0xC2...0xDF:
            guard cont(1) != nil else { throw err }
            return 2
        case 0xE0...0xEF:
            guard let c1 = cont(1), cont(2) != nil else { throw err }
            if c0 == 0xE0 && c1 < 0xA0 { throw err }  // overlong
            if c0 == 0xED && c1 >= 0xA0 { throw err }  // UTF-16 surrogates
            return 3
        case 0xF0...0xF4:
            guard let c1 = cont(1), cont(2) != nil, cont(3) != nil else { throw err }
            if c0 == 0xF0 && c1 < 0x90 { throw err }  // overlong
            if c0 == 0xF4 && c1 >= 0x90 { throw err }  // > U+10FFFF
            return 4
        default:
            throw err
        }
    }
}

@inline(__always)
func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
    if scalar < 0x80 {
        out.append(UInt8(scalar))
    } else if scalar < 0x800 {
        out.append(UInt8(0xC0 | (scalar >> 6)))
        out.append(UInt8(0x80 | (scalar & 0x3F)))
    } else if scalar < 0x10000 {
        out.append(UInt8(0xE0 | (scalar >> 12)))
        out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (scalar & 0x3F)))
    } else {
        out.append(UInt8(0xF0 | (scalar >> 18)))
        out.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (scalar & 0x3F)))
    }
}

// MARK: - Writer

/// Serialises `JSONValue`s compactly (no whitespace) as UTF-8.
public struct JSONWriter: Sendable {
    public internal(set) var bytes: [UInt8]

    public init(reservingCapacity n: Int = 256) {
        bytes = []
        bytes.reserveCapacity(n)
    }

    public static func serialize(_ value: JSONValue) -> [UInt8] {
        var w = JSONWriter()
        w.write(value)
        return w.bytes
    }

    public static func serializeToString(_ value: JSONValue) -> String {
        String(decoding: serialize(value), as: UTF8.self)
    }

    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: writeRaw("null")
        case .bool(let b): writeRaw(b ? "true" : "false")
        case .int(let n): writeInt(n)
        case .double(let d): writeDouble(d)
        case .string(let s): writeString(s)
        case .array(let items):
            bytes.append(0x5B)
            for (k, item) in items.enumerated() {
                if k > 0 { bytes.append(0x2C) }
                write(item)
            }
            bytes.append(0x5D)
        case .object(let obj): write(obj)
        }
    }

    public mutating func write(_ obj: JSONObject) {
        bytes.append(0x7B)
        for k in obj.keys.indices {
            if k > 0 { bytes.append(0x2C) }
            writeString(obj.keys[k])
            bytes.append(0x3A)
            write(obj.values[k])
        }
        bytes.append(0x7D)
    }

    @inline(__always) mutating func writeRaw(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public mutating func writeInt(_ n: Int64) {
        if n >= 0 && n < 10 {
            bytes.append(0x30 + UInt8(n))
            return
        }
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var mag = n.magnitude
        var len = 0
        withUnsafeMutableBytes(of: &tmp) { t in
            repeat {
                t[19 - len] = 0x30 + UInt8(mag % 10)
                mag /= 10
                len += 1
            } while mag > 0
            if n < 0 { bytes.append(0x2D) }
            bytes.append(contentsOf: t[(20 - len)...])
        }
    }

    public mutating func writeDouble(_ d: Double) {
        guard d.isFinite else {
            writeRaw("null")  // JSON has no NaN or infinity
            return
        }
        // Swift's description is the shortest representation that round-trips, and always
        // contains '.' or 'e' so it parses back as a double.
        bytes.append(contentsOf: d.description.utf8)
    }

    public mutating func writeString(_ s: String) {
        bytes.append(_quote)
        var s = s
        s.withUTF8 { u in
            var runStart = 0
            for k in 0..<u.count {
                let c = u[k]
                if c >= 0x20 && c != _quote && c != _backslash { continue }
                if k > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart..<k])) }
                runStart = k + 1
                bytes.append(_backslash)
                switch c {
                case _quote: bytes.append(_quote)
                case _backslash: bytes.append(_backslash)
                case 0x0A: bytes.append(0x6E)
                case 0x0D: bytes.append(0x72)
                case 0x09: bytes.append(0x74)
                case 0x08: bytes.append(0x62)
                case 0x0C: bytes.append(0x66)
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xF)]])
                }
            }
            if u.count > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart...])) }
        }
        bytes.append(_quote)
    }
}
