import CZeroMQ

/// Socket options, typed. Durations are in milliseconds as libzmq takes them.
public enum SocketOption: Sendable {
    /// How long unsent messages are kept after close; 0 makes close never wait.
    case linger(milliseconds: Int32)
    case sendHighWaterMark(Int32)
    case receiveHighWaterMark(Int32)
    /// ROUTER: fail with EHOSTUNREACH instead of silently dropping messages to unknown peers.
    case routerMandatory(Bool)
    /// ROUTER: a new connection with a known routing id takes over the old one.
    case routerHandover(Bool)
    case routingId([UInt8])
    case subscribe([UInt8])
    case unsubscribe([UInt8])
    case receiveTimeout(milliseconds: Int32)
    case sendTimeout(milliseconds: Int32)
    /// Queue messages only to completed connections.
    case immediate(Bool)
    /// Drop a peer that sends a message larger than this (-1: no limit).
    case maximumMessageSize(Int64)
    case reconnectInterval(milliseconds: Int32)
    case reconnectIntervalMaximum(milliseconds: Int32)
    /// ZMTP heartbeats: ping interval, and how long without traffic before the peer is dropped.
    case heartbeatInterval(milliseconds: Int32)
    case heartbeatTimeout(milliseconds: Int32)
    /// Act as CURVE server (the bus); needs `curveSecretKey`.
    case curveServer(Bool)
    /// Z85-encoded (40 characters) keys.
    case curvePublicKey(String)
    case curveSecretKey(String)
    case curveServerKey(String)
    /// The ZAP domain sent to the authentication handler.
    case zapDomain(String)

    func apply(to socket: UnsafeMutableRawPointer) throws(ZMQError) {
        switch self {
        case .linger(let ms): try Self.set(socket, ZMQ_LINGER, ms, "ZMQ_LINGER")
        case .sendHighWaterMark(let n): try Self.set(socket, ZMQ_SNDHWM, n, "ZMQ_SNDHWM")
        case .receiveHighWaterMark(let n): try Self.set(socket, ZMQ_RCVHWM, n, "ZMQ_RCVHWM")
        case .routerMandatory(let on): try Self.set(socket, ZMQ_ROUTER_MANDATORY, Int32(on ? 1 : 0), "ZMQ_ROUTER_MANDATORY")
        case .routerHandover(let on): try Self.set(socket, ZMQ_ROUTER_HANDOVER, Int32(on ? 1 : 0), "ZMQ_ROUTER_HANDOVER")
        case .routingId(let id): try Self.set(socket, ZMQ_ROUTING_ID, bytes: id, "ZMQ_ROUTING_ID")
        case .subscribe(let prefix): try Self.set(socket, ZMQ_SUBSCRIBE, bytes: prefix, "ZMQ_SUBSCRIBE")
        case .unsubscribe(let prefix): try Self.set(socket, ZMQ_UNSUBSCRIBE, bytes: prefix, "ZMQ_UNSUBSCRIBE")
        case .receiveTimeout(let ms): try Self.set(socket, ZMQ_RCVTIMEO, ms, "ZMQ_RCVTIMEO")
        case .sendTimeout(let ms): try Self.set(socket, ZMQ_SNDTIMEO, ms, "ZMQ_SNDTIMEO")
        case .immediate(let on): try Self.set(socket, ZMQ_IMMEDIATE, Int32(on ? 1 : 0), "ZMQ_IMMEDIATE")
        case .maximumMessageSize(let n): try Self.set(socket, ZMQ_MAXMSGSIZE, n, "ZMQ_MAXMSGSIZE")
        case .reconnectInterval(let ms): try Self.set(socket, ZMQ_RECONNECT_IVL, ms, "ZMQ_RECONNECT_IVL")
        case .reconnectIntervalMaximum(let ms): try Self.set(socket, ZMQ_RECONNECT_IVL_MAX, ms, "ZMQ_RECONNECT_IVL_MAX")
        case .heartbeatInterval(let ms): try Self.set(socket, ZMQ_HEARTBEAT_IVL, ms, "ZMQ_HEARTBEAT_IVL")
        case .heartbeatTimeout(let ms): try Self.set(socket, ZMQ_HEARTBEAT_TIMEOUT, ms, "ZMQ_HEARTBEAT_TIMEOUT")
        case .curveServer(let on): try Self.set(socket, ZMQ_CURVE_SERVER, Int32(on ? 1 : 0), "ZMQ_CURVE_SERVER")
        case .curvePublicKey(let key): try Self.set(socket, ZMQ_CURVE_PUBLICKEY, z85: key, "ZMQ_CURVE_PUBLICKEY")
        case .curveSecretKey(let key): try Self.set(socket, ZMQ_CURVE_SECRETKEY, z85: key, "ZMQ_CURVE_SECRETKEY")
        case .curveServerKey(let key): try Self.set(socket, ZMQ_CURVE_SERVERKEY, z85: key, "ZMQ_CURVE_SERVERKEY")
        case .zapDomain(let domain): try Self.set(socket, ZMQ_ZAP_DOMAIN, bytes: Array(domain.utf8), "ZMQ_ZAP_DOMAIN")
        }
    }

    private static func set(_ socket: UnsafeMutableRawPointer, _ name: Int32, _ value: Int32, _ label: String) throws(ZMQError) {
        var value = value
        if zmq_setsockopt(socket, name, &value, MemoryLayout<Int32>.size) != 0 { throw ZMQError.last("setsockopt \(label)") }
    }

    private static func set(_ socket: UnsafeMutableRawPointer, _ name: Int32, _ value: Int64, _ label: String) throws(ZMQError) {
        var value = value
        if zmq_setsockopt(socket, name, &value, MemoryLayout<Int64>.size) != 0 { throw ZMQError.last("setsockopt \(label)") }
    }

    private static func set(_ socket: UnsafeMutableRawPointer, _ name: Int32, bytes: [UInt8], _ label: String) throws(ZMQError) {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(socket, name, $0.baseAddress, $0.count) }
        if rc != 0 { throw ZMQError.last("setsockopt \(label)") }
    }

    /// Z85 keys are passed as 41 bytes: 40 characters and the terminating NUL.
    private static func set(_ socket: UnsafeMutableRawPointer, _ name: Int32, z85 key: String, _ label: String) throws(ZMQError) {
        guard key.utf8.count == 40 else { throw ZMQError(code: EINVAL, operation: "setsockopt \(label): a Z85 key has 40 characters, got \(key.utf8.count)") }
        let rc = key.withCString { zmq_setsockopt(socket, name, $0, 41) }
        if rc != 0 { throw ZMQError.last("setsockopt \(label)") }
    }
}
