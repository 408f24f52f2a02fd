import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
import Synchronization
import Testing
import ZeroMQ

/// Points under fire: random purchases, returns (some of another customer's receipt),
/// redemptions (some retried with the same key) and clock advances, while the points plugin is
/// SIGKILLed at random moments and restarted by `loyalty up`. Balances end equal to a simple
/// reference model; no lot goes below zero; every spend is linked to a lot; nothing is applied
/// twice.
@Suite(.serialized) struct PointsCrashTests {
    @Test(.timeLimit(.minutes(5))) func balancesMatchTheModelAcrossKills() throws {
        let project = try TestProject(plugins: ["points-accrual"])
        defer { project.root.remove() }
        try ReferenceLedger.rules.write(toFile: project.rulesDirectory + "/points.yaml", atomically: true, encoding: .utf8)
        let up = try project.start(["up", "--log-level", "warning"], log: "up.log")
        defer {
            if up.isRunning { up.terminate(); up.waitUntilExit() }
        }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: project.ingest)
        #expect(waitUntil(seconds: 60) {
            (try? client.request(service: "points-accrual.rules", body: Array("{}".utf8), timeoutMilliseconds: 500))?.status == .ok
        }, "the plugin did not come up: \(project.log("up.log").suffix(2000))")

        // The killer: SIGKILLs the plugin 4 times at random moments while the operations run.
        let done = Atomic<Bool>(false)
        let kills = Mutex<[Int32]>([])
        let killer = OwnedThread(name: "killer") {
            var random = SystemRandomNumberGenerator()
            while kills.withLock({ $0.count }) < 4 && !done.load(ordering: .acquiring) {
                usleep(UInt32.random(in: 300_000...900_000, using: &random))
                guard let pid = project.pid(of: "points-accrual") else { continue }
                kill(pid, SIGKILL)
                kills.withLock { $0.append(pid) }
            }
        }
        defer {
            done.store(true, ordering: .releasing)
            killer.join()
        }

        let plugin = project.database(of: "points-accrual")
        func applied() -> Int64 {
            (try? DatabaseQueue(path: plugin).read { db in try Int64.fetchOne(db, sql: "SELECT appliedSeq FROM runtime_cursor") }) ?? 0 ?? 0
        }
        func send(_ envelope: EventEnvelope) throws -> Int64 {
            while true {
                let ack = try client.publish(Sample.bytes(envelope), eventId: envelope.eventId, maxAttempts: 30)
                if ack.status == .stored || ack.status == .duplicate { return ack.seq }
                Issue.record("\(envelope.eventId): \(ack)")
                return 0
            }
        }
        /// Asks until the plugin answers ok or refuses; a timeout or a dead worker is retried
        /// with the same key.
        func redeem(_ customer: String, _ points: Int64, key: String) throws -> Bool {
            let body = JSONWriter.serialize(.object(["customerId": .string(customer), "points": .int(points), "idempotencyKey": .string(key)]))
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                guard let reply = try? client.request(service: "points.redeem", body: body, timeoutMilliseconds: 2000) else { continue }
                switch reply.status {
                case .ok: return true
                case .error:
                    let text = String(decoding: reply.body, as: UTF8.self)
                    if text.hasPrefix("balance short") { return false }
                    if text.contains("already used") { return true }
                    Issue.record("redeem \(key): \(text)")
                    return false
                default:
                    usleep(100_000)
                }
            }
            Issue.record("redeem \(key): no answer in 60 s")
            return false
        }

        var model = ReferenceLedger()
        var clock = Timestamp.now().epochMilliseconds - 400 * ReferenceLedger.day
        var lastSeq: Int64 = 0
        var mismatches: [String] = []
        let operations = PointsOperation.random(count: 400, seed: 20_261_123)
        for op in operations {
            switch op.kind {
            case .purchase(let amount):
                let line = PurchaseLine(sku: "SKU", category: "meat", quantity: 1, unitPrice: amount)
                lastSeq = try send(EventEnvelope(eventId: op.id, occurredAt: Timestamp(epochMilliseconds: clock), source: "pos/S001/T1",
                                                 payload: .purchase(Purchase(storeId: "S001", terminalId: "T1", receiptId: op.id,
                                                                             customerId: op.customer, currency: .NOK, lines: [line])!)))
                model.purchase(op.id, customer: op.customer, amount: amount, at: clock)
            case .refund(let original, let amount, let claimant):
                lastSeq = try send(EventEnvelope(eventId: op.id, occurredAt: Timestamp(epochMilliseconds: clock), source: "pos/S001/T1",
                                                 payload: .return(Return(storeId: "S001", terminalId: "T1", receiptId: op.id, customerId: claimant,
                                                                         originalEventId: original, currency: .NOK,
                                                                         lines: [ReturnLine(sku: "SKU", quantity: 1, unitPrice: amount)], total: amount))))
                if claimant == op.customer { model.refund(of: original, customer: claimant, amount: amount, at: clock) } else { model.expire(at: clock) }
            case .redeem(let points, let key):
                // A redemption sees every event sent before it.
                let target = lastSeq
                #expect(waitUntil(seconds: 60) { applied() >= target }, "the plugin did not catch up to \(target)")
                let expected = model.redeem(op.customer, points, key: key, at: Timestamp.now().epochMilliseconds)
                let answer = try redeem(op.customer, points, key: key)
                if answer != expected { mismatches.append("\(op): plugin \(answer), model \(expected)") }
            case .advance(let milliseconds):
                clock = min(clock + milliseconds, Timestamp.now().epochMilliseconds - ReferenceLedger.day)
            }
        }
        done.store(true, ordering: .releasing)
        #expect(kills.withLock { $0.count } >= 2, "the plugin was killed only \(kills.withLock { $0.count }) times")
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")

        // Caught up: every event sent, and the redemptions' own events, are applied.
        let head = try DatabaseQueue(path: project.journalPath).read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM journal") ?? 0 }
        #expect(waitUntil(seconds: 60) { applied() >= head })
        let now = Timestamp.now().epochMilliseconds
        for customer in ["C1", "C2", "C3"] {
            let reply = try client.request(service: "points.balance", body: JSONWriter.serialize(.object(["customerId": .string(customer)])))
            guard case .object(let balance)? = try? JSONParser.parse(reply.body), case .int(let available)? = balance["available"],
                  case .int(let owed)? = balance["owed"], case .int(let pending)? = balance["pending"] else {
                Issue.record("balance of \(customer): \(String(decoding: reply.body, as: UTF8.self))")
                continue
            }
            #expect(available + owed == model.available(customer, at: now) + model.owed[customer, default: 0], "\(customer)")
            #expect(owed == model.owed[customer, default: 0], "\(customer)")
            #expect(pending == model.pending(customer, at: now), "\(customer)")
        }
        let problems = try DatabaseQueue(path: plugin).read { db -> [String] in
            var problems: [String] = []
            if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM lots WHERE remaining < 0 OR remaining > points") != 0 { problems.append("a lot below zero") }
            if try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM redemptions r WHERE r.points != (SELECT COALESCE(SUM(points), 0) FROM spends s WHERE s.redemptionId = r.redemptionId)
                """) != 0 { problems.append("a redemption whose spends do not add up") }
            // One lot per purchase (the lot is its accrual, or its receipt when it earned nothing).
            let purchases = operations.filter {
                if case .purchase = $0.kind { return true } else { return false }
            }
            if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM lots") != purchases.count {
                problems.append("a purchase accrued twice or not recorded")
            }
            return problems
        }
        #expect(problems.isEmpty, "\(problems)")
    }
}
