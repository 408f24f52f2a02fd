import Foundation
import Synchronization
import LoyaltyWire
import ZeroMQ

/// Validated events on their way from the front thread to the journal writer. The front
/// appends one at a time; the writer takes everything at once, so a batch forms by itself
/// while the previous commit is being fsynced (group commit).
final class IngestQueue: Sendable {
    struct Item: Sendable {
        var peer: Frame
        var entry: Journal.Entry
        /// When the front thread took it off the socket (`Monotonic.nanoseconds`), for the ack latency.
        var receivedAt: UInt64 = 0
    }

    private let state = Mutex<(items: [Item], writerWaiting: Bool)>(([], false))
    private let wakeup = DispatchSemaphore(value: 0)

    /// Queues an event unless `limit` are already waiting. Returns false when full.
    func push(_ item: Item, limit: Int) -> Bool {
        let (accepted, wake) = state.withLock { state -> (Bool, Bool) in
            guard state.items.count < limit else { return (false, false) }
            state.items.append(item)
            let wake = state.writerWaiting
            state.writerWaiting = false
            return (true, wake)
        }
        if wake { wakeup.signal() }
        return accepted
    }

    /// Takes up to `max` waiting events, waiting up to `timeoutMilliseconds` for the first.
    func take(max: Int, timeoutMilliseconds: Int) -> [Item] {
        let ready = state.withLock { state -> [Item] in
            guard !state.items.isEmpty else {
                state.writerWaiting = true
                return []
            }
            return Self.split(&state.items, max: max)
        }
        if !ready.isEmpty { return ready }
        // A signal that arrives after the timeout only causes one spurious, harmless wakeup.
        _ = wakeup.wait(timeout: .now() + .milliseconds(timeoutMilliseconds))
        return state.withLock { state in
            state.writerWaiting = false
            return Self.split(&state.items, max: max)
        }
    }

    private static func split(_ items: inout [Item], max: Int) -> [Item] {
        if items.count <= max {
            defer { items.removeAll(keepingCapacity: true) }
            return items
        }
        let head = Array(items.prefix(max))
        items.removeFirst(max)
        return head
    }
}

/// What the journal did with one event, for the front thread to acknowledge and, if newly
/// stored, publish.
struct WriteOutcome: Sendable {
    var peer: Frame
    var entry: Journal.Entry
    var ack: Ack
    var receivedAt: UInt64 = 0
}

/// Outcomes from the journal writer to the front thread, with a pipe whose read end the front's
/// poll wakes on. The writer does nothing but SQLite; framing and sending happen on the front.
final class ReplyQueue: Sendable {
    private let messages = Mutex<[WriteOutcome]>([])
    /// Polled by the front thread; a byte is written after each batch.
    let fileDescriptor: Int32
    private let writeEnd: Int32

    init() throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw ZMQError(code: errno, operation: "pipe for the ack queue") }
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        fileDescriptor = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        close(fileDescriptor)
        close(writeEnd)
    }

    func push(_ batch: [WriteOutcome]) {
        guard !batch.isEmpty else { return }
        messages.withLock { $0.append(contentsOf: batch) }
        // A full pipe already means "wake up": EAGAIN is fine.
        var one: UInt8 = 1
        _ = write(writeEnd, &one, 1)
    }

    func takeAll() -> [WriteOutcome] {
        var drain = [UInt8](repeating: 0, count: 4096)
        while read(fileDescriptor, &drain, drain.count) == drain.count {}
        return messages.withLock { messages in
            defer { messages.removeAll(keepingCapacity: true) }
            return messages
        }
    }
}
