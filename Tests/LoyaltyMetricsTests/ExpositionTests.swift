import Foundation
import LoyaltyConfig
import LoyaltyWire
@testable import LoyaltyMetrics
import Testing

/// Every `# TYPE` name once, and every sample line under the family it belongs to.
func checkWellFormed(_ text: String) -> [String] {
    var problems: [String] = []
    var declared: [String: String] = [:]
    var current: (name: String, type: String)?
    for line in text.split(separator: "\n") {
        if line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            let name = String(parts[2])
            if declared[name] != nil { problems.append("second TYPE for \(name)") }
            declared[name] = String(parts[3])
            current = (name, String(parts[3]))
            continue
        }
        if line.hasPrefix("#") { continue }
        let sample = String(line.prefix { $0 != "{" && $0 != " " })
        guard let current else { problems.append("sample before any TYPE: \(line)"); continue }
        let allowed = current.type == "histogram" ? [current.name + "_bucket", current.name + "_sum", current.name + "_count"]
            : [current.name]
        if !allowed.contains(sample) { problems.append("\(sample) under \(current.name)") }
    }
    return problems
}

@Suite("Metrics exposition merge")
struct ExpositionTests {
    let bus = """
    # TYPE loyalty_bus_events_accepted_total counter
    loyalty_bus_events_accepted_total 12
    # TYPE loyalty_bus_events_refused_total counter
    loyalty_bus_events_refused_total{reason="conflict"} 1
    loyalty_bus_events_refused_total{reason="invalid_json"} 2
    # TYPE loyalty_bus_ack_latency_seconds histogram
    loyalty_bus_ack_latency_seconds_bucket{le="0.001"} 3
    loyalty_bus_ack_latency_seconds_bucket{le="+Inf"} 4
    loyalty_bus_ack_latency_seconds_sum 0.01
    loyalty_bus_ack_latency_seconds_count 4

    """

    func plugin(_ name: String, applied: Int) -> String {
        """
        # TYPE loyalty_plugin_applied_seq gauge
        loyalty_plugin_applied_seq{plugin="\(name)"} \(applied)
        # TYPE loyalty_plugin_apply_seconds histogram
        loyalty_plugin_apply_seconds_bucket{plugin="\(name)",le="0.01"} 1
        loyalty_plugin_apply_seconds_bucket{plugin="\(name)",le="+Inf"} 1
        loyalty_plugin_apply_seconds_sum{plugin="\(name)"} 0.002
        loyalty_plugin_apply_seconds_count{plugin="\(name)"} 1

        """
    }

    @Test("two processes declaring the same family give one TYPE line with both series")
    func duplicateTypeLines() {
        var exposition = Exposition()
        exposition.merge(bus, source: "bus")
        exposition.merge(plugin("points-accrual", applied: 10), source: "points-accrual")
        exposition.merge(plugin("store-counter", applied: 12), source: "store-counter")
        let text = exposition.text
        #expect(checkWellFormed(text) == [])
        #expect(text.components(separatedBy: "# TYPE loyalty_plugin_applied_seq gauge").count == 2)
        #expect(exposition["loyalty_plugin_applied_seq"]?.samples == [
            "loyalty_plugin_applied_seq{plugin=\"points-accrual\"} 10",
            "loyalty_plugin_applied_seq{plugin=\"store-counter\"} 12",
        ])
        #expect(exposition["loyalty_plugin_apply_seconds"]?.samples.count == 8)
        #expect(exposition["loyalty_bus_ack_latency_seconds"]?.samples.count == 4)
        #expect(exposition.dropped.isEmpty)
    }

    @Test("a repeated series and a conflicting type are left out and noted, never emitted twice")
    func repeatedSeriesAndTypeConflict() {
        var exposition = Exposition()
        exposition.merge(plugin("points-accrual", applied: 10), source: "a")
        exposition.merge(plugin("points-accrual", applied: 11), source: "b")
        exposition.merge("# TYPE loyalty_plugin_applied_seq counter\nloyalty_plugin_applied_seq{plugin=\"x\"} 3\n", source: "c")
        #expect(exposition["loyalty_plugin_applied_seq"]?.samples == ["loyalty_plugin_applied_seq{plugin=\"points-accrual\"} 10"])
        #expect(exposition["loyalty_plugin_applied_seq"]?.type == "gauge")
        #expect(exposition.dropped.count == 6)   // 5 repeated series of b, the type conflict of c
        #expect(checkWellFormed(exposition.text) == [])
    }

    @Test("label values with spaces, quotes and braces are read as one series")
    func quotedLabels() {
        #expect(Exposition.seriesPart(of: #"m{a="x} \"y\" z"} 1.5"#) == #"m{a="x} \"y\" z"}"#)
        #expect(Exposition.seriesPart(of: "m 3 1700000000000") == "m")
        #expect(Exposition.seriesPart(of: "m{le=\"+Inf\"} +Inf") == "m{le=\"+Inf\"}")
        #expect(Exposition.seriesPart(of: "m{a=\"b\"}") == nil)
        #expect(Exposition.seriesPart(of: "garbage here") == nil)
    }

    @Test("help comes from the source, else from the catalog")
    func help() {
        var exposition = Exposition()
        exposition.merge("# HELP own Mine.\n# TYPE own gauge\nown 1\n" + bus, source: "bus")
        exposition.describe(MetricCatalog.help)
        #expect(exposition["own"]?.help == "Mine.")
        #expect(exposition["loyalty_bus_events_accepted_total"]?.help == MetricCatalog.help["loyalty_bus_events_accepted_total"])
        #expect(exposition.text.hasPrefix("# HELP own Mine.\n# TYPE own gauge\nown 1\n"))
    }

    @Test("with nothing listening, the scrape still succeeds and says every process is down", .timeLimit(.minutes(1)))
    func missingProcesses() throws {
        let port = freeLoopbackPort()
        var configuration = LoyaltyConfiguration.embeddedDefaults(root: FileManager.default.temporaryDirectory.path)
        configuration.bus.ingest = "tcp://127.0.0.1:\(port)"
        var scrape = MetricsScrape(configuration: configuration, plugins: ["store-counter", "points-accrual"],
                                   timeout: .milliseconds(200))
        scrape.supervisorStatePath = nil
        let started = Date()
        let text = scrape.collect()
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(checkWellFormed(text) == [])
        #expect(text.contains("# TYPE loyalty_process_up gauge\n"))
        #expect(text.contains("loyalty_process_up{component=\"bus\"} 0\n"))
        #expect(text.contains("loyalty_process_up{component=\"store-counter\"} 0\n"))
        #expect(text.contains("loyalty_process_up{component=\"points-accrual\"} 0\n"))
        #expect(text.contains("# unanswered: bus.metrics"))
    }
}
