/// A problem found in a rule file: where it is, what is wrong, what to do.
///
/// Printed like a compiler diagnostic, with the offending line and a caret under the mistake:
///
///     config/rules/earning.yaml:14:21: error: customer has no field 'vists'
///         when: customer.vists(days: 30) >= 4
///                        ^~~~~
///         did you mean 'customer.visits'?
public struct RuleDiagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable, Equatable {
        case error, warning
    }

    public var severity: Severity
    public var file: String
    /// 1-based; nil when the problem concerns the whole file.
    public var line: Int?
    /// 1-based, in characters.
    public var column: Int?
    /// How many characters the caret underlines (at least 1).
    public var length: Int
    public var message: String
    public var suggestion: String?
    /// The text of the offending line, for the caret display.
    public var sourceLine: String?
    /// The rule the problem is in, when there is one.
    public var ruleId: String?

    public init(severity: Severity = .error, file: String, line: Int? = nil, column: Int? = nil, length: Int = 1,
                message: String, suggestion: String? = nil, sourceLine: String? = nil, ruleId: String? = nil) {
        self.severity = severity
        self.file = file
        self.line = line
        self.column = column
        self.length = max(1, length)
        self.message = message
        self.suggestion = suggestion
        self.sourceLine = sourceLine
        self.ruleId = ruleId
    }

    /// `file:line:col: error: message — suggestion` on one line.
    public var description: String {
        var text = "\(location): \(severity.rawValue): \(message)"
        if let suggestion { text += " — \(suggestion)" }
        return text
    }

    public var location: String {
        var location = file
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        return location
    }

    /// The diagnostic with the source line and a caret under the offending text.
    public var rendered: String {
        var text = "\(location): \(severity.rawValue): \(message)"
        if let sourceLine, let column {
            let expanded = sourceLine.replacingTabs()
            text += "\n    \(expanded)\n    "
            text += String(repeating: " ", count: max(0, column - 1)) + "^"
            let visible = max(0, min(length, expanded.count - column + 1))
            if visible > 1 { text += String(repeating: "~", count: visible - 1) }
        }
        if let suggestion { text += "\n    \(suggestion)" }
        return text
    }
}

extension String {
    fileprivate func replacingTabs() -> String {
        String(map { $0 == "\t" ? " " : $0 })
    }
}

/// Rule files that failed to load: every problem found, not just the first.
public struct RuleLoadFailure: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [RuleDiagnostic]

    public var errors: [RuleDiagnostic] { diagnostics.filter { $0.severity == .error } }

    public var description: String {
        let errors = self.errors
        let head = "\(errors.count) error\(errors.count == 1 ? "" : "s") in the rule files"
        return ([head] + errors.map(\.description)).joined(separator: "\n")
    }
}
