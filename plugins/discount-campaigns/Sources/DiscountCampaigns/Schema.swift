import GRDB

/// The plugin's tables, in the order they were introduced. Money is in minor units.
enum Schema {
    static func register(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("discount-campaigns v1") { db in
            try db.execute(sql: """
                -- Per campaign: what it has given so far (the budget counters).
                CREATE TABLE campaign_usage (
                    campaignId TEXT PRIMARY KEY,
                    redemptions INTEGER NOT NULL DEFAULT 0,
                    discount INTEGER NOT NULL DEFAULT 0
                ) WITHOUT ROWID;
                -- Redemptions per store-local day, for budget: { perDay: N }.
                CREATE TABLE campaign_days (
                    campaignId TEXT NOT NULL,
                    day INTEGER NOT NULL,
                    redemptions INTEGER NOT NULL,
                    PRIMARY KEY (campaignId, day)
                ) WITHOUT ROWID;
                -- Redemptions per customer, for budget: { perCustomer: N }.
                CREATE TABLE campaign_customers (
                    campaignId TEXT NOT NULL,
                    customerId TEXT NOT NULL,
                    redemptions INTEGER NOT NULL,
                    PRIMARY KEY (campaignId, customerId)
                ) WITHOUT ROWID;
                -- Issued coupon codes (normalised: upper case), single use when maxUses = 1.
                CREATE TABLE coupon_codes (
                    code TEXT PRIMARY KEY,
                    campaignId TEXT NOT NULL,
                    maxUses INTEGER NOT NULL CHECK (maxUses >= 1),
                    uses INTEGER NOT NULL DEFAULT 0 CHECK (uses <= maxUses),
                    importedAt INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX coupon_codes_by_campaign ON coupon_codes (campaignId);
                -- Every discount committed: the purchase, the campaign, the rules version that gave it.
                CREATE TABLE redemptions (
                    eventId TEXT NOT NULL,
                    campaignId TEXT NOT NULL,
                    customerId TEXT,
                    storeId TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    discount INTEGER NOT NULL,
                    pointsMultiplier REAL,
                    code TEXT,
                    quoteId TEXT,
                    rulesVersion TEXT NOT NULL,
                    PRIMARY KEY (eventId, campaignId)
                ) WITHOUT ROWID;
                -- What campaign targets read about a customer.
                CREATE TABLE customers (
                    customerId TEXT PRIMARY KEY,
                    visits INTEGER NOT NULL DEFAULT 0,
                    spend INTEGER NOT NULL DEFAULT 0,
                    firstVisit INTEGER,
                    lastVisit INTEGER,
                    tier TEXT,
                    tierKept INTEGER NOT NULL DEFAULT 0,   -- 1 once tier.changed (reward-rules) set it
                    clv REAL,
                    clvPercentile REAL,
                    pAlive REAL,
                    lastNps INTEGER
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("discount-campaigns v2 counters keyed for the purchase") { db in
            // A purchase reads its customer's and its day's counters of every campaign. Keyed by
            // campaign first, both reads scanned the whole table, which grows with every customer:
            // a replay of 100,000 purchases of 50,000 customers spent 90 % of its time there.
            try db.execute(sql: """
                CREATE TABLE campaign_customers_new (
                    campaignId TEXT NOT NULL,
                    customerId TEXT NOT NULL,
                    redemptions INTEGER NOT NULL,
                    PRIMARY KEY (customerId, campaignId)
                ) WITHOUT ROWID;
                INSERT INTO campaign_customers_new (campaignId, customerId, redemptions)
                    SELECT campaignId, customerId, redemptions FROM campaign_customers;
                DROP TABLE campaign_customers;
                ALTER TABLE campaign_customers_new RENAME TO campaign_customers;
                CREATE TABLE campaign_days_new (
                    campaignId TEXT NOT NULL,
                    day INTEGER NOT NULL,
                    redemptions INTEGER NOT NULL,
                    PRIMARY KEY (day, campaignId)
                ) WITHOUT ROWID;
                INSERT INTO campaign_days_new (campaignId, day, redemptions) SELECT campaignId, day, redemptions FROM campaign_days;
                DROP TABLE campaign_days;
                ALTER TABLE campaign_days_new RENAME TO campaign_days;
                """)
        }
    }
}
