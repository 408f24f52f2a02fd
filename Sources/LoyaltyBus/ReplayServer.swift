import Logging
import LoyaltyWire
import ZeroMQ

/// Serves "events after seq N" from the journal on its own thread and read connection, so a
/// plugin catching up never slows ingest. The client drives the pace: one batch per request.
/// With CURVE, only a key that may read (plugin, reader, terminal with `+read`) is served; any
/// other's request is answered `error`/`not_permitted` with what to do, so its client can say
/// why instead of waiting for an answer that never comes.
struct ReplayServer {
    let configuration: BusConfiguration
    let journal: Journal
    let context: ZMQContext
    let stop: StopSignal
    let logger: Logger

    func run(startup: StartupGate) {
        let router: Socket
        do {
            router = try Socket(context: context, type: .router)
            try router.set(configuration.serverSocketOptions(.replay))
            try router.set([.routerMandatory(true), .maximumMessageSize(64 * 1024)])
            try router.bind(configuration.replayEndpoint)
        } catch {
            startup.fail(error)
            return
        }
        startup.succeed()
        var poller = Poller()
        poller.add(router)
        var warnings = WarningThrottle()
        // With CURVE, who sent each request: the ZAP handler's user id for its connection.
        let property = configuration.curve == nil ? nil : "User-Id"
        while !stop.isSet {
            do {
                guard try poller.poll(timeoutMilliseconds: 200)[0].contains(.readable) else { continue }
                while let (frames, userId) = try router.receive(dontWait: true, property: property) {
                    guard frames.count >= 2 else { continue }
                    let reply: [Frame]
                    if let property, let refusal = Self.refusal(userId: userId, property: property) {
                        if warnings.shouldWarn(about: userId ?? "") {
                            logger.warning("replay refused: \(refusal)")
                        }
                        reply = self.error("not_permitted", refusal)
                    } else {
                        reply = answer(frames)
                    }
                    do {
                        try router.send([frames[0]] + reply, dontWait: true)
                    } catch let error where error.isHostUnreachable {
                        continue
                    }
                }
            } catch where error.isContextTerminated {
                break
            } catch {
                logger.error("replay: \(error)")
            }
        }
    }

    /// Why a CURVE peer may not replay; nil when it may. Fails closed on a missing user id.
    static func refusal(userId: String?, property: String) -> String? {
        guard let sender = userId.flatMap(Sender.init(userId:)) else {
            return "this connection carries no allow-listed identity (\(property) '\(userId ?? "")'); the bus serves replay to allowed keys only"
        }
        return sender.readRefusal("replay")
    }

    private func answer(_ frames: [Frame]) -> [Frame] {
        switch frames[1].frameText {
        case WireCommand.replay:
            guard frames.count == 5, let after = Int64(frames[2].frameText), after >= 0,
                  let limit = Int(frames[3].frameText), limit > 0 else {
                return error("bad_frames", "a replay request is 'replay', afterSeq (≥ 0), limit (> 0), topics (comma-separated, empty for all)")
            }
            let topics = frames[4].isEmpty ? [] : frames[4].frameText.split(separator: ",").map(String.init)
            do {
                let result = try journal.read(after: after, limit: min(limit, configuration.maxReplayBatch), types: topics)
                let events = result.entries.map {
                    PublishedEvent(topic: $0.type, seq: $0.seq, envelope: EnvelopeSeq.insert(seq: $0.seq, into: $0.body))
                }
                return ReplayBatch(scannedThrough: result.scannedThrough, head: result.head, events: events).frames
            } catch {
                logger.error("replay read failed: \(error)")
                return self.error("storage_failed", "the journal could not be read (\(error)); retry")
            }
        case WireCommand.head:
            do {
                return [Frame(frame: WireCommand.head), Frame(frame: String(try journal.head()))]
            } catch {
                return self.error("storage_failed", "the journal could not be read (\(error)); retry")
            }
        default:
            return error("unknown_command", "expected 'replay' or 'head'")
        }
    }

    private func error(_ code: String, _ message: String) -> [Frame] {
        [Frame(frame: WireCommand.error), Frame(frame: code), Frame(frame: message)]
    }
}
