import ArgumentParser
import CLinux
import Foundation
import LoyaltyWire
import ZeroMQ

/// Service requests at a fixed rate from several tills, as a chain's tills send them: each
/// request goes out when it is due, whatever is still waiting for an answer (an open loop), and
/// is timed from when it was due to its own reply.
///
/// A single client that waits for each answer before sending the next measures something else:
/// one slow answer makes every later request late, and a run of answers slower than the interval
/// piles up into a queue that exists only in that client (in a store, one till never waits for
/// another's quote). Both are printed by the benchmarks; this is the one that models the tills.
///
/// The tills are DEALER sockets owned by the calling thread, which sends and receives for all of
/// them: the client's own work stays on one thread, as it would in a load generator.
struct OpenLoopLoad {
    struct Result {
        /// Milliseconds from each request's due time to its reply, sorted; a request without a
        /// reply counts as the timeout.
        var sorted: [Double]
        /// (seconds into the run, latency ms) of each request, in the order they were due.
        var timeline: [(at: Double, latency: Double)]
        var errors: Int
        var unanswered: Int
        var achieved: Double
        var replyBytes: Int

        func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }

        var summary: String {
            String(format: "p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms", percentile(0.5), percentile(0.99), percentile(0.999),
                   sorted.last ?? 0)
        }

        /// Requests later than `threshold` ms, grouped into stalls: (seconds into the run, worst latency, requests hit).
        func stalls(over threshold: Double = 5, rate: Double) -> [(at: Double, worst: Double, hit: Int)] {
            var stalls: [(at: Double, worst: Double, hit: Int)] = []
            for (at, latency) in timeline where latency > threshold {
                if let last = stalls.last, at - last.at - Double(last.hit) / rate < 0.01 {
                    stalls[stalls.count - 1].worst = max(last.worst, latency)
                    stalls[stalls.count - 1].hit += 1
                } else {
                    stalls.append((at, latency, 1))
                }
            }
            return stalls
        }
    }

    let context: ZMQContext
    let endpoint: String
    var tills = 8
    var timeoutMilliseconds = 1000

    /// Sends `count` requests at `rate` per second, request `i` from till `i % tills`.
    func run(rate: Double, count: Int, expected: ReplyStatus = .ok,
             request: (Int) -> (service: String, body: [UInt8])) throws -> Result {
        let sockets = try (0..<tills).map { _ in
            let socket = try Socket(context: context, type: .dealer)
            try socket.set([.sendHighWaterMark(100_000), .receiveHighWaterMark(100_000), .linger(milliseconds: 0)])
            try socket.connect(endpoint)
            return socket
        }
        // A timer armed for the next due instant, polled beside the sockets: the thread sleeps
        // until a reply or the next request, to the microsecond (zmq_poll alone counts in
        // milliseconds, and napping in a loop would take CPU from the path being measured).
        let timer = loyalty_timer_create()
        guard timer >= 0 else { throw ValidationError("timerfd_create failed: \(String(cString: strerror(errno)))") }
        defer { close(timer) }
        var poller = Poller()
        for socket in sockets { poller.add(socket) }
        poller.add(fileDescriptor: timer)
        let interval = 1e9 / rate
        var latencies = [Double](repeating: -1, count: count)
        var errors = 0, replyBytes = 0, answered = 0, next = 0
        var lastSent: UInt64 = 0
        // Sockets connect in the background: the first requests wait in the socket until then,
        // and that wait is counted.
        let begin = Monotonic.nanoseconds
        func due(_ i: Int) -> UInt64 { begin + UInt64(Double(i) * interval) }
        let timeout = UInt64(timeoutMilliseconds) * 1_000_000
        while answered < count {
            let now = Monotonic.nanoseconds
            while next < count && due(next) <= now {
                let (service, body) = request(next)
                try sockets[next % tills].send([Frame(frame: WireCommand.request), Frame(frame: service), Frame(frame: String(next)), body,
                                                Frame(frame: String(timeoutMilliseconds))])
                next += 1
                if next == count { lastSent = Monotonic.nanoseconds }
            }
            if next == count && now > due(count - 1) + timeout { break }   // the rest will not come
            let wakeAt = next < count ? due(next) : due(count - 1) + timeout
            _ = loyalty_timer_arm(timer, wakeAt)
            let ready = try poller.poll(timeoutMilliseconds: 100)
            if ready[tills].contains(.readable) {
                var expirations: UInt64 = 0
                _ = read(timer, &expirations, 8)
            }
            for (index, socket) in sockets.enumerated() where ready[index].contains(.readable) {
                while let frames = try socket.receive(dontWait: true) {
                    let at = Monotonic.nanoseconds
                    guard let reply = Reply(frames: frames), let i = Int(reply.requestId), i >= 0, i < next, latencies[i] < 0 else { continue }
                    latencies[i] = Double(at - due(i)) / 1e6
                    answered += 1
                    if reply.status == expected { replyBytes += reply.body.count } else { errors += 1 }
                }
            }
        }
        let sending = Double(max(lastSent, begin + 1) - begin) / 1e9
        let unanswered = latencies.count { $0 < 0 }
        for i in latencies.indices where latencies[i] < 0 { latencies[i] = Double(timeoutMilliseconds) }
        return Result(sorted: latencies.sorted(), timeline: latencies.enumerated().map { (Double($0.offset) / rate, $0.element) },
                      errors: errors + unanswered, unanswered: unanswered, achieved: Double(max(count - 1, 1)) / sending,
                      replyBytes: replyBytes / max(1, answered - errors))
    }
}
