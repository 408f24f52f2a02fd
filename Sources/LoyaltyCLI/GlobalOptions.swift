import ArgumentParser
import Foundation
import Logging
import LoyaltyConfig

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The configuration file (default: ./config/loyalty.yaml if present, else the embedded loopback defaults).", valueName: "path"))
    var config: String?

    @Option(name: .long, help: "How much to log.")
    var logLevel: Logger.Level = .info

    /// The configuration in force, or an error naming the file, line and column.
    func loadConfiguration() throws -> LoyaltyConfiguration {
        do {
            return try LoyaltyConfiguration.locate(explicitPath: config, workingDirectory: FileManager.default.currentDirectoryPath)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Once per process, before any logger is made.
    func bootstrapLogging() {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
