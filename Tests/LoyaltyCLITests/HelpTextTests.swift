import ArgumentParser
import Testing
@testable import LoyaltyCLI

/// The help screens are read at 80 columns. argument-parser re-wraps every hard line of a
/// `discussion` on its own, so a prose paragraph broken by hand comes out ragged (a full line,
/// then a stub of two words, then a full line...), and an example longer than the screen is
/// broken in the middle of a command. These tests walk the whole command tree.
@Suite struct HelpTextTests {
    /// Every command under `loyalty`, with its path for messages ("loyalty rules simulate").
    static func allCommands() -> [(path: String, type: any ParsableCommand.Type)] {
        var found: [(path: String, type: any ParsableCommand.Type)] = []
        func walk(_ type: any ParsableCommand.Type, path: String) {
            found.append((path, type))
            for sub in type.configuration.subcommands {
                walk(sub, path: path + " " + sub._commandName)
            }
        }
        walk(Loyalty.self, path: "loyalty")
        return found
    }

    /// The single line breaks of `text` that are not intentional, as "line⏎next line".
    ///
    /// A break between two non-blank lines is intentional when the next line is indented by two
    /// spaces or more (an example, a table row or its continuation), starts a list item (`- `,
    /// `* `, `• `, `1. `, `1) `), or the line ends with `:` (a heading such as "Examples:").
    /// Any other break cuts a prose paragraph by hand; paragraphs are separated by a blank line.
    static func raggedBreaks(in text: String) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var ragged: [String] = []
        for (line, next) in zip(lines, lines.dropFirst()) {
            if line.allSatisfy(\.isWhitespace) || next.allSatisfy(\.isWhitespace) { continue }
            if next.hasPrefix("  ") || startsListItem(next) { continue }
            if line.reversed().drop(while: \.isWhitespace).first == ":" { continue }
            ragged.append("\(line)⏎\(next)")
        }
        return ragged
    }

    static func startsListItem(_ line: Substring) -> Bool {
        if line.hasPrefix("- ") || line.hasPrefix("* ") || line.hasPrefix("• ") { return true }
        let afterDigits = line.drop(while: \.isNumber)
        return afterDigits.count < line.count && (afterDigits.hasPrefix(". ") || afterDigits.hasPrefix(") "))
    }

    @Test func ruleFlagsHandBrokenProseAndAcceptsExamplesListsAndHeadings() {
        let ragged = """
            In a temporary folder: starts `loyalty bus` and the `discount-campaigns` plugin as processes (as
            `loyalty up` would) with a rule file of 24 campaigns. Build with -c release:
              swift build -c release
            """
        #expect(Self.raggedBreaks(in: ragged) == [
            "In a temporary folder: starts `loyalty bus` and the `discount-campaigns` plugin as processes (as"
                + "⏎`loyalty up` would) with a rule file of 24 campaigns. Build with -c release:",
        ])
        let afterExample = """
            Start everything:
              loyalty up
            Then, in another terminal, look:
              loyalty status
            """
        #expect(Self.raggedBreaks(in: afterExample) == ["  loyalty up⏎Then, in another terminal, look:"])
        let fine = """
            One paragraph on a single logical line, however long it is.

            Steps:
            1. first
            2) second
            - a dash item
            • a bullet item
              loyalty up \\
                  --dashboard
            """
        #expect(Self.raggedBreaks(in: fine).isEmpty)
    }

    @Test func discussionsBreakLinesOnlyForExamplesListsAndHeadings() {
        let commands = Self.allCommands()
        #expect(commands.count > 20, "the walk should reach every subcommand")
        for (path, type) in commands {
            let ragged = Self.raggedBreaks(in: type.configuration.discussion)
            #expect(ragged.isEmpty, """
                `\(path)`: prose broken by hand in its discussion (end the source line with `\\` to \
                continue the paragraph, or separate paragraphs with a blank line): \(ragged)
                """)
        }
    }

    /// An indented discussion line (an example, a table row) must come out whole in the help at
    /// 80 columns: argument-parser breaks any line that does not fit, mid-command.
    @Test func examplesFitIn80Columns() {
        for (path, type) in Self.allCommands() {
            let help = Loyalty.helpMessage(for: type, columns: 80)
            let rendered = Set(help.split(separator: "\n", omittingEmptySubsequences: false))
            let examples = type.configuration.discussion.split(separator: "\n")
                .filter { $0.hasPrefix("  ") && !$0.allSatisfy(\.isWhitespace) }
            for example in examples {
                let comesOutWhole = rendered.contains(example)
                #expect(comesOutWhole, """
                    `\(path) --help` at 80 columns breaks the example line '\(example)' \
                    (\(example.count) characters; at most 79 fit): split it with a shell `\\` continuation
                    """)
            }
        }
    }
}
