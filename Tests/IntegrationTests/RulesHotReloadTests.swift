import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import LoyaltyTestSupport
import LoyaltyWire
import Testing
import ZeroMQ

/// Hot reload against running processes: `loyalty up` with the points-accrual plugin, a rule
/// file edited under it.
@Suite struct RulesHotReloadTests {
    static func earning(_ points: String) -> String {
        """
        currency: NOK
        timezone: Europe/Oslo
        earning:
          rounding: down
          rules:
            - id: base-rate
              points: \(points)
        """
    }

    @Test(.timeLimit(.minutes(3))) func anEditAppliesToTheNextEventAndABrokenEditIsRefused() throws {
        let project = try TestProject(plugins: ["points-accrual"])
        defer { project.root.remove() }
        let rulesFile = project.rulesDirectory + "/earning.yaml"
        try Self.earning("purchase.total / 10 NOK").write(toFile: rulesFile, atomically: true, encoding: .utf8)
        let up = try project.start(["up", "--log-level", "info"], log: "up.log")
        defer {
            if up.isRunning { up.terminate(); up.waitUntilExit() }
        }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: project.ingest)
        func rulesVersion() -> String? {
            guard let reply = try? client.request(service: "points-accrual.rules", body: Array("{}".utf8), timeoutMilliseconds: 1000),
                  reply.status == .ok, case .object(let answer)? = try? JSONParser.parse(reply.body),
                  case .string(let version)? = answer["version"] else { return nil }
            return version
        }
        func version(of text: String) -> String { RuleBook.hash([(name: "earning.yaml", text: text)]) }
        let first = version(of: Self.earning("purchase.total / 10 NOK"))
        #expect(waitUntil(seconds: 60) { rulesVersion() == first }, "the plugin did not come up: \(project.log("up.log").suffix(3000))")

        var receipt = 0
        func buy(_ amount: Int64) throws -> String {
            receipt += 1
            let purchase = Sample.purchase(receipt: receipt, customer: "C1", amount: amount, at: 1_795_000_000_000 + Int64(receipt) * 60_000)
            let ack = try client.publish(Sample.bytes(purchase), eventId: purchase.eventId)
            #expect(ack.status == .stored)
            return purchase.eventId
        }
        let plugin = try DatabaseQueue(path: project.database(of: "points-accrual"))
        func lot(_ eventId: String) throws -> (points: Int64, version: String, rules: String)? {
            var found: (Int64, String, String)?
            _ = waitUntil(seconds: 20) {
                found = try? plugin.read { db in
                    try Row.fetchOne(db, sql: "SELECT points, rulesVersion, rules FROM lots WHERE eventId = ?", arguments: [eventId])
                        .map { ($0["points"], $0["rulesVersion"], $0["rules"]) }
                }
                return found != nil
            }
            return found
        }

        // 1. The rules in force at start: one point per 10 NOK.
        let before = try lot(try buy(100_00))
        #expect(before?.points == 10)
        #expect(before?.version == first)
        #expect(before?.rules.contains("base-rate") == true)

        // 2. An edit: the next event after the swap earns by the new rule.
        let edited = Self.earning("purchase.total / 5 NOK")
        let editedAt = Date()
        try edited.write(toFile: rulesFile, atomically: true, encoding: .utf8)
        #expect(waitUntil(seconds: 10) { rulesVersion() == version(of: edited) }, "the edit was not picked up: \(project.log("up.log").suffix(3000))")
        let reloadSeconds = Date().timeIntervalSince(editedAt)
        print("rule edit in force after \(String(format: "%.2f", reloadSeconds)) s")
        let after = try lot(try buy(100_00))
        #expect(after?.points == 20)
        #expect(after?.version == version(of: edited))

        // 3. A broken edit: refused with an alert.config event; the running rules keep working.
        let broken = Self.earning("purchase.totl / 1 NOK")
        try broken.write(toFile: rulesFile, atomically: true, encoding: .utf8)
        let journal = try DatabaseQueue(path: project.journalPath)
        var alertBody: String?
        #expect(waitUntil(seconds: 10) {
            alertBody = try? journal.read { db in
                try String.fetchOne(db, sql: "SELECT CAST(body AS TEXT) FROM journal WHERE type = 'alert.config' AND eventId = ?",
                                    arguments: ["config/points-accrual/\(version(of: broken))"])
            }
            return alertBody != nil
        }, "no alert.config event for the broken edit: \(project.log("up.log").suffix(3000))")
        #expect(alertBody?.contains("purchase has no field 'totl'") == true)
        #expect(alertBody?.contains("\"line\":7") == true)
        #expect(rulesVersion() == version(of: edited))
        let stillOld = try lot(try buy(100_00))
        #expect(stillOld?.points == 20)
        #expect(stillOld?.version == version(of: edited))
        #expect(project.log("up.log").contains("rule files refused"))

        // 4. Fixing the file brings in the fix, and every activation was announced once.
        let fixed = Self.earning("purchase.total / 2 NOK")
        try fixed.write(toFile: rulesFile, atomically: true, encoding: .utf8)
        #expect(waitUntil(seconds: 10) { rulesVersion() == version(of: fixed) })
        #expect(try lot(try buy(100_00))?.points == 50)
        let activations = try journal.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE type = 'rules.activated'") ?? 0
        }
        #expect(activations == 3)
    }

    @Test(.timeLimit(.minutes(3))) func aRestartWithBrokenFilesFallsBackToTheLastGoodRules() throws {
        let project = try TestProject(plugins: ["points-accrual"])
        defer { project.root.remove() }
        let rulesFile = project.rulesDirectory + "/earning.yaml"
        let good = Self.earning("purchase.total / 10 NOK")
        try good.write(toFile: rulesFile, atomically: true, encoding: .utf8)
        var up = try project.start(["up", "--log-level", "info"], log: "up1.log")
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: project.ingest)
        func rulesVersion() -> String? {
            guard let reply = try? client.request(service: "points-accrual.rules", body: Array("{}".utf8), timeoutMilliseconds: 1000),
                  reply.status == .ok, case .object(let answer)? = try? JSONParser.parse(reply.body),
                  case .string(let version)? = answer["version"] else { return nil }
            return version
        }
        let goodVersion = RuleBook.hash([(name: "earning.yaml", text: good)])
        #expect(waitUntil(seconds: 60) { rulesVersion() == goodVersion }, "\(project.log("up1.log").suffix(3000))")
        up.terminate()
        up.waitUntilExit()

        // Broken while stopped: the plugin starts on the rules it last had, and says so.
        try Self.earning("purchase.total / 10").write(toFile: rulesFile, atomically: true, encoding: .utf8)
        up = try project.start(["up", "--log-level", "info"], log: "up2.log")
        defer {
            if up.isRunning { up.terminate(); up.waitUntilExit() }
        }
        #expect(waitUntil(seconds: 60) { rulesVersion() == goodVersion }, "\(project.log("up2.log").suffix(3000))")
        let purchase = Sample.purchase(receipt: 1, customer: "C1", amount: 100_00)
        #expect(try client.publish(Sample.bytes(purchase), eventId: purchase.eventId).status == .stored)
        let plugin = try DatabaseQueue(path: project.database(of: "points-accrual"))
        #expect(waitUntil(seconds: 20) {
            (try? plugin.read { db in try Int64.fetchOne(db, sql: "SELECT points FROM lots WHERE eventId = ?", arguments: [purchase.eventId]) }) == 10
        })
        #expect(project.log("up2.log").contains("started with the last good rules"))
    }
}
