import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
import Testing
import ZeroMQ

/// `loyalty customer show`: the ledger a customer-service desk reads, each change with the
/// rules and rules version that caused it, from a running engine.
@Suite(.serialized) struct CustomerShowTests {
    @Test(.timeLimit(.minutes(2))) func theLedgerShowsEachChangeWithItsRulesAndCause() throws {
        let project = try TestProject(plugins: ["points-accrual"])
        defer { project.root.remove() }
        try """
            currency: NOK
            timezone: UTC
            earning:
              pending: 0d
              rules:
                - id: base
                  points: purchase.total / 10 NOK
                - id: big-basket
                  when: purchase.total >= 500 NOK
                  bonus: 40
            """.write(toFile: project.rulesDirectory + "/points.yaml", atomically: true, encoding: .utf8)
        let up = try project.start(["up", "--log-level", "warning"], log: "up.log")
        defer {
            if up.isRunning { up.terminate(); up.waitUntilExit() }
        }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: project.ingest)
        let start = Timestamp.now().epochMilliseconds - 3 * 86_400_000
        func purchase(_ id: String, _ amount: Int64, at: Int64) -> EventEnvelope {
            EventEnvelope(eventId: id, occurredAt: Timestamp(epochMilliseconds: at), source: "pos/S001/T1",
                          payload: .purchase(Purchase(storeId: "S001", terminalId: "T1", receiptId: id, customerId: "C1", currency: .NOK,
                                                      lines: [PurchaseLine(sku: "SKU", category: "meat", quantity: 1, unitPrice: amount)])!))
        }
        let refund = EventEnvelope(eventId: "r1", occurredAt: Timestamp(epochMilliseconds: start + 2000), source: "pos/S001/T1",
                                   payload: .return(Return(storeId: "S001", terminalId: "T1", receiptId: "r1", customerId: "C1",
                                                           originalEventId: "p1", currency: .NOK,
                                                           lines: [ReturnLine(sku: "SKU", quantity: 1, unitPrice: 100_00)], total: 100_00)))
        var last: Int64 = 0
        for event in [purchase("p1", 200_00, at: start), purchase("p2", 600_00, at: start + 1000), refund] {
            let ack = try client.publish(Sample.bytes(event), eventId: event.eventId, maxAttempts: 30)
            #expect(ack.status == .stored)
            last = ack.seq
        }
        let database = project.database(of: "points-accrual")
        #expect(waitUntil(seconds: 60) {
            ((try? DatabaseQueue(path: database).read { db in try Int64.fetchOne(db, sql: "SELECT appliedSeq FROM runtime_cursor") }) ?? 0 ?? 0) >= last
        }, "the plugin did not apply the events: \(project.log("up.log").suffix(2000))")

        let json = try runProcess(Executables.loyalty, ["customer", "show", "C1", "--json", "--config", project.configPath])
        #expect(json.status == 0, "\(json.output)")
        guard case .object(let shown)? = try? JSONParser.parse(Array(json.output.utf8)), case .array(let ledger)? = shown["ledger"] else {
            Issue.record("not a JSON object with a ledger: \(json.output)")
            return
        }
        let entries = ledger.compactMap { entry -> (kind: String, points: Int64, cause: String, version: String?, detail: String?)? in
            guard case .object(let e) = entry, case .string(let kind)? = e["kind"], case .int(let points)? = e["points"],
                  case .string(let cause)? = e["cause"] else { return nil }
            var version: String?, detail: String?
            if case .string(let v)? = e["rulesVersion"] { version = v }
            if case .string(let d)? = e["detail"] { detail = d }
            return (kind, points, cause, version, detail)
        }
        // In time order: two accruals with the rules that made them, then the return taking half of p1 back.
        #expect(entries.map(\.kind) == ["accrued", "accrued", "reversed"])
        #expect(entries.map(\.points) == [20, 100, -10])
        #expect(entries.map(\.cause) == ["p1", "p2", "r1"])
        #expect(entries[1].detail?.contains("big-basket") == true, "\(entries[1])")
        #expect(entries.allSatisfy { $0.version?.isEmpty == false }, "every change names its rules version")
        #expect(shown["available"] == .int(110))

        let text = try runProcess(Executables.loyalty, ["customer", "show", "C1", "--config", project.configPath])
        #expect(text.status == 0)
        #expect(text.output.contains("Points: 110 available"), "\(text.output)")
        #expect(text.output.contains("big-basket"), "\(text.output)")
        let missing = try runProcess(Executables.loyalty, ["customer", "show", "C404", "--config", project.configPath])
        #expect(missing.status != 0)
        #expect(missing.output.contains("no customer 'C404'"), "\(missing.output)")
    }
}
