import ArgumentParser
import Foundation
import GRDB
import LoyaltyBus
import LoyaltyConfig
import LoyaltyEvents
import LoyaltySimulation
import LoyaltyWire
import ZeroMQ

struct PointsBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "points",
        abstract: "Measure the points plugin: replaying a pre-filled journal of purchases, and points.balance latency through the bus.",
        discussion: """
            In a temporary folder: writes a journal of synthetic purchases, starts `loyalty bus` and \
            the `points-accrual` plugin as processes (as `loyalty up` would), times the plugin from \
            its start until it has applied the whole journal, then asks `points.balance` for random \
            customers at a fixed rate, spread over --tills connections and each sent when due whatever \
            is still unanswered, then from one client waiting for each answer, and reports the latency. \
            Latency is measured from when each request was due, so a stall is not hidden. Build with -c release:
              swift build -c release && .build/release/loyalty bench points
            """
    )

    @Option(help: "Purchases in the journal.") var purchases = 1_000_000
    @Option(help: "Registered customers in the synthetic chain.") var customers = 50_000
    @Option(help: "points.balance requests per second.") var rate: Double = 1000
    @Option(help: "Seconds of the latency run.") var seconds: Double = 10
    @Option(help: "Seconds to wait between the outbox drain and the latency run.") var settle: Double = 0
    @Option(help: "Tills (client connections) the points.balance requests are spread over, each request sent when due.") var tills = 8
    @Option(help: ArgumentHelp("Replay into another plugin instead, to compare (e.g. store-counter, which does almost nothing per purchase: the runtime's own ceiling); the balance run is then skipped.", valueName: "name"))
    var plugin = "points-accrual"
    @Option(help: ArgumentHelp("The rule files to run with (default: the configured rules folder).", valueName: "path"))
    var rules: String?
    @Option(help: "Folder for the temporary project (default: the system's temporary folder).") var directory: String?
    @Option(name: .customLong("request-cpus"), help: ArgumentHelp("CPUs for the engine's request path (performance.requestCPUs): auto (the engine's default: the last CPU, given two or more), none (wherever the kernel puts it), or numbers like 1.",
                               valueName: "cpus"))
    var requestCPUs: RequestCPUs = .auto
    @Option(help: ArgumentHelp("Words to run the plugin under, through env(1), e.g. \"valgrind --tool=callgrind\" (see benchmarks/points-callgrind.sh).", valueName: "command"))
    var pluginPrefix: String?
    @Flag(help: "Stop after the replay and the outbox drain (no points.balance run).") var replayOnly = false
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try requestCPUs.validate()
        let rulesDirectory = try rules ?? global.loadConfiguration().rulesDirectory
        let executables = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        let pluginName = plugin
        let pluginExecutable = executables + "/" + pluginName
        guard FileManager.default.isExecutableFile(atPath: pluginExecutable) else {
            throw ValidationError("\(pluginExecutable) not found: build it first (swift build -c release)")
        }
        let root = (directory ?? NSTemporaryDirectory()) + "/loyalty-points-bench-\(getpid())"
        // Kept when the plugin fails, so that its log and database can be looked at.
        var keep = false
        defer { if !keep { try? FileManager.default.removeItem(atPath: root) } }
        let ports = (freeLoopbackPort(), freeLoopbackPort(), freeLoopbackPort())
        try FileManager.default.createDirectory(atPath: root + "/config", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/plugins/" + pluginName, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/var", withIntermediateDirectories: true)
        let config = root + "/config/loyalty.yaml"
        try """
            bus: {ingest: "tcp://127.0.0.1:\(ports.0)", publish: "tcp://127.0.0.1:\(ports.1)", replay: "tcp://127.0.0.1:\(ports.2)"}
            dataDir: var
            rulesDir: \(rulesDirectory)
            plugins: {directory: plugins, enabled: [\(pluginName)]}
            \(requestCPUs.configLine)
            """.write(toFile: config, atomically: true, encoding: .utf8)

        // 1. The journal: purchases only, written straight into SQLite.
        print("writing \(purchases) purchases into a journal …")
        var chain = ChainSimulator.Configuration()
        chain.seed = 11
        chain.customers = customers
        chain.returnShare = 0
        chain.surveyShare = 0
        chain.anonymousShare = 0.1
        let journal = try Journal(path: root + "/var/journal.sqlite")
        var batch: [Journal.Entry] = []
        var written = 0
        var customerIds: [String] = []
        for event in ChainSimulator(configuration: chain) {
            if written >= purchases { break }
            guard case .purchase(let purchase) = event.payload else { continue }
            if let id = purchase.customerId, customerIds.count < 100_000, written % 7 == 0 { customerIds.append(id) }
            batch.append(Journal.Entry(eventId: event.eventId, type: event.type, occurredAtMilliseconds: event.occurredAt.epochMilliseconds,
                                       customerId: purchase.customerId, body: EventCodec.encode(event)))
            written += 1
            if batch.count == 20_000 {
                _ = try journal.append(batch, receivedAtMilliseconds: Timestamp.now().epochMilliseconds)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { _ = try journal.append(batch, receivedAtMilliseconds: Timestamp.now().epochMilliseconds) }
        try journal.checkpoint()
        let head = try journal.head()

        // 2. The bus, then the plugin, as processes.
        let bus = try Self.start(executables + "/loyalty", ["bus", "--config", config, "--log-level", "warning"], log: root + "/bus.log")
        defer { bus.terminate(); bus.waitUntilExit() }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: "tcp://127.0.0.1:\(ports.0)")
        let started = Date()
        let busCPUAtStart = Self.cpuSeconds(of: bus.processIdentifier) ?? 0
        let prefix = (pluginPrefix ?? "").split(separator: " ").map(String.init)
        // Through env(1), so that the prefix may set variables and name a program on the PATH.
        let plugin = try Self.start(prefix.isEmpty ? pluginExecutable : "/usr/bin/env", prefix + (prefix.isEmpty ? [] : [pluginExecutable]) + ["--config", config],
                                    log: root + "/plugin.log", environment: ["LOYALTY_LOG_LEVEL": "warning"])
        defer { plugin.terminate(); plugin.waitUntilExit() }
        print("replaying \(head) events into \(pluginName) …")
        let database = root + "/var/plugins/\(pluginName).sqlite"
        var applied: Int64 = 0
        var lastReport = Date()
        while applied < head {
            usleep(50_000)
            guard plugin.isRunning else {
                keep = true
                throw ValidationError("the plugin stopped (its log and database are kept in \(root)): \((try? String(contentsOfFile: root + "/plugin.log", encoding: .utf8))?.suffix(2000) ?? "")")
            }
            applied = (try? DatabaseQueue(path: database).read { db in try Int64.fetchOne(db, sql: "SELECT appliedSeq FROM runtime_cursor") ?? 0 }) ?? 0
            if Date().timeIntervalSince(lastReport) > 5 {
                lastReport = Date()
                print(String(format: "  %d / %d after %.0f s", applied, head, Date().timeIntervalSince(started)))
            }
        }
        let replaySeconds = Date().timeIntervalSince(started)
        print(String(format: "replay: %d purchases in %.1f s = %.0f events/s (from the plugin's start, process launch included)",
                     head, replaySeconds, Double(head) / replaySeconds))
        if let cpu = Self.cpuSeconds(of: plugin.processIdentifier) {
            // Independent of what else the machine runs: what the replay costs the plugin. The
            // busy share says whether the plugin or something it waits for (the bus) sets the pace.
            print(String(format: "plugin CPU during the replay: %.1f s, %.1f µs per event (%.0f events per CPU-second), busy %.0f %% of the replay",
                         cpu, cpu * 1e6 / Double(head), Double(head) / cpu, 100 * cpu / replaySeconds))
        }
        // The bus shares the machine: serving the replay's reads and storing what the plugin
        // derives. Its CPU counts against the same cores as the plugin's.
        func busAndPluginCPU() -> (bus: Double, plugin: Double)? {
            guard let busSeconds = Self.cpuSeconds(of: bus.processIdentifier), let pluginSeconds = Self.cpuSeconds(of: plugin.processIdentifier)
            else { return nil }
            return (busSeconds - busCPUAtStart, pluginSeconds)
        }
        if let cpu = busAndPluginCPU() {
            print(String(format: "bus CPU during the replay: %.1f s, %.1f µs per event", cpu.bus, cpu.bus * 1e6 / Double(head)))
            Self.printCeiling("bus and plugin CPU during the replay", cpu: cpu.bus + cpu.plugin, events: head)
        }

        guard pluginName == "points-accrual" else { return }
        let lots = try DatabaseQueue(path: database).read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM lots WHERE points > 0") ?? 0 }

        // The derived events (points.accrued) go to the bus through the plugin's outbox; the
        // latency run starts once they are all stored, as in a steady state.
        let drainStarted = Date()
        while (try? DatabaseQueue(path: database).read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM runtime_outbox") ?? 0 }) ?? 1 > 0 {
            usleep(100_000)
            if Date().timeIntervalSince(drainStarted) > 600 { print("the outbox did not drain in 10 minutes"); break }
        }
        print(String(format: "outbox: %d points.accrued events stored by the bus %.1f s after the replay", lots, Date().timeIntervalSince(drainStarted)))
        if let cpu = busAndPluginCPU() {
            Self.printCeiling("bus and plugin CPU, the points.accrued stored included", cpu: cpu.bus + cpu.plugin, events: head)
        }

        if replayOnly { return }
        // 3. points.balance at a fixed rate, latency from when each request was due.
        _ = waitForService(client)
        // Optionally let the engine settle first (the bus checkpoints its journal once ingest
        // has been idle for a second); by default the latency run starts right away.
        if settle > 0 { usleep(UInt32(settle * 1e6)) }
        let count = Int(rate * seconds)
        // From several tills, each request sent when due (see OpenLoopLoad): the figure held to
        // the target. Then one client waiting for each answer, to compare with earlier figures.
        let bodies = (0..<min(count, customerIds.count)).map { i in
            JSONWriter.serialize(.object(["customerId": .string(customerIds[i % customerIds.count])]))
        }
        let tillsRun = try OpenLoopLoad(context: context, endpoint: "tcp://127.0.0.1:\(ports.0)", tills: tills)
            .run(rate: rate, count: count) { i in ("points.balance", bodies[i % bodies.count]) }
        print(requestCPUs.report)
        print(String(format: "points.balance from %d tills: %d requests at %.0f/s offered (%.0f/s sent): %@; %d errors",
                     tills, count, rate, tillsRun.achieved, tillsRun.summary, tillsRun.errors))
        let balance = latency(client, count: count) { i in ("points.balance", bodies[i % bodies.count], .ok) }
        print(String(format: "points.balance one at a time from one client (%.0f/s achieved): %@; %d errors",
                     balance.achieved, balance.summary, balance.errors))
        // The same through the bus alone: a service nobody offers, answered by the bus itself.
        let transport = latency(client, count: min(count, Int(rate * 3))) { _ in ("bench.nobody", Array("{}".utf8), .unavailable) }
        print(String(format: "bus alone (a request the bus answers itself): %@", transport.summary))
    }

    struct Latency {
        var sorted: [Double]
        var achieved: Double
        var errors: Int
        func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        var summary: String {
            String(format: "p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms",
                   percentile(0.5), percentile(0.99), percentile(0.999), sorted.last ?? 0)
        }
    }

    /// Requests at `rate`, each timed from when it was due, so a stall delays the next ones
    /// and is counted, not hidden.
    private func latency(_ client: BusClient, count: Int, request: (Int) -> (String, [UInt8], ReplyStatus)) -> Latency {
        var latencies: [Double] = []
        latencies.reserveCapacity(count)
        let interval = 1e9 / rate
        let begin = Monotonic.nanoseconds
        var errors = 0
        for i in 0..<count {
            let due = begin + UInt64(Double(i) * interval)
            // Sleep until due in one go rather than polling in short naps: on a small machine a
            // client waking 20,000 times a second takes CPU from the very path it measures.
            while case let now = Monotonic.nanoseconds, now < due {
                usleep(UInt32(max(20, (due - now) / 1000)))
            }
            let (service, body, expected) = request(i)
            let reply = try? client.request(service: service, body: body, timeoutMilliseconds: 1000)
            if reply?.status != expected { errors += 1 }
            latencies.append(Double(Monotonic.nanoseconds - due) / 1e6)
        }
        let achieved = Double(count) / (Double(Monotonic.nanoseconds - begin) / 1e9)
        return Latency(sorted: latencies.sorted(), achieved: achieved, errors: errors)
    }

    /// The whole cost of catching up, and the rate this machine's cores could sustain at that cost
    /// if the bus and the plugin never waited for each other: the ceiling for this code on this
    /// machine, however the work were scheduled.
    static func printCeiling(_ what: String, cpu: Double, events: Int64) {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print(String(format: "%@: %.1f s, %.1f µs per event; at most %.0f events/s on %d cores at that cost",
                     what, cpu, cpu * 1e6 / Double(events), Double(cores) * Double(events) / cpu, cores))
    }

    /// User plus system CPU time of a process, from /proc (Linux).
    static func cpuSeconds(of pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after the command name, which may itself hold spaces: state is field 3, utime 14, stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (user + system) / ticks
    }

    private func waitForService(_ client: BusClient) -> Bool {
        for _ in 0..<100 {
            if (try? client.request(service: "points.balance", body: Array(#"{"customerId":"x"}"#.utf8), timeoutMilliseconds: 500))?.status == .ok {
                return true
            }
            usleep(100_000)
        }
        return false
    }

    static func start(_ executable: String, _ arguments: [String], log: String, environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }
}
