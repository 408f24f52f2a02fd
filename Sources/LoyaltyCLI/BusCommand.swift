import ArgumentParser
import Logging
import LoyaltyBus
import LoyaltyConfig
import LoyaltyEvents
import LoyaltyWire
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
        let busConfiguration = try Self.busConfiguration(configuration)
        do { try busConfiguration.checkSecurity() } catch { throw ValidationError("\(error)") }
        let bus = try Bus(configuration: busConfiguration, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [BusService(bus: bus)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The bus settings of a loaded configuration: endpoints, limits and, with
    /// `security.curve`, the bus key and allow-list.
    static func busConfiguration(_ configuration: LoyaltyConfiguration) throws -> BusConfiguration {
        var bus = BusConfiguration(
            ingestEndpoint: configuration.bus.ingest, publishEndpoint: configuration.bus.publish,
            replayEndpoint: configuration.bus.replay, journalPath: configuration.journalPath)
        bus.requestCPUs = configuration.performance.requestCPUs.resolved(allowed: CPUAffinity.allowedCPUs())
        let limits = configuration.limits
        bus.limits = EventLimits(maxBytes: limits.maxMessageBytes, maxLines: limits.maxLines)
        bus.limits.maxQuantity = limits.maxQuantity
        bus.limits.maxAmountMinorUnits = limits.maxAmountMinorUnits
        bus.limits.maxFutureMilliseconds = limits.maxFutureDays.map { Int64($0 * 86_400_000) }
        bus.limits.maxAgeMilliseconds = limits.maxPastDays.map { Int64($0 * 86_400_000) }
        if let rate = limits.ratePerSource {
            bus.rateLimit = RateLimit(eventsPerSecond: rate, burst: limits.burstPerSource ?? max(1, rate * 5))
        }
        if configuration.security.curve {
            let layout = KeyStoreLayout(directory: configuration.security.keysDirectory)
            do {
                let pair = try CurveKeyFile.readPair(base: layout.busBase)
                bus.curve = .init(serverSecretKey: pair.secretKey, allowListPath: layout.allowListPath)
            } catch {
                throw ValidationError("security.curve is on, but the bus key cannot be used: \(error) (run `loyalty keys init`)")
            }
        }
        return bus
    }
}
