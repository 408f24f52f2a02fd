import CZeroMQ

/// An error reported by libzmq, with libzmq's own text and the call that failed.
public struct ZMQError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `errno` value libzmq reported.
    public let code: Int32
    /// What we were doing, e.g. `bind tcp://127.0.0.1:5601`.
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// The error libzmq just reported on this thread.
    static func last(_ operation: @autoclosure () -> String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation())
    }

    public var message: String { String(cString: zmq_strerror(code)) }
    public var description: String { "\(operation): \(message)" }

    /// The call was interrupted by a signal; retrying is correct.
    public var isInterrupted: Bool { code == EINTR }
    /// Non-blocking call found nothing to do, or a timeout elapsed.
    public var isWouldBlock: Bool { code == EAGAIN }
    /// The context is being terminated: the owning thread should close its sockets and stop.
    public var isContextTerminated: Bool { code == ETERM }
    /// A ROUTER with `routerMandatory` was asked to send to a peer that is not connected.
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }
}

/// Runs a libzmq call, retrying while it is interrupted by a signal (EINTR).
@inline(__always)
func retryingOnInterrupt(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let rc = body()
        if rc >= 0 { return rc }
        let error = ZMQError.last(operation())
        if error.isInterrupted { continue }
        throw error
    }
}
