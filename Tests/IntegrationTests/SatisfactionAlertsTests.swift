import Foundation
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
import Testing
import ZeroMQ

extension Executables {
    static var satisfaction: String { directory + "/satisfaction" }
}

/// The real `loyalty up` with the satisfaction plugin, and the real `loyalty alerts` reading it.
@Suite(.serialized) struct SatisfactionAlertsTests {
    /// A project running the satisfaction plugin with one per-answer rule: any score of 0-2 alerts.
    static func project() throws -> TestProject {
        let project = try TestProject(plugins: ["satisfaction"])
        try FileManager.default.createDirectory(atPath: project.root.path + "/plugins/satisfaction", withIntermediateDirectories: true)
        try """
            name: satisfaction
            executable: \(Executables.satisfaction)
            topics:
              in: [survey, purchase, customer.scored]
              out: [alert.raised, alert.resolved, rules.activated, alert.config]
            services: [satisfaction.report, satisfaction.alerts, satisfaction.rules]
            rules: [alerts]
            """.write(toFile: project.root.path + "/plugins/satisfaction/plugin.yaml", atomically: true, encoding: .utf8)
        try """
            alerts:
              - id: very-unhappy
                when: survey.nps <= 2
                severity: high
                message: A customer is very unhappy
            """.write(toFile: project.rulesDirectory + "/alerts.yaml", atomically: true, encoding: .utf8)
        return project
    }

    static func survey(_ id: String, customer: String, nps: Int) -> EventEnvelope {
        EventEnvelope(eventId: id, occurredAt: .now(), source: "pos/S001/T1",
                      payload: .survey(Survey(storeId: "S001", customerId: customer, nps: nps)))
    }

    /// The JSON objects `loyalty alerts --json` printed so far.
    static func printed(_ project: TestProject, _ log: String) -> [JSONObject] {
        project.log(log).split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{"), case .object(let object)? = try? JSONParser.parse(String(line)) else { return nil }
            return object
        }
    }

    static func waitForPlugin(_ client: BusClient, _ project: TestProject) {
        let up = waitUntil(seconds: 60) {
            (try? client.request(service: "satisfaction.alerts", body: Array("{}".utf8), timeoutMilliseconds: 1000))?.status == .ok
        }
        #expect(up, "the satisfaction plugin did not come up: \(project.log("up.log").suffix(3000))")
    }

    @Test(.timeLimit(.minutes(3))) func anAlertIsPrintedWithinOneSecondOfItsEventAndCtrlCEndsCleanly() throws {
        let project = try Self.project()
        defer { project.root.remove() }
        let up = try project.start(["up"], log: "up.log")
        defer { if up.isRunning { up.terminate(); up.waitUntilExit() } }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: project.ingest)
        Self.waitForPlugin(client, project)

        let alerts = try project.start(["alerts", "--json"], log: "alerts.log")
        defer { if alerts.isRunning { alerts.terminate(); alerts.waitUntilExit() } }
        #expect(waitUntil(seconds: 30) { project.log("alerts.log").contains("following live alerts") }, "\(project.log("alerts.log"))")

        // A happy answer raises nothing; the unhappy one must be on screen within a second.
        _ = try client.publish(Sample.bytes(Self.survey("sv-happy", customer: "C1", nps: 10)), eventId: "sv-happy")
        let started = Date()
        let ack = try client.publish(Sample.bytes(Self.survey("sv-unhappy", customer: "C2", nps: 1)), eventId: "sv-unhappy")
        #expect(ack.status == .stored)
        var shown: JSONObject?
        _ = waitUntil(seconds: 10) {
            shown = Self.printed(project, "alerts.log").first { $0["customerId"] == .string("C2") }
            return shown != nil
        }
        let elapsed = Date().timeIntervalSince(started)
        #expect(shown != nil, "no alert printed: \(project.log("alerts.log").suffix(2000))")
        print("loyalty alerts: the alert appeared \(Int(elapsed * 1000)) ms after its survey was acknowledged")
        #expect(elapsed < 1.0, "the alert took \(elapsed) s to appear")
        #expect(shown?["type"] == .string("alert.raised"))
        #expect(shown?["rule"] == .string("very-unhappy"))
        #expect(shown?["severity"] == .string("high"))
        #expect(Self.printed(project, "alerts.log").count == 1)

        // SIGTERM (what Ctrl-C's SIGINT also does): a clean exit, status 0.
        let stopping = Date()
        alerts.terminate()
        alerts.waitUntilExit()
        #expect(alerts.terminationReason == .exit)
        #expect(alerts.terminationStatus == 0)
        #expect(Date().timeIntervalSince(stopping) < 5)
    }

    @Test(.timeLimit(.minutes(3))) func sinceReadsHistoryThenLiveWithNoGapAndNoDuplicate() throws {
        let project = try Self.project()
        defer { project.root.remove() }
        let up = try project.start(["up"], log: "up.log")
        defer { if up.isRunning { up.terminate(); up.waitUntilExit() } }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: project.ingest)
        Self.waitForPlugin(client, project)

        // History: 40 unhappy customers, each an alert, all stored before the command starts.
        let before = 40, during = 80
        for i in 0..<before {
            _ = try client.publish(Sample.bytes(Self.survey("sv-h\(i)", customer: "H\(i)", nps: 0)), eventId: "sv-h\(i)")
        }
        let standing = waitUntil(seconds: 30) {
            guard let reply = try? client.request(service: "satisfaction.alerts", body: Array("{}".utf8), timeoutMilliseconds: 1000),
                  case .object(let answer)? = try? JSONParser.parse(reply.body), case .array(let list)? = answer["alerts"] else { return false }
            return list.count == before
        }
        #expect(standing)

        // More alerts keep coming while the command reads the history and switches to live.
        let endpoint = project.ingest
        let publisher = OwnedThread(name: "test.publisher") {
            guard let context = try? ZMQContext(), let client = try? BusClient(context: context, endpoint: endpoint) else { return }
            for i in 0..<during {
                _ = try? client.publish(Sample.bytes(Self.survey("sv-l\(i)", customer: "L\(i)", nps: 1)), eventId: "sv-l\(i)")
                usleep(10_000)
            }
        }
        let alerts = try project.start(["alerts", "--since", "1h", "--json", "--type", "very-unhappy"], log: "alerts.log")
        defer { if alerts.isRunning { alerts.terminate(); alerts.waitUntilExit() } }
        publisher.join()

        let all = waitUntil(seconds: 30) { Self.printed(project, "alerts.log").count >= before + during }
        let printed = Self.printed(project, "alerts.log")
        #expect(all, "printed \(printed.count) of \(before + during): \(project.log("alerts.log").suffix(2000))")
        // A little longer: nothing more (no duplicate) arrives.
        usleep(1_500_000)
        let final = Self.printed(project, "alerts.log")
        let customers = final.compactMap { if case .string(let c)? = $0["customerId"] { c } else { nil } }
        #expect(final.count == before + during)
        #expect(Set(customers) == Set((0..<before).map { "H\($0)" } + (0..<during).map { "L\($0)" }))
        let seqs = final.compactMap { if case .int(let s)? = $0["seq"] { s } else { nil } }
        #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count, "printed out of order or twice")
        // The switch happened while alerts were arriving: some came from the history read, some live.
        let announced = project.log("alerts.log").split(separator: "\n").first { $0.contains("following live alerts after seq ") }
        let switchSeq = announced.flatMap { Int64($0.split(separator: " ").first { Int64($0) != nil } ?? "") }
        #expect(switchSeq != nil, "\(project.log("alerts.log").suffix(2000))")
        if let switchSeq {
            #expect(seqs.contains { $0 <= switchSeq } && seqs.contains { $0 > switchSeq }, "switch at \(switchSeq), seqs \(seqs)")
        }
        alerts.terminate()
        alerts.waitUntilExit()
        #expect(alerts.terminationStatus == 0)
    }
}
