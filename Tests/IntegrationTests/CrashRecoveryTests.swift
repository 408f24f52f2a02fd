import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
import Synchronization
import Testing
import ZeroMQ

/// The foundation's promise, end to end: 10,000 purchases from 4 concurrent clients while the
/// bus and the plugin are SIGKILLed at random moments (3 times each) and restarted by
/// `loyalty up`. Every acknowledged event is in the journal exactly once, none is missing, and
/// the plugin's state is exactly what the distinct events imply.
@Suite(.serialized) struct CrashRecoveryTests {
    @Test(.timeLimit(.minutes(5))) func everyAcknowledgedEventIsAppliedExactlyOnceAcrossKills() throws {
        let project = try TestProject()
        defer { project.root.remove() }
        let up = try project.start(["up", "--log-level", "warning"], log: "up.log")
        defer {
            if up.isRunning { up.terminate(); up.waitUntilExit() }
        }
        #expect(waitUntil(seconds: 60) { project.pid(of: "bus") != nil && project.pid(of: "store-counter") != nil },
                "loyalty up did not start: \(project.log("up.log"))")

        // 4 clients × 2,500 purchases, one store each, paced so that the kills land mid-stream.
        let clients = 4, perClient = 2500
        let acknowledged = Mutex<[String: AckStatus]>([:])
        let unacknowledged = Mutex<[String]>([])
        let context = try ZMQContext()
        let ingest = project.ingest
        let senders = (0..<clients).map { client in
            OwnedThread(name: "client-\(client)") {
                let events = (1...perClient).map {
                    Sample.purchase(store: "S00\(client + 1)", terminal: "T\(client + 1)", receipt: $0, amount: Int64(100 + $0))
                }.map { OutgoingEvent(eventId: $0.eventId, envelope: Sample.bytes($0)) }
                do {
                    let publisher = try PipelinedPublisher(context: context, endpoint: ingest, window: 200, resendAfterMilliseconds: 1000)
                    let summary = try publisher.publish(events, ratePerSecond: 250, deadlineMilliseconds: 180_000, onAck: { ack, _ in
                        acknowledged.withLock { $0[ack.eventId] = ack.status }
                    })
                    unacknowledged.withLock { $0 += summary.unacknowledged }
                } catch {
                    unacknowledged.withLock { $0.append("client \(client): \(error)") }
                }
            }
        }

        // The killer: alternately the bus and the plugin, at random moments, 3 times each.
        var random = SystemRandomNumberGenerator()
        var kills: [String] = []
        for round in 0..<6 {
            usleep(UInt32.random(in: 600_000...1_300_000, using: &random))
            let victim = round % 2 == 0 ? "bus" : "store-counter"
            guard waitUntil(seconds: 30, { project.pid(of: victim) != nil }), let pid = project.pid(of: victim) else {
                Issue.record("\(victim) did not come back after a kill: \(project.log("up.log").suffix(2000))")
                break
            }
            kill(pid, SIGKILL)
            kills.append("\(victim):\(pid)")
        }
        for sender in senders { sender.join() }

        #expect(kills.count == 6)
        #expect(unacknowledged.withLock { $0 }.isEmpty)
        let acks = acknowledged.withLock { $0 }
        #expect(acks.count == clients * perClient)
        #expect(acks.values.allSatisfy { $0 == .stored || $0 == .duplicate })

        // The journal holds every acknowledged purchase exactly once.
        let journal = try DatabaseQueue(path: project.journalPath)
        let stored = try journal.read { db in try String.fetchAll(db, sql: "SELECT eventId FROM journal WHERE type = 'purchase'") }
        #expect(stored.count == clients * perClient)
        #expect(Set(stored) == Set(acks.keys))

        // The plugin catches up to the head, and its state is what the distinct events imply.
        let plugin = try DatabaseQueue(path: project.pluginDatabase)
        func caughtUp() throws -> Bool {
            let head = try journal.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM journal") ?? 0 }
            let applied = try plugin.read { db in try Int64.fetchOne(db, sql: "SELECT appliedSeq FROM runtime_cursor") ?? 0 }
            let milestones = try journal.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE type = 'store.milestone'") ?? 0 }
            return applied == head && milestones == clients * (perClient / 1000)
        }
        #expect(try waitUntil(seconds: 60, caughtUp), "plugin did not catch up: \(project.log("up.log").suffix(2000))")
        let counts = try plugin.read { db in
            try Row.fetchAll(db, sql: "SELECT storeId, purchases, netAmount FROM store_counts ORDER BY storeId")
                .map { ($0["storeId"] as String, $0["purchases"] as Int, $0["netAmount"] as Int64) }
        }
        let expectedNet = Int64((1...perClient).reduce(0) { $0 + 100 + $1 })
        #expect(counts.map(\.0) == (1...clients).map { "S00\($0)" })
        #expect(counts.allSatisfy { $0.1 == perClient && $0.2 == expectedNet })
        // Derived events: each milestone once, with the id derived from its input.
        // The 1000th and 2000th purchase of each store in journal order (resends after a kill
        // can reorder a client's events) are the inputs of the milestones.
        let purchases = try journal.read { db in try Data.fetchAll(db, sql: "SELECT body FROM journal WHERE type = 'purchase' ORDER BY seq") }
        var perStore: [String: Int] = [:]
        var expectedMilestones: [String] = []
        for body in purchases {
            let envelope = try EventCodec.decode([UInt8](body))
            let count = (perStore[envelope.storeId!] ?? 0) + 1
            perStore[envelope.storeId!] = count
            if count % 1000 == 0 { expectedMilestones.append("\(envelope.eventId)/store-counter/milestone") }
        }
        let milestones = try journal.read { db in try String.fetchAll(db, sql: "SELECT eventId FROM journal WHERE type = 'store.milestone'") }
        #expect(milestones.sorted() == expectedMilestones.sorted())
        #expect(milestones.count == clients * 2)
        let restartCounts = project.restarts()
        #expect((restartCounts["bus"] ?? 0) >= 3)
        #expect((restartCounts["store-counter"] ?? 0) >= 3)

        up.terminate()
        up.waitUntilExit()
        #expect(up.terminationStatus == 0)
    }
}
