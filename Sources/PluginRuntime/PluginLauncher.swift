import Foundation
import Logging
import LoyaltyConfig
import ServiceLifecycle

/// The `main` of a plugin executable: reads `--config PATH` (default: `config/loyalty.yaml`
/// under the working directory, else embedded defaults), sets up logging once, runs the plugin
/// until SIGTERM or SIGINT, and exits non-zero with a readable reason if it cannot start.
public enum PluginLauncher {
    public static func run(_ plugin: any LoyaltyPlugin, arguments: [String] = CommandLine.arguments) async {
        var configPath = ProcessInfo.processInfo.environment["LOYALTY_CONFIG"]
        var index = 1
        while index < arguments.count {
            switch arguments[index] {
            case "--config" where index + 1 < arguments.count:
                configPath = arguments[index + 1]
                index += 2
            case "-h", "--help":
                print("""
                    USAGE: \(plugin.name) [--config PATH]

                    Runs the '\(plugin.name)' plugin against the bus named in the configuration
                    (default: ./config/loyalty.yaml, else the embedded loopback defaults).
                    Normally started by `loyalty up`. Stops cleanly on SIGTERM or SIGINT.
                    """)
                return
            default:
                FileHandle.standardError.write(Data("\(plugin.name): unknown argument '\(arguments[index])' (try --help)\n".utf8))
                exit(64)
            }
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: ProcessInfo.processInfo.environment["LOYALTY_LOG_LEVEL"] ?? "info") ?? .info
            return handler
        }
        let logger = Logger(label: "loyalty.plugin.\(plugin.name)")
        do {
            let configuration = try LoyaltyConfiguration.locate(explicitPath: configPath,
                                                                workingDirectory: FileManager.default.currentDirectoryPath)
            let runtime = try PluginRuntime(plugin: plugin, endpoints: PluginEndpoints(configuration: configuration, pluginName: plugin.name),
                                            logger: logger)
            let group = ServiceGroup(configuration: .init(services: [runtime], gracefulShutdownSignals: [.sigterm, .sigint],
                                                          logger: logger))
            try await group.run()
        } catch {
            logger.critical("\(plugin.name) cannot run: \(error)")
            exit(1)
        }
    }
}
