import GRDB

/// The stores that have answered surveys, from the `(storeId, at)` index: one seek to each next
/// store and one to its latest answer, so the cost follows the number of stores, not of answers.
///
/// `SELECT DISTINCT storeId FROM sat_responses WHERE at > ?` read the whole index instead (2,000,000
/// answers of 500 stores: 75 ms cached, 2.6 s from disk; the seeks, 10 ms from Python), and the
/// sweep asks every hour of event time: replaying a year of a large chain would have re-read every
/// answer ever kept 8,760 times.
enum Stores {
    /// Stores with an answer after `since` (all stores that ever answered when nil), sorted.
    static func answering(after since: Int64?, in db: Database) throws -> [String] {
        var stores: [String] = []
        let next = try db.cachedStatement(sql: "SELECT storeId FROM sat_responses WHERE storeId > ? ORDER BY storeId LIMIT 1")
        let recent = try db.cachedStatement(sql: "SELECT 1 FROM sat_responses WHERE storeId = ? AND at > ? LIMIT 1")
        var store = try String.fetchOne(db.cachedStatement(sql: "SELECT MIN(storeId) FROM sat_responses"))
        while let current = store {
            if try since.map({ try Bool.fetchOne(recent, arguments: [current, $0]) ?? false }) ?? true {
                stores.append(current)
            }
            store = try String.fetchOne(next, arguments: [current])
        }
        return stores
    }
}
