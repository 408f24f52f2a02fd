import CZeroMQ

/// One frame of a multipart message.
public typealias Frame = [UInt8]

extension Array where Element == UInt8 {
    /// The UTF-8 bytes of a string, as a frame.
    @inlinable public init(frame string: String) { self = Array(string.utf8) }
    /// The frame read as UTF-8 text (invalid sequences become U+FFFD).
    @inlinable public var frameText: String { String(decoding: self, as: UTF8.self) }
}

/// A ZeroMQ socket.
///
/// Not Sendable on purpose: libzmq sockets must be used by one thread at a time. Create it on
/// the thread that owns it, use it there, and let it close there (`close()` or deinit).
public final class Socket {
    private var handle: UnsafeMutableRawPointer?
    public let type: SocketType
    /// Kept so that the context outlives every socket made from it.
    private let context: ZMQContext

    /// Opens a socket. Linger defaults to 0 so that closing never waits for unsent messages:
    /// every message this project sends is either retried by its sender or not needed.
    public init(context: ZMQContext, type: SocketType, linger: Int32 = 0) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.rawValue) else { throw ZMQError.last("zmq_socket \(type)") }
        self.handle = handle
        self.type = type
        self.context = context
        try set(.linger(milliseconds: linger))
    }

    deinit { close() }

    public func close() {
        if let handle {
            _ = zmq_close(handle)
            self.handle = nil
        }
    }

    private func live(_ operation: @autoclosure () -> String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(code: ENOTSOCK, operation: operation()) }
        return handle
    }

    public func set(_ option: SocketOption) throws(ZMQError) {
        try option.apply(to: live("setsockopt"))
    }

    public func set(_ options: [SocketOption]) throws(ZMQError) {
        for option in options { try set(option) }
    }

    public func bind(_ endpoint: String) throws(ZMQError) {
        let socket = try live("bind \(endpoint)")
        _ = try retryingOnInterrupt("bind \(endpoint)") { zmq_bind(socket, endpoint) }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        let socket = try live("connect \(endpoint)")
        _ = try retryingOnInterrupt("connect \(endpoint)") { zmq_connect(socket, endpoint) }
    }

    public func disconnect(_ endpoint: String) throws(ZMQError) {
        let socket = try live("disconnect \(endpoint)")
        _ = try retryingOnInterrupt("disconnect \(endpoint)") { zmq_disconnect(socket, endpoint) }
    }

    /// The endpoint actually bound, e.g. the port chosen for `tcp://127.0.0.1:*`.
    public func lastEndpoint() throws(ZMQError) -> String {
        let socket = try live("getsockopt ZMQ_LAST_ENDPOINT")
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        if zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, &buffer, &size) != 0 { throw ZMQError.last("getsockopt ZMQ_LAST_ENDPOINT") }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Sends a multipart message.
    /// - Returns: false if `dontWait` is set and the message could not be queued (high-water mark).
    @discardableResult
    public func send(_ frames: [Frame], dontWait: Bool = false) throws(ZMQError) -> Bool {
        try send(prefix: nil, frames, dontWait: dontWait)
    }

    /// Sends `prefix` (e.g. a ROUTER's routing id) followed by `frames` as one message, without
    /// building a new array.
    @discardableResult
    public func send(prefix: Frame?, _ frames: [Frame], dontWait: Bool = false) throws(ZMQError) -> Bool {
        let socket = try live("send")
        precondition(prefix != nil || !frames.isEmpty, "a ZeroMQ message has at least one frame")
        let base: Int32 = dontWait ? ZMQ_DONTWAIT : 0
        let offset = prefix == nil ? 0 : 1
        let count = frames.count + offset
        for index in 0..<count {
            let frame = index < offset ? prefix! : frames[index - offset]
            let flags = index == count - 1 ? base : (base | ZMQ_SNDMORE)
            while true {
                let rc = frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
                if rc >= 0 { break }
                let error = ZMQError.last("send")
                if error.isInterrupted { continue }
                // libzmq queues a multipart message atomically: only the first frame can
                // meet a full queue, so giving up here never leaves half a message behind.
                if error.isWouldBlock && index == 0 { return false }
                throw error
            }
        }
        return true
    }

    /// Receives one whole multipart message.
    /// - Returns: nil when `dontWait` is set (or a receive timeout elapsed) and nothing is ready.
    public func receive(dontWait: Bool = false) throws(ZMQError) -> [Frame]? {
        try receive(dontWait: dontWait, property: nil)?.frames
    }

    /// Receives one whole multipart message with one of its metadata properties (libzmq's
    /// `zmq_msg_gets`), e.g. `User-Id`, which the ZAP handler set for the sending connection.
    /// - Returns: nil when `dontWait` is set (or a receive timeout elapsed) and nothing is ready;
    ///   the property is nil when the message does not carry it.
    public func receive(dontWait: Bool = false, property name: String?) throws(ZMQError) -> (frames: [Frame], property: String?)? {
        let socket = try live("receive")
        var property: String?
        var frames: [Frame] = []
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        while true {
            let flags: Int32 = frames.isEmpty && dontWait ? ZMQ_DONTWAIT : 0
            let rc = zmq_msg_recv(&message, socket, flags)
            if rc < 0 {
                let error = ZMQError.last("receive")
                if error.isInterrupted { continue }
                // Later frames of a message are already queued, so only the first can time out.
                if error.isWouldBlock && frames.isEmpty { return nil }
                throw error
            }
            // Any frame of the message may carry it (a ROUTER's routing-id frame is made locally).
            if property == nil, let name { property = zmq_msg_gets(&message, name).map { String(cString: $0) } }
            let size = zmq_msg_size(&message)
            if size == 0 {
                frames.append([])
            } else {
                let data = zmq_msg_data(&message)!
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            }
            if zmq_msg_more(&message) == 0 { return (frames, property) }
        }
    }

    /// Which of `events` are ready now, without waiting.
    public func readiness() throws(ZMQError) -> PollEvents {
        let socket = try live("getsockopt ZMQ_EVENTS")
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        if zmq_getsockopt(socket, ZMQ_EVENTS, &value, &size) != 0 { throw ZMQError.last("getsockopt ZMQ_EVENTS") }
        return PollEvents(rawValue: Int16(truncatingIfNeeded: value))
    }

    var rawHandle: UnsafeMutableRawPointer? { handle }
}
