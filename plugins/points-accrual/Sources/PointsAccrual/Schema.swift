import GRDB
import LoyaltyRules

/// The plugin's tables, in the order they were introduced.
enum Schema {
    static func register(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("points-accrual v1") { db in
            try db.execute(sql: """
                CREATE TABLE customers (
                    customerId TEXT PRIMARY KEY,
                    visits INTEGER NOT NULL DEFAULT 0,
                    spend INTEGER NOT NULL DEFAULT 0,
                    firstVisit INTEGER,
                    lastVisit INTEGER,
                    lastNps INTEGER,
                    tier TEXT,
                    earnedDay INTEGER,
                    earnedToday INTEGER NOT NULL DEFAULT 0
                );
                -- Visits and spend per store-local day, for customer.visits(days:) and customer.spend(days:).
                CREATE TABLE customer_days (
                    customerId TEXT NOT NULL,
                    day INTEGER NOT NULL,
                    visits INTEGER NOT NULL,
                    spend INTEGER NOT NULL,
                    PRIMARY KEY (customerId, day)
                ) WITHOUT ROWID;
                -- One lot per purchase that earned points.
                CREATE TABLE lots (
                    lotId INTEGER PRIMARY KEY,
                    customerId TEXT NOT NULL,
                    eventId TEXT NOT NULL UNIQUE,
                    earnedAt INTEGER NOT NULL,
                    points INTEGER NOT NULL,
                    remaining INTEGER NOT NULL,
                    pendingUntil INTEGER NOT NULL,
                    expiresOnDay INTEGER,
                    rulesVersion TEXT NOT NULL,
                    rules TEXT NOT NULL
                );
                CREATE INDEX lots_by_customer ON lots (customerId, pendingUntil);
                """)
        }
        migrator.registerMigration("points-accrual v2 ledger") { db in
            try db.execute(sql: """
                -- Running figures the rules read (customer.points, customer.qualifyingPoints) and what a
                -- return could not take back.
                ALTER TABLE customers ADD COLUMN available INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE customers ADD COLUMN qualifying INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE customers ADD COLUMN owed INTEGER NOT NULL DEFAULT 0;

                ALTER TABLE lots ADD COLUMN expiresAt INTEGER;                          -- instant, ms
                ALTER TABLE lots ADD COLUMN reversed INTEGER NOT NULL DEFAULT 0;        -- taken back by returns
                ALTER TABLE lots ADD COLUMN released INTEGER NOT NULL DEFAULT 0;        -- counted in 'available'
                ALTER TABLE lots ADD COLUMN qualifyingUntil INTEGER;                    -- counts for tiers until
                ALTER TABLE lots ADD COLUMN inQualifying INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE lots ADD COLUMN expired INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE lots ADD COLUMN noticed INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX lots_unreleased ON lots (customerId, pendingUntil) WHERE released = 0;
                CREATE INDEX lots_qualifying ON lots (customerId, qualifyingUntil) WHERE inQualifying = 1;
                CREATE INDEX lots_expiry ON lots (expiresAt) WHERE expired = 0 AND expiresAt IS NOT NULL;
                CREATE INDEX lots_notice ON lots (expiresAt) WHERE noticed = 0 AND expiresAt IS NOT NULL;

                -- Every purchase of a known customer, so a return can be matched to its receipt.
                CREATE TABLE purchases (
                    eventId TEXT PRIMARY KEY,
                    customerId TEXT NOT NULL,
                    total INTEGER NOT NULL,
                    returned INTEGER NOT NULL DEFAULT 0,
                    lotId INTEGER
                ) WITHOUT ROWID;

                -- Every change to a customer's points, with its cause: what `loyalty customer show` prints.
                CREATE TABLE ledger (
                    entryId INTEGER PRIMARY KEY,
                    customerId TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    kind TEXT NOT NULL,        -- accrued, reversed, redeemed, expired, owed, repaid, written-off
                    points INTEGER NOT NULL,   -- signed
                    lotId INTEGER,
                    cause TEXT NOT NULL,       -- the event or request that made it
                    rulesVersion TEXT,
                    detail TEXT                -- rule ids and points, or a reason
                );
                CREATE INDEX ledger_by_customer ON ledger (customerId, entryId);

                CREATE TABLE redemptions (
                    redemptionId TEXT PRIMARY KEY,
                    customerId TEXT NOT NULL,
                    points INTEGER NOT NULL,
                    at INTEGER NOT NULL
                ) WITHOUT ROWID;
                -- Which lots each redemption spent.
                CREATE TABLE spends (
                    spendId INTEGER PRIMARY KEY,
                    redemptionId TEXT NOT NULL,
                    lotId INTEGER NOT NULL,
                    points INTEGER NOT NULL,
                    UNIQUE (redemptionId, lotId)
                );
                """)
        }
        migrator.registerMigration("points-accrual v3 one row per purchase") { db in
            // Replaying a journal costs per statement: a purchase is now one lot row (a lot of 0
            // points when it earned nothing, so a return still finds its receipt), its accrual
            // is the lot itself rather than a ledger row too, the day history is a blob in the
            // customer row, and the instants at which a customer's lots change state are kept
            // there so that most purchases need no query over lots at all.
            try db.execute(sql: """
                ALTER TABLE lots ADD COLUMN total INTEGER NOT NULL DEFAULT 0;      -- the purchase's amount, minor units
                ALTER TABLE lots ADD COLUMN returned INTEGER NOT NULL DEFAULT 0;   -- returned of it so far
                UPDATE lots SET total = p.total, returned = p.returned FROM purchases p WHERE p.lotId = lots.lotId;
                INSERT INTO lots (customerId, eventId, earnedAt, points, remaining, pendingUntil, rulesVersion, rules, released, total, returned)
                    SELECT customerId, eventId, 0, 0, 0, 0, '', '[]', 1, total, returned FROM purchases WHERE lotId IS NULL;
                DROP TABLE purchases;
                DELETE FROM ledger WHERE kind = 'accrued';

                ALTER TABLE customers ADD COLUMN nextRelease INTEGER;
                ALTER TABLE customers ADD COLUMN nextLapse INTEGER;
                ALTER TABLE customers ADD COLUMN days BLOB;
                UPDATE customers SET
                    nextRelease = (SELECT MIN(pendingUntil) FROM lots l WHERE l.customerId = customers.customerId AND l.released = 0),
                    nextLapse = (SELECT MIN(qualifyingUntil) FROM lots l WHERE l.customerId = customers.customerId AND l.inQualifying = 1);

                -- Notices go out in expiry order: a mark replaces the per-lot flag and its index.
                CREATE TABLE sweep (id INTEGER PRIMARY KEY CHECK (id = 1), noticedThrough INTEGER NOT NULL);
                INSERT INTO sweep (id, noticedThrough) VALUES (1, COALESCE(
                    (SELECT MIN(expiresAt) - 1 FROM lots WHERE noticed = 0 AND expired = 0 AND expiresAt IS NOT NULL),
                    (SELECT MAX(expiresAt) FROM lots WHERE noticed = 1), 0));
                DROP INDEX lots_notice;
                """)
            // The day history moves into the customer rows.
            var days: [String: [VisitHistory.Day]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT customerId, day, visits, spend FROM customer_days ORDER BY customerId, day") {
                days[row[0], default: []].append(VisitHistory.Day(day: row[1], visits: row[2], spend: Double(row[3] as Int64)))
            }
            let update = try db.makeStatement(sql: "UPDATE customers SET days = ? WHERE customerId = ?")
            for (customerId, history) in days { try update.execute(arguments: [DayHistoryCodec.encode(history), customerId]) }
            try db.execute(sql: "DROP TABLE customer_days")
        }
        migrator.registerMigration("points-accrual v4 customer scores") { db in
            // The customer-scoring plugin's latest figures, for rules on customer.clv,
            // customer.clvPercentile and customer.pAlive (NULL: not scored yet).
            try db.execute(sql: """
                ALTER TABLE customers ADD COLUMN clv REAL;
                ALTER TABLE customers ADD COLUMN clvPercentile REAL;
                ALTER TABLE customers ADD COLUMN pAlive REAL;
                """)
        }
        migrator.registerMigration("points-accrual v5 release by instant") { db in
            // A lot's release and lapse used to be flags written on the lot, each with its
            // partial index: three B-tree changes per lot at release and two at lapse. Now an
            // instant per customer says which lots are counted (releasedThrough, lapsedThrough),
            // and both are ranges over one (customerId, earnedAt) index. The flags stay as
            // columns of old rows; nothing reads them.
            try db.execute(sql: """
                ALTER TABLE customers ADD COLUMN releasedThrough INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE customers ADD COLUMN lapsedThrough INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE sweep ADD COLUMN maxPending INTEGER NOT NULL DEFAULT 0;
                UPDATE sweep SET maxPending = COALESCE((SELECT MAX(pendingUntil - earnedAt) FROM lots WHERE points > 0), 0);
                -- Old code released every lot due at the customer's last event, so the instants
                -- below separate counted lots from the others exactly.
                UPDATE customers SET
                    releasedThrough = COALESCE((SELECT MAX(pendingUntil) FROM lots l
                        WHERE l.customerId = customers.customerId AND l.released = 1 AND l.points > 0), 0),
                    lapsedThrough = COALESCE((SELECT MAX(qualifyingUntil) FROM lots l
                        WHERE l.customerId = customers.customerId AND l.released = 1 AND l.inQualifying = 0 AND l.points > 0), 0);
                CREATE INDEX lots_by_customer_time ON lots (customerId, earnedAt);
                DROP INDEX lots_by_customer;
                DROP INDEX lots_unreleased;
                DROP INDEX lots_qualifying;
                UPDATE customers SET
                    nextRelease = (SELECT MIN(pendingUntil) FROM lots l
                        WHERE l.customerId = customers.customerId AND l.pendingUntil > customers.releasedThrough AND l.points > 0),
                    nextLapse = (SELECT MIN(earnedAt) FROM lots l
                        WHERE l.customerId = customers.customerId AND l.pendingUntil <= customers.releasedThrough AND l.points > 0
                            AND l.earnedAt + \(Ledger.qualifyingWindow) > customers.lapsedThrough) + \(Ledger.qualifyingWindow);
                """)
        }
        migrator.registerMigration("points-accrual v6 customers clustered") { db in
            // Every event reads and writes one customer row by its id: clustered on the id, that
            // is one B-tree instead of the id's index plus the rowid table.
            let columns = """
                customerId, visits, spend, firstVisit, lastVisit, lastNps, tier, earnedDay, earnedToday, available, qualifying, owed,
                nextRelease, nextLapse, days, clv, clvPercentile, pAlive, releasedThrough, lapsedThrough
                """
            try db.execute(sql: """
                CREATE TABLE customers_clustered (
                    customerId TEXT NOT NULL PRIMARY KEY,
                    visits INTEGER NOT NULL DEFAULT 0,
                    spend INTEGER NOT NULL DEFAULT 0,
                    firstVisit INTEGER,
                    lastVisit INTEGER,
                    lastNps INTEGER,
                    tier TEXT,
                    earnedDay INTEGER,
                    earnedToday INTEGER NOT NULL DEFAULT 0,
                    available INTEGER NOT NULL DEFAULT 0,
                    qualifying INTEGER NOT NULL DEFAULT 0,
                    owed INTEGER NOT NULL DEFAULT 0,
                    nextRelease INTEGER,
                    nextLapse INTEGER,
                    days BLOB,
                    clv REAL,
                    clvPercentile REAL,
                    pAlive REAL,
                    releasedThrough INTEGER NOT NULL DEFAULT 0,
                    lapsedThrough INTEGER NOT NULL DEFAULT 0
                ) WITHOUT ROWID;
                INSERT INTO customers_clustered (\(columns)) SELECT \(columns) FROM customers;
                DROP TABLE customers;
                ALTER TABLE customers_clustered RENAME TO customers;
                """)
        }
        migrator.registerMigration("points-accrual v7 campaign bonus") { db in
            // Points a multiplier campaign (campaign.redeemed) added to a purchase's lot, already
            // in its points: what the purchase's own rules earned is points − campaignBonus.
            try db.execute(sql: "ALTER TABLE lots ADD COLUMN campaignBonus INTEGER NOT NULL DEFAULT 0")
        }
    }
}
