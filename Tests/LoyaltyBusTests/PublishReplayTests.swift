import Foundation
import LoyaltyBus
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
import Testing
import ZeroMQ

@Suite(.serialized) struct PublishReplayTests {
    @Test func storedEventsArePublishedWithTheirSeq() throws {
        let fixture = try BusFixture()
        let subscriber = try fixture.subscriber()
        let client = try fixture.dealer()
        // The subscription takes a moment to reach the PUB socket: publish until one arrives.
        var received: PublishedEvent?
        var receipt = 0
        while received == nil && receipt < 200 {
            receipt += 1
            try client.send([Frame(frame: WireCommand.event), Sample.bytes(Sample.purchase(receipt: receipt))])
            while let frames = try receive(subscriber, within: 100) {
                if let event = PublishedEvent(frames: frames) { received = event; break }
            }
        }
        let event = try #require(received)
        #expect(event.topic == "purchase")
        let envelope = try EventCodec.decode(event.envelope)
        #expect(envelope.seq == event.seq)
        #expect(envelope.eventId == "S001-T1-\(event.seq)")
        #expect(envelope == { var e = Sample.purchase(receipt: Int(event.seq)); e.seq = event.seq; return e }())
    }

    @Test func theHeadBeaconAnnouncesTheJournalHead() throws {
        let fixture = try BusFixture()
        let client = try fixture.dealer()
        try client.send([Frame(frame: WireCommand.event), Sample.bytes(Sample.purchase(receipt: 1))])
        _ = try receive(client, within: 5000)
        let subscriber = try fixture.subscriber()
        var head: Int64?
        let deadline = Date().addingTimeInterval(10)
        while head == nil && Date() < deadline {
            if let frames = try receive(subscriber, within: 500), frames.first?.frameText == WireCommand.headTopic {
                head = Int64(frames[1].frameText)
            }
        }
        #expect(head == 1)
    }

    @Test func replayServesEverythingAfterSeqFilteredByTopic() throws {
        let fixture = try BusFixture()
        let publisher = try PipelinedPublisher(context: fixture.context, endpoint: fixture.configuration.ingestEndpoint)
        var events: [EventEnvelope] = []
        for index in 1...10 {
            events.append(index % 3 == 0 ? Sample.survey(id: "survey-\(index)", nps: index) : Sample.purchase(receipt: index))
        }
        let summary = try publisher.publish(events.map { OutgoingEvent(eventId: $0.eventId, envelope: Sample.bytes($0)) })
        #expect(summary.stored == 10)
        // The order of commit is the order of arrival on one DEALER.
        let replay = try fixture.dealer(fixture.configuration.replayEndpoint)

        func ask(_ request: ReplayRequest) throws -> ReplayBatch? {
            try replay.send(request.frames)
            return try receive(replay, within: 5000).flatMap(ReplayBatch.init(frames:))
        }
        let all = try #require(try ask(ReplayRequest(after: 0, limit: 100, topics: [])))
        #expect(all.events.map(\.seq) == Array(1...10))
        #expect(all.head == 10)
        #expect(all.scannedThrough == 10)
        #expect(try all.events.map { try EventCodec.decode($0.envelope).eventId } == events.map(\.eventId))

        let surveys = try #require(try ask(ReplayRequest(after: 0, limit: 100, topics: ["survey"])))
        #expect(surveys.events.map(\.seq) == [3, 6, 9])
        #expect(surveys.scannedThrough == 10)

        let page = try #require(try ask(ReplayRequest(after: 4, limit: 3, topics: [])))
        #expect(page.events.map(\.seq) == [5, 6, 7])
        #expect(page.scannedThrough == 7)

        try replay.send([Frame(frame: WireCommand.replay), Frame(frame: "-1"), Frame(frame: "x"), []])
        let refused = try #require(try receive(replay, within: 5000))
        #expect(refused.first?.frameText == WireCommand.error)
    }
}
