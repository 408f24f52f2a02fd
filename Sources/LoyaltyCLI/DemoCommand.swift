import ArgumentParser
import Foundation
import Logging
import LoyaltyConfig
import LoyaltyEvents
import LoyaltyMonitor
import LoyaltySimulation
import LoyaltySupervisor
import LoyaltyWire
import ServiceLifecycle
import Synchronization

/// Ctrl-C / SIGTERM count: the first ends the feed early (the summary still follows), the
/// second also skips waiting for the plugins to catch up.
private let demoInterrupts = Atomic<Int>(0)

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole engine on a synthetic store chain, on an accelerated clock, and summarise what it did.",
        discussion: """
            Starts the bus and every enabled plugin (as `loyalty up` does) with their own data in var/demo/ (emptied at each start; your var/journal.sqlite is not touched) and bus endpoints on free loopback ports (a running `loyalty up` is not disturbed). Then it feeds a chain of stores, terminals and card-holding customers — loyal regulars, occasional shoppers, customers drifting away, returns, satisfaction surveys — whose last --days days pass in --seconds, with the rules in config/rules.

            While it runs it shows alerts, tier changes and rewards as the plugins raise them; at the end (or on Ctrl-C) it waits for every plugin to apply everything and prints a summary: top customers by CLV, rewards granted, campaign redemptions, NPS per store.

            Examples:
              loyalty demo                           # 120 days of a 5-store chain in 60 s
              loyalty demo --seconds 20 --days 60 --customers 500
              loyalty demo --summary-json summary.json --quiet
              loyalty demo --dashboard --seconds 300 # watch http://127.0.0.1:8080/
            """
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "Real seconds the simulated period takes.")
    var seconds: Double = 60

    @Option(help: "Simulated days, ending now.")
    var days: Int = 120

    @Option(help: "Card-holding customers in the chain.")
    var customers = 1000

    @Option(help: "Stores in the chain (3 terminals each).")
    var stores = 5

    @Option(help: "Seed of the synthetic chain: the same seed feeds the same events.")
    var seed: UInt64 = 42

    @Option(name: .customLong("data"), help: ArgumentHelp("The demo's own data folder (default: <dataDir>/demo). Emptied at start.", valueName: "folder"))
    var dataFolder: String?

    @Option(help: ArgumentHelp("Also write the summary as JSON to this file.", valueName: "file"))
    var summaryJson: String?

    @Flag(help: "Print only the summary, not the live alerts and rewards.")
    var quiet = false

    @OptionGroup var dashboard: DashboardOptions

    @Option(help: "How much the engine's processes and the demo log, to standard error (the demo's --log-level).")
    var engineLogLevel: Logger.Level = .warning

    /// The file in a demo folder that says it may be emptied.
    static let marker = ".loyalty-demo"

    func validate() throws {
        guard seconds > 0, seconds <= 86_400 else { throw ValidationError("--seconds must be between 0 and 86400, got \(seconds)") }
        guard days >= 1, days <= 3650 else { throw ValidationError("--days must be between 1 and 3650, got \(days)") }
        guard customers >= 1, customers <= 1_000_000 else { throw ValidationError("--customers must be between 1 and 1,000,000") }
        guard stores >= 1, stores <= 999 else { throw ValidationError("--stores must be between 1 and 999") }
    }

    func run() async throws {
        let base = try options.loadConfiguration()
        let configuration = try prepareFolder(base: base)
        let level = engineLogLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "loyalty.demo")
        let engine: EngineProcesses
        do {
            engine = try EngineProcesses(configuration: configuration, logLevel: level.rawValue)
        } catch let error as EngineError {
            throw ValidationError(error.description)
        }
        let supervisor = Supervisor(children: engine.children, stateFile: configuration.supervisorStatePath, logger: logger)
        // No shutdown signals here: Ctrl-C ends the feed, and the engine stops after the summary.
        var services: [any Service] = [supervisor]
        if let server = try dashboard.service(configuration: configuration, onRunning: { url in
            say("Dashboard: \(url) (refreshes by itself; it stops with the demo)")
        }) {
            services.append(server)
        }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        signal(SIGINT) { _ in demoInterrupts.add(1, ordering: .relaxed) }
        signal(SIGTERM) { _ in demoInterrupts.add(1, ordering: .relaxed) }

        let now = Timestamp.now()
        let start = Timestamp(epochMilliseconds: now.epochMilliseconds - Int64(days) * 86_400_000)
        var chain = ChainSimulator.Configuration()
        chain.seed = seed
        chain.stores = stores
        chain.customers = customers
        chain.start = start
        let progress = DemoProgress(start: start)
        let feedStop = StopSignal()
        let viewStop = StopSignal()
        let clientOptions = try configuration.clientSocketOptions()
        let feed = DemoFeed(endpoint: configuration.bus.ingest, socketOptions: clientOptions, chain: chain, end: now,
                            speed: Double(days) * 86_400_000 / (seconds * 1000), progress: progress, stop: feedStop)
        let colour = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        let view = DemoLiveView(endpoint: configuration.bus.publish, socketOptions: clientOptions, progress: progress,
                                start: start, days: days, colour: colour, stop: viewStop)
        let plugins = engine.manifests.map(\.name)

        say("""
            Loyalty demo: the last \(days) days of a \(stores)-store chain with \(grouped(customers)) card holders, in \(Self.seconds(seconds)).
            Engine: the bus and \(plugins.count) plugins (\(plugins.joined(separator: ", "))); data in \(configuration.dataDirectory); rules from \(configuration.rulesDirectory).
            Ctrl-C ends the feed early; the summary follows.

            """)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Ctrl-C reaches the feed through its stop signal.
            tasks.addTask {
                while !feedStop.isSet {
                    if demoInterrupts.load(ordering: .relaxed) > 0 { feedStop.set() }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            let viewThread = quiet ? nil : OwnedThread(name: "demo.view") {
                do { try view.run() } catch { printError("loyalty demo: live view stopped: \(error)") }
            }
            let fed: DemoFeed.Result
            do {
                fed = try await runOffPool { try feed.run() }
            } catch {
                feedStop.set()
                viewStop.set()
                viewThread?.join()
                await group.triggerGracefulShutdown()
                throw error
            }
            feedStop.set()
            if demoInterrupts.load(ordering: .relaxed) > 0 { say("\nInterrupted: the feed stopped at \(fed.reached.rfc3339).") }
            say("\nFed \(grouped(fed.purchases + fed.returns + fed.surveys)) events; waiting for every plugin to apply them…")
            let feedEnded = Monotonic.now
            let caughtUp = await runOffPoolOrFalse { try Self.waitForCatchUp(configuration: configuration, plugins: plugins, timeoutSeconds: 120) }
            let catchUpSeconds = caughtUp ? Double(Monotonic.now - feedEnded) / 1000 : nil
            viewStop.set()
            viewThread?.join()
            let days = self.days
            let summary = try await runOffPool {
                try DemoSummary.gather(configuration: configuration, feed: fed, from: start, days: days, catchUpSeconds: catchUpSeconds)
            }
            say("")
            say(summary.render())
            if let summaryJson {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                try encoder.encode(summary).write(to: URL(fileURLWithPath: summaryJson))
            }
            say("\nStopping the engine. The demo's data stays in \(configuration.dataDirectory): try `loyalty --config \(configuration.sourceFile ?? "") …` with `up`, `report`, `customer show`.")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            if !fed.rejected.isEmpty || fed.unacknowledged > 0 {
                printError("loyalty demo: \(fed.rejected.count) events rejected, \(fed.unacknowledged) unacknowledged")
                throw ExitCode(1)
            }
        }
    }

    /// Empties (or makes) the demo's folder and writes its configuration: the base config's
    /// rules and plugins, its own data folder and free loopback ports.
    func prepareFolder(base: LoyaltyConfiguration) throws -> LoyaltyConfiguration {
        let fileManager = FileManager.default
        let folder = URL(fileURLWithPath: dataFolder ?? base.dataDirectory + "/demo").standardizedFileURL.path
        guard folder != URL(fileURLWithPath: base.dataDirectory).standardizedFileURL.path else {
            throw ValidationError("--data must not be the engine's own data folder \(base.dataDirectory): the demo empties its folder")
        }
        if fileManager.fileExists(atPath: folder) {
            let contents = (try? fileManager.contentsOfDirectory(atPath: folder)) ?? []
            guard contents.isEmpty || contents.contains(Self.marker) else {
                throw ValidationError("\(folder) exists and was not made by `loyalty demo` (no \(Self.marker) file in it); give an empty or new folder with --data")
            }
            for name in contents { try fileManager.removeItem(atPath: folder + "/" + name) }
        }
        try fileManager.createDirectory(atPath: folder, withIntermediateDirectories: true)
        fileManager.createFile(atPath: folder + "/" + Self.marker, contents: Data("made by `loyalty demo`, which empties this folder at each start\n".utf8))
        let ports = (0..<3).map { _ in freeLoopbackPort() }
        func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
        let yaml = """
            # Written by `loyalty demo` for this run; the demo's own data and ports.
            bus:
              ingest: tcp://127.0.0.1:\(ports[0])
              publish: tcp://127.0.0.1:\(ports[1])
              replay: tcp://127.0.0.1:\(ports[2])
            dataDir: \(quoted(folder))
            rulesDir: \(quoted(base.rulesDirectory))
            plugins:
              directory: \(quoted(base.pluginsDirectory))
              enabled: [\(base.enabledPlugins.joined(separator: ", "))]
            dashboard:
              tokenFile: \(quoted(base.dashboard.tokenFile))

            """
        let path = folder + "/loyalty.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            return try LoyaltyConfiguration.load(path: path)
        } catch {
            throw ValidationError("the demo's configuration \(path): \(error)")
        }
    }

    /// True once every plugin has applied the journal's last event and sent everything it
    /// derived (its outbox is empty), twice in a row; false after the timeout or a second Ctrl-C.
    static func waitForCatchUp(configuration: LoyaltyConfiguration, plugins: [String], timeoutSeconds: Int) throws -> Bool {
        let deadline = Monotonic.now + timeoutSeconds * 1000
        var settled = 0
        while Monotonic.now < deadline, demoInterrupts.load(ordering: .relaxed) < 2 {
            let sample = EngineStatus.sample(configuration, plugins: plugins)
            let caughtUp = sample.head.map { head in
                plugins.allSatisfy { name in
                    (sample.applied[name] ?? -1) >= head
                        && EngineStatus.readInt(path: configuration.pluginDatabasePath(name: name),
                                                sql: "SELECT COUNT(*) FROM runtime_outbox") == 0
                }
            } ?? false
            settled = caughtUp ? settled + 1 : 0
            if settled >= 2 { return true }
            Thread.sleep(forTimeInterval: 0.25)
        }
        return false
    }

    static func seconds(_ value: Double) -> String {
        value >= 120 ? String(format: "%.0f minutes", value / 60) : String(format: "%g seconds", value)
    }
}

/// `runOffPool`, with any error read as false.
private func runOffPoolOrFalse(_ body: @escaping @Sendable () throws -> Bool) async -> Bool {
    (try? await runOffPool(body)) ?? false
}

/// Straight to standard output, unbuffered, so the demo's own lines and the live view's (written
/// from its thread) come out in the order they were written, also into a pipe.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
