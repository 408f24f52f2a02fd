import Foundation
import Testing
@testable import LoyaltyRules

@Suite struct RuleWatcherTests {
    func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "rule-watcher-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let good = "currency: NOK\nearning:\n  rules:\n    - id: base\n      points: purchase.total / 10 NOK\n"

    @Test func aChangeIsLoadedOnceTheFilesSettle() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.good.write(toFile: folder + "/earning.yaml", atomically: true, encoding: .utf8)
        let initial = RuleLoader.load(paths: [folder]).book!
        var watcher = RuleWatcher(directory: folder, currentVersion: initial.version)
        #expect(watcher.poll() == nil)

        let changed = Self.good.replacingOccurrences(of: "10 NOK", with: "5 NOK")
        try changed.write(toFile: folder + "/earning.yaml", atomically: true, encoding: .utf8)
        #expect(watcher.poll() == nil, "the first poll that sees a change waits for it to settle")
        guard case .loaded(let book, let sources)? = watcher.poll() else {
            Issue.record("the settled change was not loaded")
            return
        }
        #expect(book.version == RuleBook.hash([(name: "earning.yaml", text: changed)]))
        #expect(sources.count == 1)
        #expect(watcher.poll() == nil)
    }

    @Test func aBrokenChangeIsRejectedOnceAndAFixIsLoaded() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.good.write(toFile: folder + "/earning.yaml", atomically: true, encoding: .utf8)
        var watcher = RuleWatcher(directory: folder, currentVersion: RuleLoader.load(paths: [folder]).book!.version)
        try (Self.good + "    - id: broken\n      bonus: purchase.totl\n").write(toFile: folder + "/earning.yaml", atomically: true, encoding: .utf8)
        _ = watcher.poll()
        guard case .rejected(_, let diagnostics)? = watcher.poll() else {
            Issue.record("the broken change was not rejected")
            return
        }
        #expect(diagnostics.first?.message == "purchase has no field 'totl'")
        #expect(diagnostics.first?.line == 7)
        // The same broken content is not reported again.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 5)], ofItemAtPath: folder + "/earning.yaml")
        _ = watcher.poll()
        #expect(watcher.poll() == nil)
        // A new file in the folder counts as a change too.
        try "alerts:\n  - id: low\n    when: survey.nps < 3\n".write(toFile: folder + "/alerts.yaml", atomically: true, encoding: .utf8)
        try Self.good.write(toFile: folder + "/earning.yaml", atomically: true, encoding: .utf8)
        _ = watcher.poll()
        guard case .loaded(let book, _)? = watcher.poll() else {
            Issue.record("the fixed files were not loaded")
            return
        }
        #expect(book.alerts?.rules.count == 1)
    }

    @Test func liveRulesSwapWhole() throws {
        let live = LiveRules()
        #expect(!live.isInstalled)
        #expect(live.current.version == RuleBook.empty.version)
        let book = RuleLoader.load(sources: [("a.yaml", Self.good)]).book!
        live.install(book)
        #expect(live.current.version == book.version)
        #expect(live.current.earning?.rules.count == 1)
    }
}

extension RuleWatcher.Change: Equatable {
    public static func == (a: RuleWatcher.Change, b: RuleWatcher.Change) -> Bool {
        switch (a, b) {
        case (.loaded(let x, _), .loaded(let y, _)): x.version == y.version
        case (.rejected(let x, _), .rejected(let y, _)): x == y
        default: false
        }
    }
}
