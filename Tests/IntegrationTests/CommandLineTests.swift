import Foundation
import LoyaltyTestSupport
import Testing

/// The `loyalty` command as a user runs it, against a real bus process; and a Python client
/// written from docs/protocol.md alone, against the same bus.
@Suite(.serialized) struct CommandLineTests {
    /// Starts `loyalty bus` for a test project and waits until it acknowledges.
    func withBus(_ body: (TestProject) throws -> Void) throws {
        let project = try TestProject()
        defer { project.root.remove() }
        let bus = try project.start(["bus", "--log-level", "warning"], log: "bus.log")
        defer {
            bus.terminate()
            bus.waitUntilExit()
        }
        #expect(waitUntil(seconds: 30) { FileManager.default.fileExists(atPath: project.journalPath) })
        try body(project)
    }

    @Test func posSendStoresThenReportsDuplicateAndRefusesInvalidInput() throws {
        try withBus { project in
            let flags = ["pos", "send", "--config", project.configPath, "--store", "S001", "--terminal", "T1", "--receipt", "42",
                         "--customer", "C000001", "--line", "COF-001:coffee:2:3900", "--at", "2026-11-23T10:00:00Z"]
            let first = try runProcess(Executables.loyalty, flags)
            #expect(first.status == 0)
            #expect(first.output.contains("S001-T1-42: stored at seq 1"))
            let again = try runProcess(Executables.loyalty, flags)
            #expect(again.status == 0)
            #expect(again.output.contains("duplicate at seq 1"))

            let bad = #"{"v":1,"eventId":"x-1","type":"purchase","occurredAt":"2026-11-23T10:00:00Z","source":"pos","payload":{"storeId":"S1","terminalId":"T1","receiptId":"1","currency":"NOK","lines":[{"sku":"A","category":"c","quantity":1,"unitPrice":100}],"totl":100}}"#
            let refused = try runProcess(Executables.loyalty, ["pos", "send", "--config", project.configPath, "--json", "-"], input: bad)
            #expect(refused.status == 2)
            #expect(refused.output.contains("payload.totl"))
            #expect(refused.output.contains("did you mean 'total'"))

            let line = try runProcess(Executables.loyalty, ["pos", "send", "--config", project.configPath, "--store", "S1",
                                                            "--terminal", "T1", "--receipt", "9", "--line", "A:coffee:two:100"])
            #expect(line.status != 0)
            #expect(line.output.contains("--line #1"))

            let status = try runProcess(Executables.loyalty, ["status", "--config", project.configPath, "--json", "--interval", "0.1"])
            #expect(status.status == 0)
            #expect(status.output.contains("\"journalHead\":1"))
        }
    }

    @Test func posSendWithoutABusGivesUpWithAReason() throws {
        let project = try TestProject()
        defer { project.root.remove() }
        let result = try runProcess(Executables.loyalty, ["pos", "send", "--config", project.configPath, "--store", "S1", "--terminal", "T1",
                                                          "--receipt", "1", "--line", "A:coffee:1:100", "--attempts", "2", "--timeout-ms", "200"])
        #expect(result.status == 3)
        #expect(result.output.contains("no acknowledgement"))
    }

    @Test func requestForAServiceNobodyOffersIsUnavailable() throws {
        try withBus { project in
            let result = try runProcess(Executables.loyalty, ["request", "--config", project.configPath, "points.balance", "{}"])
            #expect(result.status == 3)
            #expect(result.output.contains("no plugin offering 'points.balance'"))
        }
    }

    @Test func pythonClientWrittenFromTheProtocolDocumentWorks() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("python/test_protocol.py").path
        try withBus { project in
            let result = try runProcess("/usr/bin/python3", [script, "--ingest", project.ingest,
                                                             "--replay", "tcp://127.0.0.1:\(project.ports.replay)"])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("8 passed, 0 failed"), "\(result.output)")
        }
    }
}
