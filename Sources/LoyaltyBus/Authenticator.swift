import Logging
import LoyaltyWire
import ZeroMQ

/// The bus's ZAP handler: answers libzmq's authentication requests for every CURVE connection
/// to the bus's sockets, accepting only clients whose public key is in the allow-list. The list
/// is re-read when its file changes, so a revoked key is refused from its next connection.
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
        while !stop.isSet {
            do {
                guard try poller.poll(timeoutMilliseconds: 200)[0].contains(.readable),
                      let frames = try socket.receive(dontWait: true) else { continue }
                try socket.send(answer(frames, allowList: allowList))
            } catch where error.isContextTerminated {
                break
            } catch {
                logger.error("ZAP handler: \(error)")
            }
        }
    }

    private func answer(_ frames: [Frame], allowList: AllowListWatcher) -> [Frame] {
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
        statistics.recordAuthentication(accepted: true)
        logger.debug("connection accepted", metadata: ["peer": "\(request.address)", "who": "\(entry.kind.rawValue) \(entry.name)"])
        // The user id travels with every message of the connection: kind, name, and the sources
        // a terminal may claim (names and patterns hold no spaces).
        let userId = (["\(entry.kind.rawValue):\(entry.name)"] + entry.sources).joined(separator: " ")
        return ZAP.reply(requestId: request.requestId, accepted: true, reason: "OK", userId: userId)
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

    /// The options that make a bound socket a CURVE server checked by ZAP (none without CURVE).
    var serverSocketOptions: [SocketOption] {
        guard let curve else { return [] }
        return [.curveServer(true), .curveSecretKey(curve.serverSecretKey), .zapDomain("loyalty")]
    }
}
