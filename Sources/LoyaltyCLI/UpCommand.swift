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
            Reads config/loyalty.yaml (or the embedded defaults) and plugins/<name>/plugin.yaml for each \
            enabled plugin. State: var/run/supervisor.json; see it with `loyalty status`.

            With --dashboard, also serves the web dashboard (alerts, NPS per store, top customers, \
            campaign budgets, plugin lag) at http://127.0.0.1:8080/. It listens on loopback only unless \
            you pass --dashboard-allow-remote, which needs the access token made by `loyalty dashboard token`; \
            once that token exists, every request must carry it (docs/dashboard.md).
            """
    )

    @OptionGroup var options: GlobalOptions

    @OptionGroup var dashboard: DashboardOptions

    func run() async throws {
        let configuration = try options.loadConfiguration()
        options.bootstrapLogging()
        let logger = Logger(label: "loyalty.up")
        // First, so a dashboard that may not start (no token with --dashboard-allow-remote) says so before anything else.
        let dashboardServer = try dashboard.service(configuration: configuration, onRunning: { url in logger.info("dashboard: \(url)") })
        let engine: EngineProcesses
        do {
            engine = try EngineProcesses(configuration: configuration, logLevel: options.logLevel.rawValue)
        } catch let error as EngineError {
            throw ValidationError(error.description)
        }
        let supervisor = Supervisor(children: engine.children, stateFile: configuration.supervisorStatePath, logger: logger)
        var services: [any Service] = [supervisor]
        if let dashboardServer { services.append(dashboardServer) }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }
}
