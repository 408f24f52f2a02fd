import Foundation
import Logging
import LoyaltyBus
import LoyaltyTestSupport
import LoyaltyWire
@testable import PluginRuntime
import Testing

/// `performance.requestCPUs`: the bus's router, the plugin's service thread and both their
/// ZeroMQ I/O threads run on the CPUs named, and requests are answered as before.
@Suite struct RequestCPUsTests {
    /// (thread name, CPUs it may run on) for every thread of this process.
    static func threads() -> [(name: String, cpus: String)] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { tid in
            guard let name = try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8),
                  let status = try? String(contentsOfFile: "/proc/self/task/\(tid)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
            return (name.trimmingCharacters(in: .whitespacesAndNewlines), line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces))
        }
    }

    @Test(.timeLimit(.minutes(1))) func theRequestPathRunsOnTheCPUsNamed() async throws {
        let allowed = CPUAffinity.allowedCPUs()
        // With one CPU, bound and unbound threads look alike: nothing to tell apart.
        guard allowed.count >= 2, let cpu = allowed.last else { return }
        let fixture = try BusFixture { $0.requestCPUs = [cpu] }
        var endpoints = PluginEndpoints(ingest: fixture.configuration.ingestEndpoint, publish: fixture.configuration.publishEndpoint,
                                        replay: fixture.configuration.replayEndpoint, databasePath: fixture.directory.path + "/counting.sqlite")
        endpoints.requestCPUs = [cpu]
        let runtime = try PluginRuntime(plugin: CountingPlugin(), endpoints: endpoints, logger: Logger(label: "test.plugin"))
        let task = Task { try await runtime.run() }
        let reply = try await askOnceServed(fixture, service: "test.count")
        #expect(reply?.bodyText == "0")
        let threads = Self.threads()
        let bound = threads.filter { $0.cpus == String(cpu) }
        #expect(bound.contains { $0.name == "bus.front" }, "\(threads)")
        #expect(bound.contains { $0.name == "counting.link" }, "\(threads)")
        // The bus's I/O thread and the plugin's request context's; the feed's stays free.
        #expect(bound.count { $0.name.hasPrefix("ZMQbg/IO") } >= 2, "\(threads)")
        #expect(threads.contains { $0.name == "counting.feed" && $0.cpus != String(cpu) }, "\(threads)")
        task.cancel()
        _ = try? await task.value
    }
}
