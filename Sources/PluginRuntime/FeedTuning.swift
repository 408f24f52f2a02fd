/// The event feed's sizes (see `EventFeed`).
struct FeedTuning: Sendable {
    /// Events asked of the replay endpoint at a time.
    var replayBatch = 5000
    /// Events applied in one transaction while catching up.
    var catchUpRun = 20_000
    /// Further behind the journal's head than this, the live feed is switched off (`LiveFeed`).
    var liveWindow: Int64 = 50_000
}
