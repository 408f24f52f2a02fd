/// What every rule has: an id that effects record, a priority, an optional exclusive group.
public struct RuleHeader: Sendable, Equatable {
    public var id: String
    public var description: String?
    /// Higher runs first. Within a `group`, only the highest-priority rule that applies takes effect.
    public var priority: Int
    /// Rules sharing a group exclude each other: the first that applies (by priority) wins.
    public var group: String?
    /// Where the rule is written, for messages.
    public var file: String
    public var line: Int
    /// Column of the id, for messages.
    public var column: Int

    public init(id: String, description: String? = nil, priority: Int = 0, group: String? = nil, file: String = "", line: Int = 0,
                column: Int = 1) {
        self.id = id
        self.description = description
        self.priority = priority
        self.group = group
        self.file = file
        self.line = line
        self.column = column
    }
}

/// Numbers each rule's `group` for `GroupGate`: -1 for none, otherwise the position of the
/// group's name in order of first appearance. Rules with the same group get the same number.
func groupNumbers(_ headers: [RuleHeader]) -> [Int] {
    var numbers: [String: Int] = [:]
    return headers.map { header in
        guard let group = header.group else { return -1 }
        if let number = numbers[group] { return number }
        numbers[group] = numbers.count
        return numbers.count - 1
    }
}

/// Picks, among rules that apply, those that take effect: all rules without a group, and the
/// highest-priority rule of each group. Rules must be offered sorted by priority, highest first.
/// Groups are numbered (`groupNumbers`), so admitting a rule allocates nothing for up to 64 groups.
struct GroupGate {
    private var low: UInt64 = 0
    private var high: [Int] = []

    /// True when a rule of `group` would be refused: another rule of its group took effect.
    /// Policies check it before evaluating a grouped rule's condition, which cannot change the
    /// outcome (conditions have no effects), only save the work.
    @inline(__always) func isTaken(_ group: Int) -> Bool {
        if group < 0 { return false }
        if group < 64 { return low & (UInt64(1) << UInt64(group)) != 0 }
        return high.contains(group)
    }

    /// `group` is the rule's group number, -1 for none.
    @inline(__always) mutating func admit(_ group: Int) -> Bool {
        if group < 0 { return true }
        if group < 64 {
            let bit = UInt64(1) << UInt64(group)
            if low & bit != 0 { return false }
            low |= bit
            return true
        }
        if high.contains(group) { return false }
        high.append(group)
        return true
    }
}

extension Array {
    /// `removeAll(keepingCapacity: true)`, without the call when there is nothing to remove: that
    /// call (a generic `replaceSubrange` and a uniqueness check, about 60 instructions) was made
    /// for several usually empty buffers per purchase.
    @inline(__always) mutating func empty() {
        if !isEmpty { removeAll(keepingCapacity: true) }
    }

    /// Stable sort by priority, highest first; equal priorities keep file order.
    func sortedByPriority(_ header: (Element) -> RuleHeader) -> [Element] {
        enumerated().sorted { a, b in
            let pa = header(a.element).priority, pb = header(b.element).priority
            return pa != pb ? pa > pb : a.offset < b.offset
        }.map(\.element)
    }
}

/// One rule's compiled code as evaluation loops call it. A final class with constant, non-optional
/// closures, reached through `RuleCodes` without retaining it: a closure read from an array (or
/// an optional) is retained and released around every call, which cost more than most
/// conditions themselves.
final class RuleCode: Sendable {
    /// The rule's position in its policy's `rules`.
    let rule: Int
    /// Its group number (`groupNumbers`), -1 for none.
    let group: Int
    let hasWhen: Bool
    let when: BoolCode
    let hasLines: Bool
    let lines: BoolCode
    /// Set when the amount is a constant: then `amount` need not be called.
    let isConstant: Bool
    let constant: Double
    /// For a constant amount: whether it is one a multiplier applies (finite, not negative, not
    /// 1), worked out once rather than per purchase.
    let constantIsFactor: Bool
    let amount: NumberCode

    init(rule: Int, group: Int, when: CompiledCondition?, lines: CompiledCondition? = nil, amount: CompiledAmount? = nil) {
        self.rule = rule
        self.group = group
        let always: BoolCode = { _ in true }
        let zero: NumberCode = { _ in 0 }
        hasWhen = when != nil
        self.when = if let when { when.code } else { always }
        hasLines = lines != nil
        self.lines = if let lines { lines.code } else { always }
        isConstant = amount?.constant != nil
        constant = amount?.constant ?? 0
        constantIsFactor = constant.isFinite && constant >= 0 && constant != 1
        self.amount = if let amount { amount.code } else { zero }
    }

    /// The rule's `when:` holds (or it has none).
    @inline(__always) func applies(_ facts: Facts) -> Bool { !hasWhen || when(facts) }

    @inline(__always) func value(_ facts: Facts) -> Double { isConstant ? constant : amount(facts) }
}

/// Rules' code in order; `forEach` hands each to its body without retaining it.
struct RuleCodes: Sendable {
    /// Keeps the codes alive; `references` points at the same objects.
    private let codes: [RuleCode]
    private let references: [Unmanaged<RuleCode>]

    init(_ codes: [RuleCode]) {
        self.codes = codes
        references = codes.map { Unmanaged.passUnretained($0) }
    }

    var count: Int { codes.count }

    @inline(__always) func forEach(_ body: (RuleCode) -> Void) {
        withExtendedLifetime(codes) {
            references.withUnsafeBufferPointer { references in
                for reference in references { reference._withUnsafeGuaranteedRef(body) }
            }
        }
    }
}
