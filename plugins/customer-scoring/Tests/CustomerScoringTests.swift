import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyScoring
import LoyaltyTestSupport
import PluginRuntime
import Testing
@testable import CustomerScoring

/// A deterministic stream: 120 customers buying over a year, anonymous purchases, and returns.
enum Stream {
    static let start: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z

    struct Generated {
        var events: [StoredEvent]
        /// Transactions as `LoyaltyScoring` sees them: purchases, and returns as negative amounts at the purchase's time.
        var transactions: [ScoringTransaction]
    }

    static func make(customers: Int = 120, seed: UInt64 = 42) -> Generated {
        var state = seed
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var raw: [(at: Int64, envelope: EventEnvelope)] = []
        var transactions: [ScoringTransaction] = []
        var receipt = 0
        for c in 1...customers {
            let customer = String(format: "C%06d", c)
            // BG/NBD-like: each customer buys at their own pace and may drop out after any purchase.
            let meanGap = 5 + Int64(next() % 60)
            let churn = next() % 40
            var at = start + Int64(next() % 200) * 86_400_000
            while at < start + 365 * 86_400_000 {
                receipt += 1
                let amount = Int64(500 + next() % 20_000)
                let line = PurchaseLine(sku: "SKU", category: "x", quantity: 1, unitPrice: amount, margin: amount / 3)
                let purchase = Purchase(storeId: "S001", terminalId: "T1", receiptId: String(receipt), customerId: customer,
                                        currency: .NOK, lines: [line], total: amount)
                let id = "S001-T1-\(receipt)"
                raw.append((at, EventEnvelope(eventId: id, occurredAt: Timestamp(epochMilliseconds: at), source: "pos/S001/T1",
                                              payload: .purchase(purchase))))
                transactions.append(ScoringTransaction(customerId: customer, date: date(at), amountMinor: amount))
                if next() % 10 == 0 {  // a return a few days later
                    receipt += 1
                    let refund = amount / 2
                    let back = Return(storeId: "S001", terminalId: "T1", receiptId: String(receipt), customerId: customer,
                                      originalEventId: id, currency: .NOK,
                                      lines: [ReturnLine(sku: "SKU", quantity: 1, unitPrice: refund)], total: refund)
                    let returnAt = at + Int64(1 + next() % 10) * 86_400_000
                    raw.append((returnAt, EventEnvelope(eventId: "S001-T1-\(receipt)", occurredAt: Timestamp(epochMilliseconds: returnAt),
                                                        source: "pos/S001/T1", payload: .return(back))))
                    transactions.append(ScoringTransaction(customerId: customer, date: date(at), amountMinor: -refund))
                }
                if next() % 4 == 0 {  // an anonymous purchase the same day: ignored
                    receipt += 1
                    raw.append((at + 1000, Sample.purchase(receipt: receipt, customer: nil, at: at + 1000)))
                }
                if next() % 100 < churn { break }
                at += Int64(1 + next() % UInt64(2 * meanGap)) * 86_400_000
            }
        }
        raw.sort { ($0.at, $0.envelope.eventId) < ($1.at, $1.envelope.eventId) }
        let events = raw.enumerated().map { StoredEvent(seq: Int64($0.offset + 1), envelope: $0.element.envelope) }
        return Generated(events: events, transactions: transactions)
    }

    static func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }
}

/// A plugin database in a temporary folder, driven directly through `applyEvent`.
struct ScoringDatabase {
    let directory: TemporaryDirectory
    let pool: DatabasePool
    var plugin: CustomerScoringPlugin

    init(_ settings: ScoringSettings = ScoringSettings()) throws {
        directory = try TemporaryDirectory("customer-scoring")
        plugin = CustomerScoringPlugin(settings: settings)
        pool = try DatabasePool(path: directory.path + "/customer-scoring.sqlite")
        var migrator = DatabaseMigrator()
        plugin.registerMigrations(&migrator)
        try migrator.migrate(pool)
    }

    @discardableResult
    func apply(_ events: [StoredEvent]) throws -> [(seq: Int64, emission: ScoringEmission)] {
        try pool.write { db in
            var all: [(Int64, ScoringEmission)] = []
            for event in events {
                for emission in try plugin.applyEvent(event, in: db) { all.append((event.seq, emission)) }
            }
            return all
        }
    }

    func rows(_ sql: String) throws -> [[String]] {
        try pool.read { db in
            try Row.fetchAll(db, sql: sql).map { row in row.columnNames.map { "\(row[$0] as DatabaseValue)" } }
        }
    }

    func int(_ sql: String) throws -> Int64 { try pool.read { db in try Int64.fetchOne(db, sql: sql) ?? -1 } }
}

@Suite(.serialized) struct CustomerScoringTests {
    @Test func summariesFromPurchasesAndReturnsMatchTheBatchSummary() throws {
        let stream = Stream.make()
        let store = try ScoringDatabase()
        try store.apply(stream.events)
        let last = stream.events.last!
        let incremental = try store.pool.read { db in try store.plugin.summaries(at: last, in: db).spend }
        let batch = TransactionSummary.summarize(stream.transactions, observationEnd: Stream.date(last.envelope.occurredAt.epochMilliseconds),
                                                 period: .week)
        #expect(incremental.count == 120)
        #expect(incremental == batch)
        // Anonymous purchases are not kept.
        #expect(try store.int("SELECT COUNT(*) FROM scoring_purchases") == Int64(stream.transactions.filter { $0.amountMinor > 0 }.count))
        // Days as the period, too.
        let byDay = try ScoringDatabase({ var s = ScoringSettings(); s.period = .day; return s }())
        try byDay.apply(stream.events)
        let dayIncremental = try byDay.pool.read { db in try byDay.plugin.summaries(at: last, in: db).spend }
        #expect(dayIncremental == TransactionSummary.summarize(stream.transactions,
                                                               observationEnd: Stream.date(last.envelope.occurredAt.epochMilliseconds), period: .day))
    }

    @Test func refitsAtFiftyCustomersThenEveryNPurchases() throws {
        let stream = Stream.make()
        var settings = ScoringSettings()
        settings.refitEvery = 150
        let store = try ScoringDatabase(settings)
        try store.apply(stream.events)
        let applied = try store.int("SELECT purchasesApplied FROM scoring_state")
        let fits = try store.rows("SELECT purchasesApplied, customers FROM scoring_fits ORDER BY fitSeq").map { (Int64($0[0])!, Int64($0[1])!) }
        let failed = try store.rows("SELECT purchasesApplied FROM scoring_fit_failures ORDER BY seq").map { Int64($0[0])! }
        // Attempts: from the purchase at which 50 customers have history, every 50 purchases while it has
        // never fitted (an early fit can fail: with little history the likelihood peaks at a → 0), then every 150.
        let first = try #require(fits.first)
        #expect(first.1 >= 50)
        let attempts = (fits.map(\.0) + failed).sorted()
        let afterFirst = attempts.filter { $0 > first.0 }
        #expect(afterFirst == Array(stride(from: 150, through: applied, by: 150)).filter { $0 > first.0 })
        // Before it: each attempt is on the 150-cadence or 50 purchases after the previous attempt.
        for (previous, early) in zip(attempts, attempts.dropFirst()) where early <= first.0 {
            #expect(early % 150 == 0 || early - previous == 50, "attempt at \(early) after \(previous)")
        }
        // The last fits do converge.
        #expect(fits.count >= 2)
        // Everyone with history is scored against the last fit or rescored since.
        #expect(try store.int("SELECT COUNT(*) FROM scoring_scores") == 120)
        // (No margin fit is required: margins here are a constant third of spend, which Gamma-Gamma may not fit.)
        let fit = try store.rows("SELECT r, alpha, a, b, ggP, ggQ, ggV FROM scoring_fits ORDER BY fitSeq DESC LIMIT 1")[0]
        #expect(fit.allSatisfy { Double($0).map { $0 > 0 && $0.isFinite } ?? false }, "last fit: \(fit)")
    }

    @Test func replayIntoAFreshDatabaseGivesIdenticalScoresAndEvents() throws {
        let stream = Stream.make()
        var settings = ScoringSettings()
        settings.refitEvery = 100
        let first = try ScoringDatabase(settings)
        let second = try ScoringDatabase(settings)
        let emittedFirst = try first.apply(stream.events)
        // The second database gets the journal in small runs, as a replay after restarts would.
        var emittedSecond: [(seq: Int64, emission: ScoringEmission)] = []
        for start in stride(from: 0, to: stream.events.count, by: 37) {
            emittedSecond += try second.apply(Array(stream.events[start..<min(start + 37, stream.events.count)]))
        }
        #expect(!emittedFirst.isEmpty)
        #expect(emittedFirst.map(\.seq) == emittedSecond.map(\.seq))
        #expect(emittedFirst.map(\.emission) == emittedSecond.map(\.emission))
        #expect(emittedFirst.map { JSONWriter.serialize(.object($0.emission.payload)) }
                == emittedSecond.map { JSONWriter.serialize(.object($0.emission.payload)) })
        // Keys are distinct per customer and fit (and the input event makes the id unique).
        let ids = emittedFirst.map { "\($0.seq)/\($0.emission.key)" }
        #expect(Set(ids).count == ids.count)
        for table in ["scoring_scores ORDER BY customerId", "scoring_fits ORDER BY fitSeq", "scoring_periods ORDER BY customerId, periodStart"] {
            #expect(try first.rows("SELECT * FROM \(table)") == second.rows("SELECT * FROM \(table)"))
        }
    }

    @Test func aReturnLowersSpendOfTheOriginalPeriod() throws {
        let stream = Stream.make()
        let store = try ScoringDatabase()
        try store.apply(stream.events)
        let seq = Int64(stream.events.count)
        let at = stream.events.last!.envelope.occurredAt.epochMilliseconds
        let before = try store.rows("SELECT spend, margin FROM scoring_periods WHERE customerId = 'C000007' ORDER BY periodStart DESC LIMIT 1")[0]
        let clvBefore = try store.int("SELECT clv FROM scoring_scores WHERE customerId = 'C000007'")
        // A new purchase, then its return a week later: the return lands in the purchase's period.
        let purchase = Sample.purchase(receipt: 900_001, customer: "C000007", amount: 50_000, at: at)
        let back = EventEnvelope(eventId: "S001-T1-900002", occurredAt: Timestamp(epochMilliseconds: at + 7 * 86_400_000), source: "pos/S001/T1",
                                 payload: .return(Return(storeId: "S001", terminalId: "T1", receiptId: "900002", customerId: "C000007",
                                                         originalEventId: purchase.eventId, currency: .NOK,
                                                         lines: [ReturnLine(sku: "COF-001", quantity: 1, unitPrice: 30_000)], total: 30_000)))
        try store.apply([StoredEvent(seq: seq + 1, envelope: purchase)])
        let afterPurchase = try store.rows("SELECT periodStart, spend, margin FROM scoring_periods WHERE customerId = 'C000007' ORDER BY periodStart DESC LIMIT 1")[0]
        let clvAfterPurchase = try store.int("SELECT clv FROM scoring_scores WHERE customerId = 'C000007'")
        try store.apply([StoredEvent(seq: seq + 2, envelope: back)])
        let afterReturn = try store.rows("SELECT periodStart, spend, margin FROM scoring_periods WHERE customerId = 'C000007' ORDER BY periodStart DESC LIMIT 1")[0]
        #expect(afterReturn[0] == afterPurchase[0])
        #expect(Int64(afterReturn[1])! == Int64(afterPurchase[1])! - 30_000)
        #expect(Int64(afterReturn[2])! == Int64(afterPurchase[2])! - 15_000)  // margin back in proportion: 25,000 × 3/5
        #expect(try store.int("SELECT clv FROM scoring_scores WHERE customerId = 'C000007'") < clvAfterPurchase)
        _ = (before, clvBefore)
        // A second return of more than is left only takes back what is left; an unknown original is ignored.
        let again = EventEnvelope(eventId: "S001-T1-900003", occurredAt: Timestamp(epochMilliseconds: at + 8 * 86_400_000), source: "pos/S001/T1",
                                  payload: .return(Return(storeId: "S001", terminalId: "T1", receiptId: "900003", customerId: "C000007",
                                                          originalEventId: purchase.eventId, currency: .NOK,
                                                          lines: [ReturnLine(sku: "COF-001", quantity: 1, unitPrice: 40_000)], total: 40_000)))
        let unknown = EventEnvelope(eventId: "S001-T1-900004", occurredAt: Timestamp(epochMilliseconds: at + 8 * 86_400_000), source: "pos/S001/T1",
                                    payload: .return(Return(storeId: "S001", terminalId: "T1", receiptId: "900004", customerId: "C000007",
                                                            originalEventId: "nowhere", currency: .NOK,
                                                            lines: [ReturnLine(sku: "COF-001", quantity: 1, unitPrice: 100)], total: 100)))
        #expect(try store.apply([StoredEvent(seq: seq + 3, envelope: again), StoredEvent(seq: seq + 4, envelope: unknown)]).count <= 1)
        let final = try store.rows("SELECT spend FROM scoring_periods WHERE customerId = 'C000007' ORDER BY periodStart DESC LIMIT 1")[0]
        #expect(Int64(final[0])! == Int64(afterPurchase[1])! - 50_000)
    }

    @Test func theServiceAnswersAndNamesAnUnknownCustomer() throws {
        let stream = Stream.make()
        let store = try ScoringDatabase()
        #expect(store.plugin.services[CustomerScoringPlugin.serviceName] != nil)
        func ask(_ body: String) throws -> ServiceResponse {
            try CustomerScoringPlugin.handle(Array(body.utf8), pool: store.pool)
        }
        // Before any fit: a customer with purchases is told why there is no score.
        try store.apply(Array(stream.events.prefix(5)))
        let early = stream.events.first!.envelope.customerId!
        guard case .error(let why) = try ask("{\"customerId\":\"\(early)\"}") else { Issue.record("expected an error"); return }
        #expect(why.contains(early) && why.contains("not been fitted"))

        try store.apply(Array(stream.events.dropFirst(5)))
        guard case .ok(let body) = try ask("{\"customerId\":\"C000042\"}"),
              case .object(let answer) = try JSONParser.parse(body) else { Issue.record("expected scores"); return }
        #expect(answer["customerId"] == .string("C000042"))
        guard case .double(let pAlive)? = answer["pAlive"], case .int(let clv)? = answer["clv"],
              case .int(let percentile)? = answer["clvPercentile"], case .string(let segment)? = answer["segment"] else {
            Issue.record("missing fields in \(answer)"); return
        }
        #expect((0...1).contains(pAlive) && clv >= 0 && (0...99).contains(percentile) && RFMSegment(rawValue: segment) != nil)
        #expect(answer["profitClv"] != nil)  // the stream has margins on every line
        guard case .error(let unknown) = try ask("{\"customerId\":\"C999999\"}") else { Issue.record("expected an error"); return }
        #expect(unknown.contains("C999999"))
        guard case .error(let malformed) = try ask("[1]") else { Issue.record("expected an error"); return }
        #expect(malformed.contains("customerId"))
    }

    @Test func scoredIsNotReEmittedWhenNothingChangedMaterially() throws {
        let stream = Stream.make()
        var settings = ScoringSettings()
        settings.refitEvery = 100_000  // only the first fit, unless asked below
        settings.refitPurchasesPerCustomer = 0  // the two refits asked below are one purchase apart
        var store = try ScoringDatabase(settings)
        let emitted = try store.apply(stream.events)
        #expect(!emitted.isEmpty)
        let last = stream.events.last!
        let at = last.envelope.occurredAt.epochMilliseconds
        let customer = last.envelope.customerId ?? "C000001"
        func zeroPurchase(_ n: Int) -> StoredEvent {
            StoredEvent(seq: last.seq + Int64(n), envelope: Sample.purchase(receipt: 800_000 + n, customer: customer, amount: 0, at: at))
        }
        // A zero purchase in a period the customer already bought in, at the same instant: the same
        // summary, the same score, nothing emitted.
        _ = try store.apply([zeroPurchase(1)])  // the customer's period may be new: this may emit
        #expect(try store.apply([zeroPurchase(2)]).isEmpty)
        // A refit now, then another on the same data at the same instant: no customer changes, nothing emitted.
        let applied = try store.int("SELECT purchasesApplied FROM scoring_state")
        store.plugin.settings.refitEvery = Int(applied + 1)
        let refit = try store.apply([zeroPurchase(3)])
        store.plugin.settings.refitEvery = Int(applied + 2)
        let again = try store.apply([zeroPurchase(4)])
        #expect(try store.int("SELECT COUNT(*) FROM scoring_fits WHERE fitSeq IN (\(last.seq + 3), \(last.seq + 4))") == 2)
        #expect(again.isEmpty, "re-emitted \(again.count) unchanged scores")
        _ = refit
        // Every event emitted carries the payload fields, with clv in minor units.
        for (_, emission) in emitted {
            #expect(emission.type == "customer.scored")
            for key in ["customerId", "clv", "clvPercentile", "pAlive", "expectedPurchases", "segment", "modelFitSeq", "rulesVersion"] {
                #expect(emission.payload[key] != nil, "missing \(key)")
            }
            if case .int = emission.payload["clv"]! {} else { Issue.record("clv is not an integer") }
        }
    }
}
