import Foundation
import Logging
import ServiceLifecycle
import Testing
@testable import LoyaltySupervisor

private let fastBackoff = RestartBackoff(initial: .milliseconds(50), factor: 1, maximum: .milliseconds(50),
                                         resetAfter: .seconds(30))

private func makeLogger() -> Logger {
    var logger = Logger(label: "supervisor-test")
    logger.logLevel = .critical
    return logger
}

private func tempDir() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("loyalty-sup-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0
}

/// Polls `condition` until it holds or `timeout` passes.
private func eventually(timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}

@Suite struct RestartBackoffTests {
    @Test func defaultsGrowAndCap() {
        let backoff = RestartBackoff()
        #expect(backoff.delay(afterConsecutiveFailures: 1) == .milliseconds(250))
        #expect(backoff.delay(afterConsecutiveFailures: 2) == .milliseconds(500))
        #expect(backoff.delay(afterConsecutiveFailures: 3) == .seconds(1))
        #expect(backoff.delay(afterConsecutiveFailures: 6) == .seconds(8))
        #expect(backoff.delay(afterConsecutiveFailures: 7) == .seconds(10))
        #expect(backoff.delay(afterConsecutiveFailures: 1000) == .seconds(10))
        #expect(backoff.resetAfter == .seconds(30))
    }
}

@Suite(.serialized) struct SupervisorTests {
    @Test func exitingChildIsRestarted() async throws {
        let supervisor = Supervisor(
            children: [ChildSpec(name: "crasher", executable: "/bin/sh", arguments: ["-c", "exit 3"])],
            backoff: fastBackoff, stopTimeout: .seconds(2), stateFile: nil, logger: makeLogger())
        let task = Task { try await supervisor.run() }
        // ~100 ms per cycle (50 ms poll + 50 ms backoff); the deadline only matters on a loaded machine.
        let restarted = await eventually(timeout: .seconds(30)) {
            (await supervisor.currentState().children.first?.restarts ?? 0) >= 3
        }
        let state = await supervisor.currentState()
        supervisor.requestStop()
        try await task.value
        let child = try #require(state.children.first)
        #expect(restarted)
        #expect(child.restarts >= 3)
        #expect(child.lastExit == "exit 3")
    }

    @Test func gracefulShutdownStopsChildrenAndKillsStragglers() async throws {
        let supervisor = Supervisor(
            children: [
                ChildSpec(name: "sleeper", executable: "/bin/sleep", arguments: ["1000"]),
                ChildSpec(name: "stubborn", executable: "/bin/sh", arguments: ["-c", "trap '' TERM; sleep 1000"]),
            ],
            backoff: fastBackoff, stopTimeout: .milliseconds(700), stateFile: nil, logger: makeLogger())
        let group = ServiceGroup(configuration: .init(services: [supervisor], logger: makeLogger()))
        let task = Task { try await group.run() }

        #expect(await eventually { await supervisor.currentState().children.allSatisfy(\.running) })
        let started = await supervisor.currentState()
        let pids = started.children.compactMap(\.pid)
        #expect(pids.count == 2)
        #expect(pids.allSatisfy(processExists))
        // Give the stubborn shell time to install its trap.
        try await Task.sleep(for: .milliseconds(200))

        let clock = ContinuousClock()
        let begin = clock.now
        await group.triggerGracefulShutdown()
        try await task.value
        let elapsed = clock.now - begin

        let final = await supervisor.currentState()
        #expect(final.children.allSatisfy { !$0.running })
        #expect(final.children[0].lastExit == "signal 15 (SIGTERM)")
        #expect(final.children[1].lastExit == "signal 9 (SIGKILL)")
        #expect(final.children.allSatisfy { $0.restarts == 0 })
        #expect(elapsed >= .milliseconds(650))
        #expect(elapsed < .seconds(5))
        for pid in pids { #expect(!processExists(pid)) }
    }

    @Test func stateFileIsWrittenAndReadable() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stateFile = dir + "/run/supervisor.json"
        let supervisor = Supervisor(
            children: [
                ChildSpec(name: "bus", executable: "/bin/sleep", arguments: ["1000"]),
                ChildSpec(name: "plugin", executable: "/bin/sh", arguments: ["-c", "echo \"$LOYALTY_TEST\" > out.txt; exec sleep 1000"],
                          environment: ["LOYALTY_TEST": "hello"], workingDirectory: dir),
            ],
            backoff: fastBackoff, stopTimeout: .seconds(2), stateFile: stateFile, logger: makeLogger())
        let task = Task { try await supervisor.run() }

        let seen = await eventually {
            guard let state = try? SupervisorState.read(path: stateFile) else { return false }
            return state.children.count == 2 && state.children.allSatisfy(\.running)
        }
        #expect(seen)
        let state = try SupervisorState.read(path: stateFile)
        #expect(state.supervisorPid == getpid())
        #expect(state.supervisorIsAlive)
        #expect(state.children.map(\.name) == ["bus", "plugin"])
        for child in state.children {
            #expect(child.pid != nil)
            #expect(child.restarts == 0)
            #expect(child.lastExit == nil)
            let startedAt = try #require(child.startedAt)
            #expect((try? Date(startedAt, strategy: .iso8601)) != nil || startedAt.contains("T"))
        }
        #expect(await eventually {
            (try? String(contentsOfFile: dir + "/out.txt", encoding: .utf8)) == "hello\n"
        })
        // No temp files left behind by atomic writes.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir + "/run")
        #expect(leftovers == ["supervisor.json"])

        // The raw JSON has the documented keys.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stateFile))) as? [String: Any]
        #expect(json?["supervisorPid"] != nil)
        let first = (json?["children"] as? [[String: Any]])?.first
        for key in ["name", "pid", "running", "restarts", "startedAt"] { #expect(first?[key] != nil, "missing \(key)") }

        supervisor.requestStop()
        try await task.value
        let final = try SupervisorState.read(path: stateFile)
        #expect(final.children.allSatisfy { !$0.running && $0.lastExit == "signal 15 (SIGTERM)" })
    }

    @Test func missingExecutableIsRetriedNotFatal() async throws {
        let supervisor = Supervisor(
            children: [ChildSpec(name: "ghost", executable: "/nonexistent/loyalty-ghost")],
            backoff: fastBackoff, stopTimeout: .seconds(1), stateFile: nil, logger: makeLogger())
        let task = Task { try await supervisor.run() }
        #expect(await eventually { await supervisor.currentState().children[0].restarts >= 2 })
        let state = await supervisor.currentState()
        #expect(state.children[0].lastExit?.contains("cannot start") == true)
        supervisor.requestStop()
        try await task.value
    }

    @Test func cancellationAlsoStopsChildren() async throws {
        let supervisor = Supervisor(
            children: [ChildSpec(name: "sleeper", executable: "/bin/sleep", arguments: ["1000"])],
            backoff: fastBackoff, stopTimeout: .seconds(2), stateFile: nil, logger: makeLogger())
        let task = Task { try await supervisor.run() }
        #expect(await eventually { await supervisor.currentState().children[0].running })
        let pid = try #require(await supervisor.currentState().children[0].pid)
        task.cancel()
        try await task.value
        #expect(!processExists(pid))
    }
}
