import Foundation
import GRDB
import GRDBSQLite
import LoyaltyEvents

/// The plugin's SQLite file: the runtime's own tables (cursor, outbox, failures) beside the
/// plugin's. WAL mode so that service handlers read while events are applied.
final class PluginStore: Sendable {
    let pool: DatabasePool

    init(path: String, plugin: any LoyaltyPlugin) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // A plugin touches customers all over its tables in every run of events; with
            // SQLite's default 2 MiB cache each commit re-reads pages from the WAL (measured: a
            // third of a replaying plugin's time went to pread/pwrite in the kernel).
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        configuration.busyMode = .timeout(10)
        pool = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("runtime v1") { db in
            try db.execute(sql: """
                CREATE TABLE runtime_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), appliedSeq INTEGER NOT NULL);
                INSERT INTO runtime_cursor (id, appliedSeq) VALUES (1, 0);
                CREATE TABLE runtime_outbox (
                    position INTEGER PRIMARY KEY AUTOINCREMENT,
                    eventId TEXT NOT NULL UNIQUE,
                    body BLOB NOT NULL
                );
                CREATE TABLE runtime_failures (
                    seq INTEGER PRIMARY KEY,
                    eventId TEXT NOT NULL,
                    error TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("runtime v2 rules") { db in
            // Every rule set a plugin activated, with its files: effects record the version.
            try db.execute(sql: """
                CREATE TABLE runtime_rules (
                    activation INTEGER PRIMARY KEY AUTOINCREMENT,
                    version TEXT NOT NULL,
                    activatedAt INTEGER NOT NULL,
                    files BLOB NOT NULL
                )
                """)
        }
        plugin.registerMigrations(&migrator)
        try migrator.migrate(pool)
    }

    func appliedSeq() throws -> Int64 {
        try pool.read { db in try Int64.fetchOne(db, sql: "SELECT appliedSeq FROM runtime_cursor WHERE id = 1") ?? 0 }
    }

    /// Applies a run of events and moves the cursor to `through`, in one transaction.
    ///
    /// Optimistic: the run is first applied without a savepoint per event (two statements
    /// saved per event, which counts when replaying millions). If an event throws, that
    /// transaction is rolled back and the run applied again with each event in its own
    /// savepoint, so one bad event costs only its own effects.
    /// - Returns: how many derived events were queued in the outbox.
    func apply(_ events: [StoredEvent], through: Int64, plugin: any LoyaltyPlugin,
               onFailure: (StoredEvent, any Error) -> Void) throws -> Int {
        do {
            return try apply(events, through: through, plugin: plugin, isolated: false, onFailure: onFailure)
        } catch is EventFailure {
            return try apply(events, through: through, plugin: plugin, isolated: true, onFailure: onFailure)
        }
    }

    /// An event threw while its run was applied without savepoints.
    private struct EventFailure: Error {}

    private func apply(_ events: [StoredEvent], through: Int64, plugin: any LoyaltyPlugin, isolated: Bool,
                       onFailure: (StoredEvent, any Error) -> Void) throws -> Int {
        try pool.write { db in
            var queued = 0
            let outbox = OutboxInsert(db: db, statement: try db.cachedStatement(sql: "INSERT INTO runtime_outbox (eventId, body) VALUES (?, ?) ON CONFLICT(eventId) DO NOTHING"))
            for event in events {
                var emitter = Emitter(pluginName: plugin.name, input: event.envelope)
                if isolated {
                    do {
                        try db.inSavepoint {
                            try plugin.apply(event, in: db, emit: &emitter)
                            return .commit
                        }
                    } catch {
                        onFailure(event, error)
                        try db.execute(sql: "INSERT OR REPLACE INTO runtime_failures (seq, eventId, error) VALUES (?, ?, ?)",
                                       arguments: [event.seq, event.envelope.eventId, String(describing: error)])
                        continue
                    }
                } else {
                    do {
                        try plugin.apply(event, in: db, emit: &emitter)
                    } catch {
                        throw EventFailure()   // rolls this transaction back; the caller retries isolated
                    }
                }
                for derived in emitter.pending {
                    try outbox.insert(eventId: derived.eventId, body: derived.body)
                    queued += 1
                }
            }
            try db.execute(sql: "UPDATE runtime_cursor SET appliedSeq = ? WHERE id = 1 AND appliedSeq < ?", arguments: [through, through])
            return queued
        }
    }

    /// Queues an event that no input event caused (a rules change, a config alert).
    func enqueue(eventId: String, body: [UInt8]) throws {
        try pool.write { db in
            try db.execute(sql: "INSERT INTO runtime_outbox (eventId, body) VALUES (?, ?) ON CONFLICT(eventId) DO NOTHING",
                           arguments: [eventId, Data(body)])
        }
    }

    /// Records a rule set as activated, with the event announcing it, unless it is the set
    /// already in force (a restart). - Returns: true when recorded.
    func recordRulesActivation(version: String, files: [UInt8], at time: Int64,
                               announce: (_ activation: Int64, _ previous: String?) -> (eventId: String, bytes: [UInt8])) throws -> Bool {
        try pool.write { db in
            let previous = try String.fetchOne(db, sql: "SELECT version FROM runtime_rules ORDER BY activation DESC LIMIT 1")
            if previous == version { return false }
            try db.execute(sql: "INSERT INTO runtime_rules (version, activatedAt, files) VALUES (?, ?, ?)",
                           arguments: [version, time, Data(files)])
            let event = announce(db.lastInsertedRowID, previous)
            try db.execute(sql: "INSERT INTO runtime_outbox (eventId, body) VALUES (?, ?) ON CONFLICT(eventId) DO NOTHING",
                           arguments: [event.eventId, Data(event.bytes)])
            return true
        }
    }

    /// The rule set activated last, with its files.
    func lastRules() throws -> (version: String, activatedAt: Int64, files: [(name: String, text: String)])? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT version, activatedAt, files FROM runtime_rules ORDER BY activation DESC LIMIT 1") else {
                return nil
            }
            let data: Data = row["files"]
            guard case .array(let items)? = try? JSONParser.parse([UInt8](data)) else { return nil }
            let files: [(name: String, text: String)] = items.compactMap { item in
                guard case .object(let object) = item, case .string(let name)? = object["name"], case .string(let text)? = object["text"] else { return nil }
                return (name, text)
            }
            return (row["version"], row["activatedAt"], files)
        }
    }

    /// Outbox events after `position`, oldest first. Read through SQLite's API: a replay sends
    /// one derived event per purchase, and GRDB's rows copied each body twice.
    func outbox(after position: Int64, limit: Int) throws -> [(position: Int64, eventId: String, body: [UInt8])] {
        try pool.read { db in
            let handle = try db.cachedStatement(sql: "SELECT position, eventId, body FROM runtime_outbox WHERE position > ? ORDER BY position LIMIT ?").sqliteStatement
            defer { sqlite3_reset(handle); sqlite3_clear_bindings(handle) }
            sqlite3_bind_int64(handle, 1, position)
            sqlite3_bind_int64(handle, 2, Int64(limit))
            var entries: [(position: Int64, eventId: String, body: [UInt8])] = []
            while true {
                let code = sqlite3_step(handle)
                if code == SQLITE_DONE { break }
                guard code == SQLITE_ROW else {
                    throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
                                        sql: "SELECT … FROM runtime_outbox")
                }
                let eventId = sqlite3_column_text(handle, 1).map {
                    String(decoding: UnsafeBufferPointer(start: $0, count: Int(sqlite3_column_bytes(handle, 1))), as: UTF8.self)
                } ?? ""
                // The pointer first, then its length: the order SQLite documents as safe.
                let body = sqlite3_column_blob(handle, 2).map { [UInt8](UnsafeRawBufferPointer(start: $0, count: Int(sqlite3_column_bytes(handle, 2)))) } ?? []
                entries.append((sqlite3_column_int64(handle, 0), eventId, body))
            }
            return entries
        }
    }

    /// Deletes acknowledged outbox events by position. Acks come back nearly in the order the
    /// events were sent, so the positions fall into a few runs, each one ranged delete.
    func removeFromOutbox(positions: [Int64]) throws {
        guard !positions.isEmpty else { return }
        var ranges: [ClosedRange<Int64>] = []
        for position in positions.sorted() {
            if let last = ranges.last, position <= last.upperBound + 1 {
                ranges[ranges.count - 1] = last.lowerBound...max(last.upperBound, position)
            } else {
                ranges.append(position...position)
            }
        }
        try pool.write { db in
            let statement = try db.cachedStatement(sql: "DELETE FROM runtime_outbox WHERE position BETWEEN ? AND ?")
            for range in ranges { try statement.execute(arguments: [range.lowerBound, range.upperBound]) }
        }
    }
}

/// The outbox insert of `apply`, bound through SQLite's own API: it runs once per derived event
/// (a replay of a million purchases queues a million `points.accrued`), and GRDB's arguments
/// (a `Data` copy of the body, boxed values) cost more than SQLite's insert did. The SQL text is
/// run nowhere else, and every use ends in a reset.
private struct OutboxInsert {
    let db: Database
    let statement: Statement

    func insert(eventId: String, body: [UInt8]) throws {
        let handle = statement.sqliteStatement
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        var id = eventId
        id.withUTF8 { text in
            _ = text.withMemoryRebound(to: CChar.self) { sqlite3_bind_text(handle, 1, $0.baseAddress, Int32(text.count), sqliteTransient) }
        }
        body.withUnsafeBytes { _ = sqlite3_bind_blob(handle, 2, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count), sqliteTransient) }
        let code = sqlite3_step(handle)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
                                sql: "INSERT INTO runtime_outbox")
        }
    }
}

/// SQLite copies the bytes before the bind returns.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
