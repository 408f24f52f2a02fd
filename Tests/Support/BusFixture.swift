import Foundation
import Logging
import LoyaltyBus
import LoyaltyWire
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

    /// A SUB to every topic, returned once its subscription has reached the bus: it has seen a
    /// `$head` beacon (published once a second), so nothing published after this returns is
    /// missed. Read events from it with `nextEvent`, which skips the beacons.
    public func liveSubscriber() throws -> Socket {
        let socket = try subscriber()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let frames = try receive(socket, within: 500), frames.first?.frameText == WireCommand.headTopic { return socket }
        }
        throw FixtureError(message: "no $head beacon reached a subscriber of \(configuration.publishEndpoint) within 10 s")
    }

    deinit {
        bus.stop()
        directory.remove()
    }
}

/// The next stored event published on `subscriber`, skipping the bus's `$head` beacons; nil if
/// none comes within `milliseconds`.
public func nextEvent(_ subscriber: Socket, within milliseconds: Int) throws -> PublishedEvent? {
    let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
    while Date() < deadline {
        let left = max(1, Int(deadline.timeIntervalSinceNow * 1000))
        guard let frames = try receive(subscriber, within: left) else { return nil }
        if frames.first?.frameText == WireCommand.headTopic { continue }
        return PublishedEvent(frames: frames)
    }
    return nil
}

public struct FixtureError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
