import Foundation
import LoyaltyEvents
import Yams

/// Loads rule files: reads the YAML, checks every key, compiles every expression, and analyses
/// priorities. It reports every problem it finds (not just the first), each with its position.
public enum RuleLoader {
    /// The sections a rule file may have, and who reads them.
    public static let sections = ["earning", "tiers", "rewards", "campaigns", "alerts"]
    static let topLevelKeys = ["currency", "timezone"] + sections

    public struct Result: Sendable {
        /// Nil when there was any error.
        public var book: RuleBook?
        /// Errors and warnings, in file order.
        public var diagnostics: [RuleDiagnostic]

        public var errors: [RuleDiagnostic] { diagnostics.filter { $0.severity == .error } }
        public var warnings: [RuleDiagnostic] { diagnostics.filter { $0.severity == .warning } }
    }

    /// The rule files at `paths`: files as given, folders expanded to their `*.yaml` / `*.yml`
    /// files (not recursively), sorted by name.
    public static func files(at paths: [String]) throws(RuleLoadFailure) -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw RuleLoadFailure(diagnostics: [RuleDiagnostic(file: path, message: "no such file or folder")])
            }
            if isDirectory.boolValue {
                let names: [String]
                do {
                    names = try FileManager.default.contentsOfDirectory(atPath: path)
                } catch {
                    throw RuleLoadFailure(diagnostics: [RuleDiagnostic(file: path, message: "cannot list the folder: \(error.localizedDescription)")])
                }
                let base = path.hasSuffix("/") ? String(path.dropLast()) : path
                files += names.filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasPrefix(".") }
                    .sorted().map { "\(base)/\($0)" }
            } else {
                files.append(path)
            }
        }
        var seen = Set<String>()
        return files.filter { seen.insert($0).inserted }
    }

    /// Reads and loads the rule files at `paths` (files or folders).
    public static func load(paths: [String]) -> Result {
        let files: [String]
        do {
            files = try self.files(at: paths)
        } catch {
            return Result(book: nil, diagnostics: error.diagnostics)
        }
        var sources: [(name: String, text: String)] = []
        var diagnostics: [RuleDiagnostic] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                diagnostics.append(RuleDiagnostic(file: file, message: "cannot read the file"))
                continue
            }
            guard let text = String(data: data, encoding: .utf8) else {
                diagnostics.append(RuleDiagnostic(file: file, message: "the file is not UTF-8 text"))
                continue
            }
            sources.append((file, text))
        }
        if !diagnostics.isEmpty { return Result(book: nil, diagnostics: diagnostics) }
        return load(sources: sources)
    }

    /// Loads rule files given as (name, text), e.g. from an editor buffer or a test.
    public static func load(sources: [(name: String, text: String)]) -> Result {
        var context = LoadContext()
        var documents: [(SourceText, Node)] = []
        // Pass 1: YAML, top-level keys, the file-wide settings and the tier names other rules refer to.
        for source in sources {
            let text = SourceText(name: source.name, text: source.text)
            context.texts[source.name] = text
            guard let root = context.parseYAML(source.text, in: text) else { continue }
            documents.append((text, root))
            context.readSettings(root, in: text)
        }
        context.readTiers(documents)
        // Pass 2: every section.
        for (text, root) in documents {
            context.readSections(root, in: text)
        }
        context.analyse()
        // File order, then position; the sort is stable so one line's problems keep their order.
        let order = Dictionary(sources.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        let diagnostics = context.diagnostics.enumerated().sorted { a, b in
            let (x, y) = (a.element, b.element)
            let fx = order[x.file] ?? -1, fy = order[y.file] ?? -1
            if fx != fy { return fx < fy }
            if (x.line ?? 0) != (y.line ?? 0) { return (x.line ?? 0) < (y.line ?? 0) }
            if (x.column ?? 0) != (y.column ?? 0) { return (x.column ?? 0) < (y.column ?? 0) }
            return a.offset < b.offset
        }.map(\.element)
        guard !diagnostics.contains(where: { $0.severity == .error }) else {
            return Result(book: nil, diagnostics: diagnostics)
        }
        let book = RuleBook(
            version: RuleBook.hash(sources), files: sources.map(\.name), currency: context.currency,
            timeZone: context.timeZone ?? TimeZone(identifier: "UTC")!,
            earning: context.earning.map { var e = $0; e.rules = e.rules.sortedByPriority(\.header); return e },
            tiers: context.tierLevels.isEmpty ? nil : TierPolicy(levels: context.tierLevels, settings: context.tierSettings),
            rewards: context.rewards.isEmpty ? nil : RewardPolicy(rules: context.rewards.sortedByPriority(\.header)),
            campaigns: context.campaigns.isEmpty ? nil : CampaignPolicy(rules: context.campaigns.sortedByPriority(\.header)),
            alerts: context.alerts.isEmpty && context.alertWatches.isEmpty ? nil
                : AlertPolicy(rules: context.alerts.sortedByPriority(\.header), watches: context.alertWatches),
            warnings: diagnostics.filter { $0.severity == .warning }, usage: context.usage)
        return Result(book: book, diagnostics: diagnostics)
    }
}

/// The state of one load: settings, compiled rules so far, and every diagnostic.
struct LoadContext {
    var diagnostics: [RuleDiagnostic] = []
    var currency: CurrencyCode?
    var currencyNode: (SourceText, Node)?
    var timeZone: TimeZone?
    var timeZoneNode: (SourceText, Node)?
    var tierLevels: [TierPolicy.Level] = []
    var tierSettings = TierSettings()
    var earning: EarningPolicy?
    var earningSettingsFile: String?
    var rewards: [RewardRule] = []
    var campaigns: [CampaignRule] = []
    var alerts: [AlertRule] = []
    var alertWatches: [AlertWatch] = []
    var usage = ExpressionUsage()
    /// Every rule id seen, with where, to refuse duplicates.
    var ids: [String: (file: String, line: Int)] = [:]
    /// For the shadowing analysis: each rule's section, header, kind and condition shape.
    var analysed: [AnalysedRule] = []
    /// Each file's text by name, to show the line a warning is about.
    var texts: [String: SourceText] = [:]

    // MARK: YAML

    mutating func parseYAML(_ yaml: String, in text: SourceText) -> Node? {
        do {
            guard let root = try Yams.compose(yaml: yaml) else { return nil }
            guard case .mapping = root else {
                diagnostics.append(text.diagnostic("a rule file is a mapping of sections (earning:, rewards:, ...), found \(kind(of: root))", at: root))
                return nil
            }
            return root
        } catch let error as YamlError {
            diagnostics.append(convert(error, in: text))
            return nil
        } catch {
            diagnostics.append(RuleDiagnostic(file: text.name, message: "invalid YAML: \(error)"))
            return nil
        }
    }

    private func convert(_ error: YamlError, in text: SourceText) -> RuleDiagnostic {
        switch error {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            var suggestion: String?
            let line = text.line(mark.line) ?? ""
            if problem.contains("mapping values are not allowed") {
                suggestion = "a ': ' inside a value confuses YAML (as in 'days: 30'): put the whole expression in double quotes, e.g. when: \"\(Self.valuePart(of: line))\""
            }
            return RuleDiagnostic(file: text.name, line: mark.line, column: mark.column, message: "invalid YAML: \(problem)",
                                  suggestion: suggestion, sourceLine: line)
        case let .duplicatedKeysInMapping(duplicates, context):
            return RuleDiagnostic(file: text.name, line: context.mark.line, column: context.mark.column,
                                  message: "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", "))",
                                  sourceLine: text.line(context.mark.line))
        default:
            return RuleDiagnostic(file: text.name, message: "invalid YAML: \(error)")
        }
    }

    private static func valuePart(of line: String) -> String {
        guard let colon = line.range(of: ": ") else { return line.trimmingCharacters(in: .whitespaces) }
        return line[colon.upperBound...].trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\"", with: "\\\"")
    }

    func kind(of node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            if isNull(node) { return "nothing" }
            return "the value '\(scalar.string)'"
        case .mapping: return "a mapping (key: value)"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node { return node.tag.rawValue == Tag.Name.null.rawValue && scalar.style == .plain }
        return false
    }

    /// The entries of a mapping whose keys must be in `allowed`; an unknown key is reported
    /// (with "did you mean") and skipped.
    mutating func mapping(_ node: Node, allowed: [String], what: String, in text: SourceText, ruleId: String? = nil) -> [String: (key: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            diagnostics.append(text.diagnostic("\(what) must be a mapping (key: value), found \(kind(of: node))", at: node, ruleId: ruleId))
            return nil
        }
        var result: [String: (key: Node, value: Node)] = [:]
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                diagnostics.append(text.diagnostic("keys in \(what) must be plain words", at: keyNode, ruleId: ruleId))
                continue
            }
            let key = keyScalar.string
            guard allowed.contains(key) else {
                let suggestion = closest(to: key, in: allowed).map { "did you mean '\($0)'?" }
                    ?? "allowed here: \(allowed.joined(separator: ", "))"
                diagnostics.append(text.diagnostic("unknown key '\(key)' in \(what)", at: keyNode, suggestion: suggestion, ruleId: ruleId))
                continue
            }
            result[key] = (keyNode, valueNode)
        }
        return result
    }

    mutating func string(_ node: Node, key: String, in text: SourceText, ruleId: String? = nil) -> String? {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            diagnostics.append(text.diagnostic("'\(key)' must be a single value, found \(kind(of: node))", at: node, ruleId: ruleId))
            return nil
        }
        return scalar.string
    }

    mutating func integer(_ node: Node, key: String, in text: SourceText, ruleId: String? = nil) -> Int? {
        guard let value = string(node, key: key, in: text, ruleId: ruleId) else { return nil }
        guard let number = Int(value), abs(number) <= 1_000_000 else {
            diagnostics.append(text.diagnostic("'\(key)' must be a whole number, found '\(value)'", at: node, ruleId: ruleId))
            return nil
        }
        return number
    }

    mutating func number(_ node: Node, key: String, in text: SourceText, ruleId: String? = nil, range: ClosedRange<Double>) -> Double? {
        guard let value = string(node, key: key, in: text, ruleId: ruleId) else { return nil }
        guard let number = Double(value), number.isFinite, range.contains(number) else {
            diagnostics.append(text.diagnostic("'\(key)' must be a number from \(format(range.lowerBound)) to \(format(range.upperBound)), found '\(value)'",
                                               at: node, ruleId: ruleId))
            return nil
        }
        return number
    }

    mutating func list(_ node: Node, key: String, in text: SourceText, ruleId: String? = nil) -> [Node]? {
        if isNull(node) { return [] }
        guard case .sequence(let sequence) = node else {
            diagnostics.append(text.diagnostic("'\(key)' must be a list (items starting with '- '), found \(kind(of: node))", at: node, ruleId: ruleId))
            return nil
        }
        return Array(sequence)
    }

    /// The seconds of a duration literal (`30d`, `12h`, `0`), or nil.
    func durationValue(_ value: String) -> Double? {
        if value == "0" { return 0 }
        if let tokens = try? Lexer.tokenize(value), tokens.count == 2, case .duration(let seconds) = tokens[0].kind { return seconds }
        return nil
    }

    /// `30d`, `12h`, `2w`, or `0`.
    mutating func duration(_ node: Node, key: String, in text: SourceText, ruleId: String? = nil) -> Double? {
        guard let value = string(node, key: key, in: text, ruleId: ruleId) else { return nil }
        if value == "0" { return 0 }
        if let tokens = try? Lexer.tokenize(value), tokens.count == 2, case .duration(let seconds) = tokens[0].kind, seconds >= 0 {
            return seconds
        }
        diagnostics.append(text.diagnostic("'\(key)' must be a duration like 30d, 12h or 2w, found '\(value)'", at: node, ruleId: ruleId))
        return nil
    }

    mutating func date(_ node: Node, key: String, in text: SourceText, ruleId: String?) -> Int? {
        guard let value = string(node, key: key, in: text, ruleId: ruleId) else { return nil }
        do {
            let tokens = try Lexer.tokenize(value)
            if tokens.count == 2, case .date(let day) = tokens[0].kind { return day }
            diagnostics.append(text.diagnostic("'\(key)' must be a date written YYYY-MM-DD, found '\(value)'", at: node, ruleId: ruleId))
        } catch {
            diagnostics.append(text.diagnostic("'\(key)': \(error.message)", at: node, suggestion: error.suggestion, ruleId: ruleId))
        }
        return nil
    }

    // MARK: Settings

    mutating func readSettings(_ root: Node, in text: SourceText) {
        guard let keys = mapping(root, allowed: RuleLoader.topLevelKeys, what: "a rule file", in: text) else { return }
        if let (_, node) = keys["currency"], let code = string(node, key: "currency", in: text) {
            if let currency = CurrencyCode(code) {
                if let existing = currency_(), existing != currency, let (otherText, otherNode) = currencyNode {
                    diagnostics.append(text.diagnostic("currency \(currency) differs from \(existing), set in \(otherText.name):\(otherNode.mark?.line ?? 0)",
                                                       at: node, suggestion: "all rule files of a chain use one currency"))
                } else {
                    self.currency = currency
                    currencyNode = (text, node)
                }
            } else {
                diagnostics.append(text.diagnostic("'\(code)' is not an ISO 4217 currency code", at: node,
                                                   suggestion: closest(to: code, in: CurrencyCode.allActive).map { "did you mean '\($0)'?" }))
            }
        }
        if let (_, node) = keys["timezone"], let name = string(node, key: "timezone", in: text) {
            if let zone = TimeZone(identifier: name) {
                if let existing = timeZone, existing.identifier != zone.identifier, let (otherText, otherNode) = timeZoneNode {
                    diagnostics.append(text.diagnostic("time zone \(name) differs from \(existing.identifier), set in \(otherText.name):\(otherNode.mark?.line ?? 0)", at: node))
                } else {
                    timeZone = zone
                    timeZoneNode = (text, node)
                }
            } else {
                diagnostics.append(text.diagnostic("unknown time zone '\(name)'", at: node,
                                                   suggestion: closest(to: name, in: TimeZone.knownTimeZoneIdentifiers).map { "did you mean '\($0)'?" }
                                                    ?? "use an IANA name such as Europe/Oslo"))
            }
        }
    }

    private func currency_() -> CurrencyCode? { currency }

    var tierIds: [String] { tierLevels.map(\.header.id) }

    func scope(_ roots: Set<Scope.Root>, inLine: Bool = false) -> Scope {
        Scope(roots: roots, inLine: inLine, currency: currency, tiers: tierIds)
    }

    // MARK: Sections

    mutating func readTiers(_ documents: [(SourceText, Node)]) {
        var tierFile: SourceText?
        for (text, root) in documents {
            guard case .mapping(let entries) = root else { continue }
            guard let node = entries["tiers"] else { continue }
            if let tierFile {
                diagnostics.append(text.diagnostic("tiers are already defined in \(tierFile.name)", at: node,
                                                   suggestion: "define all tier levels in one file"))
                continue
            }
            tierFile = text
            guard let items = tierItems(node, in: text) else { continue }
            // Names first, so conditions may mention any level.
            var headers: [(RuleHeader, [String: (key: Node, value: Node)])] = []
            for item in items {
                guard let keys = mapping(item, allowed: ["id", "name", "description", "when"], what: "a tier level", in: text),
                      let header = header(keys, item: item, in: text, section: "tiers") else { continue }
                headers.append((header, keys))
            }
            tierLevels = headers.map { TierPolicy.Level(header: $0.0, name: $0.0.id, when: nil) }
            for (index, (header, keys)) in headers.enumerated() {
                var level = tierLevels[index]
                if let (_, node) = keys["name"] { level.name = string(node, key: "name", in: text, ruleId: header.id) ?? header.id }
                if let (_, node) = keys["when"] {
                    if index == 0 {
                        diagnostics.append(text.diagnostic("the first tier level is where every customer starts; it takes no 'when'",
                                                           at: node, ruleId: header.id))
                    }
                    level.when = condition(node, scope: scope([.customer, .clock]), in: text, ruleId: header.id)
                    if let when = level.when {
                        analysed.append(AnalysedRule(section: "tiers", header: header, kind: "level", shape: when.shape, index: index))
                    }
                } else if index > 0 {
                    diagnostics.append(text.diagnostic("tier level '\(header.id)' needs a 'when' saying who qualifies", at: item(keys),
                                                       ruleId: header.id))
                }
                tierLevels[index] = level
            }
        }
    }

    private func item(_ keys: [String: (key: Node, value: Node)]) -> Node? { keys["id"]?.key }

    /// The tier levels: `tiers:` is either the list of levels, or a mapping of settings
    /// (`downgrade`, `period`, `window`) with the list under `levels`.
    private mutating func tierItems(_ node: Node, in text: SourceText) -> [Node]? {
        guard case .mapping = node else { return list(node, key: "tiers", in: text) }
        guard let keys = mapping(node, allowed: ["levels", "downgrade", "period", "window"], what: "the tiers section", in: text) else { return nil }
        if let (_, value) = keys["downgrade"], let word = string(value, key: "downgrade", in: text) {
            if let downgrade = TierDowngrade(rawValue: word) { tierSettings.downgrade = downgrade } else {
                let names = TierDowngrade.allCases.map(\.rawValue)
                diagnostics.append(text.diagnostic("downgrade must be \(names.dropLast().joined(separator: ", ")) or \(names.last!), found '\(word)'", at: value,
                                                   suggestion: closest(to: word, in: names).map { "did you mean '\($0)'?" }))
            }
        }
        if let (_, value) = keys["period"], let word = string(value, key: "period", in: text) {
            if let period = CalendarPeriod(rawValue: word) { tierSettings.period = period } else {
                diagnostics.append(text.diagnostic("period must be week, month, quarter or year, found '\(word)'", at: value,
                                                   suggestion: closest(to: word, in: CalendarPeriod.allCases.map(\.rawValue)).map { "did you mean '\($0)'?" }))
            }
        }
        if let (_, value) = keys["window"], let seconds = duration(value, key: "window", in: text) {
            if seconds >= 86_400, seconds.truncatingRemainder(dividingBy: 86_400) == 0, seconds <= 3660 * 86_400 {
                tierSettings.windowDays = Int(seconds / 86_400)
            } else {
                diagnostics.append(text.diagnostic("window must be whole days from 1d to 3660d, found '\(format(seconds / 86_400))d'", at: value,
                                                   suggestion: "for example window: 365d"))
            }
        }
        guard let (_, levels) = keys["levels"] else {
            diagnostics.append(text.diagnostic("the tiers section needs 'levels': the list of tier levels, lowest first", at: node))
            return nil
        }
        return list(levels, key: "levels", in: text)
    }

    mutating func readSections(_ root: Node, in text: SourceText) {
        guard case .mapping(let entries) = root else { return }
        if let node = entries["earning"] { readEarning(node, in: text) }
        if let node = entries["rewards"] { readRewards(node, in: text) }
        if let node = entries["campaigns"] { readCampaigns(node, in: text) }
        if let node = entries["alerts"] { readAlerts(node, in: text) }
    }

    /// id, description, priority, group.
    mutating func header(_ keys: [String: (key: Node, value: Node)], item: Node, in text: SourceText, section: String) -> RuleHeader? {
        guard let (_, idNode) = keys["id"] else {
            diagnostics.append(text.diagnostic("every \(section) rule needs an 'id' (effects record it)", at: item))
            return nil
        }
        guard let id = string(idNode, key: "id", in: text) else { return nil }
        let valid = !id.isEmpty && id.count <= 64 && id.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "_" || $0 == "."
        }
        guard valid else {
            diagnostics.append(text.diagnostic("rule id '\(id)' must be lowercase letters, digits, '-', '_' or '.' (at most 64)", at: idNode))
            return nil
        }
        let line = idNode.mark?.line ?? 0
        if let previous = ids[id] {
            diagnostics.append(text.diagnostic("rule id '\(id)' is already used at \(previous.file):\(previous.line)", at: idNode,
                                               suggestion: "ids name effects in the ledger, so each must be unique"))
            return nil
        }
        ids[id] = (text.name, line)
        var header = RuleHeader(id: id, file: text.name, line: line, column: idNode.mark?.column ?? 1)
        if let (_, node) = keys["description"] { header.description = string(node, key: "description", in: text, ruleId: id) }
        if let (_, node) = keys["priority"] { header.priority = integer(node, key: "priority", in: text, ruleId: id) ?? 0 }
        if let (_, node) = keys["group"] { header.group = string(node, key: "group", in: text, ruleId: id) }
        return header
    }

    mutating func condition(_ node: Node, key: String = "when", scope: Scope, in text: SourceText, ruleId: String?) -> CompiledCondition? {
        guard let source = string(node, key: key, in: text, ruleId: ruleId) else { return nil }
        do {
            let compiled = try ExpressionCompiler.condition(source, scope: scope)
            usage.merge(compiled.usage)
            return compiled
        } catch {
            diagnostics.append(text.diagnostic(error, in: node, ruleId: ruleId))
            return nil
        }
    }

    mutating func amount(_ node: Node, key: String, scope: Scope, accepted: [ValueType], in text: SourceText, ruleId: String?) -> CompiledAmount? {
        guard let source = string(node, key: key, in: text, ruleId: ruleId) else { return nil }
        do {
            let compiled = try ExpressionCompiler.amount(source, scope: scope, accepted: accepted)
            usage.merge(compiled.usage)
            return compiled
        } catch {
            diagnostics.append(text.diagnostic(error, in: node, ruleId: ruleId))
            return nil
        }
    }

    /// Money in the file's currency, e.g. `35 NOK`; minor units.
    mutating func money(_ node: Node, key: String, in text: SourceText, ruleId: String?) -> Double? {
        guard let currency else {
            diagnostics.append(text.diagnostic("'\(key)' is an amount of money, so the rules need a currency", at: node,
                                               suggestion: "add 'currency: NOK' (your currency) at the top of a rule file", ruleId: ruleId))
            return nil
        }
        guard let compiled = amount(node, key: key, scope: Scope(roots: [], currency: currency), accepted: [.money(currency)], in: text, ruleId: ruleId) else {
            return nil
        }
        guard let value = compiled.constant, value >= 0 else {
            diagnostics.append(text.diagnostic("'\(key)' must be a fixed amount like 35 \(currency)", at: node, ruleId: ruleId))
            return nil
        }
        return value
    }
}

/// A rule as the shadowing analysis sees it.
struct AnalysedRule {
    var section: String
    var header: RuleHeader
    /// Rules only shadow rules of the same kind (points, multiplier, bonus...).
    var kind: String
    var shape: ConditionShape
    /// Position in the file order, for ties.
    var index: Int
}
