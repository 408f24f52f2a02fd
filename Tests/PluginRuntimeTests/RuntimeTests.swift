import Foundation
import GRDB
import Logging
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
@testable import PluginRuntime
import Testing
import ZeroMQ

/// Records how many times each event was applied, emits one derived event per purchase,
/// fails on purpose for receipt 13, and answers `test.count`.
struct CountingPlugin: LoyaltyPlugin {
    let name = "counting"
    let topics: Set<String> = ["purchase"]

    func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("counting v1") { db in
            try db.execute(sql: "CREATE TABLE applied (eventId TEXT PRIMARY KEY, times INTEGER NOT NULL)")
        }
    }

    func apply(_ event: StoredEvent, in db: Database, emit: inout Emitter) throws {
        try db.execute(sql: "INSERT INTO applied (eventId, times) VALUES (?, 1) ON CONFLICT(eventId) DO UPDATE SET times = times + 1",
                       arguments: [event.envelope.eventId])
        if event.envelope.eventId.hasSuffix("-13") { throw TestFailure(message: "receipt 13 is refused on purpose") }
        emit.emit(type: "test.seen", key: "seen", payload: ["seq": .int(event.seq)])
    }

    var services: [String: ServiceHandler] {
        ["test.count": { _, pool in
            let count = try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM applied") ?? 0 }
            return .ok(Array(String(count).utf8))
        }]
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Asks `service` through the bus, again every 50 ms while no worker has registered it; nil
/// after 5 s without an `ok`.
func askOnceServed(_ fixture: BusFixture, service: String) async throws -> Reply? {
    let context = fixture.context, endpoint = fixture.configuration.ingestEndpoint
    return try await runOffPool { () -> Reply? in
        let client = try BusClient(context: context, endpoint: endpoint)
        for _ in 0..<100 {
            let reply = try client.request(service: service, body: [], timeoutMilliseconds: 1000)
            if reply.status == .ok { return reply }
            usleep(50_000)   // not registered yet
        }
        return nil
    }
}

/// Runs a plugin runtime in this process until `stop()`.
final class RunningPlugin: Sendable {
    let runtime: PluginRuntime
    let task: Task<Void, any Error>

    init(_ fixture: BusFixture, database: String, tuning: FeedTuning = FeedTuning()) throws {
        let endpoints = PluginEndpoints(ingest: fixture.configuration.ingestEndpoint, publish: fixture.configuration.publishEndpoint,
                                        replay: fixture.configuration.replayEndpoint, databasePath: database)
        let runtime = try PluginRuntime(plugin: CountingPlugin(), endpoints: endpoints, logger: Logger(label: "test.plugin"),
                                        feedTuning: tuning)
        self.runtime = runtime
        task = Task { try await runtime.run() }
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

@Suite(.serialized) struct RuntimeTests {
    func publish(_ fixture: BusFixture, receipts: ClosedRange<Int>) async throws -> PublishSummary {
        let context = fixture.context, endpoint = fixture.configuration.ingestEndpoint
        return try await runOffPool {
            let publisher = try PipelinedPublisher(context: context, endpoint: endpoint)
            return try publisher.publish(receipts.map { Sample.purchase(receipt: $0) }.map {
                OutgoingEvent(eventId: $0.eventId, envelope: Sample.bytes($0))
            })
        }
    }

    func applied(_ database: String) throws -> [String: Int] {
        let queue = try DatabaseQueue(path: database)
        return try queue.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT eventId, times FROM applied").map { ($0["eventId"], $0["times"]) })
        }
    }

    func eventually(_ seconds: Double = 30, _ condition: () throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try condition()
    }

    @Test func catchesUpThenFollowsLiveAndAppliesEachEventOnce() async throws {
        let fixture = try BusFixture()
        let database = fixture.directory.path + "/counting.sqlite"
        // History first (replay), then live events while running.
        #expect(try await publish(fixture, receipts: 1...300).stored == 300)
        let plugin = try RunningPlugin(fixture, database: database)
        #expect(try await publish(fixture, receipts: 301...600).stored == 600 - 300)
        // Receipt 13 fails on purpose, and its writes are rolled back.
        #expect(try await eventually { try applied(database).count == 599 })
        await plugin.stop()

        let counts = try applied(database)
        #expect(counts.count == 599)
        #expect(counts["S001-T1-13"] == nil)
        #expect(counts.values.allSatisfy { $0 == 1 })
    }

    @Test func switchesTheLiveFeedOffWhileFarBehindAndMissesNothing() async throws {
        let fixture = try BusFixture()
        let database = fixture.directory.path + "/counting.sqlite"
        #expect(try await publish(fixture, receipts: 1...2000).stored == 2000)
        // 2,000 events behind with a window of 300: the feed is off for most of the catch-up,
        // while live purchases (and the plugin's own derived events) are published.
        let plugin = try RunningPlugin(fixture, database: database, tuning: FeedTuning(replayBatch: 100, catchUpRun: 200, liveWindow: 300))
        #expect(try await publish(fixture, receipts: 2001...3000).stored == 1000)
        #expect(try await eventually { try applied(database).count == 2999 })
        // Back on: events published once it has caught up arrive through the live feed.
        #expect(try await publish(fixture, receipts: 3001...3100).stored == 100)
        #expect(try await eventually { try applied(database).count == 3099 })
        #expect(try await eventually { try plugin.runtime.appliedSeq() == fixture.bus.journal.head() })
        let metrics = String(decoding: plugin.runtime.metrics.registry.emitToBuffer(), as: UTF8.self)
        await plugin.stop()

        let counts = try applied(database)
        #expect(counts.count == 3099)
        #expect(counts.values.allSatisfy { $0 == 1 })
        let pauses = metrics.split(separator: "\n").first { $0.hasPrefix("loyalty_plugin_live_feed_pauses_total{plugin=\"counting\"} ") }
        #expect(pauses.flatMap { Int($0.split(separator: " ").last ?? "") }.map { $0 >= 1 } == true, "\(metrics)")
    }

    @Test func restartResumesFromTheCursorWithoutDoubleEffects() async throws {
        let fixture = try BusFixture()
        let database = fixture.directory.path + "/counting.sqlite"
        let first = try RunningPlugin(fixture, database: database)
        _ = try await publish(fixture, receipts: 1...200)
        #expect(try await eventually { try applied(database).count == 199 })
        await first.stop()
        // Events while the plugin is down, and a bus restart, are caught up on return.
        _ = try await publish(fixture, receipts: 201...400)
        try fixture.restart()
        let second = try RunningPlugin(fixture, database: database)
        _ = try await publish(fixture, receipts: 401...500)
        #expect(try await eventually { try applied(database).count == 499 })
        // The cursor reaches the head once the derived events are in too.
        #expect(try await eventually { try second.runtime.appliedSeq() == fixture.bus.journal.head() })
        await second.stop()
        let counts = try applied(database)
        #expect(counts.count == 499)
        #expect(counts.values.allSatisfy { $0 == 1 })
    }

    @Test func derivedEventsReachTheJournalOnceWithDerivedIds() async throws {
        let fixture = try BusFixture()
        let database = fixture.directory.path + "/counting.sqlite"
        let plugin = try RunningPlugin(fixture, database: database)
        _ = try await publish(fixture, receipts: 1...50)
        // 49 derived events: receipt 13 fails on purpose and emits nothing.
        #expect(try await eventually { try fixture.bus.journal.count() == 50 + 49 })
        await plugin.stop()
        let derived = try fixture.bus.journal.read(after: 0, limit: 1000, types: ["test.seen"]).entries
        let ids = try derived.map { try EventCodec.decode($0.body).eventId }
        #expect(Set(ids).count == 49)
        #expect(ids.contains("S001-T1-1/counting/seen"))
        #expect(!ids.contains("S001-T1-13/counting/seen"))
        // The failure is recorded, and the event's writes were rolled back.
        let queue = try DatabaseQueue(path: database)
        let failures = try await queue.read { db in try String.fetchAll(db, sql: "SELECT eventId FROM runtime_failures") }
        #expect(failures == ["S001-T1-13"])
        #expect(try applied(database)["S001-T1-13"] == nil)
        // Restarting with the same outbox re-sends nothing new: the journal is unchanged.
        let again = try RunningPlugin(fixture, database: database)
        try await Task.sleep(for: .milliseconds(500))
        await again.stop()
        #expect(try fixture.bus.journal.count() == 99)
    }

    @Test func servesRequestsThroughTheBus() async throws {
        let fixture = try BusFixture()
        let database = fixture.directory.path + "/counting.sqlite"
        let plugin = try RunningPlugin(fixture, database: database)
        _ = try await publish(fixture, receipts: 1...20)
        #expect(try await eventually { try plugin.runtime.appliedSeq() >= 20 })
        let reply = try await askOnceServed(fixture, service: "test.count")
        #expect(reply?.bodyText == "19")   // receipt 13 rolled back
        await plugin.stop()
    }

    @Test(.timeLimit(.minutes(1))) func answersItsMetricsThroughTheBus() async throws {
        let fixture = try BusFixture()
        let database = fixture.directory.path + "/counting.sqlite"
        let plugin = try RunningPlugin(fixture, database: database)
        _ = try await publish(fixture, receipts: 1...40)
        let context = fixture.context, endpoint = fixture.configuration.ingestEndpoint, journal = fixture.bus.journal
        // 40 purchases and 39 derived events (receipt 13 fails): the cursor reaches seq 79, lag 0.
        let text = try await runOffPool { () -> String? in
            let client = try BusClient(context: context, endpoint: endpoint)
            for _ in 0..<200 {
                let reply = try client.request(service: "counting.metrics", body: [], timeoutMilliseconds: 1000)
                if reply.status == .ok, try journal.head() == 79,
                   reply.bodyText.contains("loyalty_plugin_applied_seq{plugin=\"counting\"} 79.0"),
                   reply.bodyText.contains("loyalty_plugin_lag_events{plugin=\"counting\"} 0.0") { return reply.bodyText }
                usleep(50_000)
            }
            return nil
        }
        await plugin.stop()
        let metrics = try #require(text)
        #expect(metrics.contains("loyalty_plugin_events_applied_total{plugin=\"counting\"} 39\n"))
        #expect(metrics.contains("loyalty_plugin_failures_total{plugin=\"counting\"} 1\n"))
        #expect(metrics.contains("loyalty_plugin_head_seq{plugin=\"counting\"} 79.0\n"))
        #expect(metrics.contains("loyalty_plugin_outbox_pending{plugin=\"counting\"} "))
        #expect(metrics.contains("# TYPE loyalty_plugin_apply_seconds histogram\n"))
    }
}
