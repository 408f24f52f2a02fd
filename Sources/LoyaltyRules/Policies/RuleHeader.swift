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

/// Picks, among rules that apply, those that take effect: all rules without a group, and the
/// highest-priority rule of each group. `rules` must be sorted by priority, highest first.
struct GroupGate {
    private var taken: [String] = []

    mutating func admit(_ header: RuleHeader) -> Bool {
        guard let group = header.group else { return true }
        if taken.contains(group) { return false }
        taken.append(group)
        return true
    }
}

extension Array {
    /// Stable sort by priority, highest first; equal priorities keep file order.
    func sortedByPriority(_ header: (Element) -> RuleHeader) -> [Element] {
        enumerated().sorted { a, b in
            let pa = header(a.element).priority, pb = header(b.element).priority
            return pa != pb ? pa > pb : a.offset < b.offset
        }.map(\.element)
    }
}
