import Foundation

/// Milliseconds on a clock that never jumps (CLOCK_MONOTONIC), for deadlines and rates.
public enum Monotonic {
    public static var now: Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int(ts.tv_sec) * 1000 + Int(ts.tv_nsec) / 1_000_000
    }

    public static var nanoseconds: UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Milliseconds left until `deadline`, or nil once it has passed.
    public static func remaining(until deadline: Int) -> Int? {
        let left = deadline - now
        return left > 0 ? left : nil
    }
}
