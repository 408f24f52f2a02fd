import Foundation
import GRDB
import GRDBSQLite

/// A connection of its own for the read-only services a till calls at every checkout (a points
/// balance): each request is one short read transaction through SQLite's own API, on statements
/// prepared once.
///
/// Through `DatabasePool.read`, a `points.balance` cost 161,000 instructions under callgrind, of
/// which SQLite's own work was 33,000; the rest was the pool's locks and dispatch queue, the
/// `BEGIN` statement GRDB prepares for every transaction, and boxing each row. The service thread
/// answers one request at a time, so this needs no pool: the connection sits behind a mutex that
/// is never contended in the runtime, and is opened on first use from the plugin's own pool's
/// path (WAL: it reads the last committed state, never waiting for the writer).
///
/// Only this file touches the raw handles; statements are reset before each use and after it,
/// and a read ends its transaction whatever happens inside.
///
/// `@unchecked Sendable`: the one mutable field, `connection`, is read and written only while
/// `lock` is held (in `read`, the only method), and nothing it refers to escapes the lock: the
/// body gets a `ReadTransaction`, which cannot be copied out of its `inout` parameter, and rows
/// only inside `forEachRow`. (`Mutex` would say the same, but its closure must return a
/// `sending` result, which a generic body's result run on the connection cannot be.)
public final class ServiceReader: @unchecked Sendable {
    private let lock = NSLock()
    private var connection: Connection?

    public init() {}

    /// Runs `body` in one read transaction: every query in it sees the same committed state.
    public func read<T>(_ pool: DatabasePool, _ body: (inout ReadTransaction) throws -> T) throws -> T {
        let path = pool.path
        return try lock.withLock {
            if connection?.path != path {
                connection = nil   // closes the old one (another database: a test reopened it)
                connection = try Connection(path: path)
            }
            return try connection!.read(body)
        }
    }

    /// One SQLite connection and its prepared statements, closed with it.
    fileprivate final class Connection {
        let path: String
        let handle: OpaquePointer
        var statements: [String: OpaquePointer] = [:]
        let begin: OpaquePointer
        let commit: OpaquePointer

        init(path: String) throws {
            var opened: OpaquePointer?
            // Read-write without CREATE: the file must exist (the runtime made it), and a
            // read-only open of a WAL database can fail to map its shared memory.
            let code = sqlite3_open_v2(path, &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
            guard code == SQLITE_OK, let opened else {
                let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
                if let opened { sqlite3_close_v2(opened) }
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "opening \(path) for service reads: \(message)")
            }
            handle = opened
            self.path = path
            var prepared: [OpaquePointer] = []
            do {
                sqlite3_busy_timeout(opened, 2000)
                guard sqlite3_exec(opened, "PRAGMA query_only = ON", nil, nil, nil) == SQLITE_OK else {
                    throw Self.error(opened, sql: "PRAGMA query_only = ON")
                }
                prepared.append(try Self.prepare("BEGIN", on: opened))
                prepared.append(try Self.prepare("COMMIT", on: opened))
            } catch {
                for statement in prepared { sqlite3_finalize(statement) }
                sqlite3_close_v2(opened)
                throw error
            }
            begin = prepared[0]
            commit = prepared[1]
        }

        deinit {
            for statement in statements.values { sqlite3_finalize(statement) }
            sqlite3_finalize(begin)
            sqlite3_finalize(commit)
            sqlite3_close_v2(handle)
        }

        func read<T>(_ body: (inout ReadTransaction) throws -> T) throws -> T {
            try run(begin, sql: "BEGIN")
            var transaction = ReadTransaction(connection: self)
            let result: T
            do {
                result = try body(&transaction)
            } catch {
                end()
                throw error
            }
            do {
                try run(commit, sql: "COMMIT")
            } catch {
                end()
                throw error
            }
            return result
        }

        /// Ends the transaction whatever state it is in (a read has nothing to undo), so the next
        /// `BEGIN` does not find one still open.
        private func end() {
            _ = sqlite3_step(commit)
            sqlite3_reset(commit)
            if sqlite3_get_autocommit(handle) == 0 { sqlite3_exec(handle, "ROLLBACK", nil, nil, nil) }
        }

        func statement(_ sql: String) throws -> OpaquePointer {
            if let statement = statements[sql] { return statement }
            let statement = try Self.prepare(sql, on: handle)
            statements[sql] = statement
            return statement
        }

        private func run(_ statement: OpaquePointer, sql: String) throws {
            defer { sqlite3_reset(statement) }
            guard sqlite3_step(statement) == SQLITE_DONE else { throw Self.error(handle, sql: sql) }
        }

        static func prepare(_ sql: String, on handle: OpaquePointer) throws -> OpaquePointer {
            var statement: OpaquePointer?
            let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
            guard code == SQLITE_OK, let statement else { throw error(handle, sql: sql) }
            return statement
        }

        static func error(_ handle: OpaquePointer, sql: String) -> DatabaseError {
            DatabaseError(resultCode: ResultCode(rawValue: sqlite3_extended_errcode(handle)),
                          message: String(cString: sqlite3_errmsg(handle)), sql: sql)
        }
    }
}

/// The queries of one `ServiceReader.read`.
public struct ReadTransaction: ~Copyable {
    fileprivate let connection: ServiceReader.Connection

    /// A value bound to a `?` of a query.
    public enum Argument: Sendable {
        case int(Int64)
        case text(String)
    }

    /// Runs `sql` with `arguments` bound in order and calls `row` for each result row.
    public mutating func forEachRow(_ sql: String, _ arguments: [Argument], _ row: (ResultRow) throws -> Void) throws {
        let statement = try connection.statement(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (offset, argument) in arguments.enumerated() {
            let index = Int32(offset + 1)
            switch argument {
            case .int(let value):
                sqlite3_bind_int64(statement, index, value)
            case .text(var value):
                value.withUTF8 { text in
                    _ = text.withMemoryRebound(to: CChar.self) {
                        sqlite3_bind_text(statement, index, $0.baseAddress, Int32(text.count), serviceReaderTransient)
                    }
                }
            }
        }
        while true {
            switch sqlite3_step(statement) {
            case SQLITE_ROW: try row(ResultRow(statement: statement))
            case SQLITE_DONE: return
            default: throw ServiceReader.Connection.error(connection.handle, sql: sql)
            }
        }
    }
}

/// The current row of a query, valid only inside the `forEachRow` callback.
public struct ResultRow {
    fileprivate let statement: OpaquePointer

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    public func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }
    public func bool(_ column: Int32) -> Bool { int64(column) != 0 }
    public func optionalDouble(_ column: Int32) -> Double? { isNull(column) ? nil : sqlite3_column_double(statement, column) }

    public func optionalText(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(statement, column) else { return nil }
        return String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(statement, column))), as: UTF8.self)
    }
}

/// SQLite copies the bytes before the bind returns.
private let serviceReaderTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
