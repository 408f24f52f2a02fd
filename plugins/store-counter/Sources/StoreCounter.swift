import Foundation
import GRDB
import LoyaltyEvents
import PluginRuntime

/// The reference plugin: counts purchases and returns per store, and the net amount sold.
/// Small on purpose: it shows the runtime's contract (state and cursor in one transaction,
/// derived events with derived ids, a service) and is the subject of the crash tests.
struct StoreCounter: LoyaltyPlugin {
    let name = "store-counter"
    let topics: Set<String> = [EventType.purchase, EventType.return]
    /// Every this-many purchases in a store, a `store.milestone` event is emitted.
    var milestoneEvery: Int64 = 1000

    func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("store-counter v1") { db in
            try db.execute(sql: """
                CREATE TABLE store_counts (
                    storeId TEXT NOT NULL,
                    currency TEXT NOT NULL,
                    purchases INTEGER NOT NULL DEFAULT 0,
                    returns INTEGER NOT NULL DEFAULT 0,
                    netAmount INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (storeId, currency)
                )
                """)
        }
    }

    func apply(_ event: StoredEvent, in db: Database, emit: inout Emitter) throws {
        switch event.envelope.payload {
        case .purchase(let purchase):
            // Cached statements: compiling the SQL for every event would cost more than running it.
            try db.cachedStatement(sql: """
                INSERT INTO store_counts (storeId, currency, purchases, netAmount) VALUES (?, ?, 1, ?)
                ON CONFLICT(storeId, currency) DO UPDATE SET purchases = purchases + 1, netAmount = netAmount + excluded.netAmount
                """).execute(arguments: [purchase.storeId, purchase.currency.description, purchase.total])
            let count = try Int64.fetchOne(db.cachedStatement(sql: "SELECT SUM(purchases) FROM store_counts WHERE storeId = ?"),
                                           arguments: [purchase.storeId]) ?? 0
            if count % milestoneEvery == 0 {
                emit.emit(type: "store.milestone", key: "milestone", payload: [
                    "storeId": .string(purchase.storeId), "purchases": .int(count),
                ])
            }
        case .return(let returned):
            try db.cachedStatement(sql: """
                INSERT INTO store_counts (storeId, currency, returns, netAmount) VALUES (?, ?, 1, ?)
                ON CONFLICT(storeId, currency) DO UPDATE SET returns = returns + 1, netAmount = netAmount + excluded.netAmount
                """).execute(arguments: [returned.storeId, returned.currency.description, -returned.total])
        default:
            break
        }
    }

    var services: [String: ServiceHandler] {
        ["store-counter.count": { request, pool in
            guard case .object(let query)? = try? JSONParser.parse(request.body),
                  case .string(let storeId)? = query["storeId"] else {
                return .error("expected a JSON object with \"storeId\", e.g. {\"storeId\":\"S001\"}")
            }
            let row = try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT COALESCE(SUM(purchases),0) AS p, COALESCE(SUM(returns),0) AS r FROM store_counts WHERE storeId = ?",
                                 arguments: [storeId])
            }
            let purchases: Int64 = row?["p"] ?? 0
            let returns: Int64 = row?["r"] ?? 0
            let answer: JSONValue = .object(["storeId": .string(storeId), "purchases": .int(purchases), "returns": .int(returns)])
            return .ok(JSONWriter.serialize(answer))
        }]
    }
}
