import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules

/// A customer's running figures, as stored in `customers`.
struct CustomerRecord {
    var customerId: String
    var exists = false
    var visits: Int64 = 0
    var spend: Int64 = 0
    var firstVisit: Int64?
    var lastVisit: Int64?
    var lastNps: Int64?
    var tier: String?
    var earnedDay: Int64?
    var earnedToday: Int64 = 0
    /// Spendable points held in released lots (what the rules read as customer.points).
    var available: Int64 = 0
    /// Released points earned in the last 365 days, net of returns (customer.qualifyingPoints).
    var qualifying: Int64 = 0
    /// Points a return could not take back, to be repaid from new points.
    var owed: Int64 = 0
    /// Every lot with `pendingUntil` at or before this is counted in `available` (and, until it
    /// lapses, in `qualifying`); none after it is. Lots carry no "released" flag: an instant per
    /// customer says it for all of them, so a release writes nothing but the customer row.
    var releasedThrough: Int64 = 0
    /// Every counted lot whose tier window (`earnedAt` + 365 days) ended at or before this has
    /// left `qualifying`.
    var lapsedThrough: Int64 = 0
    /// The earliest instant a lot of this customer leaves its pending period (nil: none pending).
    var nextRelease: Int64?
    /// The earliest instant a lot of this customer stops counting for tiers (nil: none counts).
    var nextLapse: Int64?
    /// Visits and spend per store-local day, oldest first, as far back as any rule looks.
    var days: [VisitHistory.Day] = []
    /// From the latest `customer.scored` (nil: not scored yet).
    var clv: Double?
    var clvPercentile: Double?
    var pAlive: Double?
}

/// The ledger's operations, inside the transaction the runtime (or a service handler) opened.
/// Every change to points is a lot (what a purchase earned) or a `ledger` row saying why.
///
/// Replaying millions of purchases is the hot path, so a purchase costs four statements: the
/// customer read, the lot insert, the outbox insert and the customer write. What would
/// otherwise be queried per event is kept where it is cheap to check: the instants at which a
/// customer's lots next change state live in the customer row, the chain's next expiry in
/// `SweepSchedule`.
struct Ledger {
    let db: Database
    static let qualifyingWindow: Int64 = 365 * 86_400_000

    func customer(_ id: String) throws -> CustomerRecord {
        var record = CustomerRecord(customerId: id)
        let row = try RawStatement(db, sql: """
            SELECT visits, spend, firstVisit, lastVisit, lastNps, tier, earnedDay, earnedToday, available, qualifying, owed,
                nextRelease, nextLapse, days, clv, clvPercentile, pAlive, releasedThrough, lapsedThrough
            FROM customers WHERE customerId = ?
            """)
        defer { row.finish() }
        row.bind(1, id)
        guard try row.step() else { return record }
        record.exists = true
        record.visits = row.int64(0)
        record.spend = row.int64(1)
        record.firstVisit = row.optionalInt64(2)
        record.lastVisit = row.optionalInt64(3)
        record.lastNps = row.optionalInt64(4)
        record.tier = row.optionalText(5)
        record.earnedDay = row.optionalInt64(6)
        record.earnedToday = row.int64(7)
        record.available = row.int64(8)
        record.qualifying = row.int64(9)
        record.owed = row.int64(10)
        record.nextRelease = row.optionalInt64(11)
        record.nextLapse = row.optionalInt64(12)
        if let blob = row.blob(13) { record.days = DayHistoryCodec.decode(blob) }
        record.clv = row.optionalDouble(14)
        record.clvPercentile = row.optionalDouble(15)
        record.pAlive = row.optionalDouble(16)
        record.releasedThrough = row.int64(17)
        record.lapsedThrough = row.int64(18)
        return record
    }

    func save(_ c: CustomerRecord) throws {
        let statement = try RawStatement(db, sql: """
            INSERT INTO customers (customerId, visits, spend, firstVisit, lastVisit, lastNps, tier, earnedDay, earnedToday, available,
                qualifying, owed, nextRelease, nextLapse, days, clv, clvPercentile, pAlive, releasedThrough, lapsedThrough)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(customerId) DO UPDATE SET visits = excluded.visits, spend = excluded.spend, firstVisit = excluded.firstVisit,
                lastVisit = excluded.lastVisit, lastNps = excluded.lastNps, tier = excluded.tier, earnedDay = excluded.earnedDay,
                earnedToday = excluded.earnedToday, available = excluded.available, qualifying = excluded.qualifying, owed = excluded.owed,
                nextRelease = excluded.nextRelease, nextLapse = excluded.nextLapse, days = excluded.days,
                clv = excluded.clv, clvPercentile = excluded.clvPercentile, pAlive = excluded.pAlive,
                releasedThrough = excluded.releasedThrough, lapsedThrough = excluded.lapsedThrough
            """)
        statement.bind(1, c.customerId)
        statement.bind(2, c.visits)
        statement.bind(3, c.spend)
        statement.bind(4, c.firstVisit)
        statement.bind(5, c.lastVisit)
        statement.bind(6, c.lastNps)
        statement.bind(7, c.tier)
        statement.bind(8, c.earnedDay)
        statement.bind(9, c.earnedToday)
        statement.bind(10, c.available)
        statement.bind(11, c.qualifying)
        statement.bind(12, c.owed)
        statement.bind(13, c.nextRelease)
        statement.bind(14, c.nextLapse)
        statement.bind(15, blob: c.days.isEmpty ? nil : DayHistoryCodec.encodeBytes(c.days))
        statement.bind(16, c.clv)
        statement.bind(17, c.clvPercentile)
        statement.bind(18, c.pAlive)
        statement.bind(19, c.releasedThrough)
        statement.bind(20, c.lapsedThrough)
        try statement.execute()
    }

    func record(_ customerId: String, at: Int64, kind: String, points: Int64, lotId: Int64?, cause: String,
                rulesVersion: String? = nil, detail: String? = nil) throws {
        try db.cachedStatement(sql: """
            INSERT INTO ledger (customerId, at, kind, points, lotId, cause, rulesVersion, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [customerId, at, kind, points, lotId, cause, rulesVersion, detail])
    }

    /// Brings the customer's running figures up to `now`: lots whose return window has passed
    /// become spendable and count for tiers; lots older than the tier window stop counting.
    /// Reads lots only when the customer row says one of them is due, and writes none: both
    /// are ranges over the (customerId, earnedAt) index, and the customer's two instants move.
    func catchUp(_ c: inout CustomerRecord, now: Int64) throws {
        let released = c.releasedThrough, lapsed = c.lapsedThrough
        let window = Self.qualifyingWindow
        if let due = c.nextLapse, due <= now {
            // In earnedAt order from the last lapse: lots whose tier window ended leave the
            // count (if they were in it); the first one still inside gives the next lapse.
            let rows = try Row.fetchCursor(db.cachedStatement(sql: """
                SELECT earnedAt, pendingUntil, points - reversed FROM lots
                WHERE customerId = ? AND earnedAt > ? AND points > 0 ORDER BY earnedAt
                """), arguments: [c.customerId, lapsed - window])
            c.nextLapse = nil
            while let row = try rows.next() {
                let earnedAt: Int64 = row[0], pendingUntil: Int64 = row[1], net: Int64 = row[2]
                guard earnedAt + window <= now else {
                    c.nextLapse = earnedAt + window
                    break
                }
                if pendingUntil <= released { c.qualifying -= net }
            }
        }
        if let due = c.nextRelease, due <= now {
            // The customer's lots still pending as of the last release, one range of the index:
            // those due now are counted, the earliest of the rest is the next release.
            let maxPending = try longestPending()
            let rows = try Row.fetchCursor(db.cachedStatement(sql: """
                SELECT remaining, points - reversed, earnedAt, pendingUntil FROM lots
                WHERE customerId = ? AND earnedAt > ? AND pendingUntil > ? AND points > 0
                """), arguments: [c.customerId, released - maxPending, released])
            c.nextRelease = nil
            while let row = try rows.next() {
                let remaining: Int64 = row[0], net: Int64 = row[1], earnedAt: Int64 = row[2], pendingUntil: Int64 = row[3]
                guard pendingUntil <= now else {
                    c.nextRelease = min(c.nextRelease ?? pendingUntil, pendingUntil)
                    continue
                }
                c.available += remaining
                if earnedAt + window > now {
                    c.qualifying += net
                    c.nextLapse = min(c.nextLapse ?? earnedAt + window, earnedAt + window)
                }
            }
        }
        // Nothing else was due (the instants above say so), so the figures hold as of now.
        c.releasedThrough = max(released, now)
        c.lapsedThrough = max(lapsed, now)
    }

    /// The longest pending period any lot was given, which bounds how far back in `earnedAt` a
    /// lot still pending can be.
    func longestPending() throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT maxPending FROM sweep WHERE id = 1")) ?? 0
    }

    /// Records a lot's pending period as the longest, if it is.
    func notePending(_ milliseconds: Int64) throws {
        try db.cachedStatement(sql: "UPDATE sweep SET maxPending = ? WHERE id = 1 AND maxPending < ?").execute(arguments: [milliseconds, milliseconds])
    }

    /// A lot just written: counted at once if its pending period is already behind the
    /// customer's figures (no return window, or a purchase that reached us late), otherwise
    /// released when due.
    func added(lot pendingUntil: Int64, earnedAt: Int64, points: Int64, remaining: Int64, to c: inout CustomerRecord) {
        guard points > 0 else { return }
        if pendingUntil <= c.releasedThrough {
            c.available += remaining
            if earnedAt + Self.qualifyingWindow > c.lapsedThrough {
                c.qualifying += points
                c.nextLapse = min(c.nextLapse ?? earnedAt + Self.qualifyingWindow, earnedAt + Self.qualifyingWindow)
            }
        } else {
            c.nextRelease = min(c.nextRelease ?? pendingUntil, pendingUntil)
        }
    }

    /// Whether a lot is counted in the customer's `qualifying` now.
    func countsForTiers(pendingUntil: Int64, earnedAt: Int64, of c: CustomerRecord) -> Bool {
        pendingUntil <= c.releasedThrough && earnedAt + Self.qualifyingWindow > c.lapsedThrough
    }

    /// The earliest expiry of a lot not expired yet (nil: none will).
    func nextExpiry() throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT MIN(expiresAt) FROM lots WHERE expired = 0 AND expiresAt IS NOT NULL"))
    }

    /// Lots of any customer that expired by `now`: their remaining points lapse.
    /// - Returns: what lapsed, per lot, for the `points.expired` events.
    func expire(now: Int64, limit: Int = 500) throws -> [(customerId: String, lotId: Int64, purchaseEventId: String, points: Int64)] {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT lotId, customerId, eventId, remaining, pendingUntil FROM lots
            WHERE expired = 0 AND expiresAt IS NOT NULL AND expiresAt <= ? ORDER BY expiresAt LIMIT ?
            """), arguments: [now, limit])
        var lapsed: [(String, Int64, String, Int64)] = []
        for row in rows {
            let lotId: Int64 = row[0], customerId: String = row[1], eventId: String = row[2], remaining: Int64 = row[3], pendingUntil: Int64 = row[4]
            try db.cachedStatement(sql: "UPDATE lots SET expired = 1, remaining = 0 WHERE lotId = ?").execute(arguments: [lotId])
            guard remaining > 0 else { continue }
            // Only a lot the customer's figures already count is taken out of them.
            try db.cachedStatement(sql: "UPDATE customers SET available = available - ? WHERE customerId = ? AND releasedThrough >= ?")
                .execute(arguments: [remaining, customerId, pendingUntil])
            try record(customerId, at: now, kind: "expired", points: -remaining, lotId: lotId, cause: eventId)
            lapsed.append((customerId, lotId, eventId, remaining))
        }
        return lapsed
    }

    /// Up to which expiry instant customers were told their points lapse: every lot expiring
    /// at or before it was in a `points.expiring` notice (or expired before one was due).
    func noticedThrough() throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT noticedThrough FROM sweep WHERE id = 1")) ?? 0
    }

    /// The earliest expiry of a lot no notice covered yet (nil: none).
    func nextNotice(after noticedThrough: Int64) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: """
            SELECT MIN(expiresAt) FROM lots WHERE expired = 0 AND expiresAt IS NOT NULL AND expiresAt > ?
            """), arguments: [noticedThrough])
    }

    /// Lots expiring in `(noticedThrough, horizon]`, per customer, and the notice mark moved to
    /// `horizon`. A range over the expiry index, so lots noticed before are not read again.
    func dueNotices(after noticedThrough: Int64, horizon: Int64) throws -> [(customerId: String, points: Int64, firstExpiry: Int64)] {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT customerId, remaining, expiresAt FROM lots
            WHERE expired = 0 AND expiresAt IS NOT NULL AND expiresAt > ? AND expiresAt <= ? ORDER BY expiresAt
            """), arguments: [noticedThrough, horizon])
        var byCustomer: [String: (points: Int64, first: Int64)] = [:]
        var order: [String] = []
        for row in rows {
            let customerId: String = row[0], remaining: Int64 = row[1], expiresAt: Int64 = row[2]
            guard remaining > 0 else { continue }
            if byCustomer[customerId] == nil { order.append(customerId) }
            let current = byCustomer[customerId] ?? (0, expiresAt)
            byCustomer[customerId] = (current.points + remaining, min(current.first, expiresAt))
        }
        try db.cachedStatement(sql: "UPDATE sweep SET noticedThrough = ? WHERE id = 1 AND noticedThrough < ?")
            .execute(arguments: [horizon, horizon])
        return order.map { ($0, byCustomer[$0]!.points, byCustomer[$0]!.first) }
    }

    /// Takes up to `points` from the customer's lots, the returned lot first, then the
    /// oldest-expiring. - Returns: what was taken, per lot.
    /// With `spendableOnly`, only counted lots that have not expired by `now` (a redemption);
    /// otherwise any lot with points left (a return taking back).
    func take(_ points: Int64, from c: inout CustomerRecord, firstLot: Int64?, now: Int64,
              spendableOnly: Bool = false) throws -> [(lotId: Int64, points: Int64)] {
        var wanted = points
        var taken: [(Int64, Int64)] = []
        var candidates: [Row] = []
        if let firstLot {
            candidates += try Row.fetchAll(db.cachedStatement(sql: "SELECT lotId, remaining, pendingUntil FROM lots WHERE lotId = ? AND expired = 0"),
                                           arguments: [firstLot])
        }
        if wanted > 0 {
            candidates += try Row.fetchAll(db.cachedStatement(sql: """
                SELECT lotId, remaining, pendingUntil FROM lots WHERE customerId = ? AND remaining > 0 AND expired = 0
                    AND (? = 0 OR (pendingUntil <= ? AND (expiresAt IS NULL OR expiresAt > ?)))
                ORDER BY expiresAt IS NULL, expiresAt, lotId
                """), arguments: [c.customerId, spendableOnly, c.releasedThrough, now])
        }
        var seen = Set<Int64>()
        for row in candidates where wanted > 0 {
            let lotId: Int64 = row[0], remaining: Int64 = row[1], released = (row[2] as Int64) <= c.releasedThrough
            guard seen.insert(lotId).inserted, remaining > 0 else { continue }
            let part = min(remaining, wanted)
            try db.cachedStatement(sql: "UPDATE lots SET remaining = remaining - ? WHERE lotId = ?").execute(arguments: [part, lotId])
            if released { c.available -= part }
            wanted -= part
            taken.append((lotId, part))
        }
        return taken
    }
}

/// The day history in the customer row: 16 bytes a day (day number, visits, spend in minor
/// units), little-endian. One blob read and written with the row instead of a table of days
/// queried, pruned and upserted per purchase.
enum DayHistoryCodec {
    static func encode(_ days: [VisitHistory.Day]) -> Data {
        Data(encodeBytes(days))
    }

    static func encodeBytes(_ days: [VisitHistory.Day]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(days.count * 16)
        for day in days {
            append(UInt32(truncatingIfNeeded: day.day), to: &bytes)
            append(UInt32(truncatingIfNeeded: day.visits), to: &bytes)
            append(UInt64(bitPattern: Int64(day.spend)), to: &bytes)
        }
        return bytes
    }

    /// A blob of the wrong length (it can only come from outside the plugin) reads as no history.
    static func decode(_ data: Data) -> [VisitHistory.Day] {
        data.withUnsafeBytes { decode($0) }
    }

    static func decode(_ raw: UnsafeRawBufferPointer) -> [VisitHistory.Day] {
        guard raw.count % 16 == 0 else { return [] }
        return (0..<raw.count / 16).map { i in
            let base = i * 16
            let day = Int32(bitPattern: raw.loadUnaligned(fromByteOffset: base, as: UInt32.self).littleEndian)
            let visits = Int32(bitPattern: raw.loadUnaligned(fromByteOffset: base + 4, as: UInt32.self).littleEndian)
            let spend = Int64(bitPattern: raw.loadUnaligned(fromByteOffset: base + 8, as: UInt64.self).littleEndian)
            return VisitHistory.Day(day: Int(day), visits: Int(visits), spend: Double(spend))
        }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}
