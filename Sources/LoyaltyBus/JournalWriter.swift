import Foundation
import Logging
import LoyaltyEvents
import LoyaltyWire
import ZeroMQ

/// The journal writer: takes every validated event waiting, appends them in one transaction
/// (group commit: one fsync for everything that arrived while the last one ran), and hands the
/// outcomes to the front thread, which acknowledges and publishes. It does nothing but SQLite,
/// because it is the one part that cannot be spread over cores. Runs on its own thread.
struct JournalWriter {
    let journal: Journal
    let maxBatch: Int
    let queue: IngestQueue
    let replies: ReplyQueue
    let stop: StopSignal
    let statistics: BusStatistics
    let logger: Logger

    func run() {
        while !stop.isSet {
            let batch = queue.take(max: maxBatch, timeoutMilliseconds: 200)
            if !batch.isEmpty { replies.push(append(batch)) }
        }
        // Whatever was handed over but not yet written is refused, never silently dropped.
        replies.push(queue.take(max: .max, timeoutMilliseconds: 0).map { item in
            WriteOutcome(peer: item.peer, entry: item.entry,
                         ack: Ack(eventId: item.entry.eventId, status: .unavailable, code: "shutting_down",
                                  message: "the bus is stopping; retry in a moment"), receivedAt: item.receivedAt)
        })
    }

    private func append(_ batch: [IngestQueue.Item]) -> [WriteOutcome] {
        var outcomes: [WriteOutcome] = []
        outcomes.reserveCapacity(batch.count)
        var counts = (stored: 0, duplicates: 0, rejected: 0, unavailable: 0)
        do {
            let results = try journal.append(batch.map(\.entry), receivedAtMilliseconds: Timestamp.now().epochMilliseconds)
            for (item, result) in zip(batch, results) {
                let eventId = item.entry.eventId
                let ack: Ack
                switch result {
                case .stored(let seq):
                    ack = Ack(eventId: eventId, status: .stored, seq: seq)
                    counts.stored += 1
                case .duplicate(let seq):
                    ack = Ack(eventId: eventId, status: .duplicate, seq: seq)
                    counts.duplicates += 1
                case .conflict(let seq):
                    counts.rejected += 1
                    ack = Ack(eventId: eventId, status: .rejected, seq: seq, code: "conflict",
                              message: "eventId '\(eventId)' is already stored (seq \(seq)) with different content; a different event needs a new eventId")
                }
                outcomes.append(WriteOutcome(peer: item.peer, entry: item.entry, ack: ack, receivedAt: item.receivedAt))
            }
        } catch {
            // Nothing of this batch is stored: say so, so that every producer retries.
            logger.error("journal append failed; \(batch.count) events refused as unavailable: \(error)")
            counts.unavailable = batch.count
            for item in batch {
                outcomes.append(WriteOutcome(peer: item.peer, entry: item.entry, ack: Ack(
                    eventId: item.entry.eventId, status: .unavailable, code: "storage_failed",
                    message: "the journal could not store the event (\(error)); retry later"), receivedAt: item.receivedAt))
            }
        }
        statistics.record(stored: counts.stored, duplicates: counts.duplicates, rejected: counts.rejected,
                          unavailable: counts.unavailable, committed: counts.unavailable == 0)
        return outcomes
    }
}

/// Checks an envelope the way the bus does before it is queued for the journal.
enum EventAdmission {
    enum Outcome { case admitted(Journal.Entry, source: String), refused(Ack) }

    /// Decodes and validates `body`, then applies the admission limits (amounts, clock window)
    /// against the bus's clock `now`.
    static func check(_ body: [UInt8], limits: EventLimits, now: Timestamp = .now()) -> Outcome {
        do {
            let envelope = try EventCodec.decode(body, limits: limits)
            if envelope.seq != nil {
                return .refused(Ack(eventId: envelope.eventId, status: .rejected, code: "invalid_value",
                                    message: "seq: is assigned by the bus; leave it out"))
            }
            if let problem = limits.admissionProblem(envelope, now: now) {
                return .refused(Ack(eventId: envelope.eventId, status: .rejected, code: problem.code.rawValue,
                                    message: problem.description))
            }
            return .admitted(Journal.Entry(eventId: envelope.eventId, type: envelope.type,
                                           occurredAtMilliseconds: envelope.occurredAt.epochMilliseconds,
                                           customerId: envelope.customerId, body: body), source: envelope.source)
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
