import GRDB

/// The reward-rules plugin's tables. Times are epoch milliseconds of the events' time, except a
/// redemption's, which is the wall clock of the till's request (it is in the journal as
/// `reward.redeemed`, so a replay sees the same).
enum Schema {
    static func register(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("reward-rules v1") { db in
            try db.execute(sql: """
                -- What the plugin knows of a customer: visits and spend from purchases and returns,
                -- scores from customer.scored, the last survey answer, the tier it keeps.
                CREATE TABLE rr_customers (
                    customerId TEXT PRIMARY KEY,
                    visits INTEGER NOT NULL DEFAULT 0,
                    spend INTEGER NOT NULL DEFAULT 0,
                    firstVisit INTEGER,
                    lastVisit INTEGER,
                    previousVisit INTEGER,
                    lastNps INTEGER,
                    clv REAL,
                    profitClv REAL,
                    clvPercentile REAL,
                    pAlive REAL,
                    tier TEXT,
                    tierSince INTEGER,
                    -- A tier reward: the customer is at least this level until tierFloorUntil (NULL: no end).
                    tierFloor TEXT,
                    tierFloorUntil INTEGER
                );
                CREATE INDEX rr_customers_tier ON rr_customers(tier) WHERE tier IS NOT NULL;
                CREATE TABLE rr_customer_days (
                    customerId TEXT NOT NULL,
                    day INTEGER NOT NULL,
                    visits INTEGER NOT NULL,
                    spend INTEGER NOT NULL,
                    PRIMARY KEY (customerId, day)
                ) WITHOUT ROWID;
                -- Purchases of known customers, so a return takes its spend back from the right day.
                CREATE TABLE rr_purchases (
                    eventId TEXT PRIMARY KEY,
                    customerId TEXT NOT NULL,
                    day INTEGER NOT NULL,
                    remaining INTEGER NOT NULL
                ) WITHOUT ROWID;
                -- Points earned (points.accrued), for customer.qualifyingPoints: earned, never spendable balance.
                CREATE TABLE rr_points (
                    purchaseEventId TEXT PRIMARY KEY,
                    customerId TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    releaseAt INTEGER NOT NULL,
                    points INTEGER NOT NULL CHECK (points >= 0)
                );
                CREATE INDEX rr_points_customer ON rr_points(customerId, at);
                CREATE INDEX rr_points_release ON rr_points(releaseAt) WHERE releaseAt > at;
                -- Per customer and rule: a punch card's punches, a visit streak.
                CREATE TABLE rr_progress (
                    customerId TEXT NOT NULL,
                    ruleId TEXT NOT NULL,
                    count INTEGER NOT NULL DEFAULT 0,
                    cardStart INTEGER,
                    lastWeek INTEGER,
                    PRIMARY KEY (customerId, ruleId)
                ) WITHOUT ROWID;
                -- Every reward given. status: active (to redeem), redeemed, expired, applied (given at once).
                CREATE TABLE rr_rewards (
                    rewardId TEXT PRIMARY KEY,
                    customerId TEXT NOT NULL,
                    ruleId TEXT NOT NULL,
                    rulesVersion TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    grantText TEXT NOT NULL,
                    value INTEGER NOT NULL,
                    sentence TEXT NOT NULL,
                    sourceEventId TEXT NOT NULL,
                    grantedAt INTEGER NOT NULL,
                    expiresAt INTEGER,
                    status TEXT NOT NULL CHECK (status IN ('active', 'redeemed', 'expired', 'applied')),
                    redeemedAt INTEGER
                );
                CREATE INDEX rr_rewards_customer_rule ON rr_rewards(customerId, ruleId, grantedAt);
                CREATE INDEX rr_rewards_expiry ON rr_rewards(expiresAt) WHERE status = 'active';
                -- Each rule's budget used so far. It only grows through one conditional UPDATE that
                -- refuses to pass the cap, so no interleaving of writers can exceed it.
                CREATE TABLE rr_budgets (
                    ruleId TEXT PRIMARY KEY,
                    countUsed INTEGER NOT NULL DEFAULT 0,
                    amountUsed INTEGER NOT NULL DEFAULT 0
                ) WITHOUT ROWID;
                -- Redemptions: one per idempotency key, and (UNIQUE) at most one per reward.
                CREATE TABLE rr_redemptions (
                    redemptionId TEXT PRIMARY KEY,
                    rewardId TEXT NOT NULL UNIQUE REFERENCES rr_rewards(rewardId),
                    customerId TEXT NOT NULL,
                    at INTEGER NOT NULL
                );
                -- Schedules in event time: top-customer runs per rule, the tiers' period, the hourly sweep.
                CREATE TABLE rr_schedule (
                    name TEXT PRIMARY KEY,
                    slot INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE rr_clock (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    now INTEGER NOT NULL,
                    lastSweep INTEGER NOT NULL
                );
                INSERT INTO rr_clock (id, now, lastSweep) VALUES (1, 0, 0);
                """)
        }
    }
}
