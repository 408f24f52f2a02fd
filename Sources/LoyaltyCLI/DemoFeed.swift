import Foundation
import LoyaltyEvents
import LoyaltySimulation
import LoyaltyWire
import Synchronization
import ZeroMQ

/// Feeds a synthetic chain to the bus on an accelerated clock: an event is sent when the demo's
/// clock reaches its simulated time, so a day of the chain passes in `realSecondsPerDay`.
/// Runs on its own thread (it owns a ZeroMQ socket and blocks).
struct DemoFeed {
    let endpoint: String
    let socketOptions: [SocketOption]
    let chain: ChainSimulator.Configuration
    /// Simulated time of the last event fed (the simulated present at the end).
    let end: Timestamp
    /// Simulated milliseconds per real millisecond.
    let speed: Double
    let progress: DemoProgress
    let stop: StopSignal

    /// What was fed, and how the bus answered.
    struct Result: Sendable {
        var purchases = 0
        var returns = 0
        var surveys = 0
        var acknowledged = 0
        var rejected: [String] = []
        var unacknowledged = 0
        /// The simulated time reached (the feed may be cut short by Ctrl-C).
        var reached: Timestamp
    }

    func run() throws -> Result {
        let context = try ZMQContext()
        let publisher = try PipelinedPublisher(context: context, endpoint: endpoint, window: 2000, options: socketOptions)
        let events = PacedEvents(simulator: ChainSimulator(configuration: chain), start: chain.start, end: end, speed: speed,
                                 progress: progress, stop: stop)
        let summary = try publisher.publish(events, deadlineMilliseconds: Int((Double(end.epochMilliseconds - chain.start.epochMilliseconds) / speed)) + 120_000,
                                            onAck: { _, _ in progress.acknowledged.add(1, ordering: .relaxed) })
        var result = Result(reached: Timestamp(epochMilliseconds: progress.simulatedNow.load(ordering: .relaxed)))
        result.purchases = progress.purchases.load(ordering: .relaxed)
        result.returns = progress.returns.load(ordering: .relaxed)
        result.surveys = progress.surveys.load(ordering: .relaxed)
        result.acknowledged = summary.stored + summary.duplicates
        result.rejected = summary.rejected.map(\.description)
        result.unacknowledged = summary.unacknowledged.count
        return result
    }
}

/// The simulated chain's events, each released when the accelerated clock reaches its time.
/// Sleeping here is fine: the publisher's thread is the demo's own, not the concurrency pool.
struct PacedEvents: Sequence, IteratorProtocol {
    var simulator: ChainSimulator
    let start: Timestamp
    let end: Timestamp
    let speed: Double
    let progress: DemoProgress
    let stop: StopSignal
    private let startedAt = Monotonic.now

    init(simulator: ChainSimulator, start: Timestamp, end: Timestamp, speed: Double, progress: DemoProgress, stop: StopSignal) {
        self.simulator = simulator
        self.start = start
        self.end = end
        self.speed = speed
        self.progress = progress
        self.stop = stop
    }

    mutating func next() -> OutgoingEvent? {
        guard !stop.isSet, let event = simulator.next(), event.occurredAt.epochMilliseconds <= end.epochMilliseconds else { return nil }
        let due = Double(event.occurredAt.epochMilliseconds - start.epochMilliseconds) / speed
        while true {
            let elapsed = Double(Monotonic.now - startedAt)
            if elapsed >= due { break }
            if stop.isSet { return nil }
            Thread.sleep(forTimeInterval: Swift.min(due - elapsed, 50) / 1000)
        }
        progress.simulatedNow.store(event.occurredAt.epochMilliseconds, ordering: .relaxed)
        switch event.payload {
        case .purchase: progress.purchases.add(1, ordering: .relaxed)
        case .return: progress.returns.add(1, ordering: .relaxed)
        case .survey: progress.surveys.add(1, ordering: .relaxed)
        case .derived: break
        }
        return OutgoingEvent(eventId: event.eventId, envelope: EventCodec.encode(event))
    }
}

/// Counters the feed moves and the live view reads.
final class DemoProgress: Sendable {
    let purchases = Atomic<Int>(0)
    let returns = Atomic<Int>(0)
    let surveys = Atomic<Int>(0)
    let acknowledged = Atomic<Int>(0)
    /// Epoch milliseconds of the last event released.
    let simulatedNow: Atomic<Int64>

    init(start: Timestamp) {
        simulatedNow = Atomic(start.epochMilliseconds)
    }
}
