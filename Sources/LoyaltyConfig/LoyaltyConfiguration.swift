import Foundation
import Yams

/// The three ZeroMQ endpoints of the bus.
public struct BusEndpoints: Sendable, Equatable {
    /// POS terminals and plugins send events and service requests here (ROUTER).
    public var ingest: String
    /// Stored events, with their sequence number (PUB).
    public var publish: String
    /// "Everything after seq N" (ROUTER).
    public var replay: String

    public init(ingest: String, publish: String, replay: String) {
        self.ingest = ingest
        self.publish = publish
        self.replay = replay
    }

    public static let defaults = BusEndpoints(
        ingest: "tcp://127.0.0.1:5601",
        publish: "tcp://127.0.0.1:5602",
        replay: "tcp://127.0.0.1:5603"
    )

    /// Endpoint schemes libzmq accepts here.
    public static let allowedSchemes = ["tcp://", "ipc://", "inproc://"]
}

/// The whole-system configuration, from `config/loyalty.yaml`.
public struct LoyaltyConfiguration: Sendable, Equatable {
    public var bus: BusEndpoints
    /// Absolute folder holding the SQLite files.
    public var dataDirectory: String
    /// Absolute folder holding `plugins/<name>/plugin.yaml`.
    public var pluginsDirectory: String
    /// Plugin names to run, in order.
    public var enabledPlugins: [String]
    /// Absolute folder holding the marketers' rule files (`*.yaml`).
    public var rulesDirectory: String
    /// The file this was read from; nil for embedded defaults.
    public var sourceFile: String?
    /// CURVE and the allow-list (`security:`); off by default (loopback only).
    public var security: SecuritySettings
    /// What the bus admits (`limits:`).
    public var limits = LimitSettings()
    /// The web dashboard's access token (`dashboard:`).
    public var dashboard: DashboardSettings
    /// Where the request path runs (`performance:`).
    public var performance = PerformanceSettings()

    public init(bus: BusEndpoints, dataDirectory: String, pluginsDirectory: String,
                enabledPlugins: [String], rulesDirectory: String? = nil, sourceFile: String? = nil) {
        self.bus = bus
        self.dataDirectory = dataDirectory
        self.pluginsDirectory = pluginsDirectory
        self.enabledPlugins = enabledPlugins
        self.rulesDirectory = rulesDirectory ?? Paths.resolve("../config/rules", against: pluginsDirectory)
        self.sourceFile = sourceFile
        self.security = SecuritySettings(keysDirectory: Paths.resolve("../config/keys", against: pluginsDirectory))
        self.dashboard = DashboardSettings(tokenFile: Paths.resolve("../" + DashboardSettings.defaultTokenFile, against: pluginsDirectory))
    }

    /// Default relative values, as written in the shipped `config/loyalty.yaml`.
    static let defaultDataDir = "var"
    static let defaultPluginsDir = "plugins"
    static let defaultEnabled = ["store-counter", "points-accrual", "customer-scoring", "satisfaction", "discount-campaigns", "reward-rules"]
    static let defaultRulesDir = "config/rules"

    /// The defaults (same values as the shipped `config/loyalty.yaml`), with paths under `root`.
    public static func embeddedDefaults(root: String) -> LoyaltyConfiguration {
        let root = Paths.absolute(root)
        var configuration = LoyaltyConfiguration(
            bus: .defaults,
            dataDirectory: Paths.resolve(defaultDataDir, against: root),
            pluginsDirectory: Paths.resolve(defaultPluginsDir, against: root),
            enabledPlugins: defaultEnabled,
            rulesDirectory: Paths.resolve(defaultRulesDir, against: root),
            sourceFile: nil
        )
        configuration.security.keysDirectory = Paths.resolve("config/keys", against: root)
        configuration.dashboard.tokenFile = Paths.resolve(DashboardSettings.defaultTokenFile, against: root)
        return configuration
    }

    /// Reads a config file. Relative paths inside it resolve against the project root: the parent
    /// of the folder holding the file (`/x/config/loyalty.yaml` → `/x`).
    public static func load(path: String) throws(ConfigError) -> LoyaltyConfiguration {
        try load(path: Paths.absolute(path), displayName: path)
    }

    static func load(path absolutePath: String, displayName: String) throws(ConfigError) -> LoyaltyConfiguration {
        let root = Paths.parent(Paths.parent(absolutePath))
        var config = embeddedDefaults(root: root)
        config.sourceFile = absolutePath
        let reader = YAMLReader(file: displayName, path: absolutePath)
        guard FileManager.default.fileExists(atPath: absolutePath) else {
            throw ConfigError(file: displayName, message: "config file not found")
        }
        guard let rootNode = try reader.readRoot(), !YAMLReader.isNull(rootNode) else {
            return config  // an empty file means "all defaults"
        }
        let top = try reader.mapping(rootNode, allowed: ["bus", "dataDir", "rulesDir", "plugins", "security", "limits", "dashboard", "performance"], what: "the top level")

        if let bus = top["bus"] {
            let keys = try reader.mapping(bus.value, allowed: ["ingest", "publish", "replay"], what: "'bus'")
            if let node = keys["ingest"]?.value { config.bus.ingest = try endpoint(node, key: "ingest", reader) }
            if let node = keys["publish"]?.value { config.bus.publish = try endpoint(node, key: "publish", reader) }
            if let node = keys["replay"]?.value { config.bus.replay = try endpoint(node, key: "replay", reader) }
        }
        if let security = top["security"] { try readSecurity(security.value, into: &config.security, root: root, reader) }
        if let limits = top["limits"] { try readLimits(limits.value, into: &config.limits, reader) }
        if let dashboard = top["dashboard"] { try readDashboard(dashboard.value, into: &config.dashboard, root: root, reader) }
        if let performance = top["performance"] { try readPerformance(performance.value, into: &config.performance, reader) }
        if let dataDir = top["dataDir"] {
            let value = try reader.string(dataDir.value, key: "dataDir")
            guard !value.isEmpty else { throw reader.error("'dataDir' must not be empty", at: dataDir.value) }
            config.dataDirectory = Paths.resolve(value, against: root)
        }
        if let rulesDir = top["rulesDir"] {
            let value = try reader.string(rulesDir.value, key: "rulesDir")
            guard !value.isEmpty else { throw reader.error("'rulesDir' must not be empty", at: rulesDir.value) }
            config.rulesDirectory = Paths.resolve(value, against: root)
        }
        if let plugins = top["plugins"] {
            let keys = try reader.mapping(plugins.value, allowed: ["directory", "enabled"], what: "'plugins'")
            if let node = keys["directory"]?.value {
                let value = try reader.string(node, key: "directory")
                guard !value.isEmpty else { throw reader.error("'directory' must not be empty", at: node) }
                config.pluginsDirectory = Paths.resolve(value, against: root)
            }
            if let node = keys["enabled"]?.value {
                let names = try reader.stringList(node, key: "enabled")
                var seen = Set<String>()
                for name in names {
                    guard PluginManifest.isValidName(name) else {
                        throw reader.error("'\(name)' is not a valid plugin name (use letters, digits, '-' and '_')", at: node)
                    }
                    guard seen.insert(name).inserted else {
                        throw reader.error("plugin '\(name)' is enabled twice", at: node)
                    }
                }
                config.enabledPlugins = names
            }
        }
        return config
    }

    private static func endpoint(_ node: Node, key: String, _ reader: YAMLReader) throws(ConfigError) -> String {
        let value = try reader.string(node, key: key)
        guard BusEndpoints.allowedSchemes.contains(where: { value.hasPrefix($0) }),
              BusEndpoints.allowedSchemes.allSatisfy({ value != $0 }) else {
            throw reader.error("'\(key)' endpoint '\(value)' must start with tcp://, ipc:// or inproc://", at: node,
                               suggestion: "for example tcp://127.0.0.1:5601")
        }
        return value
    }

    /// Finds the configuration: the explicit path if given (an error if it does not exist), else
    /// `<cwd>/config/loyalty.yaml` if present, else the embedded defaults rooted at `workingDirectory`.
    public static func locate(explicitPath: String?, workingDirectory: String) throws(ConfigError) -> LoyaltyConfiguration {
        let cwd = Paths.absolute(workingDirectory)
        if let explicitPath {
            let absolute = Paths.resolve(explicitPath, against: cwd)
            guard FileManager.default.fileExists(atPath: absolute) else {
                throw ConfigError(file: explicitPath, message: "config file not found",
                                  suggestion: "check the path given with --config")
            }
            return try load(path: absolute, displayName: explicitPath)
        }
        let conventional = Paths.resolve("config/loyalty.yaml", against: cwd)
        if FileManager.default.fileExists(atPath: conventional) {
            return try load(path: conventional, displayName: "config/loyalty.yaml")
        }
        return embeddedDefaults(root: cwd)
    }

    /// `<dataDir>/journal.sqlite`: the bus journal.
    public var journalPath: String { dataDirectory + "/journal.sqlite" }

    /// `<dataDir>/plugins/<name>.sqlite`: a plugin's own state.
    public func pluginDatabasePath(name: String) -> String { dataDirectory + "/plugins/\(name).sqlite" }

    /// `<dataDir>/run/supervisor.json`: what `loyalty up` is running, for `loyalty status`.
    public var supervisorStatePath: String { dataDirectory + "/run/supervisor.json" }

    /// The project root (the folder holding `config/`, `plugins/`, `var/`), when read from a file.
    public var projectRoot: String? { sourceFile.map { Paths.parent(Paths.parent($0)) } }
}
