/// One process the supervisor keeps running.
public struct ChildSpec: Sendable, Equatable {
    /// A short name for logs and the state file (e.g. `bus`, `store-counter`).
    public var name: String
    /// Absolute path of the program.
    public var executable: String
    /// Arguments after the program name.
    public var arguments: [String]
    /// Variables added to (or overriding) the supervisor's own environment.
    public var environment: [String: String]
    /// The child's working directory; nil keeps the supervisor's.
    public var workingDirectory: String?

    public init(name: String, executable: String, arguments: [String] = [],
                environment: [String: String] = [:], workingDirectory: String? = nil) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
    }
}

/// How long to wait before restarting a child that exited.
///
/// The first restart waits `initial`, each further consecutive failure multiplies the wait by
/// `factor`, up to `maximum`. A child that ran at least `resetAfter` before exiting counts as
/// healthy: its failure count starts again from one.
public struct RestartBackoff: Sendable, Equatable {
    public var initial: Duration
    public var factor: Double
    public var maximum: Duration
    public var resetAfter: Duration

    public init(initial: Duration = .milliseconds(250), factor: Double = 2,
                maximum: Duration = .seconds(10), resetAfter: Duration = .seconds(30)) {
        self.initial = initial
        self.factor = factor
        self.maximum = maximum
        self.resetAfter = resetAfter
    }

    /// The wait before the restart that follows the `failures`-th consecutive exit (1-based).
    public func delay(afterConsecutiveFailures failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        var delay = initial
        var remaining = failures - 1
        while remaining > 0, delay < maximum {
            delay = delay * factor
            remaining -= 1
        }
        return min(delay, maximum)
    }
}
