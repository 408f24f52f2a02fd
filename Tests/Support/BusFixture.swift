import Foundation
import Logging
import LoyaltyBus
import ZeroMQ

/// A real bus on `ipc://` endpoints with its journal in a temporary folder.
public final class BusFixture {
    public let directory: TemporaryDirectory
    public let configuration: BusConfiguration
    public private(set) var bus: Bus
    public let context: ZMQContext

    public init(adjust: (inout BusConfiguration) -> Void = { _ in }) throws {
        directory = try TemporaryDirectory("bus-test")
        var configuration = BusConfiguration(ingestEndpoint: directory.ipc("ingest"), publishEndpoint: directory.ipc("publish"),
                                             replayEndpoint: directory.ipc("replay"), journalPath: directory.path + "/journal.sqlite")
        adjust(&configuration)
        self.configuration = configuration
        bus = try Bus(configuration: configuration, logger: Logger(label: "test.bus"))
        try bus.start()
        context = try ZMQContext()
    }

    /// Stops the bus and starts a new one on the same journal, as after a crash or restart.
    public func restart() throws {
        bus.stop()
        bus = try Bus(configuration: configuration, logger: Logger(label: "test.bus"))
        try bus.start()
    }

    public func dealer(_ endpoint: String? = nil) throws -> Socket {
        let socket = try Socket(context: context, type: .dealer)
        try socket.connect(endpoint ?? configuration.ingestEndpoint)
        return socket
    }

    public func subscriber() throws -> Socket {
        let socket = try Socket(context: context, type: .sub)
        try socket.set(.subscribe([]))
        try socket.connect(configuration.publishEndpoint)
        return socket
    }

    deinit {
        bus.stop()
        directory.remove()
    }
}
