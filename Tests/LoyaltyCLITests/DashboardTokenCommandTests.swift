import ArgumentParser
import Foundation
import Testing
@testable import LoyaltyCLI

/// `loyalty dashboard token` and the start-up rule of `--dashboard-allow-remote`, on a project
/// folder of their own whose config moves the token file (`dashboard.tokenFile`).
@Suite struct DashboardTokenCommandTests {
    /// A project folder with a config/loyalty.yaml; removed by the caller.
    static func project() throws -> (root: String, config: String, tokenFile: String) {
        let root = NSTemporaryDirectory() + "loyalty-dashboard-token-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/config", withIntermediateDirectories: true)
        let config = root + "/config/loyalty.yaml"
        try "dashboard:\n  tokenFile: secrets/dashboard.token\n".write(toFile: config, atomically: true, encoding: .utf8)
        return (root, config, root + "/secrets/dashboard.token")
    }

    static func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test func tokenCreatesTheFileWithMode0600KeepsItAndRotateReplacesIt() throws {
        let project = try Self.project()
        defer { try? FileManager.default.removeItem(atPath: project.root) }
        #expect(!FileManager.default.fileExists(atPath: project.tokenFile))

        try DashboardCommand.Token.parse(["--config", project.config]).run()
        let first = try String(contentsOfFile: project.tokenFile, encoding: .utf8)
        #expect(try Self.mode(project.tokenFile) == 0o600)
        #expect(first.count == 43)
        #expect(first.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })

        // Asked again, it shows the same token.
        try DashboardCommand.Token.parse(["--config", project.config]).run()
        #expect(try String(contentsOfFile: project.tokenFile, encoding: .utf8) == first)
        let again = try DashboardCommand.Token.ensureToken(path: project.tokenFile, rotate: false)
        #expect(again.token.text == first && again.change == .kept)

        try DashboardCommand.Token.parse(["--config", project.config, "--rotate"]).run()
        let rotated = try String(contentsOfFile: project.tokenFile, encoding: .utf8)
        #expect(rotated != first)
        #expect(rotated.count == 43)
        #expect(try Self.mode(project.tokenFile) == 0o600)
        // No temporary file is left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: project.root + "/secrets") == ["dashboard.token"])
    }

    @Test func rotateAlsoReplacesAFileOthersCouldRead() throws {
        let project = try Self.project()
        defer { try? FileManager.default.removeItem(atPath: project.root) }
        _ = try DashboardCommand.Token.ensureToken(path: project.tokenFile, rotate: false)
        chmod(project.tokenFile, 0o644)
        #expect(throws: ValidationError.self) { try DashboardCommand.Token.ensureToken(path: project.tokenFile, rotate: false) }
        let rotated = try DashboardCommand.Token.ensureToken(path: project.tokenFile, rotate: true)
        #expect(rotated.change == .rotated)
        #expect(try Self.mode(project.tokenFile) == 0o600)
    }

    @Test func dashboardAllowRemoteWithoutATokenRefusesToStartWithHowToMakeOne() throws {
        let project = try Self.project()
        defer { try? FileManager.default.removeItem(atPath: project.root) }
        let configuration = try GlobalOptions.parse(["--config", project.config]).loadConfiguration()
        let remote = try DashboardOptions.parse(["--dashboard", "--dashboard-allow-remote", "--dashboard-address", "0.0.0.0:0"])
        do {
            _ = try remote.service(configuration: configuration, onRunning: { _ in })
            Issue.record("--dashboard-allow-remote started without a token")
        } catch let error as ValidationError {
            #expect(error.message.contains("--dashboard-allow-remote needs an access token"))
            #expect(error.message.contains(project.tokenFile))
            #expect(error.message.contains("`loyalty dashboard token`"))
        }
        // Loopback without a token: open, as before.
        let local = try DashboardOptions.parse(["--dashboard", "--dashboard-address", "127.0.0.1:0"])
        #expect(try local.tokenAtStart(configuration: configuration) == nil)
        #expect(try local.service(configuration: configuration, onRunning: { _ in }) != nil)
        // Once the token exists, both start, and both require it.
        let made = try DashboardCommand.Token.ensureToken(path: project.tokenFile, rotate: false)
        #expect(try remote.tokenAtStart(configuration: configuration) == made.token)
        #expect(try local.tokenAtStart(configuration: configuration) == made.token)
        #expect(try remote.service(configuration: configuration, onRunning: { _ in }) != nil)
        // `loyalty demo` runs on a configuration of its own (in its data folder): the dashboard it
        // serves still follows the project's token file.
        let demo = try DemoCommand.parse(["--config", project.config, "--data", project.root + "/var/demo"])
        #expect(try demo.prepareFolder(base: configuration).dashboard.tokenFile == project.tokenFile)
        // A non-loopback address still needs the flag.
        #expect(throws: (any Error).self) { try DashboardOptions.parse(["--dashboard", "--dashboard-address", "0.0.0.0:8080"]) }
    }
}
