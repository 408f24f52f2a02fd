#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import ServiceLifecycle

/// Runs the bus and the plugins as child processes and keeps them running (`loyalty up`).
///
/// - Children start in the given order; the first one is the bus, and the next ones start only
///   after a short grace (`startGrace`, 300 ms) so the bus has bound its sockets.
/// - A child that exits for any reason is restarted after `backoff`.
/// - On graceful shutdown (ServiceLifecycle) or cancellation, every child gets SIGTERM in reverse
///   order; those still running after `stopTimeout` get SIGKILL; all are reaped before `run()`
///   returns.
/// - Each child runs in its own process group; signals are sent to the group.
/// - Reaping uses `waitpid(WNOHANG)` polled every 50 ms with `Task.sleep`: no thread blocks.
public final class Supervisor: Service {
    public let children: [ChildSpec]
    public let backoff: RestartBackoff
    public let stopTimeout: Duration
    public let stateFile: String?
    /// Wait after starting the first child (the bus) before starting the others.
    public let startGrace: Duration
    private let logger: Logger
    private let core: Core

    static let pollInterval: Duration = .milliseconds(50)

    public init(children: [ChildSpec], backoff: RestartBackoff = .init(), stopTimeout: Duration = .seconds(10),
                stateFile: String?, logger: Logger) {
        self.children = children
        self.backoff = backoff
        self.stopTimeout = stopTimeout
        self.stateFile = stateFile
        self.startGrace = .milliseconds(300)
        self.logger = logger
        self.core = Core(children: children, stateFile: stateFile, logger: logger)
    }

    /// A snapshot of what is running.
    public func currentState() async -> SupervisorState {
        await core.snapshot()
    }

    /// Asks `run()` to stop the children and return, as a graceful shutdown does.
    public func requestStop() {
        let core = self.core
        Task { await core.requestStop() }
    }

    public func run() async throws {
        let core = self.core
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await self.superviseAll()
            } onGracefulShutdown: {
                Task { await core.requestStop() }
            }
        } onCancel: {
            Task { await core.requestStop() }
        }
    }

    private func superviseAll() async {
        logger.info("supervisor starting", metadata: ["children": "\(children.map(\.name))"])
        await core.writeState()
        await withTaskGroup(of: Void.self) { group in
            for index in children.indices {
                if await core.isStopping { break }
                group.addTask { await self.supervise(index) }
                if index == 0, children.count > 1 {
                    await sleepUnlessStopping(startGrace)
                }
            }
            await core.waitUntilStopRequested()
            await stopChildren()
            await group.waitForAll()
        }
        await core.writeState()
        logger.info("supervisor stopped")
    }

    /// Keeps child `index` running until a stop is requested.
    private func supervise(_ index: Int) async {
        let spec = children[index]
        var consecutiveFailures = 0
        var childLogger = logger
        childLogger[metadataKey: "child"] = "\(spec.name)"
        while true {
            let started = ContinuousClock.now
            let outcome = await core.spawnUnlessStopping(index)
            switch outcome {
            case .stopping:
                return
            case let .failed(error):
                childLogger.error("cannot start child: \(error)")
            case let .started(pid):
                childLogger.info("child started", metadata: ["pid": "\(pid)", "executable": "\(spec.executable)"])
                let termination = await waitForExit(pid)
                let restarts = await core.recordExit(index, termination)
                if await core.isStopping {
                    childLogger.info("child stopped", metadata: ["pid": "\(pid)", "status": "\(termination)"])
                    return
                }
                childLogger.warning("child exited; will restart", metadata: [
                    "pid": "\(pid)", "status": "\(termination)", "restarts": "\(restarts)",
                ])
            }
            if ContinuousClock.now - started >= backoff.resetAfter { consecutiveFailures = 0 }
            consecutiveFailures += 1
            let delay = backoff.delay(afterConsecutiveFailures: consecutiveFailures)
            childLogger.debug("restart backoff", metadata: ["delay": "\(delay)", "failures": "\(consecutiveFailures)"])
            await sleepUnlessStopping(delay)
            if await core.isStopping { return }
            await core.countRestart(index)
        }
    }

    /// Polls `waitpid(WNOHANG)` until the process is reaped. Keeps polling even if the task is
    /// cancelled: a child must always be reaped.
    private func waitForExit(_ pid: pid_t) async -> ChildProcess.Termination {
        while true {
            if let termination = ChildProcess.reap(pid) { return termination }
            await Self.uncancellableSleep(Self.pollInterval)
        }
    }

    /// SIGTERM in reverse order, wait up to `stopTimeout`, SIGKILL the stragglers.
    private func stopChildren() async {
        let running = await core.runningPids()
        guard !running.isEmpty else { return }
        logger.info("stopping children", metadata: ["count": "\(running.count)", "timeout": "\(stopTimeout)"])
        for (index, pid) in running.reversed() {
            logger.debug("sending SIGTERM", metadata: ["child": "\(children[index].name)", "pid": "\(pid)"])
            ChildProcess.signal(pid, SIGTERM)
        }
        let deadline = ContinuousClock.now + stopTimeout
        while ContinuousClock.now < deadline {
            if await core.runningPids().isEmpty { return }
            await Self.uncancellableSleep(Self.pollInterval)
        }
        for (index, pid) in await core.runningPids().reversed() {
            logger.warning("child ignored SIGTERM; sending SIGKILL", metadata: [
                "child": "\(children[index].name)", "pid": "\(pid)",
            ])
            ChildProcess.signal(pid, SIGKILL)
        }
    }

    private func sleepUnlessStopping(_ duration: Duration) async {
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline {
            if await core.isStopping { return }
            let remaining = deadline - ContinuousClock.now
            await Self.uncancellableSleep(min(remaining, Self.pollInterval))
        }
    }

    /// `Task.sleep` returns at once in a cancelled task; poll loops that must go on (reaping)
    /// sleep in a detached task instead, which is never cancelled.
    private static func uncancellableSleep(_ duration: Duration) async {
        guard duration > .zero else { return }
        await Task.detached { try? await Task.sleep(for: duration) }.value
    }
}

extension Supervisor {
    enum SpawnOutcome: Sendable {
        case started(pid_t)
        case failed(String)
        case stopping
    }

    /// The supervisor's mutable state. Spawning happens here, so a stop request and a spawn can
    /// never interleave (a child is either started before the stop and signalled, or not at all).
    actor Core {
        private var state: SupervisorState
        private var stopping = false
        private var stopWaiters: [CheckedContinuation<Void, Never>] = []
        private let specs: [ChildSpec]
        private let stateFile: String?
        private let logger: Logger

        init(children: [ChildSpec], stateFile: String?, logger: Logger) {
            self.specs = children
            self.stateFile = stateFile
            self.logger = logger
            self.state = SupervisorState(supervisorPid: getpid(),
                                         children: children.map { SupervisorState.Child(name: $0.name) })
        }

        var isStopping: Bool { stopping }

        func snapshot() -> SupervisorState { state }

        func requestStop() {
            guard !stopping else { return }
            stopping = true
            logger.info("supervisor shutdown requested")
            let waiters = stopWaiters
            stopWaiters = []
            for waiter in waiters { waiter.resume() }
        }

        func waitUntilStopRequested() async {
            if stopping { return }
            await withCheckedContinuation { stopWaiters.append($0) }
        }

        func spawnUnlessStopping(_ index: Int) -> SpawnOutcome {
            guard !stopping else { return .stopping }
            do {
                let pid = try ChildProcess.spawn(specs[index])
                state.children[index].pid = pid
                state.children[index].running = true
                state.children[index].startedAt = SupervisorState.timestamp(Date())
                writeState()
                return .started(pid)
            } catch {
                state.children[index].running = false
                state.children[index].lastExit = "\(error)"
                writeState()
                return .failed("\(error)")
            }
        }

        /// Records the exit and returns the restart count so far.
        func recordExit(_ index: Int, _ termination: ChildProcess.Termination) -> Int {
            state.children[index].running = false
            state.children[index].lastExit = termination.description
            writeState()
            return state.children[index].restarts
        }

        func countRestart(_ index: Int) {
            state.children[index].restarts += 1
        }

        func runningPids() -> [(index: Int, pid: pid_t)] {
            state.children.enumerated().compactMap { index, child in
                guard child.running, let pid = child.pid else { return nil }
                return (index, pid)
            }
        }

        func writeState() {
            guard let stateFile else { return }
            do {
                try state.write(path: stateFile)
            } catch {
                logger.warning("cannot write supervisor state file", metadata: ["path": "\(stateFile)", "error": "\(error)"])
            }
        }
    }
}
