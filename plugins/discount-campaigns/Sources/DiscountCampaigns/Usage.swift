import GRDB
import LoyaltyRules
import PluginRuntime
import Synchronization

/// What campaign targets know of a customer.
struct CustomerRow: Sendable, Equatable {
    var visits: Int64 = 0
    var spend: Int64 = 0
    var firstVisit: Int64?
    var lastVisit: Int64?
    var tier: String?
    /// Set once the reward-rules plugin's `tier.changed` gave the tier: the points plugin's own
    /// reckoning (on `points.accrued`) no longer overrides it.
    var tierKept = false
    var clv: Double?
    var clvPercentile: Double?
    var pAlive: Double?
    var lastNps: Int64?

    static let selectSQL = """
        SELECT visits, spend, firstVisit, lastVisit, tier, tierKept, clv, clvPercentile, pAlive, lastNps FROM customers WHERE customerId = ?
        """

    static func fetch(_ id: String, in db: Database) throws -> CustomerRow? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: selectSQL), arguments: [id]) else { return nil }
        return CustomerRow(visits: row[0], spend: row[1], firstVisit: row[2], lastVisit: row[3], tier: row[4], tierKept: row[5],
                           clv: row[6], clvPercentile: row[7], pAlive: row[8], lastNps: row[9])
    }

    /// The same row through the service thread's own connection: a quote's first sight of a
    /// customer, at the till (see `ServiceReader`).
    static func fetch(_ id: String, reader: ServiceReader, pool: DatabasePool) throws -> CustomerRow? {
        try reader.read(pool) { transaction in
            var found: CustomerRow?
            try transaction.forEachRow(selectSQL, [.text(id)]) { row in
                found = CustomerRow(visits: row.int64(0), spend: row.int64(1), firstVisit: row.optionalInt64(2), lastVisit: row.optionalInt64(3),
                                    tier: row.optionalText(4), tierKept: row.bool(5), clv: row.optionalDouble(6),
                                    clvPercentile: row.optionalDouble(7), pAlive: row.optionalDouble(8), lastNps: row.optionalInt64(9))
            }
            return found
        }
    }

    func save(_ id: String, in db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO customers (customerId, visits, spend, firstVisit, lastVisit, tier, tierKept, clv, clvPercentile, pAlive, lastNps)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(customerId) DO UPDATE SET visits = excluded.visits, spend = excluded.spend, firstVisit = excluded.firstVisit,
                lastVisit = excluded.lastVisit, tier = excluded.tier, tierKept = excluded.tierKept, clv = excluded.clv,
                clvPercentile = excluded.clvPercentile, pAlive = excluded.pAlive, lastNps = excluded.lastNps
            """).execute(arguments: [id, visits, spend, firstVisit, lastVisit, tier, tierKept, clv, clvPercentile, pAlive, lastNps])
    }

    /// Fills `facts.customer` as campaign rules read it, at `now`. `purchase` (minor units) is
    /// the basket being evaluated, counted as a visit as earning rules count it.
    func fill(_ facts: Facts, id: String, now: Int64, purchase: Int64?) {
        var customer = CustomerFacts()
        customer.id = id
        customer.known = true
        customer.tier = tier ?? ""
        customer.visits = Double(visits + (purchase == nil ? 0 : 1))
        customer.spend = Double(spend + (purchase ?? 0))
        if let lastVisit { customer.sinceLastVisit = Double(max(0, now - lastVisit)) / 1000 }
        if let firstVisit { customer.memberFor = Double(max(0, now - firstVisit)) / 1000 }
        customer.clv = clv ?? .nan
        customer.clvPercentile = clvPercentile ?? .nan
        customer.pAlive = pAlive ?? .nan
        customer.lastNps = lastNps.map(Double.init) ?? .nan
        facts.customer = customer
    }

    /// Records a purchase at `now` of `amount` minor units.
    mutating func visit(at now: Int64, amount: Int64) {
        visits += 1
        spend += amount
        if firstVisit == nil { firstVisit = now }
        lastVisit = max(lastVisit ?? now, now)
    }
}

/// A coupon code issued for a campaign.
struct IssuedCode: Sendable, Equatable {
    var campaignId: String
    var maxUses: Int
    var uses: Int
}

/// The counters a quote reads: the committed state of the plugin's tables, kept in memory so a
/// quote needs no query. Changed only after a transaction commits (`Changes.publish`).
struct Counters: Sendable {
    struct Usage: Sendable, Equatable {
        var redemptions = 0
        var discount: Int64 = 0
    }

    var usage: [String: Usage] = [:]
    /// campaign → day → redemptions (only the days seen since start or load; old days are never asked).
    var days: [String: [Int: Int]] = [:]
    /// campaign → customer → redemptions.
    var perCustomer: [String: [String: Int]] = [:]
    var codes: [String: IssuedCode] = [:]
    /// The customers seen since the counters were loaded: a cache of the `customers` table, kept
    /// current by every commit (which writes through whether or not the customer is cached).
    var customers: [String: CustomerRow] = [:]
    /// Customer ids quoted that the table did not know (up to `maxAbsent`), so a card without
    /// purchases yet costs one read, not one per quote. `customers` wins over it.
    var absent: Set<String> = []
    static let maxAbsent = 1_000_000

    static func load(_ db: Database, today: Int) throws -> Counters {
        var counters = Counters()
        for row in try Row.fetchAll(db, sql: "SELECT campaignId, redemptions, discount FROM campaign_usage") {
            counters.usage[row[0]] = Usage(redemptions: row[1], discount: row[2])
        }
        // A week back is enough: only today's count is ever asked, and a quote's time is near now.
        for row in try Row.fetchAll(db, sql: "SELECT campaignId, day, redemptions FROM campaign_days WHERE day >= ?", arguments: [today - 7]) {
            counters.days[row[0], default: [:]][row[1]] = row[2]
        }
        for row in try Row.fetchAll(db, sql: "SELECT campaignId, customerId, redemptions FROM campaign_customers") {
            counters.perCustomer[row[0], default: [:]][row[1]] = row[2]
        }
        for row in try Row.fetchAll(db, sql: "SELECT code, campaignId, maxUses, uses FROM coupon_codes") {
            counters.codes[row[0]] = IssuedCode(campaignId: row[1], maxUses: row[2], uses: row[3])
        }
        // Customers are not loaded: `customers` is a cache, filled on a quote's first sight of one.
        return counters
    }

    mutating func apply(_ changes: Changes) {
        for redemption in changes.redemptions {
            usage[redemption.campaignId, default: Usage()].redemptions += 1
            usage[redemption.campaignId, default: Usage()].discount += redemption.discount
            days[redemption.campaignId, default: [:]][redemption.day, default: 0] += 1
            if let customer = redemption.customerId {
                perCustomer[redemption.campaignId, default: [:]][customer, default: 0] += 1
            }
            if let code = redemption.code, codes[code] != nil { codes[code]!.uses += 1 }
        }
        for (id, row) in changes.customers { customers[id] = row }
        for (code, issued) in changes.codes { codes[code] = issued }
    }
}

extension Counters: CampaignUsage {
    func spent(_ campaign: String) -> Double { Double(usage[campaign]?.discount ?? 0) }
    func redemptions(_ campaign: String) -> Int { usage[campaign]?.redemptions ?? 0 }
    func redemptions(_ campaign: String, day: Int) -> Int { days[campaign]?[day] ?? 0 }
    func redemptions(_ campaign: String, customer: String) -> Int { perCustomer[campaign]?[customer] ?? 0 }
    func issuedCode(_ campaign: String, among codes: [String]) -> String? {
        codes.first { code in
            guard let issued = self.codes[code] else { return false }
            return issued.campaignId == campaign && issued.uses < issued.maxUses
        }
    }
}

extension Counters {
    /// The counters one purchase's evaluation can ask about, read from the tables inside the
    /// applying transaction: authoritative, and seeing this transaction's earlier events. A few
    /// queries per purchase; a read error fails the event rather than being taken for "unused".
    static func forCommit(_ db: Database, day: Int, customerId: String?, codes: [String]) throws -> Counters {
        var counters = Counters()
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT campaignId, redemptions, discount FROM campaign_usage")) {
            counters.usage[row[0]] = Usage(redemptions: row[1], discount: row[2])
        }
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT campaignId, redemptions FROM campaign_days WHERE day = ?"), arguments: [day]) {
            counters.days[row[0], default: [:]][day] = row[1]
        }
        if let customerId {
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT campaignId, redemptions FROM campaign_customers WHERE customerId = ?"), arguments: [customerId]) {
                counters.perCustomer[row[0], default: [:]][customerId] = row[1]
            }
        }
        for code in codes {
            if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT campaignId, maxUses, uses FROM coupon_codes WHERE code = ?"), arguments: [code]) {
                counters.codes[code] = IssuedCode(campaignId: row[0], maxUses: row[1], uses: row[2])
            }
        }
        return counters
    }
}

/// What one committed transaction changed, to be copied into the counters once it commits.
struct Changes: Sendable {
    struct Redemption: Sendable {
        var campaignId: String
        var day: Int
        var customerId: String?
        var discount: Int64
        var code: String?
    }

    var redemptions: [Redemption] = []
    var customers: [(String, CustomerRow)] = []
    var codes: [(String, IssuedCode)] = []
}

/// The counters in memory, shared by the event thread (which changes them after each commit) and
/// the service thread (which reads them per quote). Loaded from the tables on first use.
final class Memory: Sendable {
    private let state = Mutex<Counters?>(nil)
    /// A quote's read of a customer not seen yet, off GRDB's pool.
    private let reader = ServiceReader()
    /// Commits published so far; a load that saw a commit happen while it read starts again.
    private let commits = Atomic<Int>(0)
    /// What the write transaction in progress changed so far, event by event (`publish`).
    private let pending = Mutex<[Changes]>([])

    /// Runs `body` on the loaded counters.
    func withCounters<T>(_ pool: DatabasePool, today: Int, _ body: (inout Counters) throws -> T) throws -> T {
        for _ in 0..<20 {
            let result = try state.withLock { counters -> T? in
                guard counters != nil else { return nil }
                return try body(&counters!)
            }
            if let result { return result }
            let before = commits.load(ordering: .acquiring)
            let loaded = try pool.read { db in try Counters.load(db, today: today) }
            let installed = state.withLock { counters -> Bool in
                if counters != nil { return true }
                guard commits.load(ordering: .acquiring) == before else { return false }
                counters = loaded
                return true
            }
            _ = installed
        }
        throw MemoryBusy()
    }

    /// What the tables say of `customerId`, from the cache, or read once and cached. A row read
    /// here never replaces one a commit put in the cache meanwhile (that one is newer).
    func customer(_ customerId: String, pool: DatabasePool) throws -> CustomerRow? {
        let (cached, known) = state.withLock { counters -> (CustomerRow?, Bool) in
            if let row = counters?.customers[customerId] { return (row, true) }
            return (nil, counters?.absent.contains(customerId) ?? false)
        }
        if known { return cached }
        guard let row = try CustomerRow.fetch(customerId, reader: reader, pool: pool) else {
            state.withLock { counters in
                if counters != nil && counters!.absent.count < Counters.maxAbsent { counters!.absent.insert(customerId) }
            }
            // A commit may have created the customer since the read: it is in `customers` then.
            return state.withLock { $0?.customers[customerId] }
        }
        return state.withLock { counters in
            guard counters != nil else { return row }
            if let newer = counters!.customers[customerId] { return newer }
            counters!.customers[customerId] = row
            return row
        }
    }

    /// Registers `changes` to reach the counters when the current transaction commits (and to
    /// be dropped if it rolls back).
    ///
    /// One commit hook per transaction, not one per event: GRDB asks every hook registered in a
    /// transaction about each statement that follows, so while catching up (20,000 events in a
    /// transaction) a hook per event made each purchase cost 840 µs. Writes go through the pool's
    /// one writer, a transaction at a time, so the changes waiting are those of the transaction in
    /// progress; they are applied in the order they came (a code issued, then redeemed).
    func publish(_ changes: Changes, onCommitOf db: Database) {
        let first = pending.withLock { waiting in
            waiting.append(changes)
            return waiting.count == 1
        }
        guard first else { return }
        db.afterNextTransaction(onCommit: { _ in
            let committed = self.pending.withLock { waiting in
                defer { waiting.removeAll() }
                return waiting
            }
            self.commits.add(1, ordering: .releasing)
            self.state.withLock { counters in
                // Not loaded yet: the load will read the committed tables.
                for changes in committed { counters?.apply(changes) }
            }
        }, onRollback: { _ in
            self.pending.withLock { $0.removeAll() }
        })
    }

    /// Forgets the counters; the next use reloads them from the tables.
    func reset() {
        commits.add(1, ordering: .releasing)
        state.withLock { $0 = nil }
    }
}

struct MemoryBusy: Error, CustomStringConvertible {
    var description: String { "the campaign counters could not be loaded: the tables kept changing while they were read" }
}
