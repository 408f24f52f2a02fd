import ArgumentParser

@main
struct Loyalty: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loyalty",
        abstract: "A loyalty-program engine for store chains: a durable ZeroMQ bus and plugins that turn purchases into points, rewards and alerts.",
        discussion: """
            Start everything on the embedded defaults (SQLite under var/, loopback endpoints):
              loyalty up

            Then, in another terminal, feed it a synthetic chain and look:
              loyalty pos simulate --count 10000
              loyalty status
            """,
        subcommands: [
            UpCommand.self,
            DemoCommand.self,
            BusCommand.self,
            StatusCommand.self,
            PosCommand.self,
            RequestCommand.self,
            RulesCommand.self,
            CustomerCommand.self,
            AlertsCommand.self,
            CampaignsCommand.self,
            ReportCommand.self,
            BenchCommand.self,
            KeysCommand.self,
            DashboardCommand.self,
        ]
    )
}
