import CZeroMQ

/// A libzmq context: the owner of I/O threads and of every socket made from it.
///
/// Sendable because libzmq documents `zmq_ctx_*` and socket creation as thread-safe; the
/// pointer is never dereferenced from Swift, only handed back to libzmq.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    /// - Parameter ioThreads: libzmq background I/O threads (1 is enough below ~1 GB/s).
    /// - Parameter ioThreadCPUs: CPUs the I/O threads run on (empty: wherever the kernel puts them).
    public init(ioThreads: Int32 = 1, ioThreadCPUs: [Int] = []) throws(ZMQError) {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
        if ioThreads != 1 {
            _ = zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads)
        }
        // Read when the I/O threads start, with the first socket.
        for cpu in ioThreadCPUs { _ = zmq_ctx_set(handle, ZMQ_THREAD_AFFINITY_CPU_ADD, Int32(cpu)) }
    }

    /// Makes every blocking call on this context's sockets return `ETERM`, so that the threads
    /// owning them close them and stop. Does not wait.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    deinit {
        // All sockets hold a strong reference to the context, so by now they are closed and
        // zmq_ctx_term cannot block on them. Retry on EINTR as the manual asks.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    /// libzmq's version, e.g. (4, 3, 4).
    public static var version: (major: Int32, minor: Int32, patch: Int32) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (major, minor, patch)
    }

    /// Whether libzmq was built with a capability, e.g. "curve".
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }
}
