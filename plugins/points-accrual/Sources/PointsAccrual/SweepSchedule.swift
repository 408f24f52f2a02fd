import GRDB
import Synchronization

/// When the expiry sweep next has work: the earliest expiry of any lot, and the earliest
/// expiry no notice covered yet. Asking SQLite for these on every event would cost two queries
/// per purchase; kept here, a purchase compares two numbers.
///
/// What is known is only ever a fact about committed (or about to be committed) rows, so it is
/// forgotten, and asked again, whenever a transaction or an event's savepoint that might have
/// changed it is rolled back.
final class SweepSchedule: Sendable {
    struct Known: Sendable {
        /// Earliest `expiresAt` of a lot not expired (`Int64.max`: none).
        var nextExpiry: Int64
        /// Every lot expiring at or before this was in a notice.
        var noticedThrough: Int64
        /// Earliest `expiresAt` above `noticedThrough` (`Int64.max`: none).
        var nextNotice: Int64
        /// The longest pending period of any lot, as stored (see `Ledger.longestPending`).
        var maxPending: Int64
    }

    private let known = Mutex<Known?>(nil)

    /// What is known, asking the database if nothing is.
    func current(_ ledger: Ledger) throws -> Known {
        if let known = known.withLock({ $0 }) { return known }
        let noticedThrough = try ledger.noticedThrough()
        let fresh = Known(nextExpiry: try ledger.nextExpiry() ?? .max, noticedThrough: noticedThrough,
                          nextNotice: try ledger.nextNotice(after: noticedThrough) ?? .max, maxPending: try ledger.longestPending())
        known.withLock { $0 = fresh }
        return fresh
    }

    /// Records what a sweep found in the current transaction: the sweep moved things later, so
    /// if the transaction rolls back this would be wrong, and it is forgotten.
    func swept(_ fresh: Known, in db: Database) {
        known.withLock { $0 = fresh }
        db.afterNextTransaction(onCommit: { _ in }, onRollback: { [weak self] _ in self?.forget() })
    }

    /// A lot with a pending period longer than any before: stored, and known, so that most
    /// lots need no statement for it. Forgotten if the transaction rolls back, since the
    /// stored value then stays the old one.
    func notePending(_ milliseconds: Int64, _ ledger: Ledger) throws {
        guard milliseconds > (try current(ledger)).maxPending else { return }
        try ledger.notePending(milliseconds)
        known.withLock { state in state?.maxPending = milliseconds }
        ledger.db.afterNextTransaction(onCommit: { _ in }, onRollback: { [weak self] _ in self?.forget() })
    }

    /// A lot was written: it may expire, or need a notice, before anything known so far. Moving
    /// a time earlier needs no undoing: at worst a sweep finds nothing and asks again.
    func lotAdded(expiresAt: Int64?) {
        guard let expiresAt else { return }
        known.withLock { state in
            guard var value = state else { return }
            value.nextExpiry = min(value.nextExpiry, expiresAt)
            if expiresAt > value.noticedThrough { value.nextNotice = min(value.nextNotice, expiresAt) }
            state = value
        }
    }

    func forget() {
        known.withLock { $0 = nil }
    }
}
