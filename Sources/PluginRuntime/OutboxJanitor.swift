import Dispatch
import Logging
import LoyaltyWire
import Synchronization

/// Deletes outbox events the bus acknowledged, in batches, on a thread of its own.
///
/// The bus link must never wait for the database writer: the event feed holds it for a whole
/// run of events (up to 20,000 while catching up), and a service request queued behind that
/// would wait as long. A delete that is lost (a crash before it commits) only means the event
/// is sent again and the bus answers "duplicate".
final class OutboxJanitor: Sendable {
    private let store: PluginStore
    private let stop: StopSignal
    private let logger: Logger
    private let acknowledged = Mutex<[Int64]>([])
    private let wake = DispatchSemaphore(value: 0)

    init(store: PluginStore, stop: StopSignal, logger: Logger) {
        self.store = store
        self.stop = stop
        self.logger = logger
    }

    /// Called by the bus link with the outbox positions of acknowledged events; never blocks
    /// on the database.
    func delete(_ positions: [Int64]) {
        guard !positions.isEmpty else { return }
        let wasEmpty = acknowledged.withLock { queue in
            defer { queue.append(contentsOf: positions) }
            return queue.isEmpty
        }
        if wasEmpty { wake.signal() }
    }

    /// The janitor's thread: until stopped, then once more so that nothing acknowledged is left.
    func run() {
        while true {
            let stopping = stop.isSet
            if !stopping { _ = wake.wait(timeout: .now() + .milliseconds(200)) }
            let batch = acknowledged.withLock { queue in
                defer { queue.removeAll(keepingCapacity: true) }
                return queue
            }
            if !batch.isEmpty {
                do {
                    try store.removeFromOutbox(positions: batch)
                } catch {
                    // Sent again later and answered "duplicate": nothing is lost by waiting.
                    logger.warning("could not delete \(batch.count) acknowledged outbox events: \(error); they will be sent again")
                }
            }
            if stopping { return }
        }
    }
}
