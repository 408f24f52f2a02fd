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
        let engine: EngineProcesses
        do {
            engine = try EngineProcesses(configuration: configuration, logLevel: options.logLevel.rawValue)
        } catch let error as EngineError {
            throw ValidationError(error.description)
        }
        let supervisor = Supervisor(children: engine.children, stateFile: configuration.supervisorStatePath, logger: logger)
        let services: [any Service] = [supervisor]
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }
}
