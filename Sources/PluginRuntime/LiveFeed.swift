import Logging
import LoyaltyWire
import ZeroMQ

/// The feed's SUB to everything the bus publishes, switched off while the plugin catches up
/// from far behind.
///
/// Nothing reads the SUB while the feed replays, and its receive queue has no bound (a burst
/// during a commit must not be dropped), so every event the bus publishes meanwhile would wait
/// in memory only to be skipped as already replayed. A plugin replaying a large journal while
/// the chain trades, or while its own derived events come back (a points plugin replaying
/// 1,000,000 purchases publishes 900,000 `points.accrued`), held about 1 KB per event: 1 GB at
/// the end of that replay. Unsubscribed, the bus sends nothing to it at all.
///
/// Turning the feed back on while still some way behind (half the window) means the subscription
/// is in place before the replay reaches the head, so normally nothing is missed; whatever is
/// missed shows as a gap in seqs or a `$head` beacon ahead of the cursor, and is replayed. The
/// gap between the two thresholds keeps a plugin whose backlog hovers near the window (live
/// traffic as fast as its replay) from switching at every batch.
/// Owned by the feed thread, like the socket.
struct LiveFeed {
    let socket: Socket
    /// Behind the journal's head by more than this, the feed is switched off.
    let window: Int64
    let metrics: PluginMetrics
    let logger: Logger
    private(set) var isOn = true

    init(socket: Socket, window: Int64, metrics: PluginMetrics, logger: Logger) {
        self.socket = socket
        self.window = window
        self.metrics = metrics
        self.logger = logger
    }

    /// While catching up: off when more than `window` events remain, on again within half of it.
    mutating func follow(remaining: Int64) throws {
        if isOn && remaining > window {
            try socket.set(.unsubscribe([]))
            isOn = false
            metrics.pausedLiveFeed()
            logger.info("catching up \(remaining) events behind the journal's head: live feed off until within \(window / 2)")
        }
        if !isOn && remaining <= window / 2 {
            try resume()
        }
        if !isOn {
            // What was queued before the bus saw the unsubscription is covered by the replay.
            while try socket.receive(dontWait: true) != nil {}
        }
    }

    mutating func resume() throws {
        guard !isOn else { return }
        try socket.set(.subscribe([]))
        isOn = true
        logger.info("live feed on again")
    }
}
