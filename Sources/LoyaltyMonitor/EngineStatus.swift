import Foundation
import GRDB
import LoyaltyConfig
import LoyaltySupervisor

/// One row of `loyalty status` and of the dashboard's plugin panel.
public struct ComponentStatus: Encodable, Sendable, Equatable {
    public var name: String
    /// nil: the supervisor does not know it (not running, or the supervisor is down).
    public var running: Bool?
    public var pid: Int32?
    public var restarts: Int?
    public var appliedSeq: Int64?
    /// Events in the journal the component has not applied yet.
    public var lag: Int64?
    public var eventsPerSecond: Double?

    public init(name: String, running: Bool? = nil, pid: Int32? = nil, restarts: Int? = nil, appliedSeq: Int64? = nil,
                lag: Int64? = nil, eventsPerSecond: Double? = nil) {
        self.name = name
        self.running = running
        self.pid = pid
        self.restarts = restarts
        self.appliedSeq = appliedSeq
        self.lag = lag
        self.eventsPerSecond = eventsPerSecond
    }

    /// "running", "restarting" (known to the supervisor, between two starts) or "stopped".
    public var state: String { running.map { $0 ? "running" : "restarting" } ?? "stopped" }
}

/// The journal's head and each plugin's applied seq at one instant.
public struct StatusSample: Sendable, Equatable {
    public var head: Int64?
    public var applied: [String: Int64]
    /// Seconds on a monotonic clock, to turn two samples into rates.
    public var takenAt: Double

    public init(head: Int64?, applied: [String: Int64], takenAt: Double) {
        self.head = head
        self.applied = applied
        self.takenAt = takenAt
    }
}

/// The whole status: the supervisor, the journal's head, the bus and each enabled plugin.
public struct EngineStatusReport: Sendable, Equatable {
    public var supervisorRunning: Bool
    public var supervisorPid: Int32?
    public var journalHead: Int64?
    public var components: [ComponentStatus]

    public init(supervisorRunning: Bool, supervisorPid: Int32?, journalHead: Int64?, components: [ComponentStatus]) {
        self.supervisorRunning = supervisorRunning
        self.supervisorPid = supervisorPid
        self.journalHead = journalHead
        self.components = components
    }
}

/// How `loyalty status` and the dashboard see the engine: every SQLite file opened read-only, and
/// the supervisor's state file. Blocking (SQLite): call it on a thread of its own, never on the
/// Swift concurrency pool.
public enum EngineStatus {
    /// The enabled plugins' names, from their manifests (or the configuration when those cannot be read).
    public static func plugins(_ configuration: LoyaltyConfiguration) -> [String] {
        (try? PluginManifest.loadEnabled(configuration))?.map(\.name) ?? configuration.enabledPlugins
    }

    public static func sample(_ configuration: LoyaltyConfiguration, plugins: [String]) -> StatusSample {
        let head = readInt(path: configuration.journalPath, sql: "SELECT COALESCE(MAX(seq), 0) FROM journal")
        var applied: [String: Int64] = [:]
        for name in plugins {
            applied[name] = readInt(path: configuration.pluginDatabasePath(name: name), sql: "SELECT appliedSeq FROM runtime_cursor WHERE id = 1")
        }
        return StatusSample(head: head, applied: applied, takenAt: monotonicSeconds())
    }

    /// Rates are the change between the two samples over the time between them.
    public static func report(_ configuration: LoyaltyConfiguration, plugins: [String], first: StatusSample, second: StatusSample) -> EngineStatusReport {
        let supervisor = try? SupervisorState.read(path: configuration.supervisorStatePath)
        let alive = supervisor?.supervisorIsAlive ?? false
        func child(_ name: String) -> SupervisorState.Child? {
            alive ? supervisor?.children.first { $0.name == name } : nil
        }
        let elapsed = max(0.1, second.takenAt - first.takenAt)
        let head = second.head
        var rows = [ComponentStatus(name: "bus", running: child("bus")?.running, pid: child("bus")?.pid, restarts: child("bus")?.restarts,
                                    appliedSeq: head, lag: nil,
                                    eventsPerSecond: both(first.head, second.head).map { Double($1 - $0) / elapsed })]
        for name in plugins {
            let applied = second.applied[name]
            rows.append(ComponentStatus(name: name, running: child(name)?.running, pid: child(name)?.pid, restarts: child(name)?.restarts,
                                        appliedSeq: applied, lag: both(head, applied).map { max(0, $0 - $1) },
                                        eventsPerSecond: both(first.applied[name], applied).map { Double($1 - $0) / elapsed }))
        }
        return EngineStatusReport(supervisorRunning: alive, supervisorPid: alive ? supervisor?.supervisorPid : nil,
                                  journalHead: head, components: rows)
    }

    /// One integer from a SQLite file opened read-only; nil if the file or table is not there yet.
    public static func readInt(path: String, sql: String) -> Int64? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let queue = try? ReadOnlyDatabase.open(path, busyTimeoutSeconds: 2) else { return nil }
        return try? queue.read { db in try Int64.fetchOne(db, sql: sql) }
    }

    static func monotonicSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

private func both<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}
