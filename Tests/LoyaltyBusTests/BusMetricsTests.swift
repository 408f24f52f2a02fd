import Foundation
import LoyaltyBus
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
import Testing
import ZeroMQ

/// The value of the sample `series` (name and labels exactly as written) in a Prometheus text.
func sampleValue(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1).split(separator: " ").first ?? "")
    }
    return nil
}

@Suite(.serialized) struct BusMetricsTests {
    @Test("bus.metrics is answered by the bus itself and counts accepted, duplicate and refused events", .timeLimit(.minutes(1)))
    func countsWhatTheBusAnswered() throws {
        let fixture = try BusFixture()
        let client = try BusClient(context: fixture.context, endpoint: fixture.configuration.ingestEndpoint)
        for receipt in 1...5 {
            let event = Sample.purchase(receipt: receipt)
            #expect(try client.publish(Sample.bytes(event), eventId: event.eventId).status == .stored)
        }
        let first = Sample.purchase(receipt: 1)
        #expect(try client.publish(Sample.bytes(first), eventId: first.eventId).status == .duplicate)
        // Same id, other content: a conflict, refused by the journal writer.
        let conflicting = Sample.purchase(receipt: 1, amount: 4100)
        #expect(try client.publish(Sample.bytes(conflicting), eventId: conflicting.eventId).code == "conflict")
        // Refused on the front thread.
        #expect(try client.publish(Array("{not json".utf8), eventId: "").code == "malformed_json")

        // No worker is registered: the bus answers by itself.
        let reply = try client.request(service: "bus.metrics", body: [], timeoutMilliseconds: 2000)
        #expect(reply.status == .ok)
        let text = reply.bodyText
        #expect(text.contains("# TYPE loyalty_bus_events_accepted_total counter"))
        #expect(sampleValue(text, "loyalty_bus_events_accepted_total") == 5)
        #expect(sampleValue(text, "loyalty_bus_events_duplicate_total") == 1)
        #expect(sampleValue(text, #"loyalty_bus_events_refused_total{reason="conflict"}"#) == 1)
        #expect(sampleValue(text, #"loyalty_bus_events_refused_total{reason="malformed_json"}"#) == 1)
        #expect(sampleValue(text, #"loyalty_bus_events_refused_total{reason="rate_limited"}"#) == 0)
        #expect(sampleValue(text, "loyalty_bus_journal_head_seq") == 5)
        #expect((sampleValue(text, "loyalty_bus_commits_total") ?? 0) >= 1)
        // Every event that went through the journal writer had its ack timed.
        #expect(sampleValue(text, "loyalty_bus_ack_latency_seconds_count") == 7)
        #expect(sampleValue(text, #"loyalty_bus_ack_latency_seconds_bucket{le="1.0"}"#) == 7)

        // Counts move between scrapes and are not added twice.
        let next = Sample.purchase(receipt: 6)
        _ = try client.publish(Sample.bytes(next), eventId: next.eventId)
        let again = try client.request(service: "bus.metrics", body: [], timeoutMilliseconds: 2000).bodyText
        #expect(sampleValue(again, "loyalty_bus_events_accepted_total") == 6)
        #expect(sampleValue(again, #"loyalty_bus_events_refused_total{reason="conflict"}"#) == 1)
        #expect(sampleValue(again, #"loyalty_bus_requests_total{outcome="bus"}"#) == 1)   // the first scrape
    }

    @Test("two buses in one process keep separate metrics", .timeLimit(.minutes(1)))
    func registriesArePerBus() throws {
        let one = try BusFixture(), two = try BusFixture()
        let client = try BusClient(context: one.context, endpoint: one.configuration.ingestEndpoint)
        let event = Sample.purchase(receipt: 1)
        _ = try client.publish(Sample.bytes(event), eventId: event.eventId)
        let other = try BusClient(context: two.context, endpoint: two.configuration.ingestEndpoint)
        let text = try other.request(service: "bus.metrics", body: [], timeoutMilliseconds: 2000).bodyText
        #expect(sampleValue(text, "loyalty_bus_events_accepted_total") == 0)
        #expect(sampleValue(try client.request(service: "bus.metrics", body: [], timeoutMilliseconds: 2000).bodyText,
                            "loyalty_bus_events_accepted_total") == 1)
    }
}
