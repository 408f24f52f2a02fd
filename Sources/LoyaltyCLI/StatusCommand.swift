import ArgumentParser
import Foundation
import GRDB
import LoyaltyConfig
import LoyaltySupervisor

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the bus and each plugin: running or not, applied seq, lag behind the journal, events/s."
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "Seconds between the two samples that give events/s.")
    var interval: Double = 1

    @Flag(help: "One JSON object instead of a table.")
    var json = false

    struct Row: Encodable {
        var name: String
        var running: Bool?
        var pid: Int32?
        var restarts: Int?
        var appliedSeq: Int64?
        var lag: Int64?
        var eventsPerSecond: Double?
    }

    func run() throws {
        let configuration = try options.loadConfiguration()
        let supervisor = try? SupervisorState.read(path: configuration.supervisorStatePath)
        let supervisorAlive = supervisor?.supervisorIsAlive ?? false
        func child(_ name: String) -> SupervisorState.Child? {
            supervisorAlive ? supervisor?.children.first { $0.name == name } : nil
        }
        let plugins = (try? PluginManifest.loadEnabled(configuration))?.map(\.name) ?? configuration.enabledPlugins

        func sample() -> (head: Int64?, applied: [String: Int64]) {
            let head = Self.readInt(path: configuration.journalPath, sql: "SELECT COALESCE(MAX(seq), 0) FROM journal")
            var applied: [String: Int64] = [:]
            for name in plugins {
                applied[name] = Self.readInt(path: configuration.pluginDatabasePath(name: name),
                                             sql: "SELECT appliedSeq FROM runtime_cursor WHERE id = 1")
            }
            return (head, applied)
        }
        let first = sample()
        Thread.sleep(forTimeInterval: max(0.1, interval))
        let second = sample()
        let head = second.head

        var rows = [Row(name: "bus", running: child("bus")?.running, pid: child("bus")?.pid, restarts: child("bus")?.restarts,
                        appliedSeq: head, lag: nil,
                        eventsPerSecond: zip2(first.head, second.head).map { Double($1 - $0) / max(0.1, interval) })]
        for name in plugins {
            let applied = second.applied[name]
            rows.append(Row(name: name, running: child(name)?.running, pid: child(name)?.pid, restarts: child(name)?.restarts,
                            appliedSeq: applied, lag: zip2(head, applied).map { max(0, $0 - $1) },
                            eventsPerSecond: zip2(first.applied[name], applied).map { Double($1 - $0) / max(0.1, interval) }))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            struct Report: Encodable { var supervisorRunning: Bool; var journalHead: Int64?; var components: [Row] }
            print(String(decoding: try encoder.encode(Report(supervisorRunning: supervisorAlive, journalHead: head, components: rows)),
                         as: UTF8.self))
            return
        }
        print(supervisorAlive ? "supervisor: running (pid \(supervisor!.supervisorPid))" : "supervisor: not running (start with `loyalty up`)")
        print("journal: \(configuration.journalPath)")
        let header = ["NAME", "STATE", "PID", "RESTARTS", "APPLIED SEQ", "LAG", "EVENTS/S"]
        let table: [[String]] = rows.map(Self.cells)
        let all: [[String]] = [header] + table
        let widths: [Int] = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for line in all {
            print(line.indices.map { line[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
    }

    static func cells(_ row: Row) -> [String] {
        let state: String = row.running.map { $0 ? "running" : "restarting" } ?? "stopped"
        let pid: String = row.pid.map { String($0) } ?? "-"
        let restarts: String = row.restarts.map { String($0) } ?? "-"
        let applied: String = row.appliedSeq.map { String($0) } ?? "no data yet"
        let lag: String = row.lag.map { String($0) } ?? "-"
        let rate: String = row.eventsPerSecond.map { String(format: "%.1f", $0) } ?? "-"
        return [row.name, state, pid, restarts, applied, lag, rate]
    }

    /// One integer from a SQLite file opened read-only; nil if the file or table is not there yet.
    static func readInt(path: String, sql: String) -> Int64? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(2)
        guard let queue = try? DatabaseQueue(path: path, configuration: configuration) else { return nil }
        return try? queue.read { db in try Int64.fetchOne(db, sql: sql) }
    }
}

private func zip2<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}
