import Yams

/// A rule file's text, for mapping YAML nodes and expression spans back to lines and columns.
struct SourceText {
    let name: String
    let lines: [String]

    init(name: String, text: String) {
        self.name = name
        lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        }
    }

    func line(_ number: Int?) -> String? {
        guard let number, number >= 1, number <= lines.count else { return nil }
        return lines[number - 1]
    }

    /// A diagnostic at a YAML node (its first character).
    func diagnostic(_ message: String, at node: Node?, length: Int? = nil, suggestion: String? = nil,
                    severity: RuleDiagnostic.Severity = .error, ruleId: String? = nil) -> RuleDiagnostic {
        let mark = node?.mark
        var span = length ?? 1
        if length == nil, let node, case .scalar(let scalar) = node, !scalar.string.contains("\n") {
            span = scalar.string.unicodeScalars.count + (scalar.style == .singleQuoted || scalar.style == .doubleQuoted ? 2 : 0)
        }
        return RuleDiagnostic(severity: severity, file: name, line: mark?.line, column: mark?.column, length: span,
                              message: message, suggestion: suggestion, sourceLine: line(mark?.line), ruleId: ruleId)
    }

    /// A diagnostic for an error inside an expression written in `node`.
    func diagnostic(_ error: ExpressionError, in node: Node, ruleId: String?) -> RuleDiagnostic {
        guard let mark = node.mark, case .scalar(let scalar) = node else {
            return diagnostic(error.message, at: node, suggestion: error.suggestion, ruleId: ruleId)
        }
        let (line, column) = position(of: error.span.start, in: scalar, startingAt: (mark.line, mark.column))
        let length: Int
        if let text = self.line(line) {
            length = min(error.span.end - error.span.start, max(1, text.unicodeScalars.count - column + 1))
        } else {
            length = error.span.end - error.span.start
        }
        return RuleDiagnostic(file: name, line: line, column: column, length: length, message: error.message,
                              suggestion: error.suggestion, sourceLine: self.line(line), ruleId: ruleId)
    }

    /// Walks the source from the scalar's start, matching its value character by character, to
    /// find where the value's `offset`-th character is written. Handles quotes, escapes, and
    /// values folded over several lines.
    func position(of offset: Int, in scalar: Node.Scalar, startingAt start: (line: Int, column: Int)) -> (line: Int, column: Int) {
        var line = start.line
        var column = start.column
        let value = Array(scalar.string.unicodeScalars)
        var source = self.line(line).map { Array($0.unicodeScalars) } ?? []

        func current() -> Unicode.Scalar? { column - 1 < source.count ? source[column - 1] : nil }
        func nextLine() -> Bool {
            guard line < lines.count else { return false }
            line += 1
            source = Array(lines[line - 1].unicodeScalars)
            column = 1
            while let s = current(), s == " " || s == "\t" { column += 1 }
            return true
        }

        switch scalar.style {
        case .singleQuoted, .doubleQuoted:
            column += 1
        case .literal, .folded:
            // The value starts on the line after the `|` or `>` header.
            guard nextLine() else { return (line, column) }
        default:
            break
        }
        var index = 0
        while index < offset && index < value.count {
            guard let s = current() else {
                // The value continues on the next line (a folded newline in the value).
                guard nextLine() else { break }
                if value[index] == " " || value[index] == "\n" { index += 1 }
                continue
            }
            if s == value[index] {
                index += 1
                column += 1
            } else if s == "\\" || s == "'" {
                column += 1 // an escape: the next source character is the value's
            } else {
                column += 1
            }
        }
        if current() == nil, index < value.count, nextLine() {} // the error starts at the next line
        return (line, column)
    }
}
