import Testing
@testable import LoyaltyEvents

private func parse(_ s: String) throws(JSONSyntaxError) -> JSONValue { try JSONParser.parse(Array(s.utf8)) }

private func syntaxError(_ bytes: [UInt8]) -> JSONSyntaxError? {
    do {
        _ = try JSONParser.parse(bytes)
        return nil
    } catch {
        return error
    }
}

private func syntaxError(_ s: String) -> JSONSyntaxError? { syntaxError(Array(s.utf8)) }

@Suite struct JSONParserTests {
    @Test func scalars() throws {
        #expect(try parse("null") == .null)
        #expect(try parse(" true ") == .bool(true))
        #expect(try parse("\tfalse\r\n") == .bool(false))
        #expect(try parse(#""hi""#) == .string("hi"))
        #expect(try parse("[]") == .array([]))
        #expect(try parse("{}") == .object(JSONObject()))
    }

    @Test func numbers() throws {
        #expect(try parse("0") == .int(0))
        #expect(try parse("-0") == .int(0))
        #expect(try parse("42") == .int(42))
        #expect(try parse("-17") == .int(-17))
        #expect(try parse("9223372036854775807") == .int(Int64.max))
        #expect(try parse("-9223372036854775808") == .int(Int64.min))
        #expect(try parse("9223372036854775808") == .double(9223372036854775808.0))
        #expect(try parse("-9223372036854775809") == .double(-9223372036854775809.0))
        #expect(try parse("1.5") == .double(1.5))
        #expect(try parse("1e3") == .double(1000))
        #expect(try parse("1E+3") == .double(1000))
        #expect(try parse("-2.5e-3") == .double(-0.0025))
        #expect(try parse("10.0") == .double(10))
        for bad in ["01", "-", "+1", "1.", ".5", "1e", "1e+", "--1", "0x10", "NaN", "Infinity", "-Infinity", "1.e5", "1e400"] {
            #expect(syntaxError(bad) != nil, "\(bad) should be rejected")
        }
    }

    @Test func escapes() throws {
        #expect(try parse(#""a\"b\\c\/d\be\ff\ng\rh\ti""#) == .string("a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti"))
        #expect(try parse(#""\u0041\u00e9\u20AC""#) == .string("Aé€"))
        #expect(try parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try parse("\"æøå 😀\"") == .string("æøå 😀"))
        #expect(syntaxError(#""\x""#) != nil)
        #expect(syntaxError(#""\u12""#) != nil)
        #expect(syntaxError(#""\u12G4""#) != nil)
        #expect(syntaxError("\"a\nb\"") != nil, "raw control characters are not allowed")
        #expect(syntaxError(#""abc"#) != nil)
    }

    @Test func loneSurrogates() {
        #expect(syntaxError(#""\ud83d""#)?.message.contains("surrogate") == true)
        #expect(syntaxError(#""\ud83dx""#) != nil)
        #expect(syntaxError(#""\ude00""#) != nil)
        #expect(syntaxError(#""\ud83d\u0041""#) != nil)
        #expect(syntaxError(#""\ud83d\ud83d""#) != nil)
    }

    @Test func invalidUTF8() {
        let q: UInt8 = 0x22
        #expect(syntaxError([q, 0xFF, q]) != nil)
        #expect(syntaxError([q, 0xC3, q]) != nil)  // truncated
        #expect(syntaxError([q, 0xC0, 0xAF, q]) != nil)  // overlong
        #expect(syntaxError([q, 0xE0, 0x80, 0xAF, q]) != nil)  // overlong
        #expect(syntaxError([q, 0xED, 0xA0, 0x80, q]) != nil)  // encoded surrogate
        #expect(syntaxError([q, 0xF4, 0x90, 0x80, 0x80, q]) != nil)  // above U+10FFFF
        #expect(syntaxError([q, 0x80, q])?.offset == 1)
        #expect(syntaxError([q, 0xC3, 0xA6, q]) == nil)
        #expect(syntaxError([q, 0xF0, 0x9F, 0x98, 0x80, q]) == nil)
    }

    @Test func duplicateKeys() {
        let e = syntaxError(#"{"a":1,"b":2,"a":3}"#)
        #expect(e?.offset == 13)
        #expect(e?.message == #"duplicate key "a""#)
        // Escaped spelling of the same key is the same key.
        #expect(syntaxError(#"{"a":1,"\u0061":2}"#) != nil)
        // Same key in different objects is fine.
        #expect(syntaxError(#"{"a":{"a":1},"b":[{"a":1},{"a":2}]}"#) == nil)
        // Large objects use a set.
        var big = "{" + (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        #expect(syntaxError(big + "}") == nil)
        big += ",\"k7\":0}"
        #expect(syntaxError(big)?.message == #"duplicate key "k7""#)
    }

    @Test func depth() {
        let ok = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(syntaxError(ok) == nil)
        let tooDeep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(syntaxError(tooDeep)?.message.contains("deeper than 32") == true)
        let objs = String(repeating: #"{"a":"#, count: 33) + "1" + String(repeating: "}", count: 33)
        #expect(syntaxError(objs) != nil)
        // Very deep input must not overflow the stack.
        #expect(syntaxError(String(repeating: "[", count: 100_000)) != nil)
    }

    @Test func trailingGarbageAndStructure() {
        #expect(syntaxError("{} x")?.offset == 3)
        #expect(syntaxError("1 2") != nil)
        #expect(syntaxError("[1,]") != nil)
        #expect(syntaxError(#"{"a":1,}"#) != nil)
        #expect(syntaxError(#"{"a" 1}"#) != nil)
        #expect(syntaxError("{a:1}") != nil)
        #expect(syntaxError("") != nil)
        #expect(syntaxError("   ") != nil)
        #expect(syntaxError("tru") != nil)
        #expect(syntaxError("nul") != nil)
        #expect(syntaxError("[1 2]") != nil)
        #expect(syntaxError("\u{FEFF}{}") != nil)
        #expect(syntaxError(#"{"v":1 "x":2}"#)?.description == "malformed JSON at byte 7: expected ',' or '}', got '\"'")
    }

    @Test func objectKeepsOrder() throws {
        guard case .object(let o) = try parse(#"{"z":1,"a":[true,null],"m":{"k":"v"}}"#) else {
            Issue.record("not an object")
            return
        }
        #expect(o.keys == ["z", "a", "m"])
        #expect(o.count == 3)
        #expect(o["a"] == [true, nil])
        #expect(o["missing"] == nil)
        #expect(JSONObject([("b", 1), ("a", 2)]).keys == ["b", "a"])
    }

    @Test func writerEscapesAndRoundTrips() throws {
        let v: JSONValue = .object([
            "s": .string("q\"b\\n\n\r\t\u{1}\u{1F}\u{7F}æ😀/"),
            "i": .int(Int64.min), "j": .int(Int64.max), "z": 0, "neg": -7,
            "d": 0.1, "e": 1e300, "f": -2.5e-8, "g": 3.0,
            "a": [nil, true, false, [], .object([:])],
        ])
        let bytes = JSONWriter.serialize(v)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix(#"{"s":"q\"b\\n\n\r\t\u0001\u001f"#))
        #expect(!text.contains(" "))
        #expect(try JSONParser.parse(bytes) == v)
        #expect(JSONWriter.serializeToString(.double(.nan)) == "null")
    }
}
