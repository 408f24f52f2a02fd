import CoreMetrics
import Prometheus
import Synchronization

/// The bus's Prometheus metrics, in a registry of its own: the metrics are made through a
/// factory handed to each swift-metrics type, never through the process-wide
/// `MetricsSystem.bootstrap`, because one process may run several buses (the tests do).
///
/// Cheap on the hot path: what `BusStatistics` already counts (stored, duplicates, conflicts,
/// storage failures, rate-limited, commits) and what the front thread counts in its own state
/// (other refusals, service requests) is copied into the registry only when `bus.metrics` is
/// asked, on the front thread. Per event, only the acknowledgement latency is recorded.
public final class BusMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let accepted: CoreMetrics.Counter
    let duplicates: CoreMetrics.Counter
    let commits: CoreMetrics.Counter
    let ackLatency: CoreMetrics.Timer
    let head: CoreMetrics.Gauge
    let workers: CoreMetrics.Gauge
    private let factory: PrometheusMetricsFactory
    /// Counters by label value, made when a value first occurs, and what each last exported.
    private let labelled = Mutex<[String: (counter: CoreMetrics.Counter, exported: Int)]>([:])
    /// What the unlabelled counters last exported.
    private let exported = Mutex<(accepted: Int, duplicates: Int, commits: Int)>((0, 0, 0))

    /// 0.1 ms to 1 s: a commit's fsync is about a millisecond; anything past a second is an incident.
    static let ackBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1),
    ]

    /// The codes of docs/protocol.md §5.7 and §6.2.
    static let refusalCodes = ["malformed_json", "unknown_field", "missing_field", "invalid_value", "too_large",
                               "unsupported_version", "conflict", "storage_failed", "overloaded", "rate_limited"]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["loyalty_bus_ack_latency_seconds"] = Self.ackBuckets
        self.factory = factory
        accepted = Counter(label: "loyalty_bus_events_accepted_total", factory: factory)
        duplicates = Counter(label: "loyalty_bus_events_duplicate_total", factory: factory)
        commits = Counter(label: "loyalty_bus_commits_total", factory: factory)
        ackLatency = Timer(label: "loyalty_bus_ack_latency_seconds", factory: factory)
        head = Gauge(label: "loyalty_bus_journal_head_seq", factory: factory)
        workers = Gauge(label: "loyalty_bus_workers", factory: factory)
    }

    /// Refusals the front thread counts itself, by code; and service requests, by outcome.
    struct FrontCounts {
        var refusals: [String: Int] = [:]
        var requests: [String: Int] = [:]
    }

    /// Copies the counts into the registry and renders it. Called on the front thread.
    func exposition(statistics: BusStatistics, front: FrontCounts, head: Int64, workers: Int) -> [UInt8] {
        exported.withLock { last in
            let now = (statistics.stored, statistics.duplicates, statistics.commits)
            accepted.increment(by: now.0 - last.accepted)
            duplicates.increment(by: now.1 - last.duplicates)
            commits.increment(by: now.2 - last.commits)
            last = (now.0, now.1, now.2)
        }
        var refusals = front.refusals
        // Counted by the journal writer or the rate limiter, in BusStatistics.
        refusals["conflict"] = statistics.rejected
        refusals["storage_failed"] = statistics.unavailable
        refusals["rate_limited"] = statistics.rateLimited
        // Every reason from the first scrape on, so that a rate over it starts at zero.
        for code in Self.refusalCodes where refusals[code] == nil { refusals[code] = 0 }
        for (reason, total) in refusals { sync("loyalty_bus_events_refused_total", label: "reason", value: reason, total: total) }
        for (outcome, total) in front.requests { sync("loyalty_bus_requests_total", label: "outcome", value: outcome, total: total) }
        self.head.record(head)
        self.workers.record(workers)
        return registry.emitToBuffer()
    }

    private func sync(_ name: String, label: String, value: String, total: Int) {
        labelled.withLock { counters in
            let key = name + "\u{0}" + value
            var entry = counters[key] ?? (Counter(label: name, dimensions: [(label, value)], factory: factory), 0)
            if total > entry.exported { entry.counter.increment(by: total - entry.exported) }
            entry.exported = max(entry.exported, total)
            counters[key] = entry
        }
    }
}
