import Foundation
import GRDB
import Logging
import LoyaltyEvents
import LoyaltyRules
import LoyaltyWire
import Synchronization

/// A plugin cannot start: its rule files have errors and no earlier good rules are stored.
public struct RulesUnavailable: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Keeps a plugin's rules in force: loads them before the first event, polls the folder, swaps
/// in a changed set that checks clean, and refuses one with errors — the running rules stay,
/// and an `alert.config` event and a log line say why. Every set activated is stored in the
/// plugin's database with its files, so the version recorded with an effect can be looked up,
/// and a restart with broken files falls back to the last good set.
final class RulesKeeper: Sendable {
    let pluginName: String
    let live: LiveRules
    let directory: String
    let store: PluginStore
    let stop: StopSignal
    let outboxDirty: OutboxSignal
    let logger: Logger
    /// The content version last loaded or refused, so the watcher starts from there.
    private let seenVersion = Mutex<String?>(nil)
    let pollMilliseconds: Int

    init(plugin: any LoyaltyPlugin, live: LiveRules, directory: String, store: PluginStore, stop: StopSignal,
         outboxDirty: OutboxSignal, logger: Logger, pollMilliseconds: Int = 250) {
        pluginName = plugin.name
        self.live = live
        self.directory = directory
        self.store = store
        self.stop = stop
        self.outboxDirty = outboxDirty
        self.logger = logger
        self.pollMilliseconds = pollMilliseconds
    }

    func installInitialRules() throws {
        let sources = RuleWatcher.read(directory)
        let attempted = RuleBook.hash(sources.files)
        seenVersion.withLock { $0 = attempted }
        let result = sources.problem == nil ? RuleLoader.load(sources: sources.files) : nil
        if let book = result?.book {
            try activate(book, sources: sources.files)
            return
        }
        let diagnostics = sources.problem.map { [$0] } ?? result?.diagnostics ?? []
        if let stored = try store.lastRules(), let book = RuleLoader.load(sources: stored.files).book {
            live.install(book)
            try reject(version: attempted, diagnostics: diagnostics, active: book.version)
            logger.warning("started with the last good rules, version \(book.version), activated \(Timestamp(epochMilliseconds: stored.activatedAt))")
            return
        }
        let listing = diagnostics.filter { $0.severity == .error }.map(\.description).joined(separator: "\n  ")
        throw RulesUnavailable(message: "the rule files in \(directory) have errors, and no earlier rules are stored to fall back on:\n  \(listing)\nFix them (loyalty rules check \(directory)); the plugin starts once they load")
    }

    /// Polls until the runtime stops. Runs on its own thread.
    func watch() {
        var watcher = RuleWatcher(directory: directory, currentVersion: seenVersion.withLock { $0 })
        // A change made while the plugin was starting.
        if let change = watcher.loadIfChanged() { handle(change) }
        while !stop.isSet {
            sleepMilliseconds(pollMilliseconds)
            if let change = watcher.poll() { handle(change) }
        }
    }

    private func handle(_ change: RuleWatcher.Change) {
        do {
            switch change {
            case .loaded(let book, let sources):
                let previous = live.current.version
                try activate(book, sources: sources)
                logger.notice("rules reloaded: version \(book.version) replaces \(previous)",
                              metadata: ["rules.version": "\(book.version)"])
            case .rejected(let version, let diagnostics):
                try reject(version: version, diagnostics: diagnostics, active: live.current.version)
            }
        } catch {
            logger.error("rules: \(error)")
        }
    }

    private func activate(_ book: RuleBook, sources: [(name: String, text: String)]) throws {
        live.install(book)
        for warning in book.warnings { logger.warning("rules: \(warning)") }
        let files = JSONValue.array(sources.map { .object(["name": .string($0.name), "text": .string($0.text)]) })
        let now = Timestamp.now()
        let recorded = try store.recordRulesActivation(version: book.version, files: JSONWriter.serialize(files), at: now.epochMilliseconds) { activation, previous in
            let payload: JSONObject = [
                "plugin": .string(pluginName), "version": .string(book.version),
                "previousVersion": previous.map { .string($0) } ?? .null,
                "files": .array(sources.map { .string($0.name.split(separator: "/").last.map(String.init) ?? $0.name) }),
                "rules": .int(Int64(book.ruleIds.values.reduce(0) { $0 + $1.count })),
                "warnings": .int(Int64(book.warnings.count)),
            ]
            return envelope(id: "rules/\(pluginName)/\(activation)", type: "rules.activated", at: now, payload: payload)
        }
        if recorded { outboxDirty.raise() }
        logger.info("rules in force: version \(book.version) from \(sources.count) files", metadata: ["rules.version": "\(book.version)"])
    }

    private func reject(version: String, diagnostics: [RuleDiagnostic], active: String) throws {
        let errors = diagnostics.filter { $0.severity == .error }
        logger.error("rule files refused (version \(version)): \(errors.count) error\(errors.count == 1 ? "" : "s"); the rules in force stay at version \(active)")
        for error in errors.prefix(50) { logger.error("rules: \(error)") }
        let listed: [JSONValue] = errors.prefix(20).map { error in
            var object: JSONObject = ["file": .string(error.file), "message": .string(error.message)]
            if let line = error.line { object["line"] = .int(Int64(line)) }
            if let column = error.column { object["column"] = .int(Int64(column)) }
            if let suggestion = error.suggestion { object["suggestion"] = .string(suggestion) }
            if let rule = error.ruleId { object["rule"] = .string(rule) }
            return .object(object)
        }
        let payload: JSONObject = [
            "plugin": .string(pluginName), "severity": .string("high"),
            "message": .string("rule files refused: \(errors.count) error\(errors.count == 1 ? "" : "s"); the rules in force stay at version \(active). Run 'loyalty rules check'."),
            "attemptedVersion": .string(version), "activeVersion": .string(active),
            "errorCount": .int(Int64(errors.count)), "errors": .array(listed),
        ]
        let body = envelope(id: "config/\(pluginName)/\(version)", type: "alert.config", at: .now(), payload: payload)
        try store.enqueue(eventId: body.eventId, body: body.bytes)
        outboxDirty.raise()
    }

    private func envelope(id: String, type: String, at time: Timestamp, payload: JSONObject) -> (eventId: String, bytes: [UInt8]) {
        let envelope = EventEnvelope(version: 1, eventId: id, type: type, occurredAt: time, source: "plugin/\(pluginName)",
                                     seq: nil, payload: .derived(payload))
        return (id, EventCodec.encode(envelope))
    }

    /// `<plugin>.rules`: the version in force, when it was activated, its files and rule ids.
    var service: ServiceHandler {
        let live = self.live
        return { _, pool in
            let book = live.current
            let activatedAt = try pool.read { db in
                try Int64.fetchOne(db, sql: "SELECT activatedAt FROM runtime_rules WHERE version = ? ORDER BY activation DESC LIMIT 1",
                                   arguments: [book.version])
            }
            let answer: JSONValue = .object([
                "version": .string(book.version),
                "activatedAt": activatedAt.map { .string(Timestamp(epochMilliseconds: $0).rfc3339) } ?? .null,
                "files": .array(book.files.map { .string($0) }),
                "rules": .object(JSONObject(book.ruleIds.keys.sorted().map { ($0, .array(book.ruleIds[$0]!.map { .string($0) })) })),
                "warnings": .array(book.warnings.map { .string($0.description) }),
            ])
            return .ok(JSONWriter.serialize(answer))
        }
    }
}
