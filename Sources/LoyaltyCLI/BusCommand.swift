import ArgumentParser
import Logging
import LoyaltyBus
import ServiceLifecycle

struct BusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bus",
        abstract: "Run the bus alone: durable ingest, publish, replay and service routing.",
        discussion: "`loyalty up` runs it for you; run it alone to host plugins started by hand or on other machines."
    )

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        let configuration = try options.loadConfiguration()
        options.bootstrapLogging()
        let logger = Logger(label: "loyalty.bus")
        let bus = try Bus(configuration: BusConfiguration(
            ingestEndpoint: configuration.bus.ingest, publishEndpoint: configuration.bus.publish,
            replayEndpoint: configuration.bus.replay, journalPath: configuration.journalPath), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [BusService(bus: bus)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
