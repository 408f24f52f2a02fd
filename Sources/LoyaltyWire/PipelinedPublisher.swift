import Foundation
import ZeroMQ

/// One event to publish: its id and its envelope bytes.
public struct OutgoingEvent: Sendable {
    public var eventId: String
    public var envelope: [UInt8]
    public init(eventId: String, envelope: [UInt8]) {
        self.eventId = eventId
        self.envelope = envelope
    }
}

/// What a pipelined run ended with.
public struct PublishSummary: Sendable {
    public var stored = 0
    public var duplicates = 0
    public var rejected: [Ack] = []
    /// Events given up on: no definitive answer before the deadline. Safe to send again.
    public var unacknowledged: [String] = []
    public var resends = 0
}

/// Publishes many events with up to `window` in flight, resending (same bytes, same eventId)
/// any that got no answer within `resendAfterMilliseconds` or came back `unavailable`. Used by
/// `loyalty pos simulate`, the benchmark and the crash tests. One thread owns it.
public final class PipelinedPublisher {
    private let socket: Socket
    public let endpoint: String
    public var window: Int
    public var resendAfterMilliseconds: Int

    private struct InFlight {
        var envelope: [UInt8]
        var sentAt: UInt64
        var firstSentAt: UInt64
    }

    public init(context: ZMQContext, endpoint: String, window: Int = 1000, resendAfterMilliseconds: Int = 2000,
                options: [SocketOption] = []) throws(ZMQError) {
        self.endpoint = endpoint
        self.window = window
        self.resendAfterMilliseconds = resendAfterMilliseconds
        socket = try Socket(context: context, type: .dealer)
        try socket.set([.sendHighWaterMark(0), .receiveHighWaterMark(0),
                        .reconnectInterval(milliseconds: 50), .reconnectIntervalMaximum(milliseconds: 500)])
        try socket.set(options)
        try socket.connect(endpoint)
    }

    /// Publishes every event of `events` and waits for their acks.
    /// - Parameters:
    ///   - ratePerSecond: pace new sends to this rate (nil: as fast as the window allows).
    ///   - deadlineMilliseconds: give up (listing what is unacknowledged) after this long.
    ///   - onAck: called for each definitive ack with the latency from first send, in nanoseconds.
    public func publish<S: Sequence>(
        _ events: S, ratePerSecond: Double? = nil, deadlineMilliseconds: Int = 600_000,
        shouldStop: () -> Bool = { false },
        onAck: (Ack, UInt64) -> Void = { _, _ in }
    ) throws(ZMQError) -> PublishSummary where S.Element == OutgoingEvent {
        var summary = PublishSummary()
        var iterator = events.makeIterator()
        var exhausted = false
        var inFlight: [String: InFlight] = [:]
        let start = Monotonic.nanoseconds
        let deadline = start + UInt64(deadlineMilliseconds) * 1_000_000
        let resendAfter = UInt64(resendAfterMilliseconds) * 1_000_000
        let interval: UInt64? = ratePerSecond.map { UInt64(1_000_000_000 / max($0, 0.001)) }
        var sentNew: UInt64 = 0
        var lastResendScan = start
        var poller = Poller()
        poller.add(socket)

        while !(exhausted && inFlight.isEmpty) {
            let now = Monotonic.nanoseconds
            if now > deadline || shouldStop() { break }
            // Resend anything silent for too long (or refused as unavailable, see below).
            if now - lastResendScan > min(resendAfter / 4, 50_000_000) {
                lastResendScan = now
                for (eventId, entry) in inFlight where now > entry.sentAt && now - entry.sentAt > resendAfter {
                    inFlight[eventId]?.sentAt = now
                    summary.resends += 1
                    try socket.send([Frame(frame: WireCommand.event), entry.envelope])
                }
            }
            // New sends, within the window and the pace.
            var waitMilliseconds = 100
            while !exhausted && inFlight.count < window {
                if let interval {
                    let due = start + sentNew * interval
                    let clock = Monotonic.nanoseconds
                    if clock < due {
                        let wait = due - clock
                        if wait < 1_000_000 {
                            // Less than poll's 1 ms resolution: sleep the exact time instead of
                            // spinning on poll(0), which would take a core from the bus.
                            if (try? poller.poll(timeoutMilliseconds: 0)[0].contains(.readable)) != true {
                                usleep(UInt32(wait / 1000))
                            }
                            waitMilliseconds = 0
                        } else {
                            waitMilliseconds = Int(wait / 1_000_000)
                        }
                        break
                    }
                }
                guard let event = iterator.next() else { exhausted = true; break }
                let sentAt = interval.map { start + sentNew * $0 } ?? Monotonic.nanoseconds
                sentNew += 1
                if let existing = inFlight[event.eventId] {
                    // The same id twice in one run: the second is answered by the first's ack.
                    _ = existing
                    continue
                }
                inFlight[event.eventId] = InFlight(envelope: event.envelope, sentAt: sentAt, firstSentAt: sentAt)
                try socket.send([Frame(frame: WireCommand.event), event.envelope])
                if interval != nil { waitMilliseconds = 0 }
            }
            if exhausted && inFlight.isEmpty { break }
            // Acks.
            let ready = try poller.poll(timeoutMilliseconds: inFlight.count >= window || exhausted ? 50 : waitMilliseconds)
            guard ready[0].contains(.readable) else { continue }
            while let frames = try socket.receive(dontWait: true) {
                guard let ack = Ack(frames: frames), let entry = inFlight[ack.eventId] else { continue }
                switch ack.status {
                case .stored: summary.stored += 1
                case .duplicate: summary.duplicates += 1
                case .rejected: summary.rejected.append(ack)
                case .unavailable:
                    // Not stored; the bus asks us to come back. Resend in about 200 ms.
                    let backoff: UInt64 = 200_000_000
                    let now = Monotonic.nanoseconds
                    inFlight[ack.eventId]?.sentAt = now - min(now, resendAfter > backoff ? resendAfter - backoff : 0)
                    continue
                }
                inFlight[ack.eventId] = nil
                onAck(ack, Monotonic.nanoseconds &- entry.firstSentAt)
            }
        }
        summary.unacknowledged = Array(inFlight.keys)
        if !exhausted {
            while let event = iterator.next() { summary.unacknowledged.append(event.eventId) }
        }
        return summary
    }
}
