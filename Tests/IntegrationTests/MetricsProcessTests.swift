import Foundation
import LoyaltyConfig
import LoyaltyEvents
import LoyaltyMetrics
import LoyaltyTestSupport
import LoyaltyWire
import Synchronization
import Testing
import ZeroMQ

/// The issue's "scrapes the metrics endpoint during load": `loyalty up --dashboard` with the
/// store-counter plugin, purchases flowing from another thread while the test scrapes
/// `GET /metrics` (which serves `MetricsScrape.collect()`).
@Suite(.serialized) struct MetricsProcessTests {
    /// Samples by series (name and labels as written), after checking that the text is one valid
    /// exposition: each family's TYPE once, before its samples, and every sample line under the
    /// family it belongs to.
    static func parse(_ text: String) -> (samples: [String: Double], problems: [String]) {
        var samples: [String: Double] = [:], problems: [String] = []
        var types: [String: String] = [:]
        var current: (name: String, type: String)?
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            if line.hasPrefix("# TYPE ") {
                guard words.count == 4 else { problems.append("bad TYPE line: \(line)"); continue }
                let name = String(words[2])
                if types[name] != nil { problems.append("second TYPE line for \(name)") }
                types[name] = String(words[3])
                current = (name, String(words[3]))
                continue
            }
            if line.hasPrefix("#") { continue }
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            let series = line.hasSuffix("}") ? "" : String(line[..<(line.lastIndex(of: " ") ?? line.endIndex)])
            guard let current, let value = Double(words.last ?? "") ?? (words.last == "+Inf" ? .infinity : nil), !series.isEmpty else {
                problems.append("not a sample under a TYPE: \(line)")
                continue
            }
            let family = current.type == "histogram" ? [current.name + "_bucket", current.name + "_sum", current.name + "_count"] : [current.name]
            if !family.contains(name) { problems.append("\(name) is under the family \(current.name)") }
            if samples.updateValue(value, forKey: series) != nil { problems.append("repeated series \(series)") }
        }
        return (samples, problems)
    }

    @Test(.timeLimit(.minutes(4))) func scrapesTheMetricsEndpointDuringLoad() throws {
        let project = try TestProject()
        defer { project.root.remove() }
        let port = freeLoopbackPort()
        let up = try project.start(["up", "--log-level", "warning", "--dashboard", "--dashboard-address", "127.0.0.1:\(port)"], log: "up.log")
        defer {
            if up.isRunning { up.terminate(); up.waitUntilExit() }
        }
        #expect(waitUntil(seconds: 60) { project.pid(of: "bus") != nil && project.pid(of: "store-counter") != nil },
                "loyalty up did not start: \(project.log("up.log"))")
        func scrape() -> (samples: [String: Double], problems: [String])? {
            DashboardProcessTests.fetch("http://127.0.0.1:\(port)/metrics").map(Self.parse)
        }
        #expect(waitUntil(seconds: 60) { scrape()?.samples[#"loyalty_process_up{component="store-counter"}"#] == 1 },
                "the plugin never answered store-counter.metrics: \(project.log("up.log").suffix(2000))")

        // A process that does not answer (points-accrual is not enabled) shows as down, and the
        // scrape still succeeds.
        let configuration = try LoyaltyConfiguration.load(path: project.configPath)
        let direct = Self.parse(MetricsScrape(configuration: configuration, plugins: ["store-counter", "points-accrual"],
                                              timeout: .milliseconds(500)).collect())
        #expect(direct.problems == [])
        #expect(direct.samples[#"loyalty_process_up{component="points-accrual"}"#] == 0)
        #expect(direct.samples[#"loyalty_process_up{component="store-counter"}"#] == 1)

        // Load: 3,000 purchases at 1,000/s from another thread, while this one scrapes.
        let events = (1...3000).map { Sample.purchase(store: "S00\($0 % 4 + 1)", receipt: $0, amount: Int64(100 + $0)) }
        let summary = Mutex<PublishSummary?>(nil)
        let context = try ZMQContext()
        let ingest = project.ingest
        let sender = OwnedThread(name: "metrics-load") {
            let outgoing = events.map { OutgoingEvent(eventId: $0.eventId, envelope: Sample.bytes($0)) }
            let publisher = try? PipelinedPublisher(context: context, endpoint: ingest, window: 100, resendAfterMilliseconds: 1000)
            let result = try? publisher?.publish(outgoing, ratePerSecond: 1000, deadlineMilliseconds: 60_000, onAck: { _, _ in })
            summary.withLock { $0 = result }
        }
        var acceptedDuringLoad: [Double] = []
        for _ in 0..<4 {
            usleep(500_000)
            let started = Date()
            let scraped = scrape()
            #expect(Date().timeIntervalSince(started) < 3, "a scrape during load took too long")
            #expect(scraped?.problems == [])
            #expect(scraped?.samples[#"loyalty_process_up{component="bus"}"#] == 1)
            acceptedDuringLoad.append(scraped?.samples["loyalty_bus_events_accepted_total"] ?? -1)
        }
        sender.join()
        let published = try #require(summary.withLock { $0 })
        #expect(published.stored == 3000)
        // Accepted grows while the load runs.
        #expect(acceptedDuringLoad.first! >= 0)
        #expect(acceptedDuringLoad.last! > acceptedDuringLoad.first!, "accepted did not grow: \(acceptedDuringLoad)")

        // A resent event counts as a duplicate; a refusal counts under its reason.
        let client = try BusClient(context: context, endpoint: ingest)
        let resent = events[0]
        #expect(try client.publish(Sample.bytes(resent), eventId: resent.eventId).status == .duplicate)
        let conflicting = Sample.purchase(store: "S002", receipt: 1, amount: 99_999)   // events[0], other content
        #expect(try client.publish(Sample.bytes(conflicting), eventId: conflicting.eventId).code == "conflict")
        #expect(try client.publish(Array("{\"eventId\": 12".utf8), eventId: "").code == "malformed_json")

        // The plugin reaches the head and its lag goes to 0.
        var last: [String: Double] = [:]
        let caughtUp = waitUntil(seconds: 60) {
            guard let (samples, problems) = scrape().map({ ($0.samples, $0.problems) }) else { return false }
            last = samples
            guard problems.isEmpty, let head = samples["loyalty_bus_journal_head_seq"], head >= 3000 else { return false }
            return samples[#"loyalty_plugin_applied_seq{plugin="store-counter"}"#] == head
                && samples[#"loyalty_plugin_lag_events{plugin="store-counter"}"#] == 0
        }
        #expect(caughtUp, "plugin did not reach the head: \(last.filter { $0.key.contains("seq") || $0.key.contains("lag") })")
        #expect(last["loyalty_bus_events_accepted_total"].map { $0 >= 3000 } == true)
        #expect(last["loyalty_bus_events_duplicate_total"].map { $0 >= 1 } == true)
        #expect(last[#"loyalty_bus_events_refused_total{reason="conflict"}"#] == 1)
        #expect(last[#"loyalty_bus_events_refused_total{reason="malformed_json"}"#] == 1)
        #expect(last["loyalty_bus_ack_latency_seconds_count"].map { $0 >= 3000 } == true)
        // store-counter applies purchases and returns: 3,000 purchases, each applied once.
        #expect(last[#"loyalty_plugin_events_applied_total{plugin="store-counter"}"#] == 3000)
        #expect(last[#"loyalty_plugin_failures_total{plugin="store-counter"}"#] == 0)
        #expect(last[#"loyalty_plugin_apply_seconds_count{plugin="store-counter"}"#].map { $0 >= 1 } == true)
        #expect(last[#"loyalty_process_restarts_total{component="store-counter"}"#] == 0)
        #expect(last[#"loyalty_process_running{component="bus"}"#] == 1)
    }
}
