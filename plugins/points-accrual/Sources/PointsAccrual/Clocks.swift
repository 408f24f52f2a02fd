import LoyaltyRules
import Synchronization

/// The chain's local clocks, kept from one event to the next: a `LocalClock` caches the UTC
/// offset until the next daylight-saving transition, and asking the time zone for that costs
/// more than applying the purchase (callgrind: one new clock per purchase spent 2.7% of a
/// replay in ICU). Two clocks, because each caches forward from the last instant asked: one
/// for the events' instants, one for the expiry instants, which lie months ahead of them.
enum Clocks {
    private static let events = Mutex<(version: String, clock: LocalClock)?>(nil)
    private static let expiries = Mutex<(version: String, clock: LocalClock)?>(nil)

    /// The local calendar at an event's instant, in the rules' time zone.
    static func facts(at epochMilliseconds: Int64, book: RuleBook) -> ClockFacts {
        events.withLock { cached in
            if cached?.version != book.version { cached = (book.version, book.makeClock()) }
            return cached!.clock.facts(at: epochMilliseconds)
        }
    }

    /// The rules' time zone's offset from UTC at an expiry instant, in milliseconds.
    static func expiryOffset(at epochMilliseconds: Int64, book: RuleBook) -> Int64 {
        expiries.withLock { cached in
            if cached?.version != book.version { cached = (book.version, book.makeClock()) }
            return cached!.clock.offset(at: epochMilliseconds)
        }
    }
}
