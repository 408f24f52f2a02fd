#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Spawning, signalling and reaping child processes with plain POSIX calls.
///
/// Nothing here blocks: `reap` uses `waitpid(WNOHANG)` and the supervisor polls it with
/// `Task.sleep`, so no Swift-concurrency thread ever waits inside `waitpid`.
enum ChildProcess {
    struct SpawnError: Error, CustomStringConvertible {
        var executable: String
        var code: Int32
        var description: String { "cannot start \(executable): \(String(cString: strerror(code)))" }
    }

    /// How a process ended, decoded from a `waitpid` status.
    enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)
        /// Someone else reaped it (ECHILD): we cannot know how it ended.
        case unknown

        init(waitStatus status: Int32) {
            let low = status & 0x7f
            if low == 0 {
                self = .exited((status >> 8) & 0xff)
            } else {
                self = .signaled(low)
            }
        }

        var description: String {
            switch self {
            case let .exited(code): "exit \(code)"
            case let .signaled(signal): "signal \(signal) (\(ChildProcess.signalName(signal)))"
            case .unknown: "unknown (reaped elsewhere)"
            }
        }
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGHUP: "SIGHUP"
        case SIGINT: "SIGINT"
        case SIGQUIT: "SIGQUIT"
        case SIGILL: "SIGILL"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGFPE: "SIGFPE"
        case SIGKILL: "SIGKILL"
        case SIGSEGV: "SIGSEGV"
        case SIGPIPE: "SIGPIPE"
        case SIGALRM: "SIGALRM"
        case SIGTERM: "SIGTERM"
        case SIGUSR1: "SIGUSR1"
        case SIGUSR2: "SIGUSR2"
        case SIGTRAP: "SIGTRAP"
        default: "SIG\(signal)"
        }
    }

    private typealias AddChdir = @convention(c) (
        UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>
    ) -> Int32

    /// `posix_spawn_file_actions_addchdir_np` (glibc ≥ 2.29, macOS ≥ 10.15) is not exported by the
    /// Swift Glibc module, so it is looked up at run time.
    private static func addChdir(_ actions: inout posix_spawn_file_actions_t, _ directory: String) -> Int32 {
        #if canImport(Darwin)
        let handle = UnsafeMutableRawPointer(bitPattern: -2)  // RTLD_DEFAULT
        #else
        let handle: UnsafeMutableRawPointer? = nil  // RTLD_DEFAULT
        #endif
        guard let symbol = dlsym(handle, "posix_spawn_file_actions_addchdir_np") else { return ENOSYS }
        let function = unsafeBitCast(symbol, to: AddChdir.self)
        return function(&actions, directory)
    }

    /// Starts the child in its own process group, with default signal dispositions and an empty
    /// signal mask (the supervisor's ignored signals must not leak into it). Stdout/stderr are
    /// inherited.
    static func spawn(_ spec: ChildSpec) throws(SpawnError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let directory = spec.workingDirectory {
            let rc = addChdir(&actions, directory)
            if rc != 0 { throw SpawnError(executable: spec.executable, code: rc) }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        let flags = Int32(POSIX_SPAWN_SETPGROUP) | Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var environment = ProcessInfo.processInfo.environment
        for (key, value) in spec.environment { environment[key] = value }
        let argv = ([spec.executable] + spec.arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }

        var pid: pid_t = 0
        let rc = argv.withUnsafeBufferPointer { argvBuffer in
            envp.withUnsafeBufferPointer { envpBuffer in
                posix_spawn(&pid, spec.executable, &actions, &attributes,
                            argvBuffer.baseAddress!, envpBuffer.baseAddress!)
            }
        }
        guard rc == 0 else { throw SpawnError(executable: spec.executable, code: rc) }
        return pid
    }

    /// Non-blocking: the termination if the process has ended (and is now reaped), else nil.
    static func reap(_ pid: pid_t) -> Termination? {
        var status: Int32 = 0
        while true {
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid { return Termination(waitStatus: status) }
            if rc == 0 { return nil }
            if errno == EINTR { continue }
            return .unknown  // ECHILD: not ours any more
        }
    }

    /// Signals the child's process group (it is the group leader), so grandchildren such as
    /// the `sleep` under `sh -c` go too; falls back to the pid alone.
    static func signal(_ pid: pid_t, _ signal: Int32) {
        if kill(-pid, signal) != 0 {
            _ = kill(pid, signal)
        }
    }
}
