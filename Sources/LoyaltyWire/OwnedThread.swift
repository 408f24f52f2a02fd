import Foundation
import Synchronization

/// A dedicated OS thread for code that blocks (ZeroMQ polls, SQLite commits), so it never
/// occupies the Swift concurrency pool. `join()` waits for it to return.
public final class OwnedThread: Sendable {
    private let done = DispatchSemaphore(value: 0)

    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [done] in
            #if os(Linux)
            // What `top -H` and perf show; Linux keeps 15 bytes, and the end of the name is the
            // part that tells threads apart ("points-accrual.feed" → "s-accrual.feed").
            try? String(name.utf8.suffix(15))?.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            #endif
            body()
            done.signal()
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Blocks the calling thread until the thread's body has returned.
    public func join() {
        done.wait()
        done.signal()
    }
}

/// Runs blocking work on a fresh thread and awaits it, keeping the concurrency pool free.
public func runOffPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// A flag the owner sets once to ask threads to stop.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public var isSet: Bool { flag.load(ordering: .relaxed) }
    public func set() { flag.store(true, ordering: .relaxed) }
}

/// Hands a thread's start-up outcome (bound, or failed and why) back to its starter.
public final class StartupGate: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let failure = Mutex<(any Error)?>(nil)

    public init() {}
    public func succeed() { semaphore.signal() }
    public func fail(_ error: any Error) {
        failure.withLock { $0 = error }
        semaphore.signal()
    }
    /// Blocks until the thread reported; rethrows its failure.
    public func wait() throws {
        semaphore.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
