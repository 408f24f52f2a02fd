import ArgumentParser
import Logging
import LoyaltyConfig
import LoyaltyDashboard

/// `--dashboard` and where it listens, shared by `loyalty up` and `loyalty demo`.
struct DashboardOptions: ParsableArguments {
    @Flag(help: "Also serve the web dashboard (see docs/dashboard.md).")
    var dashboard = false

    @Option(help: ArgumentHelp("Where the dashboard listens (a loopback address unless --dashboard-allow-remote).", valueName: "host:port"))
    var dashboardAddress = DashboardAddress.defaultText

    @Flag(help: "Let the dashboard listen on a non-loopback address. It has no authentication: anyone who reaches it sees customers and alerts.")
    var dashboardAllowRemote = false

    func validate() throws {
        do {
            _ = try DashboardAddress.parse(dashboardAddress, allowNonLoopback: dashboardAllowRemote)
        } catch {
            throw ValidationError("--dashboard-address: \(error)")
        }
    }

    /// The dashboard's service when --dashboard was given; `onRunning` gets its URL once it listens.
    func service(configuration: LoyaltyConfiguration, onRunning: @escaping @Sendable (String) -> Void) throws -> DashboardServer? {
        guard dashboard else { return nil }
        let address = try DashboardAddress.parse(dashboardAddress, allowNonLoopback: dashboardAllowRemote)
        var settings = DashboardCollector.Settings()
        settings.busSocketOptions = try configuration.clientSocketOptions()
        return DashboardServer(configuration: configuration, address: address, settings: settings,
                               logger: Logger(label: "loyalty.dashboard"), onRunning: { port in
            onRunning("http://\(DashboardAddress(host: address.host, port: port))/")
        })
    }
}
