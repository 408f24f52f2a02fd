/// A per-source rate limit: a token bucket of `burst` tokens refilled at `eventsPerSecond`.
public struct RateLimit: Sendable, Equatable {
    public var eventsPerSecond: Double
    public var burst: Double

    public init(eventsPerSecond: Double = 1000, burst: Double = 5000) {
        self.eventsPerSecond = eventsPerSecond
        self.burst = burst
    }
}

/// Token buckets by event `source`. Owned by the front thread (no locking). Buckets idle long
/// enough to be full again are forgotten once there are many, so a flood of invented sources
/// cannot grow memory without bound.
struct RateLimiter {
    let limit: RateLimit
    private var buckets: [String: (tokens: Double, at: Int)] = [:]
    private var lastSweep = 0
    static let sweepAbove = 10_000

    init(limit: RateLimit) { self.limit = limit }

    /// Takes one token for `source` at `now` (monotonic milliseconds).
    /// - Returns: nil if allowed, else the milliseconds until a token is available.
    mutating func take(source: String, now: Int) -> Int? {
        var bucket = buckets[source] ?? (limit.burst, now)
        bucket.tokens = min(limit.burst, bucket.tokens + Double(max(0, now - bucket.at)) * limit.eventsPerSecond / 1000)
        bucket.at = now
        defer {
            buckets[source] = bucket
            if buckets.count > Self.sweepAbove && now - lastSweep > 1000 { sweep(now: now) }
        }
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            return nil
        }
        return Int(((1 - bucket.tokens) * 1000 / max(limit.eventsPerSecond, 0.001)).rounded(.up))
    }

    private mutating func sweep(now: Int) {
        lastSweep = now
        let refill = limit.burst * 1000 / max(limit.eventsPerSecond, 0.001)
        buckets = buckets.filter { Double(now - $0.value.at) < refill }
    }

    var trackedSources: Int { buckets.count }
}
