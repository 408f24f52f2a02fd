import Testing
import LoyaltyEvents
import LoyaltySimulation

/// 50,000 events of the default configuration, generated once and shared by the tests.
let defaultRun: [EventEnvelope] = Array(ChainSimulator().prefix(50_000))

func events(_ count: Int, _ configure: (inout ChainSimulator.Configuration) -> Void = { _ in }) -> [EventEnvelope] {
    var configuration = ChainSimulator.Configuration()
    configure(&configuration)
    return Array(ChainSimulator(configuration: configuration).prefix(count))
}

extension EventEnvelope {
    var purchase: Purchase? { if case .purchase(let p) = payload { p } else { nil } }
    var returned: Return? { if case .return(let r) = payload { r } else { nil } }
    var survey: Survey? { if case .survey(let s) = payload { s } else { nil } }
}

@Suite struct DeterminismTests {
    @Test func sameSeedGivesIdenticalBytes() {
        let first = events(5_000) { $0.seed = 7 }.map(EventCodec.encode)
        let second = events(5_000) { $0.seed = 7 }.map(EventCodec.encode)
        #expect(first.count == 5_000)
        #expect(first == second)
        // And the default run (seed 42) is reproducible too.
        #expect(defaultRun.prefix(5_000).map(EventCodec.encode) == events(5_000).map(EventCodec.encode))
    }

    @Test func differentSeedGivesDifferentEvents() {
        let a = events(5_000) { $0.seed = 1 }.map(EventCodec.encode)
        let b = events(5_000) { $0.seed = 2 }.map(EventCodec.encode)
        #expect(a != b)
        let samePosition = zip(a, b).filter { $0 == $1 }.count
        #expect(samePosition < 250, "\(samePosition) of 5,000 events identical at the same position")
    }

    @Test func runTagMakesEventIdsDistinctBetweenRunsOfTheSameSeed() throws {
        let a = events(10_000) { $0.runTag = "runA" }
        let b = events(10_000) { $0.runTag = "runB" }
        let untagged = events(10_000)
        let idsA = Set(a.map(\.eventId)), idsB = Set(b.map(\.eventId))
        #expect(idsA.count == a.count)
        #expect(idsA.isDisjoint(with: idsB))
        #expect(idsA.isDisjoint(with: Set(untagged.map(\.eventId))))
        // The tag changes ids only: the same seed still gives the same simulated behaviour.
        #expect(a.map(\.occurredAt) == untagged.map(\.occurredAt))
        #expect(a.map(\.customerId) == untagged.map(\.customerId))
        #expect(a.map(\.type) == untagged.map(\.type))
        for event in a.prefix(2_000) {
            #expect(event.eventId.contains("runA"))
            try event.validate()
        }
    }
}

@Suite struct ValidityTests {
    @Test func everyEventSurvivesTheCodec() {
        var failures: [String] = []
        for event in defaultRun {
            let bytes = EventCodec.encode(event)
            do {
                let decoded = try EventCodec.decode(bytes)
                if decoded != event { failures.append("\(event.eventId): decodes to a different event") }
            } catch {
                failures.append("\(event.eventId): \(error)")
            }
            if failures.count >= 10 { break }
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test func eventIdsAreUnique() {
        var seen = Set<String>()
        var duplicates: [String] = []
        for event in defaultRun where !seen.insert(event.eventId).inserted { duplicates.append(event.eventId) }
        #expect(defaultRun.count == 50_000)
        #expect(duplicates.isEmpty, "\(duplicates.prefix(10))")
    }

    @Test func eventsAreInTimeOrder() {
        var outOfOrder = 0
        for (earlier, later) in zip(defaultRun, defaultRun.dropFirst()) where later.occurredAt < earlier.occurredAt {
            outOfOrder += 1
        }
        #expect(outOfOrder == 0)
        let start = ChainSimulator.Configuration().start
        #expect(defaultRun[0].occurredAt >= start)
    }

    @Test func allThreeKindsOfEventOccur() {
        let purchases = defaultRun.filter { $0.purchase != nil }.count
        let returns = defaultRun.filter { $0.returned != nil }.count
        let surveys = defaultRun.filter { $0.survey != nil }.count
        #expect(purchases + returns + surveys == defaultRun.count)
        // Configured as 3 % returns and 5 % surveys per purchase.
        #expect(Double(returns) / Double(purchases) > 0.02 && Double(returns) / Double(purchases) < 0.04, "\(returns) returns / \(purchases) purchases")
        #expect(Double(surveys) / Double(purchases) > 0.04 && Double(surveys) / Double(purchases) < 0.06, "\(surveys) surveys / \(purchases) purchases")
    }

    @Test func returnsReferenceAnEarlierPurchase() throws {
        var purchases: [String: Purchase] = [:]
        var returns = 0
        for event in defaultRun {
            if let purchase = event.purchase {
                purchases[event.eventId] = purchase
            } else if let value = event.returned {
                returns += 1
                let original = try #require(purchases[value.originalEventId],
                                            "return \(event.eventId) references \(value.originalEventId), not an earlier purchase")
                #expect(value.storeId == original.storeId)
                #expect(value.customerId == original.customerId)
                #expect(value.currency == original.currency)
                for line in value.lines {
                    #expect(original.lines.contains { $0.sku == line.sku && $0.unitPrice == line.unitPrice && $0.quantity >= line.quantity },
                            "return \(event.eventId) returns \(line.sku), which \(value.originalEventId) did not sell")
                }
                #expect(value.total > 0 && value.total <= original.total)
            }
        }
        #expect(returns > 100)
    }

    @Test func surveysScoreZeroToTenAndReferAnEarlierPurchase() {
        var purchaseIds = Set<String>()
        var surveys = 0
        var scores = Set<Int>()
        for event in defaultRun {
            if event.purchase != nil { purchaseIds.insert(event.eventId) }
            guard let survey = event.survey else { continue }
            surveys += 1
            scores.insert(survey.nps)
            #expect((0...10).contains(survey.nps), "\(event.eventId): nps \(survey.nps)")
            for (name, score) in survey.drivers {
                #expect(Survey.driverNames.contains(name))
                #expect((0...10).contains(score), "\(event.eventId): \(name) \(score)")
            }
            if let related = survey.relatedEventId {
                #expect(purchaseIds.contains(related), "\(event.eventId) refers to \(related)")
            } else {
                Issue.record("\(event.eventId) has no related purchase")
            }
        }
        #expect(surveys > 100)
        // Scores spread over the scale, not a constant.
        #expect(scores.count >= 6, "\(scores.sorted())")
    }
}

@Suite struct BehaviourTests {
    struct History { var purchases = 0; var first = Int64.max; var last = Int64.min }

    @Test func customersOfEachKindShowInTheirBehaviour() throws {
        var histories: [String: History] = [:]
        for event in defaultRun {
            guard let purchase = event.purchase, let customer = purchase.customerId else { continue }
            let at = event.occurredAt.epochMilliseconds
            histories[customer, default: History()].purchases += 1
            histories[customer]!.first = min(histories[customer]!.first, at)
            histories[customer]!.last = max(histories[customer]!.last, at)
        }
        let start = try #require(defaultRun.first).occurredAt.epochMilliseconds
        let end = try #require(defaultRun.last).occurredAt.epochMilliseconds
        let middle = start + (end - start) / 2
        let days = Double(end - start) / 86_400_000

        let regulars = histories.values.filter { $0.purchases >= 10 }.count
        let rare = histories.values.filter { (1...2).contains($0.purchases) }.count
        let stopped = histories.values.filter { $0.purchases >= 5 && $0.last < middle }.count
        let summary = "\(histories.count) customers over \(Int(days)) days: \(regulars) with ≥ 10 purchases, \(rare) with 1–2, \(stopped) stopped in the first half after ≥ 5"
        print(summary)
        #expect(histories.count > 1_000, "\(summary)")
        #expect(regulars >= 100, "\(summary)")
        #expect(rare >= 50, "\(summary)")
        #expect(stopped >= 20, "\(summary)")
    }

    @Test(arguments: [0.0, 0.2, 0.5])
    func anonymousShareIsRoughlyAsConfigured(share: Double) {
        var simulator = ChainSimulator(configuration: {
            var configuration = ChainSimulator.Configuration()
            configuration.anonymousShare = share
            return configuration
        }())
        var purchases = 0, anonymous = 0
        while purchases < 20_000 {
            guard let event = simulator.next() else { break }
            guard let purchase = event.purchase else { continue }
            purchases += 1
            if purchase.customerId == nil { anonymous += 1 }
        }
        #expect(purchases == 20_000)
        let measured = Double(anonymous) / Double(purchases)
        #expect(abs(measured - share) <= 0.05, "configured \(share), measured \(measured)")
        if share == 0 { #expect(anonymous == 0) }
    }
}
