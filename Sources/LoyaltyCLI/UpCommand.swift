import ArgumentParser
import Foundation
import Logging
import LoyaltyConfig
import LoyaltyWire
import LoyaltySupervisor
import ServiceLifecycle

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start the bus and every enabled plugin, restart any that crashes, stop all on Ctrl-C or SIGTERM.",
        discussion: """
            Reads config/loyalty.yaml (or the embedded defaults) and plugins/<name>/plugin.yaml for each
            enabled plugin. State: var/run/supervisor.json; see it with `loyalty status`.
            """
    )

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        let configuration = try options.loadConfiguration()
        options.bootstrapLogging()
        let logger = Logger(label: "loyalty.up")
        let manifests: [PluginManifest]
        do {
            manifests = try PluginManifest.loadEnabled(configuration)
        } catch {
            throw ValidationError("\(error)")
        }
        // Refuse now, with the reason, rather than let the supervisor restart a bus or plugin
        // that cannot start: a non-loopback endpoint without CURVE, or a missing key.
        do { try BusCommand.busConfiguration(configuration).checkSecurity() } catch { throw ValidationError("\(error)") }
        if configuration.security.curve {
            let layout = KeyStoreLayout(directory: configuration.security.keysDirectory)
            for manifest in manifests where !FileManager.default.fileExists(atPath: layout.base(kind: .plugin, name: manifest.name) + ".key_secret") {
                throw ValidationError("security.curve is on, but plugin '\(manifest.name)' has no key in \(layout.directory)/plugins/: run `loyalty keys add-plugin \(manifest.name)`")
            }
        }
        let selfPath = try Self.executablePath()
        let binDirectory = (selfPath as NSString).deletingLastPathComponent
        var configArguments: [String] = []
        if let file = configuration.sourceFile { configArguments = ["--config", file] }
        var children = [ChildSpec(name: "bus", executable: selfPath,
                                  arguments: ["bus"] + configArguments + ["--log-level", options.logLevel.rawValue])]
        for manifest in manifests {
            guard let executable = Self.resolve(manifest.executable, pluginDirectory: manifest.directory, binDirectory: binDirectory) else {
                throw ValidationError("plugin '\(manifest.name)': executable '\(manifest.executable)' not found next to \(selfPath), in \(manifest.directory) or on PATH; build it with `swift build`")
            }
            children.append(ChildSpec(name: manifest.name, executable: executable, arguments: configArguments + manifest.arguments,
                                      environment: Self.pluginEnvironment(manifest.name, configuration, logLevel: options.logLevel.rawValue)))
        }
        let supervisor = Supervisor(children: children, stateFile: configuration.supervisorStatePath, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [supervisor], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
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
        let path = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        return path
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
