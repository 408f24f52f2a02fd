/// What a conjunction of atoms allows one field to be.
struct FieldConstraint {
    var lower = -Double.infinity
    var lowerInclusive = true
    var upper = Double.infinity
    var upperInclusive = true
    /// Nil: any value within the bounds.
    var allowed: Set<Constant>?
    var excluded: Set<Constant> = []

    func admits(_ value: Constant) -> Bool {
        if excluded.contains(value) { return false }
        if let allowed, !allowed.contains(value) { return false }
        if case .numeric(let n) = value {
            if n < lower || (n == lower && !lowerInclusive) { return false }
            if n > upper || (n == upper && !upperInclusive) { return false }
        }
        return true
    }

    var isEmpty: Bool {
        if let allowed { return !allowed.contains(where: admits) }
        if lower > upper { return true }
        if lower == upper {
            if !(lowerInclusive && upperInclusive) { return true }
            return excluded.contains(.numeric(lower))
        }
        return false
    }

    mutating func add(_ atom: Atom) {
        guard let first = atom.values.first else { return }
        switch atom.relation {
        case .equal: restrict(to: [first])
        case .member: restrict(to: Set(atom.values))
        case .notEqual: excluded.insert(first)
        case .notMember: excluded.formUnion(atom.values)
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            guard case .numeric(let n) = first else { return }
            switch atom.relation {
            case .less: if n < upper || (n == upper && upperInclusive) { upper = n; upperInclusive = false }
            case .lessOrEqual: if n < upper { upper = n; upperInclusive = true }
            case .greater: if n > lower || (n == lower && lowerInclusive) { lower = n; lowerInclusive = false }
            default: if n > lower { lower = n; lowerInclusive = true }
            }
        }
    }

    private mutating func restrict(to values: Set<Constant>) {
        allowed = allowed.map { $0.intersection(values) } ?? values
    }

    /// True when every value this constraint admits satisfies `atom`.
    func implies(_ atom: Atom) -> Bool {
        if let allowed {
            let admitted = allowed.filter(admits)
            return admitted.allSatisfy { FieldConstraint.satisfies($0, atom) }
        }
        guard let first = atom.values.first else { return false }
        switch atom.relation {
        case .greaterOrEqual:
            guard case .numeric(let c) = first else { return false }
            return lower >= c
        case .greater:
            guard case .numeric(let c) = first else { return false }
            return lower > c || (lower == c && !lowerInclusive)
        case .lessOrEqual:
            guard case .numeric(let c) = first else { return false }
            return upper <= c
        case .less:
            guard case .numeric(let c) = first else { return false }
            return upper < c || (upper == c && !upperInclusive)
        case .equal:
            guard case .numeric(let c) = first else { return false }
            return lower == c && upper == c && lowerInclusive && upperInclusive
        case .notEqual, .notMember:
            return atom.values.allSatisfy { !admits($0) }
        case .member:
            guard lower == upper, lowerInclusive, upperInclusive else { return false }
            return atom.values.contains(.numeric(lower))
        }
    }

    static func satisfies(_ value: Constant, _ atom: Atom) -> Bool {
        var single = FieldConstraint()
        single.add(atom)
        return single.admits(value)
    }
}

/// A condition's clauses, as per-field constraints plus the clauses kept as text.
struct ConstraintSet {
    var fields: [String: FieldConstraint] = [:]
    var opaque: Set<String> = []
    var neverTrue: Bool

    init(_ shape: ConditionShape) {
        neverTrue = shape.neverTrue
        for clause in shape.clauses {
            switch clause {
            case .atom(let atom): fields[atom.subject, default: FieldConstraint()].add(atom)
            case .opaque(let text): opaque.insert(text)
            }
        }
    }

    var isSatisfiable: Bool { !neverTrue && !fields.values.contains(where: \.isEmpty) }

    /// True when whenever this holds, `other` holds too.
    func implies(_ other: ConditionShape) -> Bool {
        if other.neverTrue { return false }
        for clause in other.clauses {
            switch clause {
            case .opaque(let text):
                if !opaque.contains(text) { return false }
            case .atom(let atom):
                guard let constraint = fields[atom.subject], constraint.implies(atom) else { return false }
            }
        }
        return true
    }

    /// True when both can hold at once (as far as the analysis can tell).
    func overlaps(_ other: ConditionShape) -> Bool {
        var both = self
        both.neverTrue = neverTrue || other.neverTrue
        for clause in other.clauses {
            if case .atom(let atom) = clause { both.fields[atom.subject, default: FieldConstraint()].add(atom) }
        }
        return both.isSatisfiable
    }
}

extension LoadContext {
    /// Warns about rules that can never apply, rules a higher-priority rule of their group always
    /// pre-empts, ties in a group, and tier levels no customer can reach. Mixing kinds of rules in
    /// one group is an error (a multiplier cannot pre-empt a bonus).
    mutating func analyse() {
        for rule in analysed {
            let constraints = ConstraintSet(rule.shape)
            if !constraints.isSatisfiable {
                warn(rule, "rule '\(rule.header.id)' can never apply: its conditions contradict each other")
            }
        }
        // Groups, per section.
        var groups: [String: [AnalysedRule]] = [:]
        for rule in analysed where rule.section != "tiers" {
            guard let group = rule.header.group else { continue }
            groups["\(rule.section)/\(group)", default: []].append(rule)
        }
        for key in groups.keys.sorted() {
            let members = groups[key]!.sortedByPriority(\.header)
            let kinds = Set(members.map(\.kind))
            if kinds.count > 1, let first = members.first {
                let rule = members.first { $0.kind != first.kind }!
                diagnostics.append(RuleDiagnostic(file: rule.header.file, line: rule.header.line, column: rule.header.column,
                                                  length: rule.header.id.count,
                                                  message: "group '\(rule.header.group!)' mixes \(kinds.sorted().joined(separator: " and ")) rules",
                                                  suggestion: "a group holds rules of one kind, one of which applies; use another group name",
                                                  sourceLine: texts[rule.header.file]?.line(rule.header.line), ruleId: rule.header.id))
                continue
            }
            for (i, lower) in members.enumerated() {
                let lowerConstraints = ConstraintSet(lower.shape)
                guard lowerConstraints.isSatisfiable else { continue }
                for higher in members[..<i] {
                    if higher.header.priority > lower.header.priority, lowerConstraints.implies(higher.shape) {
                        warn(lower, "rule '\(lower.header.id)' never takes effect: '\(higher.header.id)' (priority \(higher.header.priority), same group '\(lower.header.group!)') applies whenever it does",
                             suggestion: "give '\(lower.header.id)' a higher priority, or narrow '\(higher.header.id)'")
                        break
                    }
                    if higher.header.priority == lower.header.priority, lowerConstraints.overlaps(higher.shape) {
                        warn(lower, "rules '\(higher.header.id)' and '\(lower.header.id)' have the same priority (\(lower.header.priority)) in group '\(lower.header.group!)' and can apply to the same purchase; the one written first wins",
                             suggestion: "give the one that should win a higher priority")
                        break
                    }
                }
            }
        }
        // Tiers: a level is unreachable if a higher level's condition holds whenever its own does.
        let levels = analysed.filter { $0.section == "tiers" }
        for (i, level) in levels.enumerated() {
            let constraints = ConstraintSet(level.shape)
            guard constraints.isSatisfiable else { continue }
            if let higher = levels[(i + 1)...].first(where: { constraints.implies($0.shape) }) {
                warn(level, "tier '\(level.header.id)' is never reached: whenever its condition holds, so does that of the higher tier '\(higher.header.id)'",
                     suggestion: "tiers are listed lowest first; check the thresholds")
            }
        }
    }

    private mutating func warn(_ rule: AnalysedRule, _ message: String, suggestion: String? = nil) {
        diagnostics.append(RuleDiagnostic(severity: .warning, file: rule.header.file, line: rule.header.line,
                                          column: rule.header.column, length: rule.header.id.count, message: message,
                                          suggestion: suggestion, sourceLine: texts[rule.header.file]?.line(rule.header.line),
                                          ruleId: rule.header.id))
    }
}
