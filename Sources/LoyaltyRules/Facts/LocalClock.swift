import Foundation

/// Turns instants into the chain's local calendar (weekday, hour, date) for `clock.*`.
///
/// Foundation's calendar is far too slow to call per event, so the UTC offset is cached for
/// the span between two daylight-saving transitions and the calendar arithmetic is done here.
/// Not `Sendable`: each evaluating thread keeps its own.
public struct LocalClock {
    public let timeZone: TimeZone
    private var cachedFrom = Int64.max
    private var cachedUntil = Int64.min
    private var cachedOffsetMilliseconds: Int64 = 0
    /// The civil date of the last local day asked about: events come in time order, so most
    /// fall on the same day as the one before.
    private var cachedDay = Int.min
    private var cachedCivil = CivilDate(year: 1970, month: 1, day: 1)
    /// The facts of the last local minute asked about: everything but the instant depends on
    /// the local minute only, and a busy chain has several events a minute.
    private var cachedMinute = Int64.min
    private var cachedMinuteFacts = ClockFacts()

    public init(timeZone: TimeZone) {
        self.timeZone = timeZone
    }

    /// The local offset from UTC at `epochMilliseconds`, in milliseconds.
    public mutating func offset(at epochMilliseconds: Int64) -> Int64 {
        if epochMilliseconds >= cachedFrom && epochMilliseconds < cachedUntil { return cachedOffsetMilliseconds }
        let date = Date(timeIntervalSince1970: Double(epochMilliseconds) / 1000)
        let offset = Int64(timeZone.secondsFromGMT(for: date)) * 1000
        // The offset holds until the next transition; a year at most, to keep the lookup bounded.
        let yearMs: Int64 = 366 * 86_400_000
        var until = epochMilliseconds + yearMs
        if let next = timeZone.nextDaylightSavingTimeTransition(after: date) {
            until = min(until, Int64((next.timeIntervalSince1970 * 1000).rounded(.down)))
        }
        // Only cache forward from here: an earlier instant may lie before a transition.
        cachedFrom = epochMilliseconds
        cachedUntil = max(until, epochMilliseconds + 1)
        cachedOffsetMilliseconds = offset
        return offset
    }

    public mutating func facts(at epochMilliseconds: Int64) -> ClockFacts {
        let local = epochMilliseconds + offset(at: epochMilliseconds)
        let minute = local >= 0 ? local / 60_000 : (local - 59_999) / 60_000
        if minute == cachedMinute {
            var facts = cachedMinuteFacts
            facts.epochMilliseconds = epochMilliseconds
            return facts
        }
        var facts = ClockFacts()
        facts.epochMilliseconds = epochMilliseconds
        let day = Int(local >= 0 ? local / 86_400_000 : (local - 86_399_999) / 86_400_000)
        facts.day = day
        let msOfDay = Int(local - Int64(day) * 86_400_000)
        facts.minuteOfDay = msOfDay / 60_000
        facts.hour = facts.minuteOfDay / 60
        // 1970-01-01 was a Thursday (ISO weekday 4).
        facts.weekday = ((day % 7 + 7) % 7 + 3) % 7 + 1
        if day != cachedDay {
            cachedDay = day
            cachedCivil = CivilDate(dayNumber: day)
        }
        let civil = cachedCivil
        facts.year = civil.year
        facts.month = civil.month
        facts.dayOfMonth = civil.day
        cachedMinute = minute
        cachedMinuteFacts = facts
        return facts
    }
}

/// A proleptic Gregorian date, converted to and from days since 1970-01-01
/// (Howard Hinnant's `days_from_civil` / `civil_from_days`).
public struct CivilDate: Sendable, Hashable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    public init(dayNumber z0: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    public var dayNumber: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// True for a real calendar date (no 31 April, no 29 February outside leap years).
    public var isValid: Bool {
        guard (1...12).contains(month), day >= 1 else { return false }
        return CivilDate(dayNumber: dayNumber) == self
    }

    /// `2026-12-24`
    public var description: String {
        func pad(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }
}
