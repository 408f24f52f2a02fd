import Foundation
import LoyaltyEvents
import LoyaltyTestSupport
import Testing

/// `loyalty rules check` and `loyalty rules simulate` as a marketer runs them.
@Suite struct RulesCommandTests {
    static var repoRules: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/config/rules"
    }

    @Test func checkPassesTheShippedRulesAndFailsABrokenFileWithItsPosition() throws {
        let folder = try TemporaryDirectory("rules-check")
        defer { folder.remove() }
        let clean = try runProcess(Executables.loyalty, ["rules", "check", Self.repoRules])
        #expect(clean.status == 0, "\(clean.output)")
        #expect(clean.output.contains("0 errors, 0 warnings"))

        try """
            currency: NOK
            earning:
              rules:
                - id: base
                  points: purchase.total / 10 NKO
            """.write(toFile: folder.path + "/earning.yaml", atomically: true, encoding: .utf8)
        let broken = try runProcess(Executables.loyalty, ["rules", "check", folder.path])
        #expect(broken.status == 1)
        #expect(broken.output.contains("earning.yaml:5:35: error: 'NKO' is not an ISO 4217 currency code"))
        #expect(broken.output.contains("did you mean 'NOK'?"))
        #expect(broken.output.contains("\n" + String(repeating: " ", count: 4 + 34) + "^~~\n"))

        let json = try runProcess(Executables.loyalty, ["rules", "check", "--json", folder.path])
        #expect(json.status == 1)
        guard case .object(let report)? = try? JSONParser.parse(json.output.trimmingCharacters(in: .whitespacesAndNewlines)),
              case .array(let diagnostics)? = report["diagnostics"], case .object(let first)? = diagnostics.first else {
            Issue.record("not one JSON object: \(json.output)")
            return
        }
        #expect(report["ok"] == .bool(false))
        #expect(first["line"] == .int(5))
        #expect(first["column"] == .int(35))
        #expect(first["rule"] == .string("base"))
    }

    @Test func simulateComparesCandidateWithCurrentRulesOverJSONLines() throws {
        let folder = try TemporaryDirectory("rules-simulate")
        defer { folder.remove() }
        let events = folder.path + "/events.jsonl"
        let made = try runProcess(Executables.loyalty, ["pos", "simulate", "--count", "3000", "--output", events])
        #expect(made.status == 0, "\(made.output)")
        try FileManager.default.createDirectory(atPath: folder.path + "/draft", withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.repoRules) {
            var text = try String(contentsOfFile: Self.repoRules + "/" + name, encoding: .utf8)
            text = text.replacingOccurrences(of: "points: purchase.total / 10 NOK", with: "points: purchase.total / 5 NOK")
            try text.write(toFile: folder.path + "/draft/" + name, atomically: true, encoding: .utf8)
        }
        let run = try runProcess(Executables.loyalty, ["rules", "simulate", "--rules", folder.path + "/draft", "--baseline", Self.repoRules,
                                                       "--events", events, "--json"])
        #expect(run.status == 0, "\(run.output)")
        guard case .object(let report)? = try? JSONParser.parse(run.output.trimmingCharacters(in: .whitespacesAndNewlines)),
              case .object(let candidate)? = report["candidate"], case .object(let current)? = report["current"],
              case .double(let candidatePoints)? = candidate["pointsGranted"], case .double(let currentPoints)? = current["pointsGranted"] else {
            Issue.record("unexpected output: \(run.output.prefix(2000))")
            return
        }
        #expect(currentPoints > 0)
        // Doubling the base rate grants more, and never twice as much (bonuses and caps do not double).
        #expect(candidatePoints > currentPoints)
        #expect(candidatePoints < 2 * currentPoints)
        #expect(report["eventsRead"] == .int(3000))

        let table = try runProcess(Executables.loyalty, ["rules", "simulate", "--rules", folder.path + "/draft", "--baseline", Self.repoRules,
                                                         "--events", events, "--from", "2026-01-15"])
        #expect(table.status == 0)
        #expect(table.output.contains("points granted"))
        #expect(table.output.contains("earning/base-rate"))
    }
}
