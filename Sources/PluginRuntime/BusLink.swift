import Foundation
import Logging
import LoyaltyWire
import Synchronization
import ZeroMQ

/// Tells the bus link that the outbox has new events, so it need not wait for its next scan.
final class OutboxSignal: Sendable {
    private let flag = Atomic<Bool>(true)
    func raise() { flag.store(true, ordering: .releasing) }
    func take() -> Bool { flag.exchange(false, ordering: .acquiringAndReleasing) }
}

/// The plugin's DEALER to the bus's ingest endpoint: sends the outbox (derived events, deleted
/// only once acknowledged), registers the plugin's services, answers requests, and keeps
/// heartbeats both ways. Runs on its own thread and owns its socket.
struct BusLink {
    let endpoints: PluginEndpoints
    let plugin: any LoyaltyPlugin
    let store: PluginStore
    let context: ZMQContext
    let stop: StopSignal
    let outboxDirty: OutboxSignal
    let janitor: OutboxJanitor
    let logger: Logger
    /// The plugin's services and the runtime's own (`<plugin>.rules`).
    let services: [String: ServiceHandler]
    var heartbeatMilliseconds = 1000
    /// Without any message from the bus for this long, the link reconnects and registers again.
    var busSilenceMilliseconds = 3500
    /// Outbox events sent and not acknowledged yet, at most: the bus acknowledges each once it
    /// is stored, so this bounds what is resent after a reconnect.
    var outboxWindow = 5000

    func run(startup: StartupGate) {
        startup.succeed()
        while !stop.isSet {
            do {
                try session(services: services)
            } catch let error as ZMQError where error.isContextTerminated {
                return
            } catch {
                logger.error("bus link: \(error); reconnecting")
                sleepMilliseconds(500)
            }
        }
    }

    /// One connection's life: ends (to reconnect) when the bus stays silent or asks us to register again.
    private func session(services: [String: ServiceHandler]) throws {
        let socket = try Socket(context: context, type: .dealer)
        try socket.set(endpoints.socketOptions)
        try socket.set([.reconnectInterval(milliseconds: 100), .sendHighWaterMark(0), .receiveHighWaterMark(0)])
        try socket.connect(endpoints.ingest)
        let names = services.keys.sorted()
        if !names.isEmpty {
            try socket.send([Frame(frame: WireCommand.ready)] + names.map { Frame(frame: $0) })
        }
        var poller = Poller()
        poller.add(socket)
        var lastHeard = Monotonic.now
        var lastHeartbeat = Monotonic.now
        var lastOutboxScan = 0
        var lastResendCheck = 0
        /// Outbox events sent and not yet acknowledged: their outbox position, when they were
        /// sent, and the bytes.
        var inFlight: [String: (position: Int64, sentAt: Int, body: [UInt8])] = [:]
        /// The outbox is read forward from here; a new session starts from the beginning, so
        /// whatever was not acknowledged before is sent again (the bus answers "duplicate").
        var sentThrough: Int64 = 0
        var moreInOutbox = true

        while !stop.isSet {
            let ready = try poller.poll(timeoutMilliseconds: 50)
            let now = Monotonic.now
            if ready[0].contains(.readable) {
                var acknowledged: [Int64] = []
                while let frames = try socket.receive(dontWait: true) {
                    lastHeard = now
                    guard let command = frames.first?.frameText else { continue }
                    switch command {
                    case WireCommand.ack:
                        guard let ack = Ack(frames: frames), let sent = inFlight[ack.eventId] else { continue }
                        switch ack.status {
                        case .stored, .duplicate:
                            acknowledged.append(sent.position)
                        case .rejected:
                            // Retrying cannot help; keep the record in the log and move on.
                            logger.error("derived event refused by the bus: \(ack)", metadata: ["event.id": "\(ack.eventId)"])
                            acknowledged.append(sent.position)
                        case .unavailable:
                            inFlight[ack.eventId] = (sent.position, now - 1500, sent.body)   // resend in about half a second
                            continue
                        }
                        inFlight[ack.eventId] = nil
                    case WireCommand.request:
                        guard frames.count == 4 else { continue }
                        let reply = answer(service: frames[2].frameText, body: frames[3], services: services)
                        try socket.send([Frame(frame: WireCommand.reply), frames[1], Frame(frame: reply.status.rawValue), reply.body])
                        // A handler may have queued events (a redemption): send them now, not at the next scan.
                        if Outbox.queuedByHandler.exchange(false, ordering: .acquiringAndReleasing) { outboxDirty.raise() }
                    case WireCommand.disconnect:
                        // The bus does not know us (it restarted): register again.
                        if !names.isEmpty { try socket.send([Frame(frame: WireCommand.ready)] + names.map { Frame(frame: $0) }) }
                    default:
                        continue   // heartbeat, or something newer than us
                    }
                }
                janitor.delete(acknowledged)
            }
            if !names.isEmpty && now - lastHeartbeat >= heartbeatMilliseconds {
                lastHeartbeat = now
                try socket.send([Frame(frame: WireCommand.heartbeat)])
            }
            if !names.isEmpty && now - lastHeard > busSilenceMilliseconds {
                logger.warning("no heartbeat from the bus at \(endpoints.ingest) for \(now - lastHeard) ms; reconnecting")
                return
            }
            // Outbox: send what is new, up to the window; a scan every second catches anything
            // a signal missed.
            if outboxDirty.take() || now - lastOutboxScan > 1000 { moreInOutbox = true }
            if moreInOutbox && inFlight.count < outboxWindow {
                lastOutboxScan = now
                let room = outboxWindow - inFlight.count
                let entries = try store.outbox(after: sentThrough, limit: room)
                for entry in entries {
                    inFlight[entry.eventId] = (entry.position, now, entry.body)
                    try socket.send([Frame(frame: WireCommand.event), entry.body])
                    sentThrough = entry.position
                }
                moreInOutbox = entries.count == room
            }
            // Resend what waited two seconds for an ack (the bus restarted, or refused for a while).
            if !inFlight.isEmpty && now - lastResendCheck > 500 {
                lastResendCheck = now
                for (eventId, sent) in inFlight where now - sent.sentAt >= 2000 {
                    inFlight[eventId] = (sent.position, now, sent.body)
                    try socket.send([Frame(frame: WireCommand.event), sent.body])
                }
            }
        }
        if !names.isEmpty { _ = try? socket.send([Frame(frame: WireCommand.disconnect)], dontWait: true) }
    }

    private func answer(service: String, body: [UInt8], services: [String: ServiceHandler]) -> Reply {
        guard let handler = services[service] else {
            return Reply(requestId: "", status: .error, body: Frame(frame: "this plugin does not offer '\(service)'"))
        }
        do {
            switch try handler(ServiceRequest(service: service, body: body), store.pool) {
            case .ok(let body): return Reply(requestId: "", status: .ok, body: body)
            case .error(let reason): return Reply(requestId: "", status: .error, body: Frame(frame: reason))
            }
        } catch {
            logger.error("service \(service) failed: \(error)")
            return Reply(requestId: "", status: .error, body: Frame(frame: "\(service) failed: \(error)"))
        }
    }
}
