import Synchronization

/// Counters the bus keeps while it runs (for `loyalty bench`, tests, and later metrics).
public final class BusStatistics: Sendable {
    private let storedCount = Atomic<Int>(0)
    private let duplicateCount = Atomic<Int>(0)
    private let rejectedCount = Atomic<Int>(0)
    private let unavailableCount = Atomic<Int>(0)
    private let commitCount = Atomic<Int>(0)
    private let acceptedPeers = Atomic<Int>(0)
    private let refusedPeers = Atomic<Int>(0)
    private let rateLimitedCount = Atomic<Int>(0)

    public init() {}

    /// Events committed for the first time.
    public var stored: Int { storedCount.load(ordering: .relaxed) }
    /// Events whose eventId was already stored.
    public var duplicates: Int { duplicateCount.load(ordering: .relaxed) }
    /// Events refused as invalid or conflicting.
    public var rejected: Int { rejectedCount.load(ordering: .relaxed) }
    /// Events refused because the journal could not store them.
    public var unavailable: Int { unavailableCount.load(ordering: .relaxed) }
    /// Journal transactions committed: each is one fsync, covering a whole batch.
    public var commits: Int { commitCount.load(ordering: .relaxed) }

    /// CURVE connections the ZAP handler accepted / refused.
    public var peersAccepted: Int { acceptedPeers.load(ordering: .relaxed) }
    public var peersRefused: Int { refusedPeers.load(ordering: .relaxed) }
    /// Events refused because their source exceeded its rate limit.
    public var rateLimited: Int { rateLimitedCount.load(ordering: .relaxed) }

    func recordAuthentication(accepted: Bool) {
        if accepted { acceptedPeers.add(1, ordering: .relaxed) } else { refusedPeers.add(1, ordering: .relaxed) }
    }

    func recordRateLimited() { rateLimitedCount.add(1, ordering: .relaxed) }

    func record(stored: Int, duplicates: Int, rejected: Int, unavailable: Int, committed: Bool) {
        storedCount.add(stored, ordering: .relaxed)
        duplicateCount.add(duplicates, ordering: .relaxed)
        rejectedCount.add(rejected, ordering: .relaxed)
        unavailableCount.add(unavailable, ordering: .relaxed)
        if committed { commitCount.add(1, ordering: .relaxed) }
    }
}
