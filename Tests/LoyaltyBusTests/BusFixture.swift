import Foundation
import Logging
import LoyaltyBus
import LoyaltyTestSupport
import ZeroMQ

/// A real bus on `ipc://` endpoints with its journal in a temporary folder.
final class BusFixture {
    let directory: TemporaryDirectory
    let configuration: BusConfiguration
    private(set) var bus: Bus
    let context: ZMQContext

    init(adjust: (inout BusConfiguration) -> Void = { _ in }) throws {
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
    func restart() throws {
        bus.stop()
        bus = try Bus(configuration: configuration, logger: Logger(label: "test.bus"))
        try bus.start()
    }

    func dealer(_ endpoint: String? = nil) throws -> Socket {
        let socket = try Socket(context: context, type: .dealer)
        try socket.connect(endpoint ?? configuration.ingestEndpoint)
        return socket
    }

    func subscriber() throws -> Socket {
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
