import CoreMetrics
import GRDB
import Prometheus
import Synchronization

/// A plugin process's Prometheus metrics, every series labelled `plugin="<name>"`, in a registry
/// of its own (made through a factory handed to each swift-metrics type, not the process-wide
/// `MetricsSystem`, so that tests can run several plugins in one process). Answered as the
/// `<plugin>.metrics` service.
///
/// Recorded once per applied run (one transaction), not per event: a run's cost is mostly its
/// commit, which no single event owns, and a catch-up run of 20,000 events then costs a few
/// atomic stores and one histogram sample rather than 40,000 clock reads.
public final class PluginMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let appliedSeq: CoreMetrics.Gauge
    let headSeq: CoreMetrics.Gauge
    let lag: CoreMetrics.Gauge
    let eventsApplied: CoreMetrics.Counter
    let applySeconds: CoreMetrics.Timer
    let failures: CoreMetrics.Counter
    let outboxPending: CoreMetrics.Gauge
    let liveFeedPauses: CoreMetrics.Counter
    /// Written by the feed thread only; atomics so that the type is Sendable.
    private let seenHead = Atomic<Int64>(0)
    private let appliedThrough = Atomic<Int64>(0)

    /// 0.5 ms (a small live run) to 10 s (a 20,000-event catch-up run on a slow disk).
    static let applyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    public init(pluginName: String, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["loyalty_plugin_apply_seconds"] = Self.applyBuckets
        let plugin = [("plugin", pluginName)]
        appliedSeq = Gauge(label: "loyalty_plugin_applied_seq", dimensions: plugin, factory: factory)
        headSeq = Gauge(label: "loyalty_plugin_head_seq", dimensions: plugin, factory: factory)
        lag = Gauge(label: "loyalty_plugin_lag_events", dimensions: plugin, factory: factory)
        eventsApplied = Counter(label: "loyalty_plugin_events_applied_total", dimensions: plugin, factory: factory)
        applySeconds = Timer(label: "loyalty_plugin_apply_seconds", dimensions: plugin, factory: factory)
        failures = Counter(label: "loyalty_plugin_failures_total", dimensions: plugin, factory: factory)
        outboxPending = Gauge(label: "loyalty_plugin_outbox_pending", dimensions: plugin, factory: factory)
        liveFeedPauses = Counter(label: "loyalty_plugin_live_feed_pauses_total", dimensions: plugin, factory: factory)
    }

    /// The journal head, from a `$head` beacon, a replay batch or a live event. Feed thread only.
    func sawHead(_ head: Int64) {
        guard head > seenHead.load(ordering: .relaxed) else { return }
        seenHead.store(head, ordering: .relaxed)
        headSeq.record(head)
        lag.record(max(0, head - appliedThrough.load(ordering: .relaxed)))
    }

    /// The cursor moved (events applied, or skipped as not this plugin's). Feed thread only.
    func applied(through seq: Int64) {
        appliedThrough.store(seq, ordering: .relaxed)
        appliedSeq.record(seq)
        if seq > seenHead.load(ordering: .relaxed) {
            seenHead.store(seq, ordering: .relaxed)
            headSeq.record(seq)
        }
        lag.record(max(0, seenHead.load(ordering: .relaxed) - seq))
    }

    /// The live feed was switched off to catch up from far behind (`LiveFeed`). Feed thread only.
    func pausedLiveFeed() {
        liveFeedPauses.increment()
    }

    /// One run applied in one transaction.
    func appliedRun(events: Int, failed: Int, nanoseconds: UInt64) {
        eventsApplied.increment(by: events - failed)
        if failed > 0 { failures.increment(by: failed) }
        applySeconds.recordNanoseconds(Int64(nanoseconds))
    }

    /// `<plugin>.metrics`: the registry's text, with the outbox counted at the time of asking.
    var service: ServiceHandler {
        let metrics = self
        return { _, pool in
            let pending = try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM runtime_outbox") ?? 0 }
            metrics.outboxPending.record(pending)
            return .ok(metrics.registry.emitToBuffer())
        }
    }
}
