import Foundation
import LoyaltyConfig
import LoyaltySupervisor
import LoyaltyWire

/// The processes of a running engine: the bus first, then each enabled plugin in order.
/// `loyalty up` and `loyalty demo` both run exactly this set, so what a demo shows is what
/// production runs.
struct EngineProcesses {
    let configuration: LoyaltyConfiguration
    let manifests: [PluginManifest]
    let children: [ChildSpec]

    /// Checks what would make a child fail at once (a non-loopback endpoint without CURVE, a
    /// missing key or plugin executable) and refuses with the reason, rather than letting the
    /// supervisor restart a process that cannot start.
    init(configuration: LoyaltyConfiguration, logLevel: String) throws {
        self.configuration = configuration
        let manifests: [PluginManifest]
        do {
            manifests = try PluginManifest.loadEnabled(configuration)
        } catch {
            throw EngineError("\(error)")
        }
        do { try BusCommand.busConfiguration(configuration).checkSecurity() } catch { throw EngineError("\(error)") }
        let allowed = CPUAffinity.allowedCPUs()
        if let missing = configuration.performance.requestCPUs.resolved(allowed: allowed).first(where: { !allowed.contains($0) }) {
            throw EngineError("performance.requestCPUs names CPU \(missing), which this machine does not let the engine use (it may use CPU \(allowed.map(String.init).joined(separator: ", ")))")
        }
        if configuration.security.curve {
            let layout = KeyStoreLayout(directory: configuration.security.keysDirectory)
            for manifest in manifests where !FileManager.default.fileExists(atPath: layout.base(kind: .plugin, name: manifest.name) + ".key_secret") {
                throw EngineError("security.curve is on, but plugin '\(manifest.name)' has no key in \(layout.directory)/plugins/: run `loyalty keys add-plugin \(manifest.name)`")
            }
        }
        let selfPath = try Self.executablePath()
        let binDirectory = (selfPath as NSString).deletingLastPathComponent
        var configArguments: [String] = []
        if let file = configuration.sourceFile { configArguments = ["--config", file] }
        var children = [ChildSpec(name: "bus", executable: selfPath,
                                  arguments: ["bus"] + configArguments + ["--log-level", logLevel])]
        for manifest in manifests {
            guard let executable = Self.resolve(manifest.executable, pluginDirectory: manifest.directory, binDirectory: binDirectory) else {
                throw EngineError("plugin '\(manifest.name)': executable '\(manifest.executable)' not found next to \(selfPath), in \(manifest.directory) or on PATH; build it with `swift build`")
            }
            children.append(ChildSpec(name: manifest.name, executable: executable, arguments: configArguments + manifest.arguments,
                                      environment: Self.pluginEnvironment(manifest.name, configuration, logLevel: logLevel)))
        }
        self.manifests = manifests
        self.children = children
    }

    /// With CURVE on, each plugin is told which key file is its own (`LOYALTY_CURVE_KEY`).
    static func pluginEnvironment(_ name: String, _ configuration: LoyaltyConfiguration, logLevel: String) -> [String: String] {
        var environment = ["LOYALTY_LOG_LEVEL": logLevel]
        if configuration.security.curve {
            environment["LOYALTY_CURVE_KEY"] = KeyStoreLayout(directory: configuration.security.keysDirectory)
                .base(kind: .plugin, name: name) + ".key_secret"
        }
        return environment
    }

    static func executablePath() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    static func resolve(_ executable: String, pluginDirectory: String, binDirectory: String) -> String? {
        let fileManager = FileManager.default
        if executable.contains("/") {
            let path = executable.hasPrefix("/") ? executable : pluginDirectory + "/" + executable
            return fileManager.isExecutableFile(atPath: path) ? path : nil
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in [binDirectory] + path.split(separator: ":").map(String.init) {
            let candidate = directory + "/" + executable
            if fileManager.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// Why the engine cannot start, in words a person can act on.
struct EngineError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
