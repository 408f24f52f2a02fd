import GRDB

/// The satisfaction plugin's tables. Times are epoch milliseconds of the events' time.
enum Schema {
    static func register(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("satisfaction v1") { db in
            try db.execute(sql: """
                CREATE TABLE sat_responses (
                    eventId TEXT PRIMARY KEY,
                    storeId TEXT NOT NULL,
                    customerId TEXT,
                    at INTEGER NOT NULL,
                    nps INTEGER NOT NULL,
                    expectations INTEGER,
                    valueForMoney INTEGER,
                    serviceLevel INTEGER,
                    comment TEXT
                );
                CREATE INDEX sat_responses_store_at ON sat_responses(storeId, at);
                CREATE INDEX sat_responses_at ON sat_responses(at);
                -- What the plugin knows of a customer: visits from purchases, scores from customer.scored.
                CREATE TABLE sat_customers (
                    customerId TEXT PRIMARY KEY,
                    visits INTEGER NOT NULL DEFAULT 0,
                    spend INTEGER NOT NULL DEFAULT 0,
                    firstVisit INTEGER,
                    lastVisit INTEGER,
                    lastStore TEXT,
                    lastNps INTEGER,
                    clv REAL,
                    clvPercentile REAL,
                    pAlive REAL,
                    scoredAt INTEGER
                );
                CREATE TABLE sat_customer_days (
                    customerId TEXT NOT NULL,
                    day INTEGER NOT NULL,
                    visits INTEGER NOT NULL,
                    spend INTEGER NOT NULL,
                    PRIMARY KEY (customerId, day)
                ) WITHOUT ROWID;
                -- Alerts standing now, one per cause (rule and store, chain or customer).
                CREATE TABLE sat_alerts (
                    alertKey TEXT PRIMARY KEY,
                    alertId TEXT NOT NULL,
                    ruleId TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    storeId TEXT,
                    customerId TEXT,
                    severity TEXT NOT NULL,
                    raisedAt INTEGER NOT NULL,
                    message TEXT NOT NULL,
                    detail TEXT NOT NULL DEFAULT ''
                );
                -- The plugin's clock: the latest event time seen, and when the windows were last swept.
                CREATE TABLE sat_clock (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    now INTEGER NOT NULL,
                    lastSweep INTEGER NOT NULL
                );
                INSERT INTO sat_clock (id, now, lastSweep) VALUES (1, 0, 0);
                """)
        }
    }
}
