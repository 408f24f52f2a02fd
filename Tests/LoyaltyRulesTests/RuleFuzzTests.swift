import Foundation
import LoyaltyEvents
import LoyaltyRules
import Testing

/// A deterministic byte-mutation fuzz of rule loading, run by `swift test` (the coverage-guided
/// one is `scripts/fuzz rules`). Loading must never crash: every problem is a diagnostic with a
/// place. Inputs that once crashed a fuzzer go in `regressions`.
@Suite struct RuleFuzzTests {
    /// Crash inputs found by `scripts/fuzz rules`, kept forever (none so far).
    static let regressions: [String] = []

    static var shippedRules: [String] {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/rules").path
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
        return names.compactMap { try? String(contentsOfFile: folder + "/" + $0, encoding: .utf8) }
    }

    struct Mix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    static let fragments = ["(", ")", "and ", "or ", "not ", " NOK", " >= ", "customer.", "purchase.lines.any(", "visits(days: ",
                            "\"", ":", "\n  - ", "    ", "- id: ", "when: ", "points: ", "1e308", "-", "99999999999999999999",
                            "&", "*", "{", "[", "\u{0}", "é", "😀", "\t"]

    @Test func mutatedRuleFilesNeverCrashTheLoader() {
        let seeds = Self.shippedRules
        #expect(!seeds.isEmpty)
        var rng = Mix(state: 20_261_123)
        var loaded = 0, refused = 0
        for text in Self.regressions { _ = RuleLoader.load(sources: [(name: "regression.yaml", text: text)]) }
        for _ in 0..<1200 {
            var bytes = Array(seeds[rng.below(seeds.count)].utf8)
            for _ in 0..<(1 + rng.below(4)) {
                let at = rng.below(bytes.count + 1)
                switch rng.below(4) {
                case 0 where !bytes.isEmpty: bytes.remove(at: min(at, bytes.count - 1))
                case 1: bytes.insert(contentsOf: Array(Self.fragments[rng.below(Self.fragments.count)].utf8), at: at)
                case 2 where !bytes.isEmpty: bytes[min(at, bytes.count - 1)] = UInt8(truncatingIfNeeded: rng.next())
                default:
                    let length = rng.below(40)
                    let from = rng.below(bytes.count + 1)
                    bytes.insert(contentsOf: bytes[from..<min(bytes.count, from + length)], at: at)
                }
            }
            let result = RuleLoader.load(sources: [(name: "fuzz.yaml", text: String(decoding: bytes, as: UTF8.self))])
            if result.book != nil { loaded += 1 } else { refused += 1 }
        }
        // Both outcomes happen, so the mutations reach past the YAML parser.
        #expect(loaded > 0 && refused > 0, "loaded \(loaded), refused \(refused)")
    }
}
