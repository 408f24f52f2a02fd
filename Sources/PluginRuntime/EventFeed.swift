import Foundation
import Logging
import LoyaltyEvents
import LoyaltyWire
import ZeroMQ

/// Delivers every stored event to the plugin once, in journal order: subscribe first, then
/// replay from the cursor until caught up, then apply the live feed, replaying again whenever
/// the live feed shows a gap (a seq jump, or a head beacon ahead of the cursor).
/// Runs on its own thread and owns its SUB and replay DEALER.
struct EventFeed {
    let endpoints: PluginEndpoints
    let plugin: any LoyaltyPlugin
    let store: PluginStore
    let context: ZMQContext
    let stop: StopSignal
    let outboxDirty: OutboxSignal
    let metrics: PluginMetrics
    let logger: Logger
    let tuning: FeedTuning

    func run(startup: StartupGate) {
        let subscriber: Socket
        var replay: Socket
        var applied: Int64
        do {
            subscriber = try Socket(context: context, type: .sub)
            try subscriber.set(endpoints.socketOptions)
            // Unbounded: a burst while we commit must not be dropped; gaps are repaired anyway.
            try subscriber.set([.receiveHighWaterMark(0), .subscribe([])])
            try subscriber.connect(endpoints.publish)
            replay = try makeReplaySocket()
            applied = try store.appliedSeq()
        } catch {
            startup.fail(error)
            return
        }
        startup.succeed()
        metrics.applied(through: applied)
        logger.info("event feed starting", metadata: ["applied.seq": "\(applied)"])
        let topics = plugin.topics.sorted()
        var needsReplay = true
        var liveFeed = LiveFeed(socket: subscriber, window: tuning.liveWindow, metrics: metrics, logger: logger)
        var poller = Poller()
        poller.add(subscriber)
        /// Live events that arrived beyond the cursor while we were catching up.
        var live: [PublishedEvent] = []

        while !stop.isSet {
            do {
                if needsReplay {
                    guard let caughtUp = try catchUp(replay: &replay, liveFeed: &liveFeed, topics: topics, applied: &applied) else { continue }
                    needsReplay = !caughtUp
                    continue
                }
                guard try poller.poll(timeoutMilliseconds: 200)[0].contains(.readable) else {
                    // Idle: write down a cursor that only moved over other plugins' events.
                    if applied > (try store.appliedSeq()) { _ = try store.apply([], through: applied, plugin: plugin) { _, _ in } }
                    continue
                }
                live.removeAll(keepingCapacity: true)
                while live.count < 5000, let frames = try subscriber.receive(dontWait: true) {
                    if frames.first?.frameText == WireCommand.headTopic {
                        if frames.count == 2, let head = Int64(frames[1].frameText) {
                            metrics.sawHead(head)
                            // Every event up to `head` was published before this beacon; if one
                            // of them is not here, it was dropped.
                            if head > applied + Int64(live.count), head > live.last?.seq ?? applied { needsReplay = true }
                        }
                        continue
                    }
                    guard let event = PublishedEvent(frames: frames) else { continue }
                    live.append(event)
                }
                if let last = live.last { metrics.sawHead(last.seq) }
                var run: [PublishedEvent] = []
                var expected = applied + 1
                for event in live {
                    if event.seq < expected { continue }          // already applied (replay overlap)
                    if event.seq > expected { needsReplay = true; break }   // gap: missed events
                    run.append(event)
                    expected += 1
                }
                if !run.isEmpty {
                    try applyRun(run, through: run.last!.seq, applied: &applied)
                }
            } catch let error as ZMQError where error.isContextTerminated {
                break
            } catch {
                logger.error("event feed: \(error); retrying in 1 s")
                needsReplay = true
                sleepMilliseconds(1000)
            }
        }
    }

    /// Asks the replay endpoint for the batches after the cursor and applies them until the
    /// cursor reaches the journal head. The request for the next batch goes out before the
    /// current one is applied, so the bus reads while the plugin writes.
    /// - Returns: true once the cursor reached the journal head, false if there is more,
    ///   nil if the bus did not answer (it is retried).
    private func catchUp(replay: inout Socket, liveFeed: inout LiveFeed, topics: [String], applied: inout Int64) throws -> Bool? {
        var poller = Poller()
        poller.add(replay)
        /// The `after` of each request sent and not answered yet, oldest first: the bus answers
        /// a DEALER's requests in order.
        var requested: [Int64] = []
        func request(after: Int64) throws {
            try replay.send(ReplayRequest(after: after, limit: tuning.replayBatch, topics: topics).frames)
            requested.append(after)
        }
        /// Events received and not applied yet, and the seq through which the journal was read.
        var pending: [PublishedEvent] = []
        var received = applied
        do {
            try request(after: applied)
            var deadline = Monotonic.now + 3000
            while let remaining = Monotonic.remaining(until: deadline), !stop.isSet {
                guard try poller.poll(timeoutMilliseconds: min(remaining, 200))[0].contains(.readable),
                      let frames = try replay.receive(dontWait: true) else { continue }
                let after = requested.isEmpty ? received : requested.removeFirst()
                guard let batch = ReplayBatch(frames: frames) else {
                    logger.warning("replay refused: \(frames.dropFirst().map(\.frameText).joined(separator: ": "))")
                    try resetReplay(&replay, poller: &poller)
                    return nil
                }
                if batch.head < applied {
                    // The journal is behind what this plugin already applied: it was replaced or
                    // restored from an older copy. Applying anything now could double effects.
                    logger.error("the journal's head (\(batch.head)) is behind this plugin's cursor (\(applied)); was the journal replaced? Waiting; restore the journal or reset this plugin's database")
                    try resetReplay(&replay, poller: &poller)
                    sleepMilliseconds(5000)
                    return nil
                }
                metrics.sawHead(batch.head)
                guard after == received, batch.scannedThrough >= received else { continue }   // not the answer we wait for
                let more = batch.scannedThrough < batch.head
                if more && requested.isEmpty { try request(after: batch.scannedThrough) }
                try liveFeed.follow(remaining: batch.head - batch.scannedThrough)
                pending.append(contentsOf: batch.events.lazy.filter { $0.seq > received })
                received = batch.scannedThrough
                // Catching up, runs are long: fewer, larger transactions write each hot page
                // (a customer row, an index leaf) once per run rather than once per batch.
                if !more || pending.count >= tuning.catchUpRun {
                    try applyRun(pending, through: received, applied: &applied)
                    pending.removeAll(keepingCapacity: true)
                }
                if !more { return true }
                deadline = Monotonic.now + 3000
            }
        } catch {
            // An answer to a request still out would be taken for the answer to the next one.
            try resetReplay(&replay, poller: &poller)
            throw error
        }
        try resetReplay(&replay, poller: &poller)
        if !stop.isSet { logger.warning("no answer from the replay endpoint \(endpoints.replay); retrying") }
        return nil
    }

    /// A fresh replay socket: whatever the old one still had coming is dropped with it.
    private func resetReplay(_ replay: inout Socket, poller: inout Poller) throws {
        replay = try makeReplaySocket()
        poller = Poller()
        poller.add(replay)
    }

    private func makeReplaySocket() throws -> Socket {
        let replay = try Socket(context: context, type: .dealer)
        try replay.set(endpoints.socketOptions)
        try replay.set([.reconnectInterval(milliseconds: 100)])
        try replay.connect(endpoints.replay)
        return replay
    }

    private func applyRun(_ published: [PublishedEvent], through: Int64, applied: inout Int64) throws {
        var events: [StoredEvent] = []
        events.reserveCapacity(published.count)
        for event in published where plugin.topics.contains(event.topic) {
            do {
                let envelope = try EventCodec.decode(event.envelope)
                events.append(StoredEvent(seq: event.seq, envelope: envelope))
            } catch {
                // Stored events were valid when stored; one that no longer decodes (a newer
                // producer, an older plugin) is logged and skipped rather than halting the plugin.
                logger.error("cannot decode stored event: \(error)", metadata: ["event.seq": "\(event.seq)"])
            }
        }
        if events.isEmpty && through - applied < 1000 {
            // Nothing for this plugin: move the cursor in memory only; it is written with the next
            // real change (skipping again after a crash is harmless).
            applied = through
            metrics.applied(through: through)
            return
        }
        let started = Monotonic.nanoseconds
        var failed = 0
        let queued = try store.apply(events, through: through, plugin: plugin) { event, error in
            failed += 1
            logger.error("apply failed: \(error)", metadata: [
                "event.id": "\(event.envelope.eventId)", "event.seq": "\(event.seq)",
                "customer.id": "\(event.envelope.customerId ?? "-")",
            ])
        }
        applied = through
        metrics.appliedRun(events: events.count, failed: failed, nanoseconds: Monotonic.nanoseconds - started)
        metrics.applied(through: through)
        if queued > 0 { outboxDirty.raise() }
    }
}

func sleepMilliseconds(_ milliseconds: Int) {
    var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 { request = remaining }
}
