import Foundation
import Logging
import LoyaltyEvents
import LoyaltyWire
import ZeroMQ

/// The journal writer: takes every validated event waiting, appends them in one transaction
/// (group commit: one fsync for everything that arrived while the last one ran), then hands
/// the acks to the front and publishes. Runs on its own thread and owns the PUB socket.
struct JournalWriter {
    let configuration: BusConfiguration
    let journal: Journal
    let context: ZMQContext
    let queue: IngestQueue
    let replies: ReplyQueue
    let stop: StopSignal
    let statistics: BusStatistics
    let logger: Logger

    func run(startup: StartupGate) {
        let publisher: Socket
        do {
            publisher = try Socket(context: context, type: .pub)
            // Deep enough that a subscriber busy for a moment loses nothing; a subscriber that
            // still falls behind sees a gap in seq and catches up through replay.
            try publisher.set(.sendHighWaterMark(1_000_000))
            try publisher.bind(configuration.publishEndpoint)
        } catch {
            startup.fail(error)
            return
        }
        startup.succeed()
        var head = (try? journal.head()) ?? 0
        var lastBeacon = 0
        while !stop.isSet {
            let batch = queue.take(max: configuration.maxBatch, timeoutMilliseconds: 200)
            if !batch.isEmpty {
                head = process(batch, head: head, publisher: publisher)
            }
            let now = Monotonic.now
            if now - lastBeacon >= 1000 {
                lastBeacon = now
                do {
                    try publisher.send([Frame(frame: WireCommand.headTopic), Frame(frame: String(head))])
                } catch {
                    logger.error("head beacon: \(error)")
                }
            }
        }
        // Whatever was handed over but not yet written is refused, never silently dropped.
        let left = queue.take(max: .max, timeoutMilliseconds: 0)
        replies.push(left.map { item in
            [item.peer] + Ack(eventId: item.entry.eventId, status: .unavailable, code: "shutting_down",
                              message: "the bus is stopping; retry in a moment").frames
        })
    }

    /// Appends, acks, publishes. Returns the new head.
    private func process(_ batch: [IngestQueue.Item], head: Int64, publisher: Socket) -> Int64 {
        var replies: [[Frame]] = []
        replies.reserveCapacity(batch.count)
        var newHead = head
        var published: [PublishedEvent] = []
        var counts = (stored: 0, duplicates: 0, rejected: 0, unavailable: 0)
        do {
            let results = try journal.append(batch.map(\.entry), receivedAtMilliseconds: Timestamp.now().epochMilliseconds)
            published.reserveCapacity(batch.count)
            for (item, result) in zip(batch, results) {
                let entry = item.entry
                let ack: Ack
                switch result {
                case .stored(let seq):
                    ack = Ack(eventId: entry.eventId, status: .stored, seq: seq)
                    published.append(PublishedEvent(topic: entry.type, seq: seq,
                                                    envelope: EnvelopeSeq.insert(seq: seq, into: entry.body)))
                    newHead = max(newHead, seq)
                    counts.stored += 1
                case .duplicate(let seq):
                    ack = Ack(eventId: entry.eventId, status: .duplicate, seq: seq)
                    counts.duplicates += 1
                case .conflict(let seq):
                    counts.rejected += 1
                    ack = Ack(eventId: entry.eventId, status: .rejected, seq: seq, code: "conflict",
                              message: "eventId '\(entry.eventId)' is already stored (seq \(seq)) with different content; a different event needs a new eventId")
                }
                replies.append([item.peer] + ack.frames)
            }
        } catch {
            // Nothing of this batch is stored: say so, so that every producer retries.
            logger.error("journal append failed; \(batch.count) events refused as unavailable: \(error)")
            counts.unavailable = batch.count
            for item in batch {
                let ack = Ack(eventId: item.entry.eventId, status: .unavailable, code: "storage_failed",
                              message: "the journal could not store the event (\(error)); retry later")
                replies.append([item.peer] + ack.frames)
            }
        }
        statistics.record(stored: counts.stored, duplicates: counts.duplicates, rejected: counts.rejected,
                          unavailable: counts.unavailable, committed: counts.unavailable == 0)
        self.replies.push(replies)
        for event in published {
            do { try publisher.send(event.frames) } catch { logger.error("publish seq \(event.seq) failed: \(error)") }
        }
        return newHead
    }
}

/// Checks an envelope the way the bus does before it is queued for the journal.
enum EventAdmission {
    enum Outcome { case admitted(Journal.Entry), refused(Ack) }

    static func check(_ body: [UInt8], limits: EventLimits) -> Outcome {
        do {
            let envelope = try EventCodec.decode(body, limits: limits)
            if envelope.seq != nil {
                return .refused(Ack(eventId: envelope.eventId, status: .rejected, code: "invalid_value",
                                    message: "seq: is assigned by the bus; leave it out"))
            }
            return .admitted(Journal.Entry(eventId: envelope.eventId, type: envelope.type,
                                           occurredAtMilliseconds: envelope.occurredAt.epochMilliseconds,
                                           customerId: envelope.customerId, body: body))
        } catch {
            return .refused(Ack(eventId: bestEffortEventId(body), status: .rejected,
                                code: error.code.rawValue, message: error.description))
        }
    }

    /// The eventId of an invalid event when it can still be read, so that the producer can tell
    /// which of its events was refused.
    static func bestEffortEventId(_ body: [UInt8]) -> String {
        guard body.count <= 1 << 20, case .object(let object)? = try? JSONParser.parse(body),
              case .string(let id)? = object["eventId"], id.utf8.count <= 128 else { return "" }
        return id
    }
}
