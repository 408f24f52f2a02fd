import ArgumentParser
import DiscountCampaigns
import Foundation
import GRDB
import LoyaltyConfig
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime
import LoyaltyWire
import ZeroMQ

/// `loyalty bench campaigns`: `campaign.quote` latency through the bus from a POS-like client.
struct CampaignsBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaigns",
        abstract: "Measure campaign.quote through the bus at a fixed rate (target: p99 ≤ 1 ms at 1,000 quotes/s).",
        discussion: """
            In a temporary folder: starts `loyalty bus` and the `discount-campaigns` plugin as processes (as \
            `loyalty up` would) with a rule file of 24 campaigns of every kind (percent, amount, buy X get Y, \
            points multiplier, coupon codes, schedules, tiers, budgets, groups, exclusive), then asks for \
            quotes of random baskets (1-8 lines) of random customers at a fixed rate, as tills send them: \
            spread over --tills connections, each sent when due whatever is still unanswered, each timed \
            from when it was due to its reply (so a stall is not hidden). Then the same from one client \
            that waits for each answer before the next (a slow answer makes every later request late), \
            and a trivial service on the same path. Build with -c release:
              swift build -c release && .build/release/loyalty bench campaigns
            """
    )

    @Option(help: "campaign.quote requests per second.") var rate: Double = 1000
    @Option(help: "Seconds of the latency run.") var seconds: Double = 10
    @Option(help: "Seconds of warm-up at the same rate, not counted.") var warmup: Double = 2
    @Option(help: "Tills (client connections) the requests are spread over, each request sent when due.") var tills = 8
    @Option(help: ArgumentHelp("Rule files to run with instead of the built-in 24 campaigns.", valueName: "path")) var rules: String?
    @Option(help: "Folder for the temporary project (default: the system's temporary folder).") var directory: String?
    @Option(name: .customLong("request-cpus"), help: ArgumentHelp("CPUs for the engine's request path (performance.requestCPUs): auto (the engine's default: the last CPU, given two or more), none (wherever the kernel puts it), or numbers like 1.",
                               valueName: "cpus"))
    var requestCPUs: RequestCPUs = .auto

    static let campaigns: String = {
        var text = """
            currency: NOK
            timezone: Europe/Oslo
            tiers:
              - id: member
              - id: silver
                when: customer.points >= 1000
              - id: gold
                when: customer.points >= 5000
            campaigns:

            """
        let categories = ["coffee", "bakery", "dairy", "meat", "wine", "snacks", "electronics", "toys"]
        for (n, category) in categories.enumerated() {
            text += """
                  - id: pct-\(category)
                    priority: \(100 - n)
                    lines: category == "\(category)"
                    discount: { percent: \(5 + n) }
                    budget: { amount: 100000000 NOK, perDay: 1000000 }
                  - id: amount-\(category)
                    group: amount-off
                    priority: \(50 - n)
                    when: purchase.total >= \(100 + 50 * n) NOK
                    lines: category == "\(category)"
                    discount: { amount: 10 NOK }
                  - id: b2g1-\(category)
                    priority: \(20 - n)
                    weekdays: [monday, tuesday, wednesday, thursday, friday, saturday, sunday]
                    hours: 00:00-24:00
                    lines: category == "\(category)"
                    discount: { buy: 2, get: 1 }
                    budget: { perCustomer: 1000000 }

                """
        }
        text += """
              - id: gold-triple
                tiers: [gold]
                pointsMultiplier: 3
              - id: coupon
                code: required
                discount: { amount: 50 NOK }
              - id: exclusive-big
                stacking: exclusive
                priority: 1000
                when: purchase.total >= 100000 NOK
                discount: { percent: 30 }

            """
        return text
    }()

    func run() throws {
        try requestCPUs.validate()
        let executables = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        let pluginExecutable = executables + "/discount-campaigns"
        guard FileManager.default.isExecutableFile(atPath: pluginExecutable) else {
            throw ValidationError("\(pluginExecutable) not found: build it first (swift build -c release)")
        }
        let root = (directory ?? NSTemporaryDirectory()) + "/loyalty-campaigns-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ports = (freeLoopbackPort(), freeLoopbackPort(), freeLoopbackPort())
        for folder in ["config/rules", "plugins/discount-campaigns", "var"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        var rulesDirectory = root + "/config/rules"
        if let rules { rulesDirectory = rules } else { try Self.campaigns.write(toFile: rulesDirectory + "/campaigns.yaml", atomically: true, encoding: .utf8) }
        let config = root + "/config/loyalty.yaml"
        try """
            bus: {ingest: "tcp://127.0.0.1:\(ports.0)", publish: "tcp://127.0.0.1:\(ports.1)", replay: "tcp://127.0.0.1:\(ports.2)"}
            dataDir: var
            rulesDir: \(rulesDirectory)
            plugins: {directory: plugins, enabled: [discount-campaigns]}
            \(requestCPUs.configLine)
            """.write(toFile: config, atomically: true, encoding: .utf8)

        let bus = try PointsBenchCommand.start(executables + "/loyalty", ["bus", "--config", config, "--log-level", "warning"], log: root + "/bus.log")
        defer { bus.terminate(); bus.waitUntilExit() }
        let plugin = try PointsBenchCommand.start(pluginExecutable, ["--config", config], log: root + "/plugin.log",
                                                  environment: ["LOYALTY_LOG_LEVEL": "warning"])
        defer { plugin.terminate(); plugin.waitUntilExit() }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: "tcp://127.0.0.1:\(ports.0)")

        // Baskets prepared beforehand, so the client's own work stays out of the figures.
        let categories = ["coffee", "bakery", "dairy", "meat", "wine", "snacks", "electronics", "toys"]
        var generator = SplitMix(seed: 7)
        let bodies: [[UInt8]] = (0..<5_000).map { n in
            let lines: [JSONValue] = (0..<(1 + Int(generator.next() % 8))).map { k in
                let category = categories[Int(generator.next() % UInt64(categories.count))]
                return .object(["sku": .string("\(category)-\(k)"), "category": .string(category),
                                "quantity": .int(Int64(1 + generator.next() % 4)), "unitPrice": .int(Int64(500 + generator.next() % 50_000))])
            }
            var request: JSONObject = ["storeId": .string("S\(String(format: "%03d", 1 + n % 20))"), "lines": .array(lines)]
            if n % 10 != 0 { request["customerId"] = .string(String(format: "C%06d", generator.next() % 50_000)) }
            if n % 25 == 0 { request["codes"] = .array([.string("NOT-A-CODE")]) }
            return JSONWriter.serialize(.object(request))
        }
        guard waitForService(client, body: bodies[0]) else {
            throw ValidationError("campaign.quote did not answer within 20 s: \((try? String(contentsOfFile: root + "/plugin.log", encoding: .utf8))?.suffix(2000) ?? "")")
        }

        func run(_ seconds: Double) -> (latencies: [Double], errors: Int, achieved: Double, size: Int) {
            var latencies: [Double] = []
            let count = Int(rate * seconds)
            latencies.reserveCapacity(count)
            let interval = 1e9 / rate
            let begin = Monotonic.nanoseconds
            var errors = 0
            var size = 0
            for i in 0..<count {
                let due = begin + UInt64(Double(i) * interval)
                Self.sleep(until: due)
                let reply = try? client.request(service: "campaign.quote", body: bodies[i % bodies.count], timeoutMilliseconds: 1000)
                if reply?.status != .ok { errors += 1 } else { size += reply?.body.count ?? 0 }
                latencies.append(Double(Monotonic.nanoseconds - due) / 1e6)
            }
            return (latencies.sorted(), errors, Double(count) / (Double(Monotonic.nanoseconds - begin) / 1e9), size / max(1, count - errors))
        }
        // 1. The tills: each quote sent when due, from `tills` connections, whatever is still
        //    waiting (see OpenLoopLoad). This is the figure held to the target.
        let load = OpenLoopLoad(context: context, endpoint: "tcp://127.0.0.1:\(ports.0)", tills: tills)
        let count = Int(rate * seconds)
        if warmup > 0 { _ = try load.run(rate: rate, count: Int(rate * warmup)) { i in ("campaign.quote", bodies[i % bodies.count]) } }
        let tillsRun = try load.run(rate: rate, count: count) { i in ("campaign.quote", bodies[i % bodies.count]) }
        print(requestCPUs.report)
        print(String(format: "campaign.quote from %d tills: %d requests at %.0f/s offered (%.0f/s sent), answers %d bytes on average: %@; %d errors",
                     tills, count, rate, tillsRun.achieved, tillsRun.replyBytes, tillsRun.summary, tillsRun.errors))
        let quoteStalls = tillsRun.stalls(rate: rate)
        // 2. One client waiting for each answer before the next: a slow answer delays every later
        //    request, so this tail is longer; kept to compare with earlier figures.
        let (latencies, errors, achieved, _) = run(seconds)
        func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        print(String(format: "campaign.quote one at a time from one client: %.0f/s achieved: p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms; %d errors",
                     achieved, percentile(0.5), percentile(0.99), percentile(0.999), latencies.last ?? 0, errors))
        // 3. The same path with next to no work: the runtime's own `discount-campaigns.rules` service.
        let trivial = try load.run(rate: rate, count: count) { _ in ("discount-campaigns.rules", Array("{}".utf8)) }
        print(String(format: "same path, trivial service (discount-campaigns.rules), from %d tills: %@; %d errors", tills, trivial.summary, trivial.errors))
        // The plugin's own work per quote, in this process: parse, evaluate, answer.
        let work = try Self.inProcess(bodies: bodies, rulesDirectory: rulesDirectory, root: root)
        print(String(format: "in-process campaign.quote handler (one thread, no bus): p50 %.1f µs, p99 %.1f µs, max %.1f µs over %d quotes",
                     work.p50, work.p99, work.max, work.count))
        let stalls = quoteStalls
        // What the bus and the plugin logged (warnings and errors), which may explain a stall.
        for (name, log) in [("bus", root + "/bus.log"), ("plugin", root + "/plugin.log")] {
            let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
                .filter { $0.contains("warning") || $0.contains("error") || $0.contains("critical") }
            for line in lines.prefix(10) { print("\(name) log: \(line.prefix(300))") }
        }
        if !stalls.isEmpty {
            print("\(stalls.count) stalls of the tills' run (requests later than 5 ms), the worst: " + stalls.sorted { $0.worst > $1.worst }.prefix(5).map { String(format: "at %.2f s: %d requests, worst %.1f ms", $0.at, $0.hit, $0.worst) }.joined(separator: "; "))
        }
    }

    /// Waits until `due` (monotonic ns): one sleep until 300 µs before, then short naps, so the
    /// client is awake when a request is due (its own wake-up delay would count as latency) without
    /// waking every 50 µs all the time, which on two cores takes CPU from the bus and the plugin.
    static func sleep(until due: UInt64) {
        let now = Monotonic.nanoseconds
        if due > now + 300_000 {
            let wait = due - now - 300_000
            var request = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
            var remaining = timespec()
            while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
        }
        while Monotonic.nanoseconds < due { usleep(50) }
    }

    /// Times the `campaign.quote` handler called directly, with the same rules and baskets.
    static func inProcess(bodies: [[UInt8]], rulesDirectory: String, root: String) throws -> (p50: Double, p99: Double, max: Double, count: Int) {
        let result = RuleLoader.load(paths: [rulesDirectory])
        guard let book = result.book else { throw ValidationError("rules: \(result.errors.map(\.description).joined(separator: "; "))") }
        let live = LiveRules()
        live.install(book)
        let plugin = DiscountCampaignsPlugin(rules: live)
        let pool = try DatabasePool(path: root + "/in-process.sqlite")
        var migrator = DatabaseMigrator()
        plugin.registerMigrations(&migrator)
        try migrator.migrate(pool)
        let handler = plugin.services["campaign.quote"]!
        var samples: [Double] = []
        for i in 0..<(bodies.count * 4) {
            let start = Monotonic.nanoseconds
            _ = try handler(ServiceRequest(service: "campaign.quote", body: bodies[i % bodies.count]), pool)
            samples.append(Double(Monotonic.nanoseconds - start) / 1e3)
        }
        samples = Array(samples.dropFirst(bodies.count)).sorted()
        return (samples[samples.count / 2], samples[min(samples.count - 1, Int(Double(samples.count) * 0.99))], samples.last ?? 0, samples.count)
    }

    private func waitForService(_ client: BusClient, body: [UInt8]) -> Bool {
        for _ in 0..<200 {
            if (try? client.request(service: "campaign.quote", body: body, timeoutMilliseconds: 500))?.status == .ok { return true }
            usleep(100_000)
        }
        return false
    }

    /// A small deterministic generator, so every run asks for the same baskets.
    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
