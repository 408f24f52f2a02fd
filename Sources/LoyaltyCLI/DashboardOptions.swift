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

    @Flag(help: "Let the dashboard listen on a non-loopback address. Requires the access token made by `loyalty dashboard token`.")
    var dashboardAllowRemote = false

    func validate() throws {
        do {
            _ = try DashboardAddress.parse(dashboardAddress, allowNonLoopback: dashboardAllowRemote)
        } catch {
            throw ValidationError("--dashboard-address: \(error)")
        }
    }

    /// The access token to start with (nil: open, on loopback only), or why the dashboard may not start.
    func tokenAtStart(configuration: LoyaltyConfiguration) throws -> DashboardToken? {
        do {
            return try DashboardAccessPolicy.tokenAtStart(tokenFile: configuration.dashboard.tokenFile, allowRemote: dashboardAllowRemote)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The dashboard's service when --dashboard was given; `onRunning` gets its URL once it listens
    /// (never with the token in it).
    func service(configuration: LoyaltyConfiguration, onRunning: @escaping @Sendable (String) -> Void) throws -> DashboardServer? {
        guard dashboard else { return nil }
        let address = try DashboardAddress.parse(dashboardAddress, allowNonLoopback: dashboardAllowRemote)
        let token = try tokenAtStart(configuration: configuration)
        var settings = DashboardCollector.Settings()
        settings.busSocketOptions = try configuration.clientSocketOptions()
        let access = token == nil
            ? "no access token: open to this machine only"
            : "access token required: `loyalty dashboard token` prints the address to open"
        return DashboardServer(configuration: configuration, address: address, settings: settings,
                               tokenGate: DashboardTokenGate(tokenFile: configuration.dashboard.tokenFile, token: token),
                               logger: Logger(label: "loyalty.dashboard"), onRunning: { port in
            onRunning("http://\(DashboardAddress(host: address.host, port: port))/ (\(access))")
        })
    }
}
