import Foundation
import LoyaltyConfig
import LoyaltySupervisor
import LoyaltyWire
import ZeroMQ

/// One Prometheus scrape of the whole engine. The bus and each plugin are separate processes,
/// each with its own registry; this asks `bus.metrics` and every `<plugin>.metrics` through the
/// bus's ingest endpoint and merges the answers into one exposition (format 0.0.4), adding
/// `loyalty_process_up{component=...}` for each, and `loyalty_process_restarts_total` from the
/// supervisor's state file when one is there. A process that does not answer shows as
/// `loyalty_process_up{component="x"} 0`; the scrape itself always succeeds.
///
/// `collect()` BLOCKS (up to about `timeout` per process that does not answer, plus half a second
/// each, since each request is sent and awaited in turn): call it from a dedicated thread, never
/// from the Swift concurrency pool. It opens and closes its own ZeroMQ context and `BusClient`
/// on the calling thread, so concurrent calls from different threads are safe.
public struct MetricsScrape: Sendable {
    public var configuration: LoyaltyConfiguration
    /// Plugin names whose `<name>.metrics` service is asked, e.g. the enabled plugins.
    public var plugins: [String]
    /// How long the bus waits for each process's answer.
    public var timeout: Duration
    /// The supervisor's state file; nil for none (no restart counts). Defaults to the
    /// configuration's `var/run/supervisor.json`.
    public var supervisorStatePath: String?

    public init(configuration: LoyaltyConfiguration, plugins: [String], timeout: Duration = .milliseconds(500)) {
        self.configuration = configuration
        self.plugins = plugins
        self.timeout = timeout
        supervisorStatePath = configuration.supervisorStatePath
    }

    /// The merged exposition. Blocking; see the type's documentation.
    public func collect() -> String {
        var exposition = Exposition()
        var up: [(component: String, answered: Bool)] = []
        let milliseconds = max(1, min(60_000, Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)))
        var client: BusClient?
        var context: ZMQContext?
        var notes: [String] = []
        do {
            context = try ZMQContext()
            client = try BusClient(context: context!, endpoint: configuration.bus.ingest, options: try clientOptions())
        } catch {
            notes.append("cannot reach the bus at \(configuration.bus.ingest): \(error)")
        }
        var busAnswered = false
        if let client {
            busAnswered = ask(client, service: "bus.metrics", component: "bus", timeout: milliseconds, into: &exposition, notes: &notes)
        }
        up.append(("bus", busAnswered))
        for plugin in plugins {
            // Without the bus nothing else can answer; asking would only wait.
            let answered = busAnswered && client.map {
                ask($0, service: "\(plugin).metrics", component: plugin, timeout: milliseconds, into: &exposition, notes: &notes)
            } ?? false
            up.append((plugin, answered))
        }
        client = nil
        context = nil

        exposition.add(family: "loyalty_process_up", type: "gauge", help: MetricCatalog.help["loyalty_process_up"],
                       samples: up.map { "loyalty_process_up{component=\"\(Self.escape($0.component))\"} \($0.answered ? 1 : 0)" })
        if let path = supervisorStatePath, let state = try? SupervisorState.read(path: path), state.supervisorIsAlive {
            exposition.add(family: "loyalty_process_restarts_total", type: "counter",
                           help: MetricCatalog.help["loyalty_process_restarts_total"],
                           samples: state.children.map { "loyalty_process_restarts_total{component=\"\(Self.escape($0.name))\"} \($0.restarts)" })
            exposition.add(family: "loyalty_process_running", type: "gauge", help: MetricCatalog.help["loyalty_process_running"],
                           samples: state.children.map { "loyalty_process_running{component=\"\(Self.escape($0.name))\"} \($0.running ? 1 : 0)" })
        }
        exposition.describe(MetricCatalog.help)
        var text = exposition.text
        for note in notes { text += "# unanswered: \(String(note.map { $0.isNewline ? " " : $0 }))\n" }
        return text
    }

    private func ask(_ client: BusClient, service: String, component: String, timeout: Int,
                     into exposition: inout Exposition, notes: inout [String]) -> Bool {
        do {
            let reply = try client.request(service: service, body: [], timeoutMilliseconds: timeout)
            guard reply.status == .ok else {
                notes.append("\(service): \(reply.status.rawValue): \(reply.bodyText)")
                return false
            }
            exposition.merge(reply.bodyText, source: component)
            return true
        } catch {
            notes.append("\(service): \(error)")
            return false
        }
    }

    /// With `security.curve` on, the command-line key (`security.clientKey`), as `loyalty` commands use.
    private func clientOptions() throws -> [SocketOption] {
        guard configuration.security.curve else { return [] }
        let layout = KeyStoreLayout(directory: configuration.security.keysDirectory)
        return try CurveClientKeys.load(keysDirectory: layout.directory,
                                        clientBase: layout.clientBase(name: configuration.security.clientKey)).socketOptions
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
