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

    public init(ingest: String, publish: String, replay: String, databasePath: String) {
        self.ingest = ingest
        self.publish = publish
        self.replay = replay
        self.databasePath = databasePath
    }

    public init(configuration: LoyaltyConfiguration, pluginName: String) {
        self.init(ingest: configuration.bus.ingest, publish: configuration.bus.publish,
                  replay: configuration.bus.replay, databasePath: configuration.pluginDatabasePath(name: pluginName))
    }
}

/// Runs a plugin: its event feed and its bus link, each on a thread of its own, until graceful
/// shutdown. A `Service`, so `ServiceGroup` stops it on SIGTERM.
public final class PluginRuntime: Service, Sendable {
    public let plugin: any LoyaltyPlugin
    public let endpoints: PluginEndpoints
    private let store: PluginStore
    private let context: ZMQContext
    private let stopSignal = StopSignal()
    private let logger: Logger

    public init(plugin: any LoyaltyPlugin, endpoints: PluginEndpoints, logger: Logger) throws {
        self.plugin = plugin
        self.endpoints = endpoints
        var logger = logger
        logger[metadataKey: "plugin"] = "\(plugin.name)"
        self.logger = logger
        store = try PluginStore(path: endpoints.databasePath, plugin: plugin)
        context = try ZMQContext()
    }

    /// The last journal seq whose effects are committed in the plugin's database.
    public func appliedSeq() throws -> Int64 { try store.appliedSeq() }

    public func run() async throws {
        let outbox = OutboxSignal()
        let feed = EventFeed(endpoints: endpoints, plugin: plugin, store: store, context: context,
                             stop: stopSignal, outboxDirty: outbox, logger: logger)
        let link = BusLink(endpoints: endpoints, plugin: plugin, store: store, context: context,
                           stop: stopSignal, outboxDirty: outbox, logger: logger)
        let gates = (StartupGate(), StartupGate())
        let threads = [
            OwnedThread(name: "\(plugin.name).feed") { feed.run(startup: gates.0) },
            OwnedThread(name: "\(plugin.name).link") { link.run(startup: gates.1) },
        ]
        var startError: (any Error)?
        do {
            try await runOffPool {
                try gates.0.wait()
                try gates.1.wait()
            }
            logger.info("plugin running", metadata: ["services": "\(plugin.services.keys.sorted().joined(separator: ","))"])
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
