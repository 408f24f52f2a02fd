import Foundation
import ZeroMQ

/// Why a client call gave up.
public enum BusClientError: Error, Sendable, CustomStringConvertible {
    /// No acknowledgement after every retry; the event may or may not be stored. Send it
    /// again later with the same `eventId`: the bus stores it at most once.
    case noAcknowledgement(eventId: String, attempts: Int, endpoint: String)
    case noReply(service: String, endpoint: String, waitedMilliseconds: Int)
    case transport(ZMQError)

    public var description: String {
        switch self {
        case let .noAcknowledgement(eventId, attempts, endpoint):
            "no acknowledgement for \(eventId) from \(endpoint) after \(attempts) attempts; is the bus running? (`loyalty up` or `loyalty bus`)"
        case let .noReply(service, endpoint, waited):
            "no reply from \(endpoint) for service '\(service)' within \(waited) ms; is the bus running?"
        case let .transport(error):
            "transport: \(error)"
        }
    }
}

/// A synchronous client of the bus's ingest endpoint: publish one event at a time with retries,
/// or call a service. Owns a DEALER socket, so use it on one thread (not the Swift concurrency
/// pool: its calls block).
public final class BusClient {
    public let endpoint: String
    let socket: Socket
    private var nextRequest: UInt64 = 0

    public init(context: ZMQContext, endpoint: String, options: [SocketOption] = []) throws(ZMQError) {
        self.endpoint = endpoint
        socket = try Socket(context: context, type: .dealer)
        try socket.set([.sendHighWaterMark(100_000), .receiveHighWaterMark(100_000),
                        .reconnectInterval(milliseconds: 50), .reconnectIntervalMaximum(milliseconds: 1000)])
        try socket.set(options)
        try socket.connect(endpoint)
    }

    /// Publishes one event, resending the same bytes until the bus answers or the attempts run
    /// out. The bus deduplicates by `eventId`, so a resend after a lost ack is harmless.
    /// - Returns: the bus's ack (stored, duplicate or rejected). `unavailable` is retried.
    public func publish(_ envelope: [UInt8], eventId: String, attemptTimeoutMilliseconds: Int = 1000,
                        maxAttempts: Int = 10) throws(BusClientError) -> Ack {
        var attempts = 0
        var lastUnavailable: Ack?
        while attempts < maxAttempts {
            attempts += 1
            do {
                try socket.send([Frame(frame: WireCommand.event), envelope])
                let deadline = Monotonic.now + attemptTimeoutMilliseconds
                while let remaining = Monotonic.remaining(until: deadline) {
                    var poller = Poller()
                    poller.add(socket)
                    guard try poller.poll(timeoutMilliseconds: remaining)[0].contains(.readable),
                          let frames = try socket.receive(dontWait: true) else { continue }
                    // Acks for earlier attempts of other events can still arrive: skip them. A
                    // refusal without an id (too large, unreadable JSON) can only be ours: this
                    // client has one event in flight.
                    guard let ack = Ack(frames: frames),
                          ack.eventId == eventId || (ack.eventId.isEmpty && ack.status == .rejected) else { continue }
                    if ack.status == .unavailable {
                        lastUnavailable = ack
                        usleep(200_000)   // the bus asked us to come back; not at once
                        break
                    }
                    return ack
                }
            } catch {
                throw .transport(error)
            }
        }
        if let lastUnavailable { return lastUnavailable }
        throw .noAcknowledgement(eventId: eventId, attempts: attempts, endpoint: endpoint)
    }

    /// Calls a plugin's service through the bus.
    public func request(service: String, body: [UInt8], timeoutMilliseconds: Int = 3000) throws(BusClientError) -> Reply {
        nextRequest += 1
        let requestId = String(nextRequest)
        do {
            try socket.send([Frame(frame: WireCommand.request), Frame(frame: service), Frame(frame: requestId), body,
                             Frame(frame: String(timeoutMilliseconds))])
            let deadline = Monotonic.now + timeoutMilliseconds + 500
            while let remaining = Monotonic.remaining(until: deadline) {
                var poller = Poller()
                poller.add(socket)
                guard try poller.poll(timeoutMilliseconds: remaining)[0].contains(.readable),
                      let frames = try socket.receive(dontWait: true) else { continue }
                if let reply = Reply(frames: frames), reply.requestId == requestId { return reply }
            }
        } catch {
            throw .transport(error)
        }
        throw .noReply(service: service, endpoint: endpoint, waitedMilliseconds: timeoutMilliseconds + 500)
    }
}
