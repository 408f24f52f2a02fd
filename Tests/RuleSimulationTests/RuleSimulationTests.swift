import Foundation
import LoyaltyEvents
import LoyaltyRules
import LoyaltySimulation
import Testing
@testable import RuleSimulation

@Suite struct RuleSimulationTests {
    static func book(_ body: String) throws -> RuleBook {
        let result = RuleLoader.load(sources: [("rules.yaml", "currency: NOK\ntimezone: Europe/Oslo\n" + body)])
        return try #require(result.book, "\(result.diagnostics.map(\.description))")
    }

    static let start = Timestamp.parse("2026-03-02T09:00:00Z")!.epochMilliseconds   // a Monday

    static func purchase(_ id: String, customer: String?, amount: Int64, day: Int, category: String = "meat", currency: CurrencyCode = .NOK) -> EventEnvelope {
        let line = PurchaseLine(sku: "SKU", category: category, quantity: 1, unitPrice: amount)
        return EventEnvelope(eventId: id, occurredAt: Timestamp(epochMilliseconds: start + Int64(day) * 86_400_000), source: "pos",
                             payload: .purchase(Purchase(storeId: "S001", terminalId: "T1", receiptId: id, customerId: customer,
                                                         currency: currency, lines: [line])!))
    }

    static func refund(_ id: String, of original: String, customer: String, amount: Int64, day: Int) -> EventEnvelope {
        EventEnvelope(eventId: id, occurredAt: Timestamp(epochMilliseconds: start + Int64(day) * 86_400_000), source: "pos",
                      payload: .return(Return(storeId: "S001", terminalId: "T1", receiptId: id, customerId: customer, originalEventId: original,
                                              currency: .NOK, lines: [ReturnLine(sku: "SKU", quantity: 1, unitPrice: amount)], total: amount)))
    }

    static let rules = """
        earning:
          pointValue: 0.5 NOK
          rules:
            - id: base
              points: purchase.total / 10 NOK
            - id: regular
              when: "customer.visits(days: 7) >= 3"
              bonus: 100
        rewards:
          - id: third-visit
            when: customer.visits == 3
            grant: a coffee
            value: 30 NOK
        alerts:
          - id: detractor
            when: survey.nps <= 6
        """

    @Test func pointsRewardsReturnsAndAlertsAddUp() throws {
        var events = PreparedEvents()
        for envelope in [
            Self.purchase("p1", customer: "C1", amount: 100_00, day: 0),
            Self.purchase("p2", customer: "C1", amount: 200_00, day: 1),
            Self.purchase("p3", customer: "C1", amount: 50_00, day: 2),        // third visit in 7 days: +100, reward
            Self.purchase("p4", customer: nil, amount: 999_00, day: 2),        // anonymous: nothing
            Self.purchase("p5", customer: "C2", amount: 100_00, day: 9),
            Self.refund("r1", of: "p2", customer: "C1", amount: 100_00, day: 3),   // half of p2: −10
            Self.refund("r2", of: "p2", customer: "C1", amount: 200_00, day: 4),   // the rest only: −10
            Self.refund("r3", of: "p5", customer: "C1", amount: 100_00, day: 10),  // another customer's receipt: refused
            Self.purchase("p6", customer: "C1", amount: 100_00, day: 20, currency: .SEK),
            EventEnvelope(eventId: "s1", occurredAt: Timestamp(epochMilliseconds: Self.start), source: "survey",
                          payload: .survey(Survey(storeId: "S001", customerId: "C2", nps: 3))),
        ] {
            events.add(envelope, currency: .NOK)
        }
        #expect(events.skipped == ["purchase in SEK (rules are in NOK)": 1])
        let report = RuleSimulation(book: try Self.book(Self.rules)).run(events)
        #expect(report.purchases == 5)
        #expect(report.returns == 3)
        #expect(report.surveys == 1)
        #expect(report.pointsGranted == 10 + 20 + (5 + 100) + 10)
        #expect(report.pointsReversed == 20)
        #expect(report.pointsGranted - report.pointsReversed == 125)
        #expect(report.pointValue == 50)
        #expect(report.pointsCost == 6250)
        #expect(report.rewardsGranted == 1)
        #expect(report.rewardsCost == 30_00)
        #expect(report.alerts == 1)
        #expect(report.customersEarning == 2)
        let base = try #require(report.rules.first { $0.ruleId == "base" })
        #expect(base.effects == 4)
        #expect(base.customers == 2)
        #expect(base.points == 45)
        #expect(report.rules.first { $0.ruleId == "regular" }?.effects == 1)
    }

    @Test func eventsBeforeFromBuildHistoryButAreNotCounted() throws {
        var events = PreparedEvents()
        for day in 0..<3 { events.add(Self.purchase("p\(day)", customer: "C1", amount: 100_00, day: day), currency: .NOK) }
        let report = RuleSimulation(book: try Self.book(Self.rules)).run(events, countFrom: Self.start + 2 * 86_400_000)
        #expect(report.purchases == 1)
        // Only the third purchase counts, and it knows of the two before: 10 + 100 bonus, and the reward.
        #expect(report.pointsGranted == 110)
        #expect(report.rewardsGranted == 1)
    }

    @Test func aSyntheticChainGivesTheSameReportTwice() throws {
        let book = try RuleLoader.load(paths: [Self.repoRoot + "/config/rules"]).book.map { $0 } ?? Self.book(Self.rules)
        var events = PreparedEvents()
        var configuration = ChainSimulator.Configuration()
        configuration.customers = 300
        for envelope in ChainSimulator(configuration: configuration).prefix(5000) { events.add(envelope, currency: book.currency) }
        let first = RuleSimulation(book: book).run(events)
        let second = RuleSimulation(book: book).run(events)
        #expect(first.pointsGranted > 0)
        #expect(first.discounts > 0)
        #expect(first.pointsGranted == second.pointsGranted)
        #expect(first.rewardsGranted == second.rewardsGranted)
        #expect(first.rules.map(\.effects) == second.rules.map(\.effects))
    }

    static var repoRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
}

@Suite struct EventSourceTests {
    func write(_ text: String, suffix: String) throws -> String {
        let path = NSTemporaryDirectory() + "events-\(UUID().uuidString).\(suffix)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func jsonLinesAreReadInOrderAndABadLineIsNamed() throws {
        let good = RuleSimulationTests.purchase("p1", customer: "C1", amount: 100, day: 0)
        let path = try write(String(decoding: EventCodec.encode(good), as: UTF8.self) + "\n\n" + "{\"v\":1}\n", suffix: "jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var read: [String] = []
        #expect {
            try EventSources.readJSONLines(path: path) { read.append($0.eventId) }
        } throws: { error in
            guard let error = error as? EventSourceError else { return false }
            return error.line == 3 && error.message.hasPrefix("not a valid event")
        }
        #expect(read == ["p1"])
    }

    @Test func csvTransactions() throws {
        let path = try write("""
            customerId,date,total,category
            C1,2026-03-02,123.45,coffee
            C2,19970101,10,
            """, suffix: "csv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var purchases: [Purchase] = []
        try EventSources.readCSV(path: path, defaultCurrency: .NOK) { envelope in
            if case .purchase(let p) = envelope.payload { purchases.append(p) }
        }
        #expect(purchases.map(\.total) == [123_45, 10_00])
        #expect(purchases.map(\.customerId) == ["C1", "C2"])
        #expect(purchases.first?.lines.first?.category == "coffee")
    }

    @Test(arguments: [
        ("customer,date,total\n", 1, "unknown column 'customer'"),
        ("customerId,total\nC1,10\n", 1, "the header needs customerId, total, and occurredAt or date"),
        ("customerId,date,total\nC1,2026-13-01,10\n", 2, "date '2026-13-01' is not YYYY-MM-DD or YYYYMMDD"),
        ("customerId,date,total\nC1,2026-01-01,ten\n", 2, "total must be an amount such as 123.45"),
    ])
    func csvMistakesAreNamedWithTheirLine(text: String, line: Int, message: String) throws {
        let path = try write(text, suffix: "csv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            try EventSources.readCSV(path: path, defaultCurrency: .NOK) { _ in }
        } throws: { error in
            guard let error = error as? EventSourceError else { return false }
            return error.line == line && error.message.hasPrefix(message)
        }
    }
}
