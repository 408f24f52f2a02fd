import Logging
import LoyaltyWire
import ZeroMQ

/// The ingest ROUTER's thread: validates events and queues them for the journal writer, routes
/// service requests to plugin workers by name, keeps heartbeats, acknowledges what the writer
/// committed and publishes it on PUB (with a once-a-second `$head` beacon). It never touches
/// the disk, so a service request is not held up by a commit.
struct FrontRouter {
    let configuration: BusConfiguration
    let context: ZMQContext
    /// The journal head when the bus started; the beacon announces it until events arrive.
    let initialHead: Int64
    let queue: IngestQueue
    let replies: ReplyQueue
    let stop: StopSignal
    let statistics: BusStatistics
    let metrics: BusMetrics
    let logger: Logger

    func run(startup: StartupGate) {
        let router: Socket
        let publisher: Socket
        do {
            router = try Socket(context: context, type: .router)
            try router.set(configuration.serverSocketOptions(.ingest))
            try router.set([.routerMandatory(true), .sendHighWaterMark(0), .receiveHighWaterMark(0),
                            .maximumMessageSize(Int64(configuration.limits.maxBytes) * 2 + 4096)])
            try router.bind(configuration.ingestEndpoint)
            publisher = try Socket(context: context, type: .pub)
            try publisher.set(configuration.serverSocketOptions(.publish))
            // Deep enough that a subscriber busy for a moment loses nothing; a subscriber that
            // still falls behind sees a gap in seq and catches up through replay.
            try publisher.set(.sendHighWaterMark(1_000_000))
            try publisher.bind(configuration.publishEndpoint)
        } catch {
            startup.fail(error)
            return
        }
        startup.succeed()
        var state = State(router: router, publisher: publisher, queue: queue, configuration: configuration,
                          logger: logger, head: initialHead, statistics: statistics, metrics: metrics,
                          rateLimiter: configuration.rateLimit.map(RateLimiter.init(limit:)))
        var poller = Poller()
        poller.add(router)
        poller.add(fileDescriptor: replies.fileDescriptor)
        var lastHeartbeat = Monotonic.now

        while !stop.isSet {
            do {
                let ready = try poller.poll(timeoutMilliseconds: 100)
                let now = Monotonic.now
                if ready[1].contains(.readable) {
                    // Acks first: they free producers' windows.
                    state.acknowledgeAndPublish(replies.takeAll())
                }
                if ready[0].contains(.readable) {
                    // A bounded drain, so that acks and requests are never starved by a flood.
                    // One clock read per drain: the events waited in the socket at least since now.
                    let receivedAt = Monotonic.nanoseconds
                    var count = 0
                    // With CURVE, who sent each message: the ZAP handler's user id for its connection.
                    let sender = configuration.curve == nil ? nil : "User-Id"
                    while count < 512, let (frames, userId) = try router.receive(dontWait: true, property: sender) {
                        state.handle(frames, now: now, receivedAt: receivedAt, sender: userId.flatMap(Sender.init(userId:)))
                        count += 1
                    }
                }
                if now - lastHeartbeat >= configuration.heartbeatIntervalMilliseconds {
                    lastHeartbeat = now
                    state.heartbeat(now: now)
                    try publisher.send([Frame(frame: WireCommand.headTopic), Frame(frame: String(state.head))])
                }
                state.expireRequests(now: now)
            } catch where error.isContextTerminated {
                break
            } catch {
                logger.error("ingest router: \(error)")
            }
        }
        // Acks the writer produced while we were stopping still go out (linger permitting).
        state.acknowledgeAndPublish(replies.takeAll())
    }

    struct State {
        let router: Socket
        let publisher: Socket
        let queue: IngestQueue
        let configuration: BusConfiguration
        let logger: Logger
        var head: Int64
        var services = ServiceDirectory()
        let statistics: BusStatistics
        let metrics: BusMetrics
        /// Counted here, on the front thread, and copied into the metrics when they are asked for.
        var counts = BusMetrics.FrontCounts()
        var rateLimiter: RateLimiter?

        /// Acks every outcome, then publishes the newly stored events in seq order.
        mutating func acknowledgeAndPublish(_ outcomes: [WriteOutcome]) {
            for outcome in outcomes { sendToPeer(outcome.peer, outcome.ack.frames) }
            let ackedAt = Monotonic.nanoseconds
            for outcome in outcomes where outcome.ack.status == .stored {
                let seq = outcome.ack.seq
                let event = PublishedEvent(topic: outcome.entry.type, seq: seq,
                                           envelope: EnvelopeSeq.insert(seq: seq, into: outcome.entry.body))
                do { try publisher.send(event.frames) } catch { logger.error("publish seq \(seq) failed: \(error)") }
                head = max(head, seq)
            }
            for outcome in outcomes where outcome.receivedAt != 0 && ackedAt > outcome.receivedAt {
                metrics.ackLatency.recordNanoseconds(Int64(ackedAt - outcome.receivedAt))
            }
        }

        /// Sends to a peer that may have gone: a vanished peer or a full queue loses only this
        /// message, which its sender retries.
        func sendToPeer(_ frames: [Frame]) {
            sendToPeer(frames[0], Array(frames.dropFirst()))
        }

        func sendToPeer(_ peer: Frame, _ frames: [Frame]) {
            do {
                if try !router.send(prefix: peer, frames, dontWait: true) {
                    logger.debug("peer queue full; message dropped, the peer will retry")
                }
            } catch let error where error.isHostUnreachable {
                logger.debug("peer gone; message dropped")
            } catch {
                logger.warning("send to peer failed: \(error)")
            }
        }

        func refuse(_ peer: Frame, code: String, _ message: String) {
            sendToPeer([peer, Frame(frame: WireCommand.error), Frame(frame: code), Frame(frame: message)])
        }

        /// - Parameter sender: who sent it, when CURVE is on (nil on a plaintext loopback bus).
        mutating func handle(_ frames: [Frame], now: Int, receivedAt: UInt64 = 0, sender: Sender? = nil) {
            guard frames.count >= 2 else { return }
            let peer = frames[0]
            let command = frames[1]
            // The common case without making a String of the command.
            if command.elementsEqual(Self.eventCommand) { return handleEvent(frames, peer: peer, receivedAt: receivedAt, sender: sender) }
            switch command.frameText {
            case WireCommand.event:
                handleEvent(frames, peer: peer, receivedAt: receivedAt, sender: sender)
            case WireCommand.request:
                handleRequest(frames, peer: peer, now: now)
            case WireCommand.ready:
                if let sender, sender.kind != .plugin {
                    counts.refusals["not_permitted", default: 0] += 1
                    return refuse(peer, code: "not_permitted", "only a plugin's key may offer services, not \(sender)")
                }
                let names = frames.dropFirst(2).map(\.frameText)
                guard !names.isEmpty, names.allSatisfy(Self.isServiceName) else {
                    return refuse(peer, code: "bad_frames", "'ready' is followed by one or more service names like 'points.balance'")
                }
                services.register(worker: peer, services: names, now: now)
                logger.info("worker registered", metadata: ["services": "\(names.joined(separator: ","))"])
            case WireCommand.heartbeat:
                if !services.heard(from: peer, now: now) {
                    // A worker the bus forgot (e.g. the bus restarted): ask it to register again.
                    sendToPeer([peer, Frame(frame: WireCommand.disconnect)])
                }
            case WireCommand.reply:
                services.heard(from: peer, now: now)
                guard frames.count == 5, let token = UInt64(frames[2].frameText),
                      let status = ReplyStatus(rawValue: frames[3].frameText) else {
                    return refuse(peer, code: "bad_frames", "a worker reply is 'reply', token, status, body")
                }
                guard let request = services.complete(token: token, from: peer) else { return }
                sendToPeer([request.client] + Reply(requestId: request.requestId, status: status, body: frames[4]).frames)
            case WireCommand.disconnect:
                for request in services.remove(worker: peer) {
                    answerUnavailable(request, because: "the plugin serving '\(request.service)' is shutting down")
                }
            default:
                let shown = String(command.frameText.prefix(40).map { $0.isASCII && !$0.isNewline ? $0 : "?" })
                refuse(peer, code: "unknown_command", "unknown command '\(shown)'; expected event, request, ready, heartbeat, reply or disconnect")
            }
        }

        static let eventCommand = Frame(frame: WireCommand.event)

        mutating func handleEvent(_ frames: [Frame], peer: Frame, receivedAt: UInt64, sender: Sender? = nil) {
            guard frames.count == 3 else {
                return refuse(peer, code: "bad_frames", "an event is 2 frames: 'event' and the envelope JSON; got \(frames.count - 1)")
            }
            guard frames[2].count <= configuration.limits.maxBytes else {
                let ack = Ack(eventId: "", status: .rejected, code: "too_large",
                              message: "the envelope is \(frames[2].count) bytes; the limit is \(configuration.limits.maxBytes)")
                counts.refusals[ack.code, default: 0] += 1
                return sendToPeer([peer] + ack.frames)
            }
            switch EventAdmission.check(frames[2], limits: configuration.limits) {
            case .refused(let ack):
                counts.refusals[ack.code, default: 0] += 1
                sendToPeer([peer] + ack.frames)
            case .admitted(let entry, let source):
                if let sender, let problem = sender.refusal(type: entry.type, source: source) {
                    let ack = Ack(eventId: entry.eventId, status: .rejected, code: "not_permitted", message: problem)
                    counts.refusals[ack.code, default: 0] += 1
                    return sendToPeer([peer] + ack.frames)
                }
                if let retryAfter = rateLimiter?.take(source: source, now: Monotonic.now) {
                    statistics.recordRateLimited()
                    let limit = configuration.rateLimit!
                    let ack = Ack(eventId: entry.eventId, status: .unavailable, code: "rate_limited",
                                  message: "source '\(source)' sends more than \(Int(limit.eventsPerSecond)) events/s (burst \(Int(limit.burst))); not stored, retry in \(retryAfter) ms")
                    return sendToPeer([peer] + ack.frames)
                }
                if !queue.push(IngestQueue.Item(peer: peer, entry: entry, receivedAt: receivedAt), limit: configuration.maxQueuedEvents) {
                    let ack = Ack(eventId: entry.eventId, status: .unavailable, code: "overloaded",
                                  message: "the bus has \(configuration.maxQueuedEvents) events waiting for the journal; retry shortly")
                    counts.refusals[ack.code, default: 0] += 1
                    sendToPeer([peer] + ack.frames)
                }
            }
        }

        mutating func handleRequest(_ frames: [Frame], peer: Frame, now: Int) {
            guard frames.count == 5 || frames.count == 6 else {
                return refuse(peer, code: "bad_frames", "a request is 'request', service, requestId, body[, timeoutMilliseconds]")
            }
            let service = frames[2].frameText, requestId = frames[3].frameText
            guard Self.isServiceName(service), !requestId.isEmpty, requestId.utf8.count <= 128 else {
                return refuse(peer, code: "bad_frames", "service must be a name like 'points.balance' and requestId 1–128 bytes")
            }
            var timeout = configuration.defaultRequestTimeoutMilliseconds
            if frames.count == 6 {
                guard let asked = Int(frames[5].frameText), (1...60_000).contains(asked) else {
                    counts.requests["error", default: 0] += 1
                    return sendToPeer([peer] + Reply(requestId: requestId, status: .error,
                                                     body: Frame(frame: "timeoutMilliseconds must be an integer from 1 to 60000")).frames)
                }
                timeout = asked
            }
            if let answer = answerItself(service) {
                counts.requests["bus", default: 0] += 1
                return sendToPeer([peer] + Reply(requestId: requestId, status: .ok, body: answer).frames)
            }
            guard let (token, worker) = services.dispatch(service: service, client: peer, requestId: requestId, deadline: now + timeout) else {
                let known = services.serviceNames
                let message = "no plugin offering '\(service)' is running" + (known.isEmpty ? "" : " (running: \(known.joined(separator: ", ")))")
                counts.requests["unavailable", default: 0] += 1
                return sendToPeer([peer] + Reply(requestId: requestId, status: .unavailable, body: Frame(frame: message)).frames)
            }
            counts.requests["routed", default: 0] += 1
            sendToPeer([worker, Frame(frame: WireCommand.request), Frame(frame: String(token)), Frame(frame: service), frames[4]])
        }

        /// Services the bus answers itself, without a worker: `bus.metrics`, its Prometheus text.
        func answerItself(_ service: String) -> [UInt8]? {
            guard service == "bus.metrics" else { return nil }
            return metrics.exposition(statistics: statistics, front: counts, head: head, workers: services.workers.count)
        }

        mutating func heartbeat(now: Int) {
            for worker in services.silentWorkers(since: now - configuration.workerExpiryMilliseconds) {
                logger.warning("worker stopped responding; its services are unavailable until it returns")
                for request in services.remove(worker: worker) {
                    answerUnavailable(request, because: "the plugin serving '\(request.service)' stopped responding")
                }
            }
            for worker in services.workers.keys {
                sendToPeer([worker, Frame(frame: WireCommand.heartbeat)])
            }
        }

        mutating func expireRequests(now: Int) {
            for request in services.expireRequests(now: now) {
                counts.requests["timeout", default: 0] += 1
                sendToPeer([request.client] + Reply(requestId: request.requestId, status: .timeout,
                                                    body: Frame(frame: "'\(request.service)' did not answer in time")).frames)
            }
        }

        func answerUnavailable(_ request: ServiceDirectory.PendingRequest, because reason: String) {
            sendToPeer([request.client] + Reply(requestId: request.requestId, status: .unavailable, body: Frame(frame: reason)).frames)
        }

        static func isServiceName(_ name: String) -> Bool {
            !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D || $0 == 0x5F
            }
        }
    }
}
