import Foundation
import GRDB
@testable import LoyaltyBus
import Logging
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
import Testing
import ZeroMQ

@Suite(.serialized) struct IngestTests {
    func send(_ socket: Socket, _ body: [UInt8]) throws -> Ack? {
        try socket.send([Frame(frame: WireCommand.event), body])
        guard let frames = try receive(socket, within: 10_000) else { return nil }
        return Ack(frames: frames)
    }

    @Test func storesOnceAndReportsDuplicatesAndConflicts() throws {
        let fixture = try BusFixture()
        let client = try fixture.dealer()
        let body = Sample.bytes(Sample.purchase(receipt: 1))

        let first = try #require(try send(client, body))
        #expect(first == Ack(eventId: "S001-T1-1", status: .stored, seq: 1))
        let again = try #require(try send(client, body))
        #expect(again == Ack(eventId: "S001-T1-1", status: .duplicate, seq: 1))
        // Same id, different content: a producer bug; refused, and the first copy stays.
        let changed = try #require(try send(client, Sample.bytes(Sample.purchase(receipt: 1, amount: 4900))))
        #expect(changed.status == .rejected)
        #expect(changed.code == "conflict")
        #expect(changed.seq == 1)
        #expect(try fixture.bus.journal.count() == 1)
        #expect(fixture.bus.statistics.stored == 1)
        #expect(fixture.bus.statistics.duplicates == 1)
    }

    @Test func invalidEventIsRefusedWithFieldAndReason() throws {
        let fixture = try BusFixture()
        let client = try fixture.dealer()
        var json = String(decoding: Sample.bytes(Sample.purchase(receipt: 2)), as: UTF8.self)
        json = json.replacingOccurrences(of: "\"quantity\":1", with: "\"quantity\":-1")
        let ack = try #require(try send(client, Array(json.utf8)))
        #expect(ack.status == .rejected)
        #expect(ack.eventId == "S001-T1-2")
        #expect(ack.code == "invalid_value")
        #expect(ack.message.contains("payload.lines[0].quantity"))
        #expect(try fixture.bus.journal.count() == 0)
    }

    @Test func producerMayNotChooseSeq() throws {
        let fixture = try BusFixture()
        let client = try fixture.dealer()
        var envelope = Sample.purchase(receipt: 3)
        envelope.seq = 99
        let ack = try #require(try send(client, Sample.bytes(envelope)))
        #expect(ack.status == .rejected)
        #expect(ack.message.contains("seq"))
    }

    @Test func malformedJSONIsRefusedWithPosition() throws {
        let fixture = try BusFixture()
        let client = try fixture.dealer()
        let ack = try #require(try send(client, Array("{\"v\":1,\"eventId\":\"x\",".utf8)))
        #expect(ack.status == .rejected)
        #expect(ack.code == "malformed_json")
        #expect(ack.message.contains("byte"))
    }

    @Test func oversizedEnvelopeIsRefused() throws {
        let fixture = try BusFixture()
        let client = try fixture.dealer()
        let ack = try #require(try send(client, [UInt8](repeating: 0x20, count: 70_000)))
        #expect(ack.status == .rejected)
        #expect(ack.code == "too_large")
    }

    /// 10,000 random and malformed messages: every one is answered with a reason, nothing is
    /// stored, and the bus still stores a valid event afterwards.
    @Test func randomFramesAreEachRefusedAndTheBusKeepsServing() throws {
        let fixture = try BusFixture()
        let client = try fixture.dealer()
        try client.set([.sendHighWaterMark(0), .receiveHighWaterMark(0)])
        var random = SystemRandomNumberGenerator()
        let valid = Sample.bytes(Sample.purchase(receipt: 7))
        let count = 10_000
        for index in 0..<count {
            var frames: [Frame]
            switch index % 4 {
            case 0:   // garbage command and frames
                let frameCount = Int.random(in: 1...5, using: &random)
                frames = (0..<frameCount).map { _ in (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) } }
                if frames[0].frameText == WireCommand.heartbeat || frames[0].frameText == WireCommand.disconnect { frames[0] = [0xFF] }
            case 1:   // an event whose JSON was damaged at a random place
                var body = valid
                let position = Int.random(in: 0..<body.count, using: &random)
                body[position] = UInt8.random(in: 0...255, using: &random)
                body.removeLast(Int.random(in: 1...20, using: &random))
                frames = [Frame(frame: WireCommand.event), body]
            case 2:   // wrong frame counts for known commands
                frames = [Frame(frame: [WireCommand.event, WireCommand.request, WireCommand.reply][index % 3])]
                    + Array(repeating: Frame(frame: "x"), count: [0, 2, 7][Int.random(in: 0...2, using: &random)])
            default:  // random bytes as an event
                frames = [Frame(frame: WireCommand.event), (0..<Int.random(in: 0...200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }]
            }
            try client.send(frames)
        }
        var answered = 0
        var unexplained = 0
        while answered < count, let frames = try receive(client, within: 10_000) {
            answered += 1
            if let ack = Ack(frames: frames) {
                if ack.status != .rejected || ack.message.isEmpty { unexplained += 1 }
            } else if !(frames.count == 3 && frames[0].frameText == WireCommand.error && !frames[2].isEmpty) {
                if !(frames.first?.frameText == WireCommand.reply) { unexplained += 1 }
            }
        }
        #expect(answered == count)
        #expect(unexplained == 0)
        #expect(try fixture.bus.journal.count() == 0)
        let ack = try #require(try send(client, valid))
        #expect(ack.status == .stored)
    }

    @Test func pipelinedClientsGetEveryEventStoredOnce() throws {
        let fixture = try BusFixture()
        let publisher = try PipelinedPublisher(context: fixture.context, endpoint: fixture.configuration.ingestEndpoint, window: 2000)
        let events = (1...5000).map { Sample.purchase(receipt: $0) }.map { OutgoingEvent(eventId: $0.eventId, envelope: Sample.bytes($0)) }
        let summary = try publisher.publish(events, deadlineMilliseconds: 120_000)
        #expect(summary.stored == 5000)
        #expect(summary.unacknowledged.isEmpty)
        #expect(try fixture.bus.journal.count() == 5000)
        #expect(fixture.bus.statistics.commits <= 5000)
    }

    /// Group commit: everything that waits while a commit runs goes into the next transaction
    /// (one fsync), up to `maxBatch`. Here 5,000 events wait before the writer starts.
    @Test func eventsWaitingForTheWriterShareOneTransaction() throws {
        let directory = try TemporaryDirectory("group-commit")
        defer { directory.remove() }
        let journal = try Journal(path: directory.path + "/journal.sqlite")
        let queue = IngestQueue(), replies = try ReplyQueue(), stop = StopSignal(), statistics = BusStatistics()
        for receipt in 1...5000 {
            let envelope = Sample.purchase(receipt: receipt)
            let entry = Journal.Entry(eventId: envelope.eventId, type: envelope.type, occurredAtMilliseconds: 0,
                                      customerId: nil, body: Sample.bytes(envelope))
            #expect(queue.push(IngestQueue.Item(peer: [1], entry: entry), limit: 10_000))
        }
        let writer = JournalWriter(journal: journal, maxBatch: 4096, queue: queue, replies: replies, stop: stop,
                                   statistics: statistics, logger: Logger(label: "test.writer"))
        let thread = OwnedThread(name: "writer") { writer.run() }
        var outcomes: [WriteOutcome] = []
        #expect(waitUntil(seconds: 30) {
            outcomes += replies.takeAll()
            return outcomes.count == 5000
        })
        stop.set()
        thread.join()
        #expect(statistics.commits == 2)   // 4,096 + 904
        #expect(outcomes.map(\.ack.seq) == Array(1...5000))
        #expect(outcomes.allSatisfy { $0.ack.status == .stored })
    }

    @Test func journalSurvivesRestartAndStillDeduplicates() throws {
        let fixture = try BusFixture()
        let client = try fixture.dealer()
        let body = Sample.bytes(Sample.purchase(receipt: 11))
        #expect(try send(client, body)?.status == .stored)
        try fixture.restart()
        let again = try fixture.dealer()
        let ack = try #require(try send(again, body))
        #expect(ack.status == .duplicate)
        #expect(ack.seq == 1)
        #expect(try send(again, Sample.bytes(Sample.purchase(receipt: 12))) == Ack(eventId: "S001-T1-12", status: .stored, seq: 2))
    }

    /// Under steady ingest, never idle long enough for the idle checkpoint, the journal's WAL is
    /// still copied into the database file once `checkpoint.maximumEvents` events arrived: small
    /// checkpoints often, because one overlapping commits stalls them for about as long as it takes.
    /// (In WAL mode only a checkpoint writes the database file, so its size shows whether one ran.)
    @Test(arguments: [(1_000, true), (1_000_000, false)])
    func steadyIngestIsCheckpointedOnceMaximumEventsArrived(maximumEvents: Int, checkpointed: Bool) throws {
        let fixture = try BusFixture { configuration in
            configuration.checkpoint.maximumEvents = maximumEvents
            configuration.checkpoint.idleMilliseconds = 600_000
        }
        let client = try fixture.dealer()
        let path = fixture.configuration.journalPath
        func databaseFileBytes() -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }
        let before = databaseFileBytes()
        let bodies = (1...2_000).map { Sample.bytes(Sample.purchase(receipt: $0)) }
        for body in bodies { try client.send([Frame(frame: WireCommand.event), body]) }
        for _ in bodies { _ = try #require(try receive(client, within: 10_000)) }
        let written = bodies.map(\.count).reduce(0, +)
        // The checkpoint thread looks every 100 ms.
        let grew = waitUntil(seconds: checkpointed ? 10 : 1.5) { databaseFileBytes() - before > written / 2 }
        #expect(grew == checkpointed, "database file: \(before) → \(databaseFileBytes()) bytes after \(written) bytes of events")
    }
}
