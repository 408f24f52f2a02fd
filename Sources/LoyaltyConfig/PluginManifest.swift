import Foundation
import Yams

/// A plugin's `plugins/<name>/plugin.yaml`.
///
/// ```yaml
/// name: store-counter
/// executable: store-counter          # a program name, or a path relative to this folder
/// description: Counts purchases and returns per store
/// topics: {in: [purchase, return], out: [store.milestone]}
/// services: [store-counter.count]
/// rules: [earning, tiers]            # the sections of the rule files (config/rules) it reads
/// arguments: []                      # extra command-line arguments
/// ```
public struct PluginManifest: Sendable, Equatable {
    /// Must equal the plugin's folder name.
    public var name: String
    /// A program name (resolved by the supervisor) or a path relative to `directory`.
    public var executable: String
    public var description: String?
    /// Topics the plugin subscribes to.
    public var topicsIn: [String]
    /// Topics the plugin emits.
    public var topicsOut: [String]
    /// Service names the plugin answers.
    public var services: [String]
    /// The sections of the rule files the plugin reads (`earning`, `tiers`, `rewards`...).
    public var rules: [String]
    /// Extra command-line arguments.
    public var arguments: [String]
    /// Absolute path of the plugin folder (set by the loader).
    public var directory: String

    public init(name: String, executable: String, description: String? = nil,
                topicsIn: [String] = [], topicsOut: [String] = [], services: [String] = [],
                rules: [String] = [], arguments: [String] = [], directory: String) {
        self.name = name
        self.executable = executable
        self.description = description
        self.topicsIn = topicsIn
        self.topicsOut = topicsOut
        self.services = services
        self.rules = rules
        self.arguments = arguments
        self.directory = directory
    }

    public static let fileName = "plugin.yaml"

    static let allowedKeys = ["name", "executable", "description", "topics", "services", "rules", "arguments"]

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || $0 == "-" || $0 == "_" || $0 == "."
        }
    }

    /// Reads `<directory>/plugin.yaml`.
    public static func load(directory: String) throws(ConfigError) -> PluginManifest {
        let directory = Paths.absolute(directory)
        let file = directory + "/" + fileName
        let reader = YAMLReader(file: file)
        guard FileManager.default.fileExists(atPath: file) else {
            throw ConfigError(file: file, message: "plugin manifest not found")
        }
        guard let root = try reader.readRoot(), !YAMLReader.isNull(root) else {
            throw ConfigError(file: file, message: "plugin manifest is empty", suggestion: "it needs at least 'name' and 'executable'")
        }
        let keys = try reader.mapping(root, allowed: allowedKeys, what: "the plugin manifest")

        guard let nameEntry = keys["name"] else {
            throw reader.error("missing required key 'name'", at: root)
        }
        let name = try reader.string(nameEntry.value, key: "name")
        let folderName = Paths.lastComponent(directory)
        guard name == folderName else {
            throw reader.error("plugin name '\(name)' does not match its folder '\(folderName)'", at: nameEntry.value,
                               suggestion: "rename the folder or set 'name: \(folderName)'")
        }
        guard let executableEntry = keys["executable"] else {
            throw reader.error("missing required key 'executable'", at: root)
        }
        let executable = try reader.string(executableEntry.value, key: "executable")
        guard !executable.isEmpty else { throw reader.error("'executable' must not be empty", at: executableEntry.value) }

        var manifest = PluginManifest(name: name, executable: executable, directory: directory)
        if let node = keys["description"]?.value, !YAMLReader.isNull(node) {
            manifest.description = try reader.string(node, key: "description")
        }
        if let topics = keys["topics"]?.value, !YAMLReader.isNull(topics) {
            let topicKeys = try reader.mapping(topics, allowed: ["in", "out"], what: "'topics'")
            if let node = topicKeys["in"]?.value { manifest.topicsIn = try reader.stringList(node, key: "in") }
            if let node = topicKeys["out"]?.value { manifest.topicsOut = try reader.stringList(node, key: "out") }
        }
        if let node = keys["services"]?.value { manifest.services = try reader.stringList(node, key: "services") }
        if let node = keys["rules"]?.value { manifest.rules = try reader.stringList(node, key: "rules") }
        if let node = keys["arguments"]?.value { manifest.arguments = try reader.stringList(node, key: "arguments") }
        return manifest
    }

    /// Loads the manifests of all enabled plugins, in the configured order.
    public static func loadEnabled(_ config: LoyaltyConfiguration) throws(ConfigError) -> [PluginManifest] {
        var manifests: [PluginManifest] = []
        for name in config.enabledPlugins {
            let directory = config.pluginsDirectory + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ConfigError(file: config.sourceFile ?? "(embedded defaults)",
                                  message: "enabled plugin '\(name)' has no folder \(directory)",
                                  suggestion: "create \(directory)/\(fileName) or remove '\(name)' from plugins.enabled")
            }
            guard FileManager.default.fileExists(atPath: directory + "/" + fileName) else {
                throw ConfigError(file: directory + "/" + fileName,
                                  message: "enabled plugin '\(name)' has no \(fileName)",
                                  suggestion: "add one with at least 'name: \(name)' and 'executable'")
            }
            manifests.append(try load(directory: directory))
        }
        return manifests
    }

    /// The executable as an absolute path when it names a path (contains '/'), else nil
    /// (then it is a program name the supervisor looks up next to its own binary or in PATH).
    public var executablePath: String? {
        executable.contains("/") ? Paths.resolve(executable, against: directory) : nil
    }
}
