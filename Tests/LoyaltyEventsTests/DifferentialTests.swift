import Testing
@testable import LoyaltyEvents

/// The single-pass fast path (`_FastEventDecoder`) must agree with the tree-based reference
/// decoder (`EventCodec.decodeTree`): whenever it returns an event, the reference returns the same
/// event; and `EventCodec.decode` (fast path + fallback) returns exactly what the reference
/// returns, value or error, for every input.
@Suite struct DifferentialTests {
    static let typical = Array(DecodeRate.typical.utf8)

    /// Valid events the fast path must handle, in several shapes.
    static let validSeeds: [[UInt8]] = {
        var seeds = FuzzTests.seeds + [typical]
        // Canonical encodings (seq set, optionals dropped, ...).
        for s in seeds { seeds.append(EventCodec.encode(try! EventCodec.decode(s))) }
        seeds.append(Fixtures.mutatePayload(Fixtures.purchase) { $0["customerId"] = .null; $0["discount"] = .null; $0["total"] = 12840 })
        seeds.append(Fixtures.mutatePayload(Fixtures.survey) {
            $0["drivers"] = [:]; $0["comment"] = .null; $0["customerId"] = .null; $0["relatedEventId"] = .null
        })
        seeds.append(Fixtures.mutateLine(Fixtures.purchase, 1) { $0["category"] = "Frukt & grønt"; $0["margin"] = .null })
        seeds.append(Fixtures.mutate(Fixtures.purchase) { $0["seq"] = .null; $0["occurredAt"] = "2026-11-23t10:00:00.123456+05:30" })
        // The payload before the type: the fast path parses it generically, then decodes the tree.
        for s in FuzzTests.seeds {
            var o = Fixtures.object(String(decoding: s, as: UTF8.self))
            let payload = o["payload"]!
            o["payload"] = nil
            seeds.append(JSONWriter.serialize(.object(JSONObject([("payload", payload)] + o.pairs.map { ($0.key, $0.value) }))))
        }
        // Escapes in ids, keys and text ("\u0053" is "S", "\/" is "/").
        seeds.append(Array(Fixtures.purchase.replacingOccurrences(#""storeId":"S001""#, #""storeId":"\u0053001""#).utf8))
        seeds.append(Array(Fixtures.purchase.replacingOccurrences(#""pos/S001/T01""#, #""pos\/S001\/T01""#).utf8))
        seeds.append(Array(Fixtures.purchase.replacingOccurrences(#""total":"#, #""\u0074otal":"#).utf8))
        seeds.append(Array(Fixtures.purchase.replacingOccurrences(#""unitPrice":1290"#, #""unitPrice":-0"#)
            .replacingOccurrences(#""total":12340"#, #""total":8470"#).utf8))
        return seeds
    }()

    /// Replacement values for structured mutations: every kind of JSON value, boundary numbers,
    /// and strings that are valid or invalid for ids, names, currencies and timestamps.
    static let values: [JSONValue] = [
        .null, true, false, 0, 1, -1, 2, 10, 11, 100, 2490, .int(Int64.max), .int(Int64.min), .int(Int64.max / 2),
        1.5, 1.0, -0.0, 1e300, "", "x", "S001", "a b", "æøå", "NOK", "nok", "XYZ", "HRK", "EUR",
        "purchase", "return", "survey", "points.accrued", "Purchase", "purchse", "a.b",
        "2026-11-23T10:00:00.000Z", "2026-02-29T10:00:00Z", "2026-11-23T10:00:00+01:00", "yesterday",
        "tab\there", "del\u{7F}", "c1\u{85}", "quote\"back\\slash", "😀", .string(String(repeating: "a", count: 128)),
        .string(String(repeating: "a", count: 129)), .string(String(repeating: "ø", count: 65)),
        [], [1], ["x"], [:], ["serviceLevel": 3], ["speed": 1], ["expectations": 11], ["nested": [nil, [1, 2]]],
        [["sku": "A", "category": "c", "quantity": 1, "unitPrice": 5]],
        [["sku": "A", "quantity": 1, "unitPrice": 5]],
    ]
    static let extraKeys = ["qty", "custmerId", "evntId", "loyaltyTier", "Total", "", "seq", "v", "payload"]

    static let fieldNames: [String] = Array(Set(
        EventCodec.envelopeFields + EventCodec.purchaseFields + EventCodec.purchaseLineFields + EventCodec.returnFields
            + EventCodec.surveyFields + Survey.driverNames + extraKeys))

    @Test func fastPathAgreesWithTreeDecoder() {
        var rng = SplitMix64(state: 20_261_124)
        var fastHits = 0
        var fallbackAccepted = 0
        var rejected = 0
        for round in 0..<20_000 {
            let (bytes, limits) = Self.input(round, &rng)
            let fast = bytes.withUnsafeBytes { _FastEventDecoder.decode($0, limits: limits) }
            let reference = Self.reference(bytes, limits)
            let combined = Self.outcome { () throws(EventValidationError) in try EventCodec.decode(bytes, limits: limits) }
            #expect(combined == reference, "round \(round): \(String(decoding: bytes, as: UTF8.self))")
            if let fast {
                fastHits += 1
                #expect(reference == .success(fast), "round \(round): \(String(decoding: bytes, as: UTF8.self))")
                #expect(Self.outcome { () throws(EventValidationError) in try EventCodec.decode(EventCodec.encode(fast)) } == .success(fast))
            } else if case .success = reference {
                fallbackAccepted += 1
            } else {
                rejected += 1
            }
        }
        print("DifferentialTests: fast path \(fastHits), accepted after fallback \(fallbackAccepted), rejected \(rejected)")
        // Not vacuous: both accepted and rejected inputs, and most accepted ones on the fast path.
        #expect(fastHits > 2_000, "fast \(fastHits), fallback accepted \(fallbackAccepted), rejected \(rejected)")
        #expect(rejected > 5_000, "fast \(fastHits), fallback accepted \(fallbackAccepted), rejected \(rejected)")
    }

    @Test func everyValidSeedTakesTheFastPath() throws {
        for seed in Self.validSeeds {
            let reference = try Self.reference(seed, .default).get()
            let text = String(decoding: seed, as: UTF8.self)
            let fast = seed.withUnsafeBytes { _FastEventDecoder.decode($0, limits: .default) }
            if text.contains("\\u0074otal") {
                #expect(fast == nil, "escaped keys are left to the tree decoder")
            } else {
                #expect(fast == reference, "\(text)")
            }
        }
    }

    /// The tree-based reference decoder's answer.
    static func reference(_ bytes: [UInt8], _ limits: EventLimits) -> Result<EventEnvelope, EventValidationError> {
        bytes.withUnsafeBytes { buf -> Result<EventEnvelope, EventValidationError> in
            do throws(EventValidationError) {
                return .success(try EventCodec.decodeTree(buf, limits: limits))
            } catch {
                return .failure(error)
            }
        }
    }

    static func outcome(_ f: () throws(EventValidationError) -> EventEnvelope) -> Result<EventEnvelope, EventValidationError> {
        do { return .success(try f()) } catch { return .failure(error) }
    }

    /// One seeded input: byte-level fuzz (as in `FuzzTests`), structured field mutations,
    /// whitespace and key-order variations, or raw random bytes; sometimes with tight limits.
    static func input(_ round: Int, _ rng: inout SplitMix64) -> ([UInt8], EventLimits) {
        var limits = EventLimits.default
        if rng.below(10) == 0 { limits = EventLimits(maxBytes: 300 + rng.below(300), maxLines: rng.below(4)) }
        var bytes: [UInt8]
        switch round % 10 {
        case 0:
            let n = rng.below(200)
            let alphabet = Array("{}[]\":,.-+eE0123456789 abtrufnlsvu\\".utf8)
            bytes = (0..<n).map { _ in rng.below(3) == 0 ? UInt8(truncatingIfNeeded: rng.next()) : alphabet[rng.below(alphabet.count)] }
        case 1, 2, 3:
            bytes = FuzzTests.byteMutation(validSeeds[rng.below(validSeeds.count)], &rng)
        case 4, 5, 6, 7:
            bytes = structuredMutation(validSeeds[rng.below(validSeeds.count)], &rng)
            if rng.below(4) == 0 { bytes = FuzzTests.byteMutation(bytes, &rng) }
        case 8:
            bytes = validSeeds[rng.below(validSeeds.count)]
            if rng.below(3) == 0 { bytes = structuredMutation(bytes, &rng) }
            for _ in 0...rng.below(2) { bytes = nudgeNumber(bytes, &rng) }
        default:
            bytes = validSeeds[rng.below(validSeeds.count)]
        }
        if rng.below(3) == 0 { bytes = addWhitespace(bytes, &rng) }
        return (bytes, limits)
    }

    /// Replaces one integer literal by a neighbour (n ± 1), 0, -n or -0, to probe the boundaries
    /// of the numeric rules (margin ≤ unitPrice, discount ≤ sum, total = sum − discount, nps ≤ 10...).
    static func nudgeNumber(_ bytes: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        guard !bytes.isEmpty else { return bytes }
        var at = rng.below(bytes.count)
        let isDigit = { (c: UInt8) in c >= 0x30 && c <= 0x39 }
        while at < bytes.count && !isDigit(bytes[at]) { at += 1 }
        guard at < bytes.count else { return bytes }
        var start = at
        while start > 0 && isDigit(bytes[start - 1]) { start -= 1 }
        if start > 0 && bytes[start - 1] == 0x2D { start -= 1 }
        var end = at
        while end < bytes.count && isDigit(bytes[end]) { end += 1 }
        guard let n = Int64(String(decoding: bytes[start..<end], as: UTF8.self)) else { return bytes }
        let replacement: String
        switch rng.below(5) {
        case 0: replacement = String(n &+ 1)
        case 1: replacement = String(n &- 1)
        case 2: replacement = "0"
        case 3: replacement = "-0"
        default: replacement = String(0 &- n)
        }
        var out = bytes
        out.replaceSubrange(start..<end, with: Array(replacement.utf8))
        return out
    }

    /// Sets, removes or adds fields in the envelope, the payload, a line or the drivers, and
    /// sometimes reorders keys, then serialises again.
    static func structuredMutation(_ seed: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        guard case .object(var env)? = try? JSONParser.parse(seed) else { return seed }
        for _ in 0..<(1 + rng.below(2)) {
            let key = fieldNames[rng.below(fieldNames.count)]
            let value: JSONValue? = rng.below(6) == 0 ? nil : values[rng.below(values.count)]
            switch rng.below(4) {
            case 0: env[key] = value
            case 1:
                guard case .object(var p)? = env["payload"] else { break }
                p[key] = relative(p, &rng) ?? value
                env["payload"] = .object(p)
            case 2:
                guard case .object(var p)? = env["payload"], case .array(var lines)? = p["lines"], !lines.isEmpty,
                    case .object(var line) = lines[lines.count - 1]
                else { break }
                line[key] = relative(line, &rng) ?? value
                if rng.below(4) == 0 { lines.append(.object(line)) } else { lines[lines.count - 1] = .object(line) }
                p["lines"] = .array(lines)
                env["payload"] = .object(p)
            default:
                guard case .object(var p)? = env["payload"], case .object(var d)? = p["drivers"] else { break }
                d[key] = value
                p["drivers"] = .object(d)
                env["payload"] = .object(p)
            }
        }
        if rng.below(4) == 0 { env = shuffled(env, &rng) }
        return JSONWriter.serialize(.object(env))
    }

    /// Half of the time, another integer of the same object ± 1 (e.g. margin = unitPrice + 1).
    static func relative(_ o: JSONObject, _ rng: inout SplitMix64) -> JSONValue? {
        let ints = o.values.compactMap { v -> Int64? in if case .int(let n) = v { return n } else { return nil } }
        guard !ints.isEmpty, rng.below(2) == 0 else { return nil }
        return .int(ints[rng.below(ints.count)] &+ Int64(rng.below(3) - 1))
    }

    static func shuffled(_ o: JSONObject, _ rng: inout SplitMix64) -> JSONObject {
        var pairs = o.pairs.map { ($0.key, $0.value) }
        for k in stride(from: pairs.count - 1, to: 0, by: -1) { pairs.swapAt(k, rng.below(k + 1)) }
        return JSONObject(pairs)
    }

    /// Inserts JSON whitespace around structural characters (never inside strings).
    static func addWhitespace(_ bytes: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        let ws: [UInt8] = [0x20, 0x0A, 0x0D, 0x09]
        var out: [UInt8] = rng.below(2) == 0 ? [ws[rng.below(4)]] : []
        var inString = false
        var escaped = false
        for c in bytes {
            let structural = c == 0x2C || c == 0x3A || c == 0x7B || c == 0x5B || c == 0x7D || c == 0x5D
            if !inString && structural && rng.below(4) == 0 { out.append(ws[rng.below(4)]) }
            out.append(c)
            if inString {
                if escaped { escaped = false } else if c == 0x5C { escaped = true } else if c == 0x22 { inString = false }
            } else if c == 0x22 {
                inString = true
            } else if structural && rng.below(3) == 0 {
                for _ in 0...rng.below(2) { out.append(ws[rng.below(4)]) }
            }
        }
        if rng.below(2) == 0 { out.append(ws[rng.below(4)]) }
        return out
    }
}
