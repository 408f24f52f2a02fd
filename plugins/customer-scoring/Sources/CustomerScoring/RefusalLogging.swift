import Logging

/// How loudly a refused refit is logged.
///
/// With a fit in force, refits come every `refitEvery` purchases and a refusal is news: a warning
/// each time. Without one, the first fit is asked again every `firstFitRetryEvery` purchases, and a
/// young chain's history gives short, degenerate or unconverged fits for a while (a year of the
/// demo's chain in five minutes: 200 warnings in one minute). Then only the first refusal and every
/// 20th are logged, the others at debug level; a history too short is the normal start of a chain,
/// so it is said at info level.
enum RefusalLogging {
    static let every = 20

    static func isThrottled(shortHistory: Bool, fitInForce: Bool) -> Bool {
        shortHistory || !fitInForce
    }

    static func level(earlierRefusals: Int, shortHistory: Bool, fitInForce: Bool) -> Logger.Level {
        guard isThrottled(shortHistory: shortHistory, fitInForce: fitInForce) else { return .warning }
        guard earlierRefusals % every == 0 else { return .debug }
        return shortHistory ? .info : .warning
    }
}
