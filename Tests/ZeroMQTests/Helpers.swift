import Foundation
import Testing
import ZeroMQ

/// Generous: a loaded 2-core machine can be slow, but a passing test never waits this long.
let patience = 20.0

/// Receives one whole message within `seconds`, or nil. Never blocks longer than that.
func receive(_ socket: Socket, within seconds: Double = patience) throws -> [Frame]? {
    var poller = Poller()
    poller.add(socket)
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        let left = deadline.timeIntervalSinceNow
        if left <= 0 { return try socket.receive(dontWait: true) }
        if try poller.poll(timeoutMilliseconds: max(1, Int(left * 1000)))[0].contains(.readable),
           let frames = try socket.receive(dontWait: true) {
            return frames
        }
    }
}

/// Binds to an OS-chosen loopback port and returns the endpoint actually bound.
func bindLoopback(_ socket: Socket) throws -> String {
    try socket.bind("tcp://127.0.0.1:*")
    let endpoint = try socket.lastEndpoint()
    #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
    #expect(!endpoint.hasSuffix(":*") && !endpoint.hasSuffix(":0"))
    return endpoint
}

/// A unique inproc endpoint per call, so tests running in parallel cannot collide.
func inprocEndpoint(_ name: String) -> String { "inproc://\(name)-\(UUID().uuidString)" }

/// A value handed from a helper thread to the test, behind a lock.
final class Box<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// Runs `body` on a fresh Thread; returns false if it did not finish within `seconds`
/// (the thread is then left behind rather than hanging the test).
func runOnThread(within seconds: Double = patience, _ body: @escaping @Sendable () -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        body()
        done.signal()
    }
    thread.start()
    return done.wait(timeout: .now() + seconds) == .success
}
