import ArgumentParser
import Foundation
import LoyaltyConfig
import LoyaltyEvents
import LoyaltyRules

struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Check rule files, and try changed rules on past events before they go live.",
        discussion: """
            Rule files live in config/rules/ (see config/README.md). Running plugins reload them \
            within a second of a change; a file with an error is refused and the running rules \
            stay in force. Check before saving:
              loyalty rules check
              loyalty rules simulate --rules my-draft/ --events var/journal.sqlite
            """,
        subcommands: [RulesCheckCommand.self, RulesSimulateCommand.self]
    )
}

struct RulesCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check rule files: YAML, keys, expressions, types, priorities. Exits 1 on any error.",
        discussion: """
            Every problem is reported with its file, line and column, the line itself and a caret \
            under the mistake. Warnings (a rule another always pre-empts, a condition that can never \
            hold) do not fail the check unless --strict is given.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Rule files or folders (default: the configured rules folder, config/rules).", valueName: "path"))
    var paths: [String] = []

    @Flag(name: .long, help: "Print one JSON object (for editors and CI) instead of text.")
    var json = false

    @Flag(name: .long, help: "Fail on warnings too.")
    var strict = false

    func run() throws {
        let configuration = try global.loadConfiguration()
        let paths = self.paths.isEmpty ? [configuration.rulesDirectory] : self.paths
        let result = RuleLoader.load(paths: paths)
        let readers = Self.readers(configuration)
        let errors = result.errors.count, warnings = result.warnings.count
        let failed = errors > 0 || (strict && warnings > 0)
        if json {
            var report = Self.report(result, failed: failed)
            if case .object(var object) = report, let readers {
                object["readers"] = .object(JSONObject(readers.keys.sorted().map { ($0, .array(readers[$0]!.map { .string($0) })) }))
                report = .object(object)
            }
            print(String(decoding: JSONWriter.serialize(report), as: UTF8.self))
        } else {
            for diagnostic in result.diagnostics { print(diagnostic.rendered + "\n") }
            if let book = result.book {
                let count = book.ruleIds.values.reduce(0) { $0 + $1.count }
                let sections = book.ruleIds.keys.sorted().map { "\($0) \(book.ruleIds[$0]!.count)" }.joined(separator: ", ")
                if let readers {
                    for section in book.ruleIds.keys.sorted() where readers[section, default: []].isEmpty {
                        print("note: no enabled plugin reads '\(section)' yet; those rules take effect once one does")
                    }
                }
                print("\(book.files.count) file\(book.files.count == 1 ? "" : "s"), \(count) rules (\(sections)), version \(book.version): "
                      + "\(errors) errors, \(warnings) warning\(warnings == 1 ? "" : "s")")
            } else {
                print("\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s"): the rules were not loaded")
            }
        }
        if failed { throw ExitCode(1) }
    }

    /// Section → the enabled plugins that read it (from their plugin.yaml `rules:`); nil when the
    /// manifests cannot be read.
    static func readers(_ configuration: LoyaltyConfiguration) -> [String: [String]]? {
        guard let manifests = try? PluginManifest.loadEnabled(configuration) else { return nil }
        var readers: [String: [String]] = [:]
        for manifest in manifests {
            for section in manifest.rules { readers[section, default: []].append(manifest.name) }
        }
        return readers
    }

    static func report(_ result: RuleLoader.Result, failed: Bool) -> JSONValue {
        var object: [(String, JSONValue)] = [("ok", .bool(!failed))]
        if let book = result.book {
            object.append(("version", .string(book.version)))
            object.append(("files", .array(book.files.map { .string($0) })))
            object.append(("rules", .object(JSONObject(book.ruleIds.keys.sorted().map { ($0, .array(book.ruleIds[$0]!.map { .string($0) })) }))))
        }
        object.append(("diagnostics", .array(result.diagnostics.map(json))))
        return .object(JSONObject(object))
    }

    static func json(_ diagnostic: RuleDiagnostic) -> JSONValue {
        var object: [(String, JSONValue)] = [
            ("severity", .string(diagnostic.severity.rawValue)),
            ("file", .string(diagnostic.file)),
        ]
        if let line = diagnostic.line { object.append(("line", .int(Int64(line)))) }
        if let column = diagnostic.column {
            object.append(("column", .int(Int64(column))))
            object.append(("length", .int(Int64(diagnostic.length))))
        }
        object.append(("message", .string(diagnostic.message)))
        if let suggestion = diagnostic.suggestion { object.append(("suggestion", .string(suggestion))) }
        if let rule = diagnostic.ruleId { object.append(("rule", .string(rule))) }
        return .object(JSONObject(object))
    }
}

