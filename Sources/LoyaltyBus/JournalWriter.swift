import Foundation
import Logging
import LoyaltyEvents
import LoyaltyWire
import ZeroMQ

/// The journal writer: validates what the front hands it, appends a batch per transaction
/// (group commit: one fsync for everything that arrived while the last one ran), then acks and
/// publishes. Runs on its own thread and owns its two sockets.
///
/// From the front (PAIR): `routingId, envelope`. To the front: `routingId, ack frames…`.
struct JournalWriter {
    let configuration: BusConfiguration
    let journal: Journal
    let context: ZMQContext
    let frontEndpoint: String
    let stop: StopSignal
    let statistics: BusStatistics
    let logger: Logger

    func run(startup: StartupGate) {
        let front: Socket
        let publisher: Socket
        do {
            front = try Socket(context: context, type: .pair)
            try front.set([.sendHighWaterMark(0), .receiveHighWaterMark(0)])
            try front.bind(frontEndpoint)
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
        var poller = Poller()
        poller.add(front)
        var batch: [[Frame]] = []
        batch.reserveCapacity(configuration.maxBatch)

        while !stop.isSet {
            do {
                let ready = try poller.poll(timeoutMilliseconds: 200)
                if ready[0].contains(.readable) {
                    while batch.count < configuration.maxBatch, let message = try front.receive(dontWait: true) {
                        batch.append(message)
                    }
                    if !batch.isEmpty {
                        head = process(batch, head: head, front: front, publisher: publisher)
                        batch.removeAll(keepingCapacity: true)
                    }
                }
                let now = Monotonic.now
                if now - lastBeacon >= 1000 {
                    lastBeacon = now
                    try publisher.send([Frame(frame: WireCommand.headTopic), Frame(frame: String(head))])
                }
            } catch let error as ZMQError where error.isContextTerminated {
                break
            } catch {
                logger.error("journal writer: \(error)")
            }
        }
    }

    /// Validates, appends, acks, publishes. Returns the new head.
    private func process(_ batch: [[Frame]], head: Int64, front: Socket, publisher: Socket) -> Int64 {
        var replies: [[Frame]] = []
        replies.reserveCapacity(batch.count)
        var entries: [Journal.Entry] = []
        entries.reserveCapacity(batch.count)
        var owners: [Frame] = []
        owners.reserveCapacity(batch.count)

        for message in batch {
            guard message.count == 2 else { continue }
            let routingId = message[0], body = message[1]
            switch validate(body) {
            case .valid(let entry):
                entries.append(entry)
                owners.append(routingId)
            case .invalid(let ack):
                replies.append([routingId] + ack.frames)
            }
        }

        var newHead = head
        var published: [PublishedEvent] = []
        var counts = (stored: 0, duplicates: 0, rejected: replies.count, unavailable: 0)
        if !entries.isEmpty {
            do {
                let results = try journal.append(entries, receivedAtMilliseconds: Timestamp.now().epochMilliseconds)
                published.reserveCapacity(entries.count)
                for (index, result) in results.enumerated() {
                    let entry = entries[index]
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
                    replies.append([owners[index]] + ack.frames)
                }
            } catch {
                // Nothing of this batch is stored: say so, so that every producer retries.
                logger.error("journal append failed; \(entries.count) events refused as unavailable: \(error)")
                counts.unavailable = entries.count
                for (index, entry) in entries.enumerated() {
                    let ack = Ack(eventId: entry.eventId, status: .unavailable, code: "storage_failed",
                                  message: "the journal could not store the event (\(error)); retry later")
                    replies.append([owners[index]] + ack.frames)
                }
            }
        }
        statistics.record(stored: counts.stored, duplicates: counts.duplicates, rejected: counts.rejected,
                          unavailable: counts.unavailable, committed: !entries.isEmpty && counts.unavailable == 0)
        for reply in replies {
            do { try front.send(reply) } catch { logger.error("journal writer: ack lost on the way to the front: \(error)") }
        }
        for event in published {
            do { try publisher.send(event.frames) } catch { logger.error("publish seq \(event.seq) failed: \(error)") }
        }
        return newHead
    }

    private enum Validation { case valid(Journal.Entry), invalid(Ack) }

    private func validate(_ body: [UInt8]) -> Validation {
        do {
            let envelope = try EventCodec.decode(body, limits: configuration.limits)
            if envelope.seq != nil {
                return .invalid(Ack(eventId: envelope.eventId, status: .rejected, code: "invalid_value",
                                    message: "seq: is assigned by the bus; leave it out"))
            }
            return .valid(Journal.Entry(eventId: envelope.eventId, type: envelope.type,
                                          occurredAtMilliseconds: envelope.occurredAt.epochMilliseconds,
                                          customerId: envelope.customerId, body: body))
        } catch {
            return .invalid(Ack(eventId: Self.bestEffortEventId(body), status: .rejected,
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
