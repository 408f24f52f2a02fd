import Foundation
import LoyaltyWire
import LoyaltyEvents
import ZeroMQ

/// A folder under the system's temporary folder, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ prefix: String = "loyalty-test") throws {
        let path = NSTemporaryDirectory() + "\(prefix)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        self.path = path
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// An `ipc://` endpoint inside this folder: no port can collide.
    public func ipc(_ name: String) -> String { "ipc://\(path)/\(name).sock" }
}

/// Sample events.
public enum Sample {
    public static func purchase(store: String = "S001", terminal: String = "T1", receipt: Int, customer: String? = "C000001",
                                amount: Int64 = 3900, at: Int64 = 1_790_000_000_000) -> EventEnvelope {
        let line = PurchaseLine(sku: "COF-001", category: "coffee", quantity: 1, unitPrice: amount, margin: amount / 2)
        let purchase = Purchase(storeId: store, terminalId: terminal, receiptId: String(receipt), customerId: customer,
                                currency: .NOK, lines: [line], total: amount)
        return EventEnvelope(eventId: "\(store)-\(terminal)-\(receipt)", occurredAt: Timestamp(epochMilliseconds: at),
                             source: "pos/\(store)/\(terminal)", payload: .purchase(purchase))
    }

    public static func survey(store: String = "S001", id: String, nps: Int) -> EventEnvelope {
        EventEnvelope(eventId: id, occurredAt: Timestamp(epochMilliseconds: 1_790_000_000_000), source: "survey/\(store)",
                      payload: .survey(Survey(storeId: store, customerId: "C000001", nps: nps)))
    }

    public static func bytes(_ envelope: EventEnvelope) -> [UInt8] { EventCodec.encode(envelope) }
}

/// Receives one message within `milliseconds`, or nil.
public func receive(_ socket: Socket, within milliseconds: Int) throws -> [Frame]? {
    var poller = Poller()
    poller.add(socket)
    let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
    while Date() < deadline {
        let left = max(1, Int(deadline.timeIntervalSinceNow * 1000))
        if try poller.poll(timeoutMilliseconds: left)[0].contains(.readable), let frames = try socket.receive(dontWait: true) {
            return frames
        }
    }
    return nil
}

/// Polls `condition` until it holds or `seconds` pass. For conditions reached by other
/// threads or processes; generous deadlines keep it reliable on a loaded machine.
public func waitUntil(seconds: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}
