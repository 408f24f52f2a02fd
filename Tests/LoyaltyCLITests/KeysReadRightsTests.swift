import ArgumentParser
import Foundation
import LoyaltyWire
import Testing
@testable import LoyaltyCLI

/// `loyalty keys grant-read` / `deny-read` on a project folder of their own: the terminal's
/// `+read` in allowed.txt, and nothing else of the file changed.
@Suite struct KeysReadRightsTests {
    @Test func aTerminalIsGrantedAndDeniedReadRightsByName() throws {
        let root = NSTemporaryDirectory() + "loyalty-keys-read-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/config", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let config = root + "/config/loyalty.yaml"
        try "security:\n  keysDir: config/keys\n".write(toFile: config, atomically: true, encoding: .utf8)
        let allowList = root + "/config/keys/allowed.txt"
        func entries() throws -> [AllowedKey] { try AllowList.read(allowList) }

        try KeysCommand.AddTerminal.parse(["till-1", "--source", "pos/S001/T1", "--config", config]).run()
        try KeysCommand.AddReader.parse(["manager", "--config", config]).run()
        #expect(try entries().first { $0.name == "till-1" }?.read == false)

        try KeysCommand.GrantRead.parse(["till-1", "--config", config]).run()
        let granted = try #require(try entries().first { $0.name == "till-1" })
        #expect(granted.read && granted.sources == ["pos/S001/T1"])
        // Asked twice: nothing to change, and the file says the same.
        let before = try String(contentsOfFile: allowList, encoding: .utf8)
        try KeysCommand.GrantRead.parse(["till-1", "--config", config]).run()
        #expect(try String(contentsOfFile: allowList, encoding: .utf8) == before)

        try KeysCommand.DenyRead.parse(["till-1", "--config", config]).run()
        let denied = try #require(try entries().first { $0.name == "till-1" })
        #expect(!denied.read && denied.sources == ["pos/S001/T1"] && denied.publicKey == granted.publicKey)
        #expect(try entries().first { $0.name == "manager" }?.kind == .reader)

        let unknown = #expect(throws: ValidationError.self) { try KeysCommand.GrantRead.parse(["till-9", "--config", config]).run() }
        #expect(unknown?.message == "no allowed terminal named 'till-9'; see `loyalty keys list`")
        let reader = #expect(throws: ValidationError.self) { try KeysCommand.DenyRead.parse(["manager", "--config", config]).run() }
        #expect(reader?.message.contains("'manager' is a reader key") == true)
    }
}
