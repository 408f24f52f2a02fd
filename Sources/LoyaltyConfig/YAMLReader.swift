import Foundation
import Yams

/// Strict, position-aware reading of a YAML document through Yams' `Node` API.
/// Every error carries the file and the line/column of the offending node.
struct YAMLReader {
    /// The name used in error messages (as the user wrote it).
    let file: String
    /// The absolute path actually read.
    let path: String

    init(file: String, path: String? = nil) {
        self.file = file
        self.path = path ?? file
    }

    func error(_ message: String, at node: Node?, suggestion: String? = nil) -> ConfigError {
        ConfigError(file: file, line: node?.mark?.line, column: node?.mark?.column,
                    message: message, suggestion: suggestion)
    }

    /// Reads and parses the file. A missing or empty document yields nil.
    func readRoot() throws(ConfigError) -> Node? {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: file, message: "cannot read file (\(Self.reason(error)))")
        }
        return try parse(text)
    }

    func parse(_ text: String) throws(ConfigError) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch let yamlError as YamlError {
            throw Self.convert(yamlError, file: file)
        } catch {
            throw ConfigError(file: file, message: "invalid YAML: \(error)")
        }
    }

    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError,
           underlying.domain == NSPOSIXErrorDomain,
           let code = POSIXErrorCode(rawValue: Int32(underlying.code)) {
            return String(cString: strerror(code.rawValue))
        }
        return ns.localizedDescription
    }

    static func convert(_ error: YamlError, file: String) -> ConfigError {
        switch error {
        case let .scanner(context, problem, mark, _),
             let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            var message = "invalid YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))" }
            return ConfigError(file: file, line: mark.line, column: mark.column, message: message)
        case let .duplicatedKeysInMapping(duplicates, context):
            return ConfigError(file: file, line: context.mark.line, column: context.mark.column,
                               message: "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", "))")
        case let .reader(problem, _, _, _):
            return ConfigError(file: file, message: "invalid YAML: \(problem)")
        default:
            return ConfigError(file: file, message: "invalid YAML: \(error)")
        }
    }

    // MARK: - Typed access

    static func isNull(_ node: Node) -> Bool {
        if case let .scalar(scalar) = node { return node.tag.rawValue == Tag.Name.null.rawValue && scalar.style == .plain }
        return false
    }

    /// A mapping whose keys must all be in `allowed`. Returns key → (key node, value node).
    func mapping(_ node: Node, allowed: [String], what: String) throws(ConfigError) -> [String: (key: Node, value: Node)] {
        guard case let .mapping(mapping) = node else {
            throw error("\(what) must be a mapping of keys to values, found \(Self.kind(of: node))", at: node)
        }
        var result: [String: (key: Node, value: Node)] = [:]
        for (keyNode, valueNode) in mapping {
            guard case let .scalar(keyScalar) = keyNode else {
                throw error("keys in \(what) must be plain words", at: keyNode)
            }
            let key = keyScalar.string
            guard allowed.contains(key) else {
                let suggestion = closestKey(to: key, in: allowed).map { "did you mean '\($0)'?" }
                    ?? "allowed keys here: \(allowed.joined(separator: ", "))"
                throw error("unknown key '\(key)'", at: keyNode, suggestion: suggestion)
            }
            result[key] = (keyNode, valueNode)
        }
        return result
    }

    func string(_ node: Node, key: String) throws(ConfigError) -> String {
        guard case let .scalar(scalar) = node, !Self.isNull(node) else {
            throw error("'\(key)' must be a text value, found \(Self.kind(of: node))", at: node)
        }
        return scalar.string
    }

    func stringList(_ node: Node, key: String) throws(ConfigError) -> [String] {
        if Self.isNull(node) { return [] }
        guard case let .sequence(sequence) = node else {
            throw error("'\(key)' must be a list like [a, b], found \(Self.kind(of: node))", at: node)
        }
        var result: [String] = []
        for item in sequence {
            guard case let .scalar(scalar) = item, !Self.isNull(item) else {
                throw error("items of '\(key)' must be text values, found \(Self.kind(of: item))", at: item)
            }
            result.append(scalar.string)
        }
        return result
    }

    static func kind(of node: Node) -> String {
        switch node {
        case let .scalar(scalar):
            if isNull(node) { return "nothing" }
            switch node.tag.rawValue {
            case Tag.Name.int.rawValue: return "the number \(scalar.string)"
            case Tag.Name.float.rawValue: return "the number \(scalar.string)"
            case Tag.Name.bool.rawValue: return "the boolean \(scalar.string)"
            default: return "the text '\(scalar.string)'"
            }
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}

// MARK: - Paths

enum Paths {
    /// Joins `path` onto `base` unless it is already absolute, and normalizes `.`/`..`.
    static func resolve(_ path: String, against base: String) -> String {
        let joined = path.hasPrefix("/") ? path : (base.hasSuffix("/") ? base + path : base + "/" + path)
        return normalize(joined)
    }

    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(component)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func absolute(_ path: String, workingDirectory: String? = nil) -> String {
        if path.hasPrefix("/") { return normalize(path) }
        return resolve(path, against: workingDirectory ?? FileManager.default.currentDirectoryPath)
    }

    static func parent(_ path: String) -> String {
        let normalized = normalize(path)
        guard let slash = normalized.lastIndex(of: "/"), slash != normalized.startIndex else { return "/" }
        return String(normalized[..<slash])
    }

    static func lastComponent(_ path: String) -> String {
        String(normalize(path).split(separator: "/").last ?? "")
    }
}
