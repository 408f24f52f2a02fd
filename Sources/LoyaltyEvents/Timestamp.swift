#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An instant, as milliseconds since 1970-01-01T00:00:00Z (leap seconds ignored).
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var epochMilliseconds: Int64

    public init(epochMilliseconds: Int64) {
        self.epochMilliseconds = epochMilliseconds
    }

    /// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the instants RFC 3339 can express.
    public static let minimum = Timestamp(epochMilliseconds: -62_167_219_200_000)
    public static let maximum = Timestamp(epochMilliseconds: 253_402_300_799_999)

    /// Parses a strict RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    /// `t` and `z` may be lowercase. The fraction is truncated to milliseconds. A leap second
    /// (`:60`) is accepted and counted as the first instant of the next minute.
    public init(rfc3339 text: String) throws(TimestampParseError) {
        var text = text
        let r = text.withUTF8 { u in Timestamp._parse(UnsafeRawBufferPointer(u)) }
        switch r {
        case .success(let t): self = t
        case .failure(let e): throw e
        }
    }

    /// Returns nil when `text` is not a valid RFC 3339 date-time.
    public static func parse(_ text: String) -> Timestamp? {
        try? Timestamp(rfc3339: text)
    }

    /// Parses RFC 3339 from UTF-8 bytes.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Timestamp? {
        if case .success(let t) = _parse(bytes) { return t }
        return nil
    }

    /// The current time.
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(epochMilliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.epochMilliseconds < b.epochMilliseconds }

    public func adding(milliseconds: Int64) -> Timestamp {
        Timestamp(epochMilliseconds: epochMilliseconds &+ milliseconds)
    }

    public var description: String { rfc3339 }

    /// UTC with milliseconds, e.g. `2026-11-23T10:00:00.000Z`.
    public var rfc3339: String {
        let ms = epochMilliseconds
        var days = ms / 86_400_000
        var rem = ms % 86_400_000
        if rem < 0 {
            rem += 86_400_000
            days -= 1
        }
        let (y, m, d) = Timestamp.civil(fromDays: days)
        let hh = Int(rem / 3_600_000)
        let mi = Int(rem / 60_000 % 60)
        let ss = Int(rem / 1000 % 60)
        let fff = Int(rem % 1000)
        var out: [UInt8] = []
        out.reserveCapacity(26)
        if y < 0 { out.append(0x2D) }
        let ay = y.magnitude
        if ay > 9999 { out.append(contentsOf: String(ay).utf8) } else { pad(&out, Int(ay), 4) }
        out.append(0x2D); pad(&out, m, 2)
        out.append(0x2D); pad(&out, d, 2)
        out.append(0x54); pad(&out, hh, 2)
        out.append(0x3A); pad(&out, mi, 2)
        out.append(0x3A); pad(&out, ss, 2)
        out.append(0x2E); pad(&out, fff, 3)
        out.append(0x5A)
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: implementation

    static func _parse(_ b: UnsafeRawBufferPointer) -> Result<Timestamp, TimestampParseError> {
        let n = b.count
        var i = 0
        func fail(_ msg: String) -> Result<Timestamp, TimestampParseError> {
            .failure(TimestampParseError(message: msg))
        }
        @inline(__always) func digits(_ count: Int) -> Int? {
            guard i + count <= n else { return nil }
            var v = 0
            for k in 0..<count {
                let c = b[i + k]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            i += count
            return v
        }
        @inline(__always) func expect(_ c: UInt8) -> Bool {
            guard i < n, b[i] == c else { return false }
            i += 1
            return true
        }
        let format = "expected YYYY-MM-DDTHH:MM:SS[.fff]Z or ±HH:MM offset"
        guard let year = digits(4), expect(0x2D), let month = digits(2), expect(0x2D), let day = digits(2) else {
            return fail(format)
        }
        guard i < n, b[i] == 0x54 || b[i] == 0x74 else { return fail(format) }
        i += 1
        guard let hour = digits(2), expect(0x3A), let minute = digits(2), expect(0x3A), let second = digits(2) else {
            return fail(format)
        }
        var millis = 0
        if i < n && b[i] == 0x2E {
            i += 1
            var count = 0
            while i < n, b[i] >= 0x30 && b[i] <= 0x39 {
                if count < 3 { millis = millis * 10 + Int(b[i] - 0x30) }
                count += 1
                i += 1
            }
            guard count > 0 else { return fail("expected digits after '.'") }
            if count == 1 { millis *= 100 } else if count == 2 { millis *= 10 }
        }
        var offsetMinutes = 0
        guard i < n else { return fail("missing time zone ('Z' or ±HH:MM)") }
        let z = b[i]
        if z == 0x5A || z == 0x7A {
            i += 1
        } else if z == 0x2B || z == 0x2D {
            i += 1
            guard let oh = digits(2), expect(0x3A), let om = digits(2) else { return fail("invalid time zone offset") }
            guard oh <= 23, om <= 59 else { return fail("time zone offset out of range") }
            offsetMinutes = (oh * 60 + om) * (z == 0x2D ? -1 : 1)
        } else {
            return fail("missing time zone ('Z' or ±HH:MM)")
        }
        guard i == n else { return fail("unexpected characters after the time zone") }
        guard month >= 1 && month <= 12 else { return fail("month \(month) out of range 01-12") }
        let dim = daysInMonth(year: year, month: month)
        guard day >= 1 && day <= dim else { return fail("day \(day) out of range for \(year)-\(pad2(month)) (1-\(dim))") }
        guard hour <= 23 else { return fail("hour \(hour) out of range 00-23") }
        guard minute <= 59 else { return fail("minute \(minute) out of range 00-59") }
        guard second <= 60 else { return fail("second \(second) out of range 00-60") }
        let days = Int64(daysFromCivil(year: year, month: month, day: day))
        let secs = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        let ms = secs * 1000 + Int64(millis)
        guard ms >= minimum.epochMilliseconds && ms <= maximum.epochMilliseconds else {
            return fail("instant outside years 0000-9999 UTC")
        }
        return .success(Timestamp(epochMilliseconds: ms))
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Howard Hinnant's days_from_civil.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        return (m <= 2 ? y + 1 : y, m, d)
    }
}

private func pad(_ out: inout [UInt8], _ v: Int, _ width: Int) {
    var div = 1
    for _ in 1..<width { div *= 10 }
    var v = v
    while div > 0 {
        out.append(0x30 + UInt8(v / div % 10))
        v %= div
        div /= 10
    }
}

private func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

public struct TimestampParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { "invalid RFC 3339 timestamp: \(message)" }
}
