import Foundation
import GRDB
@testable import LoyaltyBus
import Logging
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
import Testing
import ZeroMQ

/// Input limits, the per-source rate limit, and storage failure: each refused with a reason
/// the producer sees, never dropped, never acknowledged unless stored.
@Suite(.serialized) struct HardeningTests {
    func send(_ socket: Socket, _ envelope: EventEnvelope) throws -> Ack? {
        try socket.send([Frame(frame: WireCommand.event), Sample.bytes(envelope)])
        guard let frames = try receive(socket, within: 10_000) else { return nil }
        return Ack(frames: frames)
    }

    static let now = Timestamp(epochMilliseconds: 1_790_000_000_000)

    func refusal(_ envelope: EventEnvelope, limits: EventLimits = .default) -> Ack? {
        if case .refused(let ack) = EventAdmission.check(Sample.bytes(envelope), limits: limits, now: Self.now) { return ack }
        return nil
    }

    @Test func admissionRefusesImplausibleValuesWithFieldAndReason() throws {
        #expect(refusal(Sample.purchase(receipt: 1, at: Self.now.epochMilliseconds)) == nil)

        let future = try #require(refusal(Sample.purchase(receipt: 2, at: Self.now.epochMilliseconds + 3651 * 86_400_000)))
        #expect(future.status == .rejected && future.code == "invalid_value")
        #expect(future.message.hasPrefix("occurredAt:") && future.message.contains("ahead of the bus's clock"))
        var tight = EventLimits.default
        tight.maxFutureMilliseconds = 300_000
        #expect(refusal(Sample.purchase(receipt: 3, at: Self.now.epochMilliseconds + 600_000), limits: tight)?.message.contains("300 seconds ahead") == true)
        let past = try #require(refusal(Sample.purchase(receipt: 4, at: -2_208_988_800_000)))   // 1900
        #expect(past.message.contains("before the bus's clock"))

        var purchase = Sample.purchase(receipt: 5)
        if case .purchase(var p) = purchase.payload {
            p.lines[0].quantity = 2_000_000
            p.lines[0].margin = nil
            p.total = p.lines[0].quantity * p.lines[0].unitPrice
            purchase.payload = .purchase(p)
        }
        let quantity = try #require(refusal(purchase))
        #expect(quantity.eventId == "S001-T1-5")
        #expect(quantity.message == "payload.lines[0].quantity: must be at most 1000000, got 2000000")

        let price = try #require(refusal(Sample.purchase(receipt: 6, amount: 2_000_000_000_000)))
        #expect(price.message.hasPrefix("payload.lines[0].unitPrice: must be at most"))

        var many = Sample.purchase(receipt: 7)
        if case .purchase(var p) = many.payload {
            p.lines = Array(repeating: p.lines[0], count: 501)
            p.total = p.lines[0].unitPrice * 501
            many.payload = .purchase(p)
        }
        let lines = try #require(refusal(many))
        #expect(lines.code == "too_large" && lines.message.contains("501 lines"))
    }

    @Test func rateLimitRefusesPerSourceAndRecovers() throws {
        let fixture = try BusFixture { $0.rateLimit = RateLimit(eventsPerSecond: 5, burst: 3) }
        let client = try fixture.dealer()
        var acks: [Ack] = []
        for receipt in 1...5 { acks.append(try #require(try send(client, Sample.purchase(terminal: "T1", receipt: receipt)))) }
        #expect(acks.prefix(3).allSatisfy { $0.status == .stored })
        let refused = acks[3]
        #expect(refused.status == .unavailable)
        #expect(refused.code == "rate_limited")
        #expect(refused.message.contains("source 'pos/S001/T1'") && refused.message.contains("retry in"))
        // Another terminal has its own bucket.
        #expect(try send(client, Sample.purchase(terminal: "T2", receipt: 1))?.status == .stored)
        // Refused, not dropped: the same event is stored once the bucket refills.
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try send(client, Sample.purchase(terminal: "T1", receipt: 4))?.status == .stored)
        #expect(try fixture.bus.journal.count() == 5)
        #expect(fixture.bus.statistics.rateLimited >= 2)
    }

    @Test func rateLimiterForgetsIdleSourcesUnderAFloodOfNames() {
        var limiter = RateLimiter(limit: RateLimit(eventsPerSecond: 1000, burst: 10))
        for n in 0..<(RateLimiter.sweepAbove + 10) { #expect(limiter.take(source: "s\(n)", now: 0) == nil) }
        #expect(limiter.take(source: "late", now: 5000) == nil)
        #expect(limiter.trackedSources < 10)
    }

    /// SQLite's `max_page_count` on the writer's connection makes the journal "full": inserts
    /// that need a new page fail with SQLITE_FULL, as on a full disk (and it works as root,
    /// where a read-only chmod does not).
    @Test func fullJournalRefusesAsUnavailableAndRecovers() throws {
        let fixture = try BusFixture()
        let client = try fixture.dealer()
        let subscriber = try fixture.liveSubscriber()
        #expect(try send(client, Sample.purchase(receipt: 1))?.status == .stored)
        #expect(try nextEvent(subscriber, within: 5000)?.seq == 1)

        let pages = try fixture.bus.journal.pool.writeWithoutTransaction { db in
            let count = try Int.fetchOne(db, sql: "PRAGMA page_count")!
            try db.execute(sql: "PRAGMA max_page_count = \(count)")
            return count
        }
        #expect(pages > 0)
        // Big events (many lines) need new pages.
        func big(_ receipt: Int) -> EventEnvelope {
            var envelope = Sample.purchase(receipt: receipt)
            if case .purchase(var p) = envelope.payload {
                p.lines = (0..<400).map { PurchaseLine(sku: "SKU-\($0)-\(receipt)", category: "bulk", quantity: 1, unitPrice: 100) }
                p.total = 40_000
                envelope.payload = .purchase(p)
            }
            return envelope
        }
        for receipt in 2...4 {
            let ack = try #require(try send(client, big(receipt)))
            #expect(ack.status == .unavailable)
            #expect(ack.code == "storage_failed")
            #expect(ack.message.contains("could not store"))
        }
        #expect(try fixture.bus.journal.count() == 1)
        #expect(fixture.bus.statistics.unavailable == 3)
        // Nothing unstored was published.
        #expect(try nextEvent(subscriber, within: 300) == nil)

        // Storage comes back: the same events are stored, once, in order.
        try fixture.bus.journal.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
        for receipt in 2...4 { #expect(try send(client, big(receipt))?.status == .stored) }
        #expect(try send(client, big(2))?.status == .duplicate)
        #expect(try fixture.bus.journal.count() == 4)
        let seqs = try (0..<3).map { _ in try nextEvent(subscriber, within: 5000)?.seq }
        #expect(seqs == [2, 3, 4])
    }

    /// A journal that turns read-only (`query_only` on the writer's connection; as root a
    /// chmod would not stop SQLite) refuses as unavailable and recovers the same way.
    @Test func readOnlyJournalRefusesAsUnavailableAndRecovers() throws {
        let fixture = try BusFixture()
        let client = try fixture.dealer()
        try fixture.bus.journal.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = ON") }
        let ack = try #require(try send(client, Sample.purchase(receipt: 1)))
        #expect(ack.status == .unavailable && ack.code == "storage_failed")
        #expect(try fixture.bus.journal.count() == 0)
        try fixture.bus.journal.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = OFF") }
        #expect(try send(client, Sample.purchase(receipt: 1))?.status == .stored)
        #expect(try fixture.bus.journal.count() == 1)
    }
}
