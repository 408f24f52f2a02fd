import Foundation
import LoyaltyTestSupport
import Testing

/// `loyalty keys` and a CURVE-secured chain as processes: `keys init`, `loyalty up` with
/// `security.curve`, a plugin and the command-line tools connecting with their keys, and a
/// revoked terminal refused by the running bus.
@Suite(.serialized) struct CurveProcessTests {
    func secret(_ path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.contains("secret-key") })
        return String(line.split(separator: "\"")[1])
    }

    @Test func keysInitThenCurveChainAcceptsKeysAndRefusesARevokedTerminal() throws {
        let project = try TestProject()
        defer { project.root.remove() }
        let config = try String(contentsOfFile: project.configPath, encoding: .utf8)
        try (config + "\nsecurity:\n  curve: true\n").write(toFile: project.configPath, atomically: true, encoding: .utf8)
        let keys = project.root.path + "/config/keys"

        let initialised = try runProcess(Executables.loyalty, ["keys", "init", "--config", project.configPath])
        #expect(initialised.status == 0, "\(initialised.output)")
        for file in ["bus.key_secret", "terminals/cli.key_secret", "plugins/store-counter.key_secret"] {
            let mode = try FileManager.default.attributesOfItem(atPath: keys + "/" + file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file)")
        }
        let secrets = try ["bus", "terminals/cli", "plugins/store-counter"].map { try secret(keys + "/" + $0 + ".key_secret") }
        let listed = try runProcess(Executables.loyalty, ["keys", "list", "--config", project.configPath])
        #expect(listed.output.contains("terminal") && listed.output.contains("cli") && listed.output.contains("store-counter"))
        for secret in secrets {
            #expect(!initialised.output.contains(secret) && !listed.output.contains(secret))
        }
        let shown = try runProcess(Executables.loyalty, ["keys", "list", "--show-secrets", "--config", project.configPath])
        #expect(shown.output.contains(secrets[1]))

        let up = try project.start(["up", "--log-level", "info"], log: "up.log")
        defer {
            up.terminate()
            up.waitUntilExit()
        }
        let send = ["pos", "send", "--config", project.configPath, "--store", "S001", "--terminal", "T1", "--line", "COF-001:coffee:1:3900",
                    "--attempts", "3", "--timeout-ms", "700"]
        var stored = false
        _ = waitUntil(seconds: 30) {
            stored = ((try? runProcess(Executables.loyalty, send + ["--receipt", "1"]))?.output.contains("stored at seq 1")) ?? false
            return stored
        }
        #expect(stored, "\(project.log("up.log"))")
        // The plugin connected with its own key: it applied the purchase and answers through the bus.
        var counted = false
        _ = waitUntil(seconds: 20) {
            let reply = try? runProcess(Executables.loyalty, ["request", "--config", project.configPath, "store-counter.count", #"{"storeId":"S001"}"#])
            counted = reply?.output.contains(#""purchases":1"#) ?? false
            return counted
        }
        #expect(counted, "\(project.log("up.log"))")

        // The terminal keeps its own copy of its secret key; revoking deletes only the bus host's copy.
        let terminalCopy = try Data(contentsOf: URL(fileURLWithPath: keys + "/terminals/cli.key_secret"))
        let revoked = try runProcess(Executables.loyalty, ["keys", "revoke", "cli", "--config", project.configPath])
        #expect(revoked.status == 0 && revoked.output.contains("revoked terminal cli"))
        #expect(!FileManager.default.fileExists(atPath: keys + "/terminals/cli.key_secret"))
        try terminalCopy.write(to: URL(fileURLWithPath: keys + "/terminals/cli.key_secret"))
        let refused = try runProcess(Executables.loyalty, send + ["--receipt", "2"])
        #expect(refused.status != 0)
        #expect(!refused.output.contains("stored"))
        #expect(project.log("up.log").contains("public key not in the allow-list"))
    }

    /// Read permissions from the command line: `keys init` gives the command-line key +read, an
    /// allow-list from before read permissions leaves it unable to read (and `loyalty alerts` says
    /// why and what to run), and a reader key reads but cannot sell.
    @Test func readPermissionsFromTheCommandLine() throws {
        let project = try TestProject()
        defer { project.root.remove() }
        let config = try String(contentsOfFile: project.configPath, encoding: .utf8)
        try (config + "\nsecurity:\n  curve: true\n").write(toFile: project.configPath, atomically: true, encoding: .utf8)
        let keys = project.root.path + "/config/keys"
        let allowed = keys + "/allowed.txt"
        func keysCommand(_ arguments: [String]) throws -> (status: Int32, output: String) {
            try runProcess(Executables.loyalty, ["keys"] + arguments + ["--config", project.configPath])
        }
        func cliLine() throws -> String {
            let text = try String(contentsOfFile: allowed, encoding: .utf8)
            return try #require(text.split(separator: "\n").first { $0.hasPrefix("terminal cli ") }.map(String.init))
        }

        let initialised = try keysCommand(["init"])
        #expect(initialised.status == 0, "\(initialised.output)")
        #expect(initialised.output.contains("terminal cli: ") && initialised.output.contains("(+read)"), "\(initialised.output)")
        #expect(try cliLine().hasSuffix(" +read"))
        let reader = try keysCommand(["add-reader", "manager"])
        #expect(reader.status == 0 && reader.output.contains("reader manager: "), "\(reader.output)")
        let mode = try FileManager.default.attributesOfItem(atPath: keys + "/readers/manager.key_secret")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try keysCommand(["add-terminal", "till-9", "--read", "--source", "pos/S009/*"]).status == 0)
        let listed = try keysCommand(["list"]).output
        #expect(listed.split(separator: "\n").contains { $0.hasPrefix("reader ") && $0.contains("manager") }, "\(listed)")
        #expect(listed.split(separator: "\n").contains { $0.contains("till-9") && $0.contains("+read") && $0.contains("sources pos/S009/*") }, "\(listed)")
        let badFlag = try keysCommand(["add-terminal", "till-10", "--source", "+read"])
        #expect(badFlag.status != 0 && badFlag.output.contains("is not a source pattern"), "\(badFlag.output)")

        // The command-line key as an older version registered it: no +read.
        let line = try cliLine()
        let text = try String(contentsOfFile: allowed, encoding: .utf8)
        try text.replacingOccurrences(of: line, with: String(line.dropLast(" +read".count))).write(toFile: allowed, atomically: true, encoding: .utf8)

        let bus = try project.start(["bus", "--log-level", "warning"], log: "bus.log")
        defer {
            bus.terminate()
            bus.waitUntilExit()
        }
        #expect(waitUntil(seconds: 30) { FileManager.default.fileExists(atPath: project.journalPath) })
        let alerts = ["alerts", "--since", "1h", "--no-follow", "--config", project.configPath]
        let refused = try runProcess(Executables.loyalty, alerts)
        #expect(refused.status == 1, "\(refused.output)")
        #expect(refused.output.contains("the terminal key 'cli' may not replay"), "\(refused.output)")
        #expect(refused.output.contains("run `loyalty keys init`"), "\(refused.output)")
        #expect(waitUntil(seconds: 5) { project.log("bus.log").contains("replay refused") }, "\(project.log("bus.log"))")
        // It still sells.
        let send = ["pos", "send", "--config", project.configPath, "--store", "S009", "--terminal", "T1", "--line", "COF-001:coffee:1:3900",
                    "--attempts", "3", "--timeout-ms", "1000"]
        let sold = try runProcess(Executables.loyalty, send + ["--receipt", "1"])
        #expect(sold.output.contains("stored at seq 1"), "\(sold.output)")

        // `keys init` again grants it; the running bus sees the change from the next connection.
        let again = try keysCommand(["init"])
        #expect(again.output.contains("terminal cli: may now subscribe and replay (+read)"), "\(again.output)")
        let reading = try runProcess(Executables.loyalty, alerts)
        #expect(reading.status == 0, "\(reading.output)")

        // A host that only reads: its command-line key is the reader's.
        try (config + "\nsecurity:\n  curve: true\n  clientKey: manager\n").write(toFile: project.configPath, atomically: true, encoding: .utf8)
        let managerAlerts = try runProcess(Executables.loyalty, alerts)
        #expect(managerAlerts.status == 0, "\(managerAlerts.output)")
        let managerSale = try runProcess(Executables.loyalty, send + ["--receipt", "2"])
        #expect(managerSale.status == 2, "\(managerSale.output)")
        #expect(managerSale.output.contains("not_permitted") && managerSale.output.contains("reader key 'manager'"), "\(managerSale.output)")
        let revoked = try keysCommand(["revoke", "manager"])
        #expect(revoked.output.contains("revoked reader manager"), "\(revoked.output)")
    }

    @Test func pyzmqClientFollowingTheProtocolDocumentOnACurveBus() throws {
        let project = try TestProject()
        defer { project.root.remove() }
        let config = try String(contentsOfFile: project.configPath, encoding: .utf8)
        try (config + "\nsecurity:\n  curve: true\n").write(toFile: project.configPath, atomically: true, encoding: .utf8)
        #expect(try runProcess(Executables.loyalty, ["keys", "init", "--config", project.configPath]).status == 0)
        let bus = try project.start(["bus", "--log-level", "warning"], log: "bus.log")
        defer {
            bus.terminate()
            bus.waitUntilExit()
        }
        #expect(waitUntil(seconds: 30) { FileManager.default.fileExists(atPath: project.journalPath) })
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("python/curve_client.py").path
        let result = try runProcess("/usr/bin/python3", [script, project.root.path + "/config/keys", project.ingest])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("allowed: stored"), "\(result.output)")
        #expect(result.output.contains("stranger: no answer") || result.output.contains("stranger: no connection"), "\(result.output)")
        #expect(result.output.contains("plaintext: no answer") || result.output.contains("plaintext: no connection"), "\(result.output)")
    }

    @Test func busRefusesANonLoopbackBindWithoutCurve() throws {
        let project = try TestProject()
        defer { project.root.remove() }
        let config = try String(contentsOfFile: project.configPath, encoding: .utf8)
        try config.replacingOccurrences(of: "ingest: tcp://127.0.0.1:", with: "ingest: tcp://0.0.0.0:")
            .write(toFile: project.configPath, atomically: true, encoding: .utf8)
        let result = try runProcess(Executables.loyalty, ["bus", "--config", project.configPath])
        #expect(result.status != 0)
        #expect(result.output.contains("refusing to bind ingest tcp://0.0.0.0:\(project.ports.ingest) without CURVE"))
        #expect(!FileManager.default.fileExists(atPath: project.journalPath))
        // `loyalty up` refuses too, instead of restarting a bus that cannot start.
        let up = try runProcess(Executables.loyalty, ["up", "--config", project.configPath])
        #expect(up.status != 0)
        #expect(up.output.contains("without CURVE"))
    }

    @Test func upRefusesCurveWithoutAPluginKey() throws {
        let project = try TestProject()
        defer { project.root.remove() }
        let config = try String(contentsOfFile: project.configPath, encoding: .utf8)
        try (config + "\nsecurity:\n  curve: true\n").write(toFile: project.configPath, atomically: true, encoding: .utf8)
        let noKeys = try runProcess(Executables.loyalty, ["up", "--config", project.configPath])
        #expect(noKeys.status != 0)
        #expect(noKeys.output.contains("loyalty keys init"))
        #expect(try runProcess(Executables.loyalty, ["keys", "init", "--config", project.configPath]).status == 0)
        let revoked = try runProcess(Executables.loyalty, ["keys", "revoke", "store-counter", "--config", project.configPath])
        #expect(revoked.status == 0)
        let noPluginKey = try runProcess(Executables.loyalty, ["up", "--config", project.configPath])
        #expect(noPluginKey.status != 0)
        #expect(noPluginKey.output.contains("plugin 'store-counter' has no key"))
        #expect(noPluginKey.output.contains("loyalty keys add-plugin store-counter"))
    }
}
