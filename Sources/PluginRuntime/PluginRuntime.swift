import Foundation
import Logging
import LoyaltyConfig
import LoyaltyWire
import ServiceLifecycle
import Synchronization
import ZeroMQ

/// Where a plugin finds the bus, and its own database.
public struct PluginEndpoints: Sendable {
    public var ingest: String
    public var publish: String
    public var replay: String
    public var databasePath: String
    /// The folder of rule files, for plugins that read rules.
    public var rulesDirectory: String?
    /// The plugin's CURVE key pair and the bus's public key, when the bus uses CURVE.
    public var curve: CurveClientKeys?
    /// CPUs for the service thread and its ZeroMQ I/O thread (`performance.requestCPUs`); empty: any.
    public var requestCPUs: [Int] = []

    public init(ingest: String, publish: String, replay: String, databasePath: String, rulesDirectory: String? = nil,
                curve: CurveClientKeys? = nil) {
        self.ingest = ingest
        self.publish = publish
        self.replay = replay
        self.databasePath = databasePath
        self.rulesDirectory = rulesDirectory
        self.curve = curve
    }

    /// The endpoints of `configuration`; with `security.curve` on, also the plugin's keys:
    /// `$LOYALTY_CURVE_KEY` (a `.key_secret` file, set by `loyalty up`) or else
    /// `<keysDir>/plugins/<name>.key_secret`, and `<keysDir>/bus.key`.
    public init(configuration: LoyaltyConfiguration, pluginName: String,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws(CurveKeyError) {
        var curve: CurveClientKeys?
        if configuration.security.curve {
            let layout = KeyStoreLayout(directory: configuration.security.keysDirectory)
            var base = layout.base(kind: .plugin, name: pluginName)
            if let file = environment["LOYALTY_CURVE_KEY"], !file.isEmpty {
                base = file.hasSuffix(".key_secret") ? String(file.dropLast(".key_secret".count)) : file
            }
            curve = try CurveClientKeys.load(keysDirectory: layout.directory, clientBase: base)
        }
        self.init(ingest: configuration.bus.ingest, publish: configuration.bus.publish,
                  replay: configuration.bus.replay, databasePath: configuration.pluginDatabasePath(name: pluginName),
                  rulesDirectory: configuration.rulesDirectory, curve: curve)
        requestCPUs = configuration.performance.requestCPUs.resolved(allowed: CPUAffinity.allowedCPUs())
    }

    /// CURVE client options for every socket the plugin connects to the bus (none without CURVE).
    var socketOptions: [SocketOption] { curve?.socketOptions ?? [] }
}

/// Runs a plugin: its event feed and its bus link, each on a thread of its own, until graceful
/// shutdown. A `Service`, so `ServiceGroup` stops it on SIGTERM.
public final class PluginRuntime: Service, Sendable {
    public let plugin: any LoyaltyPlugin
    public let endpoints: PluginEndpoints
    private let store: PluginStore
    private let context: ZMQContext
    /// The service link's context: `context`, or one whose I/O thread runs on the request CPUs.
    private let requestContext: ZMQContext
    private let stopSignal = StopSignal()
    private let logger: Logger
    /// The plugin's Prometheus registry, served as `<plugin>.metrics`.
    public let metrics: PluginMetrics

    /// How the event feed batches its replay; tests make the sizes small.
    private let feedTuning: FeedTuning

    public convenience init(plugin: any LoyaltyPlugin, endpoints: PluginEndpoints, logger: Logger) throws {
        try self.init(plugin: plugin, endpoints: endpoints, logger: logger, feedTuning: FeedTuning())
    }

    init(plugin: any LoyaltyPlugin, endpoints: PluginEndpoints, logger: Logger, feedTuning: FeedTuning) throws {
        self.feedTuning = feedTuning
        self.plugin = plugin
        self.endpoints = endpoints
        var logger = logger
        logger[metadataKey: "plugin"] = "\(plugin.name)"
        self.logger = logger
        store = try PluginStore(path: endpoints.databasePath, plugin: plugin)
        context = try ZMQContext()
        // With request CPUs, the service link gets a context (an I/O thread) of its own on them,
        // so that catching up through replay does not pass through the request path's CPU.
        requestContext = endpoints.requestCPUs.isEmpty ? context : try ZMQContext(ioThreadCPUs: endpoints.requestCPUs)
        metrics = PluginMetrics(pluginName: plugin.name)
    }

    /// The last journal seq whose effects are committed in the plugin's database.
    public func appliedSeq() throws -> Int64 { try store.appliedSeq() }

    public func run() async throws {
        let outbox = OutboxSignal()
        let feed = EventFeed(endpoints: endpoints, plugin: plugin, store: store, context: context,
                             stop: stopSignal, outboxDirty: outbox, metrics: metrics, logger: logger, tuning: feedTuning)
        var services = plugin.services
        services["\(plugin.name).metrics"] = metrics.service
        var keeper: RulesKeeper?
        if let live = plugin.liveRules {
            guard let directory = endpoints.rulesDirectory else {
                throw RulesUnavailable(message: "\(plugin.name) reads rule files, but no rules folder is configured")
            }
            // The rules must be in force before the first event is applied.
            let rulesKeeper = RulesKeeper(plugin: plugin, live: live, directory: directory, store: store, stop: stopSignal,
                                          outboxDirty: outbox, logger: logger)
            try await runOffPool { try rulesKeeper.installInitialRules() }
            services["\(plugin.name).rules"] = rulesKeeper.service
            keeper = rulesKeeper
        }
        let janitor = OutboxJanitor(store: store, stop: stopSignal, logger: logger)
        let link = BusLink(endpoints: endpoints, plugin: plugin, store: store, context: requestContext,
                           stop: stopSignal, outboxDirty: outbox, janitor: janitor, logger: logger, services: services)
        let gates = (StartupGate(), StartupGate())
        let requestCPUs = endpoints.requestCPUs, logger = self.logger
        var started = [
            OwnedThread(name: "\(plugin.name).feed") { feed.run(startup: gates.0) },
            OwnedThread(name: "\(plugin.name).link") {
                do {
                    try CPUAffinity.bindCurrentThread(to: requestCPUs)
                } catch {
                    logger.error("the service thread runs on any CPU: \(error)")
                }
                link.run(startup: gates.1)
            },
        ]
        started.append(OwnedThread(name: "\(plugin.name).outbox") { janitor.run() })
        if let keeper { started.append(OwnedThread(name: "\(plugin.name).rules") { keeper.watch() }) }
        let threads = started
        var startError: (any Error)?
        do {
            try await runOffPool {
                try gates.0.wait()
                try gates.1.wait()
            }
            logger.info("plugin running", metadata: ["services": "\(services.keys.sorted().joined(separator: ","))"])
            try? await gracefulShutdown()
            logger.info("plugin stopping")
        } catch {
            startError = error
        }
        stopSignal.set()
        _ = try? await runOffPool { for thread in threads { thread.join() } }
        if let startError { throw startError }
    }
}
