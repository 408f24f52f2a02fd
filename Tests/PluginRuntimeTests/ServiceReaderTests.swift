import Foundation
import GRDB
import LoyaltyTestSupport
import PluginRuntime
import Testing

/// The service thread's own read connection, on a real WAL database written through GRDB's pool
/// as a plugin's event thread writes it.
@Suite struct ServiceReaderTests {
    static func pool(in directory: TemporaryDirectory, name: String = "plugin.sqlite") throws -> DatabasePool {
        let pool = try DatabasePool(path: directory.path + "/" + name)
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE accounts (id TEXT PRIMARY KEY, points INTEGER NOT NULL, tier TEXT, expiresAt INTEGER)")
        }
        return pool
    }

    static func accounts(_ reader: ServiceReader, _ pool: DatabasePool) throws -> [String] {
        try reader.read(pool) { transaction in
            var rows: [String] = []
            try transaction.forEachRow("SELECT id, points, tier, expiresAt FROM accounts ORDER BY id", []) { row in
                rows.append("\(row.optionalText(0)!) \(row.int64(1)) \(row.optionalText(2) ?? "-") \(row.optionalInt64(3).map(String.init) ?? "-")")
            }
            return rows
        }
    }

    @Test func readsWhatWasCommittedWithTextAndIntegerArgumentsAndNulls() throws {
        let directory = try TemporaryDirectory("service-reader")
        defer { directory.remove() }
        let pool = try Self.pool(in: directory)
        let reader = ServiceReader()
        #expect(try Self.accounts(reader, pool) == [])
        try pool.write { db in
            try db.execute(sql: "INSERT INTO accounts VALUES ('C1', 10, 'gold', 99), ('C2', 20, NULL, NULL), ('C3', 30, 'silver', 5)")
        }
        #expect(try Self.accounts(reader, pool) == ["C1 10 gold 99", "C2 20 - -", "C3 30 silver 5"])
        let points = try reader.read(pool) { transaction in
            var points: [Int64] = []
            try transaction.forEachRow("SELECT points FROM accounts WHERE id <> ? AND points > ? ORDER BY id", [.text("C1"), .int(15)]) {
                points.append($0.int64(0))
            }
            return points
        }
        #expect(points == [20, 30])
    }

    @Test func oneReadSeesOneCommittedStateWhileTheWriterGoesOn() throws {
        let directory = try TemporaryDirectory("service-reader")
        defer { directory.remove() }
        let pool = try Self.pool(in: directory)
        try pool.write { db in try db.execute(sql: "INSERT INTO accounts VALUES ('C1', 10, NULL, NULL)") }
        let reader = ServiceReader()
        let (before, during) = try reader.read(pool) { transaction in
            var before: Int64 = 0, during: Int64 = 0
            try transaction.forEachRow("SELECT SUM(points) FROM accounts", []) { before = $0.int64(0) }
            // The writer commits between two queries of the same read: WAL lets it, and the
            // read keeps seeing the state it started with.
            try pool.write { db in try db.execute(sql: "INSERT INTO accounts VALUES ('C2', 5, NULL, NULL)") }
            try transaction.forEachRow("SELECT SUM(points) FROM accounts", []) { during = $0.int64(0) }
            return (before, during)
        }
        #expect(before == 10)
        #expect(during == 10)
        #expect(try Self.accounts(reader, pool) == ["C1 10 - -", "C2 5 - -"])
    }

    @Test func aFailedQueryNamesItsSQLAndTheNextReadWorks() throws {
        let directory = try TemporaryDirectory("service-reader")
        defer { directory.remove() }
        let pool = try Self.pool(in: directory)
        let reader = ServiceReader()
        let missing = #expect(throws: DatabaseError.self) {
            try reader.read(pool) { try $0.forEachRow("SELECT id FROM nowhere", []) { _ in } }
        }
        #expect(missing?.sql == "SELECT id FROM nowhere")
        #expect(missing?.message?.contains("no such table: nowhere") == true, "\(String(describing: missing))")
        // A failure inside the body, after a query ran, ends the transaction too.
        struct Refused: Error {}
        #expect(throws: Refused.self) {
            try reader.read(pool) { transaction in
                try transaction.forEachRow("SELECT COUNT(*) FROM accounts", []) { _ in }
                throw Refused()
            }
        }
        try pool.write { db in try db.execute(sql: "INSERT INTO accounts VALUES ('C1', 1, NULL, NULL)") }
        #expect(try Self.accounts(reader, pool) == ["C1 1 - -"])
    }

    @Test func itCannotWrite() throws {
        let directory = try TemporaryDirectory("service-reader")
        defer { directory.remove() }
        let pool = try Self.pool(in: directory)
        let reader = ServiceReader()
        let refused = #expect(throws: DatabaseError.self) {
            try reader.read(pool) { try $0.forEachRow("INSERT INTO accounts VALUES ('C9', 1, NULL, NULL)", []) { _ in } }
        }
        #expect(refused?.resultCode == .SQLITE_READONLY)
        #expect(try Self.accounts(reader, pool) == [])
    }

    @Test func anotherDatabaseIsOpenedAnew() throws {
        let directory = try TemporaryDirectory("service-reader")
        defer { directory.remove() }
        let first = try Self.pool(in: directory, name: "first.sqlite")
        let second = try Self.pool(in: directory, name: "second.sqlite")
        try first.write { db in try db.execute(sql: "INSERT INTO accounts VALUES ('C1', 1, NULL, NULL)") }
        try second.write { db in try db.execute(sql: "INSERT INTO accounts VALUES ('C2', 2, NULL, NULL)") }
        let reader = ServiceReader()
        #expect(try Self.accounts(reader, first) == ["C1 1 - -"])
        #expect(try Self.accounts(reader, second) == ["C2 2 - -"])
        #expect(try Self.accounts(reader, first) == ["C1 1 - -"])
    }
}
