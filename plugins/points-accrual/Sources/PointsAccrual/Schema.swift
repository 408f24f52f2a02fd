import GRDB

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
    }
}
