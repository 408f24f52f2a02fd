import Foundation
import GRDB

/// The bus's durable log: one SQLite file in WAL mode, synchronous=FULL, so that a committed
/// transaction is on disk. `eventId` is UNIQUE: deduplication is a storage constraint, never a
/// check-then-write.
public final class Journal: Sendable {
    public let path: String
    let pool: DatabasePool

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
        }
        configuration.busyMode = .timeout(5)
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
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
                CREATE INDEX journal_customer_seq ON journal(customerId, seq) WHERE customerId IS NOT NULL;
                """)
        }
        return migrator
    }

    /// Appends a batch in one transaction: one fsync for all of them (group commit).
    /// Throws if the transaction could not be committed; then nothing of the batch is stored.
    public func append(_ entries: [Entry], receivedAtMilliseconds: Int64) throws -> [AppendResult] {
        try pool.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO journal (eventId, type, occurredAt, receivedAt, customerId, body)
                VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(eventId) DO NOTHING
                """)
            let existing = try db.cachedStatement(sql: "SELECT seq, body FROM journal WHERE eventId = ?")
            var results: [AppendResult] = []
            results.reserveCapacity(entries.count)
            for entry in entries {
                let body = Data(entry.body)
                try insert.execute(arguments: [entry.eventId, entry.type, entry.occurredAtMilliseconds,
                                               receivedAtMilliseconds, entry.customerId, body])
                if db.changesCount == 1 {
                    results.append(.stored(seq: db.lastInsertedRowID))
                } else {
                    let row = try Row.fetchOne(existing, arguments: [entry.eventId])!
                    let seq: Int64 = row["seq"]
                    let storedBody: Data = row["body"]
                    results.append(storedBody == body ? .duplicate(seq: seq) : .conflict(seq: seq))
                }
            }
            return results
        }
    }

    /// The highest stored seq (0 when empty).
    public func head() throws -> Int64 {
        try pool.read { db in try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM journal") ?? 0 }
    }

    /// Events with `seq > after`, oldest first, of the given types (all when empty), at most `limit`,
    /// and how far the scan got: every matching event up to `scannedThrough` is in the result.
    public func read(after: Int64, limit: Int, types: [String]) throws -> (entries: [StoredEntry], scannedThrough: Int64, head: Int64) {
        try pool.read { db in
            let head = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM journal") ?? 0
            var sql = "SELECT seq, type, body FROM journal WHERE seq > ?"
            var arguments: StatementArguments = [after]
            if !types.isEmpty {
                sql += " AND type IN (\(databaseQuestionMarks(count: types.count)))"
                arguments += StatementArguments(types)
            }
            sql += " ORDER BY seq LIMIT ?"
            arguments += [limit]
            var entries: [StoredEntry] = []
            let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            while let row = try rows.next() {
                let body: Data = row["body"]
                entries.append(StoredEntry(seq: row["seq"], type: row["type"], body: [UInt8](body)))
            }
            let scanned = entries.count == limit ? entries.last!.seq : head
            return (entries, scanned, head)
        }
    }

    /// The last seq of each type, for the beacon and for status.
    public func count() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal") ?? 0 }
    }
}

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
