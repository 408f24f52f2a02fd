/// Compiled code: closures built once when a rule file is loaded, called per event.
/// They capture only constants and other compiled closures, so they are `Sendable`.
public typealias BoolCode = @Sendable (Facts) -> Bool
public typealias NumberCode = @Sendable (Facts) -> Double
public typealias StringCode = @Sendable (Facts) -> String

/// A constant known at load time (literals and what folds from them).
public enum Constant: Sendable, Hashable {
    case bool(Bool)
    /// Numbers, money (minor units), durations (seconds), dates (day numbers), times (minutes).
    case numeric(Double)
    case string(String)
}

/// One comparison of a field with constants: `purchase.total >= 20000` (minor units),
/// `clock.weekday in [saturday, sunday]`. The shadowing analysis reasons over these.
public struct Atom: Sendable, Hashable {
    public enum Relation: String, Sendable {
        case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
        case member = "in", notMember = "not in"
    }

    /// The field as written canonically, e.g. `customer.visits(days: 30)`.
    public var subject: String
    public var relation: Relation
    public var values: [Constant]
}

/// A condition as a conjunction of clauses, for the shadowing analysis. Clauses the analysis
/// cannot reason about are kept as canonical text, so that equal text still counts as equal.
public struct ConditionShape: Sendable, Hashable {
    public enum Clause: Sendable, Hashable {
        case atom(Atom)
        case opaque(String)
    }

    public var clauses: [Clause]
    /// True when the condition folded to `false`.
    public var neverTrue: Bool

    public static let always = ConditionShape(clauses: [], neverTrue: false)
    public static let never = ConditionShape(clauses: [], neverTrue: true)
}

/// A compiled condition (`when:`, `lines:`).
public struct CompiledCondition: Sendable {
    public let text: String
    public let shape: ConditionShape
    public let usage: ExpressionUsage
    let code: BoolCode

    @inline(__always) public func evaluate(_ facts: Facts) -> Bool { code(facts) }
}

/// A compiled amount (`points:`, `multiplier:`, `discount:`): a number, or money in minor units.
public struct CompiledAmount: Sendable {
    public let text: String
    public let type: ValueType
    public let usage: ExpressionUsage
    /// Set when the amount is a constant.
    public let constant: Double?
    let code: NumberCode

    @inline(__always) public func evaluate(_ facts: Facts) -> Double { code(facts) }
}
