import Logging
import LoyaltyWire
import ZeroMQ

/// The bus's ZAP handler: answers libzmq's authentication requests for every CURVE connection
/// to the bus's sockets, accepting only clients whose public key is in the allow-list. The list
/// is re-read when its file changes, so a revoked key is refused from its next connection.
/// Each bound socket has its own ZAP domain (`BusEndpoint`): on the publish endpoint a key that
/// may not read (a terminal without `+read`) is refused here, since a subscriber sends nothing
/// the bus could answer; on replay it is let in and its requests are answered `not_permitted`
/// by the replay server, which a client can show.
/// Runs on its own thread and owns its REP socket; it must be bound before any CURVE socket is,
/// or libzmq would let clients in without asking.
struct Authenticator {
    let context: ZMQContext
    let allowListPath: String
    let stop: StopSignal
    let statistics: BusStatistics
    let logger: Logger

    func run(startup: StartupGate) {
        let socket: Socket
        let allowList = AllowListWatcher(path: allowListPath)
        do {
            socket = try Socket(context: context, type: .rep)
            try socket.bind(ZAP.endpoint)
        } catch {
            startup.fail(error)
            return
        }
        allowList.refresh()
        if let problem = allowList.lastError {
            startup.fail(problem)
            return
        }
        logger.info("CURVE authentication on", metadata: ["allowList": "\(allowListPath)", "keys": "\(allowList.count)"])
        startup.succeed()
        var poller = Poller()
        poller.add(socket)
        var warnings = WarningThrottle()
        while !stop.isSet {
            do {
                guard try poller.poll(timeoutMilliseconds: 200)[0].contains(.readable),
                      let frames = try socket.receive(dontWait: true) else { continue }
                try socket.send(answer(frames, allowList: allowList, warnings: &warnings))
            } catch where error.isContextTerminated {
                break
            } catch {
                logger.error("ZAP handler: \(error)")
            }
        }
    }

    private func answer(_ frames: [Frame], allowList: AllowListWatcher, warnings: inout WarningThrottle) -> [Frame] {
        guard let request = ZAP.Request(frames: frames) else {
            return ZAP.reply(requestId: ZAP.Request.requestId(of: frames), accepted: false, reason: "malformed ZAP request")
        }
        guard request.mechanism == "CURVE", let key = request.clientPublicKey else {
            statistics.recordAuthentication(accepted: false)
            logger.warning("connection refused: \(request.mechanism) mechanism, CURVE required", metadata: ["peer": "\(request.address)"])
            return ZAP.reply(requestId: request.requestId, accepted: false, reason: "CURVE required")
        }
        if allowList.refresh() {
            if let problem = allowList.lastError {
                logger.error("allow-list unusable, refusing every connection: \(problem)")
            } else {
                logger.info("allow-list reloaded", metadata: ["keys": "\(allowList.count)"])
            }
        }
        guard let entry = allowList.lookup(key) else {
            statistics.recordAuthentication(accepted: false)
            logger.warning("connection refused: public key not in the allow-list",
                           metadata: ["peer": "\(request.address)", "publicKey": "\(key)"])
            return ZAP.reply(requestId: request.requestId, accepted: false, reason: "key not allowed")
        }
        guard let endpoint = BusEndpoint(rawValue: request.domain) else {
            statistics.recordAuthentication(accepted: false)
            logger.error("connection refused: unknown ZAP domain '\(request.domain)'", metadata: ["peer": "\(request.address)"])
            return ZAP.reply(requestId: request.requestId, accepted: false, reason: "unknown domain")
        }
        if endpoint == .publish, let problem = Sender(entry).readRefusal("subscribe") {
            statistics.recordAuthentication(accepted: false)
            // A refused subscriber reconnects every 100 ms or so: one warning per key a minute.
            if warnings.shouldWarn(about: key) {
                logger.warning("subscriber refused: \(problem)", metadata: ["peer": "\(request.address)"])
            }
            return ZAP.reply(requestId: request.requestId, accepted: false, reason: "key may not read")
        }
        statistics.recordAuthentication(accepted: true)
        logger.debug("connection accepted", metadata: ["peer": "\(request.address)", "who": "\(entry.kind.rawValue) \(entry.name)",
                                                       "endpoint": "\(endpoint.rawValue)"])
        // The user id travels with every message of the connection: kind, name, read right, and
        // the sources a terminal may claim.
        return ZAP.reply(requestId: request.requestId, accepted: true, reason: "OK", userId: Sender.userId(for: entry))
    }
}

/// The bus's three bound sockets, each its own ZAP domain so that the handler knows which one a
/// connection is for.
enum BusEndpoint: String, Sendable, CaseIterable {
    case ingest, publish, replay
}

/// At most one warning per key per interval, for refusals a client repeats on every reconnect.
/// Used by one thread.
struct WarningThrottle {
    let intervalMilliseconds: Int
    private var last: [String: Int] = [:]

    init(intervalMilliseconds: Int = 60_000) { self.intervalMilliseconds = intervalMilliseconds }

    mutating func shouldWarn(about key: String, now: Int = Monotonic.now) -> Bool {
        if let previous = last[key], now - previous < intervalMilliseconds { return false }
        if last.count > 10_000 { last.removeAll() }
        last[key] = now
        return true
    }
}

/// Why the bus refuses to start with its security settings.
public struct BusSecurityError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension BusConfiguration {
    /// Refuses a non-loopback endpoint without CURVE: plaintext would let anyone on the network
    /// read and forge events.
    public func checkSecurity() throws(BusSecurityError) {
        guard curve == nil else { return }
        let exposed = [("ingest", ingestEndpoint), ("publish", publishEndpoint), ("replay", replayEndpoint)]
            .filter { !EndpointScope.isLoopback($0.1) }
        guard exposed.isEmpty else {
            let list = exposed.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
            throw BusSecurityError(description: "refusing to bind \(list) without CURVE: only loopback endpoints (127.0.0.1, ::1, ipc://, inproc://) may be plaintext. Run `loyalty keys init` and set `security: {curve: true}` in config/loyalty.yaml, or bind to 127.0.0.1")
        }
    }

    /// The options that make a bound socket a CURVE server checked by ZAP in its own domain
    /// (none without CURVE).
    func serverSocketOptions(_ endpoint: BusEndpoint) -> [SocketOption] {
        guard let curve else { return [] }
        return [.curveServer(true), .curveSecretKey(curve.serverSecretKey), .zapDomain(endpoint.rawValue)]
    }
}
