import ArgumentParser
import Foundation
import LoyaltyConfig
import LoyaltyMonitor

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

    func run() throws {
        let configuration = try options.loadConfiguration()
        let plugins = EngineStatus.plugins(configuration)
        let first = EngineStatus.sample(configuration, plugins: plugins)
        Thread.sleep(forTimeInterval: max(0.1, interval))
        let second = EngineStatus.sample(configuration, plugins: plugins)
        let status = EngineStatus.report(configuration, plugins: plugins, first: first, second: second)
        let rows = status.components
        let head = status.journalHead
        let supervisorAlive = status.supervisorRunning
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            struct Report: Encodable { var supervisorRunning: Bool; var journalHead: Int64?; var components: [ComponentStatus] }
            print(String(decoding: try encoder.encode(Report(supervisorRunning: supervisorAlive, journalHead: head, components: rows)),
                         as: UTF8.self))
            return
        }
        print(supervisorAlive ? "supervisor: running (pid \(status.supervisorPid ?? 0))" : "supervisor: not running (start with `loyalty up`)")
        print("journal: \(configuration.journalPath)")
        let header = ["NAME", "STATE", "PID", "RESTARTS", "APPLIED SEQ", "LAG", "EVENTS/S"]
        let table: [[String]] = rows.map(Self.cells)
        let all: [[String]] = [header] + table
        let widths: [Int] = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for line in all {
            print(line.indices.map { line[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
    }

    static func cells(_ row: ComponentStatus) -> [String] {
        let state = row.state
        let pid: String = row.pid.map { String($0) } ?? "-"
        let restarts: String = row.restarts.map { String($0) } ?? "-"
        let applied: String = row.appliedSeq.map { String($0) } ?? "no data yet"
        let lag: String = row.lag.map { String($0) } ?? "-"
        let rate: String = row.eventsPerSecond.map { String(format: "%.1f", $0) } ?? "-"
        return [row.name, state, pid, restarts, applied, lag, rate]
    }
}
