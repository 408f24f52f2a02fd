import CFuzzDriver
import Foundation
import LoyaltyRules

/// libFuzzer entry point for the rule files: the first byte picks how the rest is used —
/// a whole rule file (YAML, sections, expressions), or an expression placed in an earning
/// rule's `when:` / `points:` (reaching the lexer, parser, type checker and compiler directly).
/// Loading must never crash: every problem is a diagnostic.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRules(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    guard count > 0, let data else { return 0 }
    let mode = data[0]
    let text = String(decoding: UnsafeBufferPointer(start: data + 1, count: count - 1), as: UTF8.self)
    let source: String
    switch mode % 3 {
    case 0:
        source = text
    case 1:
        let expression = text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ")
        source = "earning:\n  rules:\n    - id: fuzz\n      when: \(expression)\n      points: 10\n"
    default:
        let expression = text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ")
        source = "earning:\n  rules:\n    - id: fuzz\n      points: \(expression)\n"
    }
    _ = RuleLoader.load(sources: [(name: "fuzz.yaml", text: source)])
    return 0
}

@main struct FuzzRulesMain {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzRules(data, size) })
    }
}
