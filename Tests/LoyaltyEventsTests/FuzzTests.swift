import Testing
@testable import LoyaltyEvents

/// SplitMix64: deterministic, so failures reproduce.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

@Suite struct FuzzTests {
    static let seeds: [[UInt8]] = [Fixtures.purchase, Fixtures.returnEvent, Fixtures.survey, Fixtures.derived]
        .map { Array($0.utf8) }
    static let interesting: [[UInt8]] = [
        "\"", "\\", "\\u", "\\ud83d", "{", "}", "[", "]", ",", ":", "-", "0", "1e999", "9223372036854775808",
        "null", "true", "\u{FF}", "é", "😀", "\"qty\":", "\"v\":2,", "-1", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    ].map { Array($0.utf8) }

    @Test func decoderNeverCrashes() {
        var rng = SplitMix64(state: 20_261_123)
        var accepted = 0
        var rejectedByCode: [EventValidationError.Code: Int] = [:]
        for round in 0..<10_000 {
            var bytes: [UInt8]
            if round % 5 == 0 {
                // Pure random bytes, biased towards JSON punctuation.
                let n = rng.below(200)
                let alphabet = Array("{}[]\":,.-+eE0123456789 abtrufnlsvu\\".utf8)
                bytes = (0..<n).map { _ in rng.below(3) == 0 ? UInt8(truncatingIfNeeded: rng.next()) : alphabet[rng.below(alphabet.count)] }
            } else {
                bytes = Self.byteMutation(Self.seeds[rng.below(Self.seeds.count)], &rng)
            }
            do {
                let e = try EventCodec.decode(bytes)
                accepted += 1
                // Anything accepted must survive a round trip.
                #expect(try EventCodec.decode(EventCodec.encode(e)) == e)
            } catch {
                rejectedByCode[error.code, default: 0] += 1
                #expect(!error.description.isEmpty)
            }
        }
        #expect(accepted + rejectedByCode.values.reduce(0, +) == 10_000)
        #expect(accepted > 0)
    }

    /// One to four random edits of a valid message: byte changes, deletions, insertions of
    /// JSON fragments, cut runs, digit flips.
    static func byteMutation(_ seed: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = seed
        for _ in 0..<(1 + rng.below(4)) {
            guard !bytes.isEmpty else { break }
            let at = rng.below(bytes.count)
            switch rng.below(6) {
            case 0: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
            case 1: bytes.remove(at: at)
            case 2: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
            case 3: bytes.insert(contentsOf: Self.interesting[rng.below(Self.interesting.count)], at: at)
            case 4: bytes.removeSubrange(at..<min(bytes.count, at + rng.below(20)))
            default:
                // Flip a digit to stress the numeric rules.
                if bytes[at] >= 0x30 && bytes[at] <= 0x39 { bytes[at] = 0x30 + UInt8(rng.below(10)) }
            }
        }
        return bytes
    }
}
