/// What each of the engine's metrics means, for the `# HELP` lines of a scrape. The bus and the
/// plugins record through swift-metrics, which carries no help text, so it is added here, once
/// per family. Keep in step with docs/metrics.md.
public enum MetricCatalog {
    public static let help: [String: String] = [
        "loyalty_bus_events_accepted_total": "Events stored in the journal for the first time.",
        "loyalty_bus_events_duplicate_total": "Events whose eventId was already stored (a retry); acknowledged as duplicate, stored once.",
        "loyalty_bus_events_refused_total": "Events refused, by the code of the refusal (invalid_json, conflict, rate_limited, overloaded, storage_failed, ...).",
        "loyalty_bus_ack_latency_seconds": "From receipt of an event on the bus's front thread to its acknowledgement being sent.",
        "loyalty_bus_journal_head_seq": "The journal's last seq.",
        "loyalty_bus_commits_total": "Journal transactions committed (one fsync each, covering a batch).",
        "loyalty_bus_requests_total": "Service requests, by outcome (routed, unavailable, timeout, answered by the bus).",
        "loyalty_bus_workers": "Plugin workers registered for service requests.",
        "loyalty_plugin_applied_seq": "The last journal seq whose effects the plugin committed.",
        "loyalty_plugin_head_seq": "The journal head as the plugin last saw it (beacons, replay, live events).",
        "loyalty_plugin_lag_events": "Journal head as the plugin last saw it minus its applied seq.",
        "loyalty_plugin_events_applied_total": "Events the plugin applied (its own topics; others are skipped).",
        "loyalty_plugin_apply_seconds": "Time to apply one run of events and commit its transaction.",
        "loyalty_plugin_failures_total": "Events whose apply threw; recorded in runtime_failures, their effects rolled back.",
        "loyalty_plugin_outbox_pending": "Derived events waiting in the outbox for the bus's acknowledgement.",
        "loyalty_process_up": "1 if the process answered this scrape through the bus, else 0.",
        "loyalty_process_restarts_total": "Restarts of the process by the supervisor (loyalty up).",
        "loyalty_process_running": "1 if the supervisor has the process running, else 0.",
    ]
}
