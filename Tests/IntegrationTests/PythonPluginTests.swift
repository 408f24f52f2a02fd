import Foundation
import GRDB
import LoyaltyTestSupport
import LoyaltyWire
import Synchronization
import Testing
import ZeroMQ

/// The Python plugin `plugins/basket-stats` (docs/plugins.md) against a real bus: started by
/// `loyalty up` from its own manifest, SIGKILLed mid-stream and restarted, its figures still
/// exactly what the events imply and each derived event in the journal once, byte for byte as
/// expected; and, run on its own, a clean stop on SIGTERM and a catch-up from its cursor.
@Suite(.serialized) struct PythonPluginTests {
    static let pluginFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("plugins/basket-stats").path

    @Test(.timeLimit(.minutes(3))) func figuresStayExactAcrossKillsUnderLoyaltyUp() throws {
        let project = try TestProject(plugins: ["basket-stats"])
        defer { project.root.remove() }
        // The shipped folder itself, manifest and all: `loyalty up` must find and start the script.
        try FileManager.default.createSymbolicLink(atPath: project.root.path + "/plugins/basket-stats",
                                                   withDestinationPath: Self.pluginFolder)
        let up = try project.start(["up", "--log-level", "warning"], log: "up.log")
        defer {
            if up.isRunning { up.terminate(); up.waitUntilExit() }
        }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: project.ingest)
        #expect(waitUntil(seconds: 60) { (try? client.request(service: "basket-stats.daily", body: Array(#"{"storeId":"S1"}"#.utf8),
                                                               timeoutMilliseconds: 500))?.status == .ok },
                "the plugin did not come up: \(project.log("up.log").suffix(2000))")

        // The killer: SIGKILLs the plugin 3 times while the events go in, each time a fresh instance.
        let done = Atomic<Bool>(false)
        let kills = Mutex<[Int32]>([])
        let killer = OwnedThread(name: "killer") {
            var random = SystemRandomNumberGenerator()
            while kills.withLock({ $0.count }) < 3 && !done.load(ordering: .acquiring) {
                usleep(UInt32.random(in: 600_000...1_000_000, using: &random))
                guard let pid = project.pid(of: "basket-stats"), !kills.withLock({ $0.contains(pid) }) else { continue }
                kill(pid, SIGKILL)
                kills.withLock { $0.append(pid) }
            }
        }
        let scenario = BasketScenario(count: 700, seed: 7)
        for event in scenario.events {
            let ack = try client.publish(Array(event.json.utf8), eventId: event.eventId, maxAttempts: 30)
            #expect(ack.status == .stored, "\(event.eventId): \(ack)")
            usleep(8000)   // about 6 s of traffic, so the kills land mid-stream
        }
        while kills.withLock({ $0.count }) < 3 && waitUntil(seconds: 10, { project.pid(of: "basket-stats") != nil }) { usleep(100_000) }
        done.store(true, ordering: .releasing)
        killer.join()
        #expect(kills.withLock { $0.count } == 3)
        #expect(scenario.records.count >= 4, "the scenario must exercise record days")

        // Caught up: cursor at the head, outbox drained, every record day in the journal.
        let journal = try DatabaseQueue(path: project.journalPath)
        let pluginDatabase = project.database(of: "basket-stats")
        func settled() throws -> Bool {
            guard FileManager.default.fileExists(atPath: pluginDatabase) else { return false }
            let plugin = try DatabaseQueue(path: pluginDatabase)
            let head = try journal.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM journal") ?? 0 }
            let (applied, outbox) = try plugin.read { db in
                (try Int64.fetchOne(db, sql: "SELECT appliedSeq FROM runtime_cursor") ?? 0,
                 try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM runtime_outbox") ?? 0)
            }
            let records = try journal.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE type = 'store.record-day'") ?? 0 }
            return applied == head && outbox == 0 && records >= scenario.records.count
        }
        #expect(try waitUntil(seconds: 60, settled), "the plugin did not settle: \(project.log("up.log").suffix(2000))")

        // Each derived event once, with its derived id and the bytes the input implies.
        let stored = try journal.read { db in
            try Row.fetchAll(db, sql: "SELECT eventId, body FROM journal WHERE type = 'store.record-day' ORDER BY eventId")
                .map { ($0["eventId"] as String, String(decoding: $0["body"] as Data, as: UTF8.self)) }
        }
        let expected = scenario.records.sorted { $0.eventId < $1.eventId }
        #expect(stored.map(\.0) == expected.map(\.eventId))
        #expect(stored.map(\.1) == expected.map(\.json))

        // The service answers the exact figures: nothing applied twice, nothing lost. A SIGKILLed
        // instance stays registered until the bus expires it (3.5-4.5 s), and a request routed to it
        // comes back `unavailable`: safe to repeat for a query (protocol.md §10.2).
        func ask(_ body: String) throws -> Reply {
            let deadline = Date().addingTimeInterval(15)
            while true {
                let reply = try client.request(service: "basket-stats.daily", body: Array(body.utf8), timeoutMilliseconds: 2000)
                if reply.status == .ok || reply.status == .error || Date() > deadline { return reply }
                usleep(200_000)
            }
        }
        for store in ["S1", "S2"] {
            let reply = try ask(#"{"storeId":"\#(store)"}"#)
            #expect(reply.status == .ok)
            #expect(String(decoding: reply.body, as: UTF8.self) == scenario.expectedAnswer(store: store))
        }
        let oneDay = try ask(#"{"storeId":"S2","day":"2026-11-21"}"#)
        #expect(String(decoding: oneDay.body, as: UTF8.self) == scenario.expectedAnswer(store: "S2", day: "2026-11-21"))
        let refused = try ask(#"{"store":"S1"}"#)
        #expect(refused.status == .error)

        let failures = try DatabaseQueue(path: pluginDatabase).read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM runtime_failures") }
        #expect(failures == 0)
        #expect((project.restarts()["basket-stats"] ?? 0) >= 3)
        up.terminate()
        up.waitUntilExit()
        #expect(up.terminationStatus == 0)
    }

    @Test(.timeLimit(.minutes(2))) func stopsCleanlyOnSigtermAndCatchesUpFromItsCursor() throws {
        let project = try TestProject(plugins: [])
        defer { project.root.remove() }
        let bus = try project.start(["bus", "--log-level", "warning"], log: "bus.log")
        defer {
            if bus.isRunning { bus.terminate(); bus.waitUntilExit() }
        }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: project.ingest)
        let scenario = BasketScenario(count: 90, seed: 11)
        func send(_ range: Range<Int>) throws {
            for event in scenario.events[range] {
                let ack = try client.publish(Array(event.json.utf8), eventId: event.eventId, maxAttempts: 30)
                #expect(ack.status == .stored, "\(event.eventId): \(ack)")
            }
        }
        func answer(_ store: String) -> String? {
            guard let reply = try? client.request(service: "basket-stats.daily", body: Array(#"{"storeId":"\#(store)"}"#.utf8),
                                                  timeoutMilliseconds: 1000), reply.status == .ok else { return nil }
            return String(decoding: reply.body, as: UTF8.self)
        }
        func startPlugin(_ log: String) throws -> Process {
            let plugin = Process()
            plugin.executableURL = URL(fileURLWithPath: Self.pluginFolder + "/basket-stats.py")   // its shebang: /usr/bin/python3
            plugin.arguments = ["--config", project.configPath]
            plugin.currentDirectoryURL = URL(fileURLWithPath: project.root.path)
            _ = FileManager.default.createFile(atPath: project.root.path + "/" + log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: project.root.path + "/" + log))
            plugin.standardOutput = handle
            plugin.standardError = handle
            try plugin.run()
            return plugin
        }

        // Events stored before the plugin exists: it gets them by replay.
        try send(0..<40)
        let first = try startPlugin("plugin-1.log")
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        let upTo40 = BasketScenario(count: 90, seed: 11, upTo: 40)
        #expect(waitUntil(seconds: 30) { answer("S1") == upTo40.expectedAnswer(store: "S1") }, "\(project.log("plugin-1.log"))")
        // Live events.
        try send(40..<60)
        let upTo60 = BasketScenario(count: 90, seed: 11, upTo: 60)
        #expect(waitUntil(seconds: 30) { answer("S1") == upTo60.expectedAnswer(store: "S1") && answer("S2") == upTo60.expectedAnswer(store: "S2") })

        // Its progress in the runtime's metric names, for the merged scrape (`<plugin>.metrics`).
        let journal = try DatabaseQueue(path: project.journalPath)
        #expect(try waitUntil(seconds: 20) {
            let head = try journal.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM journal") ?? 0 }
            guard let reply = try? client.request(service: "basket-stats.metrics", body: [], timeoutMilliseconds: 1000), reply.status == .ok else { return false }
            let text = String(decoding: reply.body, as: UTF8.self)
            return text.contains("loyalty_plugin_applied_seq{plugin=\"basket-stats\"} \(head).0\n")
                && text.contains("loyalty_plugin_lag_events{plugin=\"basket-stats\"} 0.0\n")
                && text.contains("loyalty_plugin_outbox_pending{plugin=\"basket-stats\"} 0.0\n")
                && text.contains("loyalty_plugin_failures_total{plugin=\"basket-stats\"} 0\n")
        })

        // SIGTERM: exit 0, and the bus is told at once (`disconnect`), so a client is answered
        // `unavailable` now rather than `timeout` after the 3.5 s heartbeat expiry.
        first.terminate()
        let exited = waitUntil(seconds: 5) { !first.isRunning }
        #expect(exited, "the plugin did not stop on SIGTERM: \(project.log("plugin-1.log"))")
        if !exited { kill(first.processIdentifier, SIGKILL) }
        first.waitUntilExit()
        #expect(first.terminationReason == .exit && first.terminationStatus == 0, "\(project.log("plugin-1.log"))")
        let asked = Date()
        let afterStop = try client.request(service: "basket-stats.daily", body: Array(#"{"storeId":"S1"}"#.utf8), timeoutMilliseconds: 3000)
        #expect(afterStop.status == .unavailable)
        #expect(Date().timeIntervalSince(asked) < 1)

        // Events while it is down; restarted, it resumes after its cursor: all 90, each once.
        try send(60..<90)
        let second = try startPlugin("plugin-2.log")
        defer { if second.isRunning { kill(second.processIdentifier, SIGKILL) } }
        #expect(waitUntil(seconds: 30) { answer("S1") == scenario.expectedAnswer(store: "S1") && answer("S2") == scenario.expectedAnswer(store: "S2") },
                "\(answer("S1") ?? "no answer") \(project.log("plugin-2.log"))")
        #expect(try waitUntil(seconds: 20) {
            try journal.read { db in try String.fetchAll(db, sql: "SELECT eventId FROM journal WHERE type = 'store.record-day' ORDER BY eventId") }
                == scenario.records.map(\.eventId).sorted()
        })
    }
    /// Far behind the head, `Feed.follow_live` switches the SUB off (what it held is dropped and
    /// nothing more arrives), keeps it off at the window, and switches it back on within half of
    /// it; run on a real PUB/SUB pair in Python.
    @Test(.timeLimit(.minutes(1))) func switchesTheLiveFeedOffWhileFarBehind() throws {
        let directory = try TemporaryDirectory("basket-live")
        defer { directory.remove() }
        let script = directory.path + "/check.py"
        try #"""
            import importlib.util, sys, time, zmq
            spec = importlib.util.spec_from_file_location("basket_stats", sys.argv[1])
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            context = zmq.Context()
            pub = context.socket(zmq.PUB)
            pub.bind("inproc://live")
            feed = module.Feed.__new__(module.Feed)
            feed.sub = context.socket(zmq.SUB)
            feed.sub.setsockopt(zmq.RCVHWM, 0)
            feed.sub.setsockopt(zmq.SUBSCRIBE, b"")
            feed.sub.connect("inproc://live")
            feed.live_on = True
            time.sleep(0.2)
            def received(wait):
                got = 0
                while feed.sub.poll(wait):
                    feed.sub.recv_multipart()
                    got, wait = got + 1, 50
                return got
            pub.send_multipart([b"purchase", b"1", b"{}"])
            time.sleep(0.1)
            feed.follow_live(module.LIVE_WINDOW + 1)
            held = received(50)
            for seq in range(2, 12): pub.send_multipart([b"purchase", str(seq).encode(), b"{}"])
            off = received(200)
            feed.follow_live(module.LIVE_WINDOW)
            for seq in range(12, 15): pub.send_multipart([b"purchase", str(seq).encode(), b"{}"])
            still = received(200)
            feed.follow_live(module.LIVE_WINDOW // 2)
            time.sleep(0.2)
            for seq in range(15, 25): pub.send_multipart([b"purchase", str(seq).encode(), b"{}"])
            print(f"held={held} off={off} still={still} on={received(2000)}")
            """#.write(toFile: script, atomically: true, encoding: .utf8)
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = [script, Self.pluginFolder + "/basket-stats.py"]
        let output = Pipe()
        python.standardOutput = output
        python.standardError = output
        try python.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        #expect(text.contains("held=0 off=0 still=0 on=10"), "\(text)")
    }
}

/// Purchases, returns and surveys over two stores and three UTC days, in a seeded random order
/// (so a store's record day changes hands several times), some stamped in +01:00 so that the
/// UTC day differs from the local one; and an independent model of what basket-stats makes of them.
struct BasketScenario {
    struct Event { var eventId: String; var json: String }
    struct Record { var eventId: String; var json: String }
    struct Day { var receipts: Int64 = 0, revenue: Int64 = 0, returns: Int64 = 0, refunded: Int64 = 0 }

    private(set) var events: [Event] = []
    private(set) var records: [Record] = []
    private(set) var days: [String: [String: Day]] = [:]              // store → UTC day → figures
    private(set) var best: [String: (day: String, revenue: Int64)] = [:]

    /// - Parameter upTo: the model over the first `upTo` events only (all are still generated).
    init(count: Int, seed: UInt64, upTo: Int? = nil) {
        var random = SplitMix(seed: seed)
        func pick(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(random.next() % UInt64(range.count)) }
        var purchases: [String: [(eventId: String, total: Int64)]] = [:]
        for index in 0..<count {
            let store = index % 2 == 0 ? "S1" : "S2"
            let day = pick(20...22), hour = pick(0...23), minute = pick(0...59)
            let two = { (n: Int) in n < 10 ? "0\(n)" : "\(n)" }
            let utcDay = "2026-11-\(day)"
            let utc = "\(utcDay)T\(two(hour)):\(two(minute)):00"
            // Every third event is written in local time +01:00: 23:xx UTC is the next local day.
            let occurredAt = index % 3 == 0
                ? (hour == 23 ? "2026-11-\(day + 1)T00:\(two(minute)):00+01:00" : "\(utcDay)T\(two(hour + 1)):\(two(minute)):00+01:00")
                : utc + "Z"
            let eventId = "\(store)-T1-\(index)"
            let head = #"{"v":1,"eventId":"\#(eventId)","type":"#
            let applies = index < (upTo ?? count)
            if index % 7 == 6 {
                let nps = pick(0...10)
                events.append(Event(eventId: eventId, json: head + #""survey","occurredAt":"\#(occurredAt)","source":"survey/\#(store)","payload":{"storeId":"\#(store)","nps":\#(nps)}}"#))
            } else if index % 5 == 4, let bought = purchases[store].map({ $0[pick(0...($0.count - 1))] }) {
                let refund = Int64(pick(1...Int(bought.total)))
                events.append(Event(eventId: eventId, json: head + #""return","occurredAt":"\#(occurredAt)","source":"pos/\#(store)/T1","payload":{"storeId":"\#(store)","terminalId":"T1","receiptId":"\#(index)","originalEventId":"\#(bought.eventId)","currency":"NOK","lines":[{"sku":"A","quantity":1,"unitPrice":\#(refund)}],"total":\#(refund)}}"#))
                if applies {
                    days[store, default: [:]][utcDay, default: Day()].returns += 1
                    days[store, default: [:]][utcDay, default: Day()].refunded += refund
                }
            } else {
                let quantity = pick(1...3), price = pick(50...4000)
                let total = Int64(quantity * price)
                events.append(Event(eventId: eventId, json: head + #""purchase","occurredAt":"\#(occurredAt)","source":"pos/\#(store)/T1","payload":{"storeId":"\#(store)","terminalId":"T1","receiptId":"\#(index)","currency":"NOK","lines":[{"sku":"A","category":"grocery","quantity":\#(quantity),"unitPrice":\#(price)}],"total":\#(total)}}"#))
                purchases[store, default: []].append((eventId, total))
                guard applies else { continue }
                days[store, default: [:]][utcDay, default: Day()].receipts += 1
                days[store, default: [:]][utcDay, default: Day()].revenue += total
                let figures = days[store]![utcDay]!
                if let record = best[store], record.day != utcDay {
                    if figures.revenue > record.revenue {
                        best[store] = (utcDay, figures.revenue)
                        let id = "\(eventId)/basket-stats/record-day"
                        records.append(Record(eventId: id, json: #"{"v":1,"eventId":"\#(id)","type":"store.record-day","occurredAt":"\#(utc).000Z","source":"plugin/basket-stats","payload":{"storeId":"\#(store)","currency":"NOK","day":"\#(utcDay)","revenue":\#(figures.revenue),"receipts":\#(figures.receipts),"previousDay":"\#(record.day)","previousRevenue":\#(record.revenue)}}"#))
                    }
                } else {
                    best[store] = (utcDay, figures.revenue)
                }
            }
        }
    }

    /// The exact body `basket-stats.daily` must answer.
    func expectedAnswer(store: String, day: String? = nil) -> String {
        let rows = (days[store] ?? [:]).filter { day == nil || $0.key == day }.sorted { $0.key < $1.key }.map { utcDay, figures in
            let average = figures.receipts == 0 ? "null" : "\((2 * figures.revenue + figures.receipts) / (2 * figures.receipts))"
            return #"{"day":"\#(utcDay)","currency":"NOK","receipts":\#(figures.receipts),"revenue":\#(figures.revenue),"averageBasket":\#(average),"returns":\#(figures.returns),"refunded":\#(figures.refunded),"net":\#(figures.revenue - figures.refunded)}"#
        }
        let record = best[store].map { #"[{"currency":"NOK","day":"\#($0.day)","revenue":\#($0.revenue)}]"# } ?? "[]"
        return #"{"storeId":"\#(store)","days":[\#(rows.joined(separator: ","))],"records":\#(record)}"#
    }
}
