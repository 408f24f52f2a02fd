import Foundation
import GRDB
import GRDBSQLite

/// The bus's durable log: one SQLite file in WAL mode, synchronous=FULL, so that a committed
/// transaction is on disk. `eventId` is UNIQUE: deduplication is a storage constraint, never a
/// check-then-write.
public final class Journal: Sendable {
    public let path: String
    let pool: DatabasePool
    /// A separate connection for checkpoints, so they never wait in the writer's queue.
    private let checkpointer: DatabaseQueue

    /// The outcome of appending one event.
    public enum AppendResult: Sendable, Equatable {
        case stored(seq: Int64)
        case duplicate(seq: Int64)
        /// The id was stored before with different content: a producer reused an id.
        case conflict(seq: Int64)
    }

    /// One event ready to append: already validated.
    public struct Entry: Sendable {
        public var eventId: String
        public var type: String
        public var occurredAtMilliseconds: Int64
        public var customerId: String?
        /// The producer's envelope, exactly as validated (without `seq`).
        public var body: [UInt8]

        public init(eventId: String, type: String, occurredAtMilliseconds: Int64, customerId: String?, body: [UInt8]) {
            self.eventId = eventId
            self.type = type
            self.occurredAtMilliseconds = occurredAtMilliseconds
            self.customerId = customerId
            self.body = body
        }
    }

    /// A stored event as read back.
    public struct StoredEntry: Sendable, Equatable {
        public var seq: Int64
        public var type: String
        public var body: [UInt8]
    }

    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            // FULL: the WAL is fsynced at every commit, which is what makes an ack a promise.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Checkpoints run on their own connection (`checkpoint()`), never inside a commit
            // that producers are waiting for.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            // After a checkpoint resets it, the WAL file is cut back to this size.
            try db.execute(sql: "PRAGMA journal_size_limit = 134217728")
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        configuration.busyMode = .timeout(5)
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
        var checkpointConfiguration = Configuration()
        checkpointConfiguration.busyMode = .timeout(5)
        checkpointer = try DatabaseQueue(path: path, configuration: checkpointConfiguration)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: journal") { db in
            // seq is the rowid: assigned in commit order, never reused because nothing is deleted.
            try db.execute(sql: """
                CREATE TABLE journal (
                    seq INTEGER PRIMARY KEY,
                    eventId TEXT NOT NULL UNIQUE,
                    type TEXT NOT NULL,
                    occurredAt INTEGER NOT NULL,
                    receivedAt INTEGER NOT NULL,
                    customerId TEXT,
                    body BLOB NOT NULL
                );
                CREATE INDEX journal_type_seq ON journal(type, seq);
                """)
        }
        return migrator
    }

    /// Appends a batch in one transaction: one fsync for all of them (group commit).
    /// Throws if the transaction could not be committed; then nothing of the batch is stored.
    public func append(_ entries: [Entry], receivedAtMilliseconds: Int64) throws -> [AppendResult] {
        try pool.write { db in
            // The hot loop binds straight to SQLite: no per-row allocation for arguments.
            let insert = try db.cachedStatement(sql: """
                INSERT INTO journal (eventId, type, occurredAt, receivedAt, customerId, body)
                VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(eventId) DO NOTHING
                """)
            let existing = try db.cachedStatement(sql: "SELECT seq, body FROM journal WHERE eventId = ?")
            let statement = insert.sqliteStatement
            let connection = db.sqliteConnection
            var results: [AppendResult] = []
            results.reserveCapacity(entries.count)
            for entry in entries {
                sqlite3_reset(statement)
                var code = entry.eventId.withCString { sqlite3_bind_text(statement, 1, $0, -1, sqliteTransient) }
                code |= entry.type.withCString { sqlite3_bind_text(statement, 2, $0, -1, sqliteTransient) }
                code |= sqlite3_bind_int64(statement, 3, entry.occurredAtMilliseconds)
                code |= sqlite3_bind_int64(statement, 4, receivedAtMilliseconds)
                if let customerId = entry.customerId {
                    code |= customerId.withCString { sqlite3_bind_text(statement, 5, $0, -1, sqliteTransient) }
                } else {
                    code |= sqlite3_bind_null(statement, 5)
                }
                let step = entry.body.withUnsafeBytes { body -> Int32 in
                    // SQLITE_STATIC: the bytes stay valid until the step below has copied them.
                    guard sqlite3_bind_blob(statement, 6, body.baseAddress, Int32(body.count), nil) == SQLITE_OK else { return SQLITE_MISUSE }
                    let step = sqlite3_step(statement)
                    sqlite3_reset(statement)
                    sqlite3_clear_bindings(statement)
                    return step
                }
                guard code == SQLITE_OK, step == SQLITE_DONE else {
                    throw DatabaseError(resultCode: ResultCode(rawValue: step == SQLITE_DONE ? code : step),
                                        message: String(cString: sqlite3_errmsg(connection)))
                }
                if sqlite3_changes(connection) == 1 {
                    results.append(.stored(seq: sqlite3_last_insert_rowid(connection)))
                } else {
                    let row = try Row.fetchOne(existing, arguments: [entry.eventId])!
                    let seq: Int64 = row["seq"]
                    let storedBody: Data = row["body"]
                    results.append(storedBody.elementsEqual(entry.body) ? .duplicate(seq: seq) : .conflict(seq: seq))
                }
            }
            return results
        }
    }

    /// Copies committed WAL pages into the database file without blocking the writer or the
    /// readers (a passive checkpoint), so the WAL stays small. The bus calls it once a second
    /// from a thread of its own.
    public func checkpoint() throws {
        try checkpointer.inDatabase { db in _ = try db.checkpoint(.passive) }
    }

    /// The highest stored seq (0 when empty).
    public func head() throws -> Int64 {
        try pool.read { db in try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM journal") ?? 0 }
    }

    /// Events with `seq > after`, oldest first, of the given types (all when empty), at most `limit`,
    /// and how far the scan got: every matching event up to `scannedThrough` is in the result.
    ///
    /// With types, each type is read on its own through the `(type, seq)` index, in seq order,
    /// so every query stops after `limit` entries. One query for all of them (`type IN (…) ORDER BY
    /// seq LIMIT n`) made SQLite read every matching event after `after`, bodies included, and sort
    /// them, to return the first n: replaying a journal of 1,000,000 purchases cost 70–130 ms per
    /// batch of 5,000 at the start, and the plugin waited for it.
    /// First the seqs (from the index alone), to find the last one that fits in `limit`; then
    /// the bodies of those events only.
    public func read(after: Int64, limit: Int, types: [String]) throws -> (entries: [StoredEntry], scannedThrough: Int64, head: Int64) {
        try pool.read { db in
            let head = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM journal") ?? 0
            guard limit > 0 else { return ([], after, head) }
            if types.isEmpty {
                let entries = try Self.entries(db, sql: "SELECT seq, type, body FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",
                                               arguments: [after, limit])
                return (entries, entries.count == limit ? entries.last!.seq : head, head)
            }
            let types = Array(Set(types)).sorted()
            var seqs: [Int64] = []
            let firstSeqs = try db.cachedStatement(sql: "SELECT seq FROM journal WHERE type = ? AND seq > ? ORDER BY seq LIMIT ?")
            for type in types {
                seqs.append(contentsOf: try Int64.fetchAll(firstSeqs, arguments: [type, after, limit]))
            }
            // The limit-th smallest seq of all types: no type has an event before it that is not
            // among its first `limit`.
            let scannedThrough: Int64
            if seqs.count >= limit {
                seqs.sort()
                scannedThrough = seqs[limit - 1]
            } else {
                scannedThrough = head
            }
            var entries: [StoredEntry] = []
            entries.reserveCapacity(min(seqs.count, limit))
            let bodies = try db.cachedStatement(sql: "SELECT seq, type, body FROM journal WHERE type = ? AND seq > ? AND seq <= ? ORDER BY seq")
            for type in types {
                entries.append(contentsOf: try Self.entries(bodies, arguments: [type, after, scannedThrough]))
            }
            if types.count > 1 { entries.sort { $0.seq < $1.seq } }
            return (entries, scannedThrough, head)
        }
    }

    private static func entries(_ db: Database, sql: String, arguments: StatementArguments) throws -> [StoredEntry] {
        try entries(db.cachedStatement(sql: sql), arguments: arguments)
    }

    private static func entries(_ statement: Statement, arguments: StatementArguments) throws -> [StoredEntry] {
        var entries: [StoredEntry] = []
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try rows.next() {
            let body: Data = row["body"]
            entries.append(StoredEntry(seq: row["seq"], type: row["type"], body: [UInt8](body)))
        }
        return entries
    }

    /// How many events the journal holds.
    public func count() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal") ?? 0 }
    }
}

/// SQLite copies the bound value before the bind call returns.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// Puts the bus-assigned `seq` into a stored envelope: `{"seq":N,` followed by the producer's
/// object after its opening brace. The producer's bytes are otherwise passed on untouched.
public enum EnvelopeSeq {
    public static func insert(seq: Int64, into body: [UInt8]) -> [UInt8] {
        guard let open = body.firstIndex(of: UInt8(ascii: "{")) else { return body }
        var result: [UInt8] = []
        result.reserveCapacity(body.count + 24)
        result.append(contentsOf: "{\"seq\":".utf8)
        result.append(contentsOf: String(seq).utf8)
        // An envelope always has fields (eventId is required), so a comma always follows.
        result.append(UInt8(ascii: ","))
        result.append(contentsOf: body[(open + 1)...].drop(while: { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }))
        return result
    }
}
