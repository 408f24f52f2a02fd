import Foundation
import LoyaltyEvents
import LoyaltyRules
import LoyaltySimulation
import Testing
@testable import RuleSimulation

/// `RuleSimulation.run` keeps customers in place behind pointers, rewrites the facts field by
/// field, caches clock facts per minute and prefetches. These tests run the same events through
/// a straightforward evaluation (fresh facts per event, plain arrays, tiers by name) and expect
/// exactly the same report, to the last bit of every total.
@Suite struct ReferenceSimulationTests {
    struct Totals: Equatable {
        var effects = 0
        var customers = Set<Int32>()
        var points = 0.0
        var money = 0.0
    }

    struct Reference: Equatable {
        var events = 0, purchases = 0, returns = 0, surveys = 0
        var pointsGranted = 0.0, pointsReversed = 0.0
        var rewardsGranted = 0, rewardsCost = 0.0
        var discounts = 0, discountTotal = 0.0, alerts = 0
        var multiplierRedemptions = 0, campaignBonusPoints = 0.0
        var earning = Set<Int32>(), rewarded = Set<Int32>(), discounted = Set<Int32>()
        var rules: [String: Totals] = [:]
    }

    /// The simulation as plainly as it can be written: what `run` must compute.
    static func reference(_ book: RuleBook, _ input: PreparedEvents, countFrom: Int64 = .min) -> Reference {
        struct Customer {
            var visits = 0.0, spend = 0.0, firstVisit: Int64 = 0, lastVisit: Int64 = 0
            var points = 0.0, qualifyingPoints = 0.0, lastNps = Double.nan
            var earnedDay = Int.min, earnedToday = 0.0
            var pending: [(releaseAt: Int64, points: Double)] = []
            var tier = ""
            var days: [VisitHistory.Day] = []
        }
        var out = Reference()
        let facts = Facts()
        let timeZone = book.makeClock().timeZone
        let window = book.usage.historyDays
        let tierIds = (book.tiers?.levels ?? []).map(\.header.id)
        var customers = [Customer](repeating: Customer(), count: input.customerIds.count)
        for i in customers.indices { customers[i].tier = tierIds.first ?? "" }
        let rewardIds = (book.rewards?.rules ?? []).map(\.header.id)
        let rewardValues = (book.rewards?.rules ?? []).map(\.value)
        let campaignIds = (book.campaigns?.rules ?? []).map(\.header.id)
        let budgets = (book.campaigns?.rules ?? []).map(\.budget)
        let factors: [Double?] = (book.campaigns?.rules ?? []).map { rule in
            if case .pointsMultiplier(let factor) = rule.discount { factor } else { nil }
        }
        let earningIds = (book.earning?.rules ?? []).map(\.header.id)
        let alertIds = (book.alerts?.rules ?? []).map(\.header.id)
        var lastGrant: [Int: [Int: Int64]] = [:]
        var spent = [Double](repeating: 0, count: campaignIds.count)
        var purchasePoints: [Int: Double] = [:], purchaseTotals: [Int: Double] = [:]
        var purchaseOwners: [Int: Int32] = [:], reversed: [Int: Double] = [:]
        var scratch = EarningPolicy.Scratch(), discountScratch: [Double] = []
        var granted: [Int] = [], quotes: [(rule: Int, discount: Double)] = [], raised: [Int] = []

        func customerFacts(_ state: Customer, id: String, now: Int64, previous: Int64) -> CustomerFacts {
            var customer = CustomerFacts()
            customer.id = id
            customer.known = true
            customer.tier = state.tier
            customer.points = state.points
            customer.qualifyingPoints = state.qualifyingPoints
            customer.visits = state.visits
            customer.spend = state.spend
            customer.sinceLastVisit = previous > 0 ? Double(now - previous) / 1000 : .nan
            customer.memberFor = state.visits > 0 ? Double(now - state.firstVisit) / 1000 : 0
            customer.lastNps = state.lastNps
            if window > 0 { customer.history = VisitHistory(days: state.days) }
            return customer
        }

        for event in input.events {
            let now = event.epochMilliseconds
            let counting = now >= countFrom
            if counting { out.events += 1 }
            // A fresh clock per event: no cache of offsets, days or minutes.
            var clock = LocalClock(timeZone: timeZone)
            facts.clock = clock.facts(at: now)
            let c = event.customer
            if c >= 0 {
                let i = Int(c)
                let due = customers[i].pending.filter { $0.releaseAt <= now }
                for lot in due {
                    customers[i].points += lot.points
                    customers[i].qualifyingPoints += lot.points
                }
                customers[i].pending.removeAll { $0.releaseAt <= now }
            }
            switch event.kind {
            case .purchase:
                if counting { out.purchases += 1 }
                facts.purchase = event.purchase
                // The plain way compares the lines' texts, not the numbers prepared events give them.
                facts.purchase.lines = event.purchase.lines.map {
                    LineFacts(sku: $0.sku, category: $0.category, quantity: $0.quantity, price: $0.price, amount: $0.amount, margin: $0.margin)
                }
                let total = facts.purchase.total
                let number = Int(event.purchaseNumber)
                purchaseTotals[number] = total
                purchaseOwners[number] = c
                if c >= 0 {
                    let i = Int(c)
                    if customers[i].visits == 0 { customers[i].firstVisit = now }
                    let previous = customers[i].lastVisit
                    customers[i].visits += 1
                    customers[i].spend += total
                    if window > 0 {
                        let day = facts.clock.day
                        if let last = customers[i].days.last, last.day == day {
                            customers[i].days[customers[i].days.count - 1].visits += 1
                            customers[i].days[customers[i].days.count - 1].spend += total
                        } else {
                            customers[i].days.append(VisitHistory.Day(day: day, visits: 1, spend: total))
                        }
                        customers[i].days.removeAll { $0.day <= day - window }
                    }
                    facts.customer = customerFacts(customers[i], id: input.customerIds[i], now: now, previous: previous)
                    customers[i].lastVisit = now
                    if let tiers = book.tiers, let level = tiers.levelIndex(for: facts) {
                        customers[i].tier = tierIds[level]
                        facts.customer.tier = tierIds[level]
                    }
                    if let policy = book.earning {
                        if customers[i].earnedDay != facts.clock.day {
                            customers[i].earnedDay = facts.clock.day
                            customers[i].earnedToday = 0
                        }
                        let outcome = policy.evaluate(facts, earnedToday: customers[i].earnedToday, scratch: &scratch)
                        if counting {
                            for (k, contribution) in outcome.contributions.enumerated() {
                                #expect(contribution.ruleId == earningIds[scratch.rulesOfContributions[k]])
                                out.rules[contribution.ruleId, default: Totals()].effects += 1
                                out.rules[contribution.ruleId, default: Totals()].points += contribution.points
                                out.rules[contribution.ruleId, default: Totals()].customers.insert(c)
                            }
                        }
                        if outcome.points > 0 {
                            let points = Double(outcome.points)
                            if counting {
                                out.pointsGranted += points
                                out.earning.insert(c)
                            }
                            purchasePoints[number] = points
                            customers[i].earnedToday += points
                            if policy.pendingSeconds > 0 {
                                customers[i].pending.append((now + Int64(policy.pendingSeconds * 1000), points))
                            } else {
                                customers[i].points += points
                                customers[i].qualifyingPoints += points
                            }
                        }
                    }
                    if let rewards = book.rewards {
                        rewards.evaluate(facts, lastGrantedAt: { lastGrant[i]?[$0] }, into: &granted)
                        for rule in granted {
                            lastGrant[i, default: [:]][rule] = now
                            guard counting else { continue }
                            out.rewardsGranted += 1
                            out.rewardsCost += rewardValues[rule]
                            out.rewarded.insert(c)
                            out.rules[rewardIds[rule], default: Totals()].effects += 1
                            out.rules[rewardIds[rule], default: Totals()].money += rewardValues[rule]
                            out.rules[rewardIds[rule], default: Totals()].customers.insert(c)
                        }
                    }
                } else {
                    facts.customer = CustomerFacts()
                    facts.customer.tier = tierIds.first ?? ""
                }
                if let campaigns = book.campaigns {
                    campaigns.quote(facts, remainingBudgetOf: { rule in budgets[rule].map { $0 - spent[rule] } },
                                    scratch: &discountScratch, into: &quotes)
                    // The points plugin's campaign bonus: the multipliers that applied, in order.
                    var multipliers: [(rule: Int, factor: Double)] = []
                    for quote in quotes {
                        spent[quote.rule] += quote.discount
                        if let factor = factors[quote.rule] {
                            #expect(quote.discount == 0)
                            multipliers.append((quote.rule, factor))
                            guard counting else { continue }
                            out.multiplierRedemptions += 1
                            out.rules[campaignIds[quote.rule], default: Totals()].effects += 1
                            if c >= 0 { out.rules[campaignIds[quote.rule], default: Totals()].customers.insert(c) }
                            continue
                        }
                        guard counting else { continue }
                        out.discounts += 1
                        out.discountTotal += quote.discount
                        out.rules[campaignIds[quote.rule], default: Totals()].effects += 1
                        out.rules[campaignIds[quote.rule], default: Totals()].money += quote.discount
                        if c >= 0 {
                            out.discounted.insert(c)
                            out.rules[campaignIds[quote.rule], default: Totals()].customers.insert(c)
                        }
                    }
                    let earned = purchasePoints[number, default: 0]
                    if c >= 0, earned > 0, !multipliers.isEmpty {
                        // As the points plugin multiplies: the purchase's points by each factor in turn.
                        var multiplied = earned
                        for m in multipliers { multiplied *= m.factor }
                        let exact = multiplied - earned
                        if exact > 0, exact <= RuleSimulation.largestCampaignBonus {
                            if counting {
                                var running = earned
                                for m in multipliers {
                                    out.rules[campaignIds[m.rule], default: Totals()].points += running * (m.factor - 1)
                                    running *= m.factor
                                }
                            }
                            let bonus = switch book.earning?.rounding ?? .down {
                            case .down: exact.rounded(.down)
                            case .nearest: exact.rounded(.toNearestOrAwayFromZero)
                            case .up: exact.rounded(.up)
                            }
                            if bonus > 0 {
                                purchasePoints[number] = earned + bonus
                                if counting {
                                    out.pointsGranted += bonus
                                    out.campaignBonusPoints += bonus
                                }
                                let i = Int(c)
                                let pendingSeconds = book.earning?.pendingSeconds ?? 0
                                if pendingSeconds > 0 {
                                    // A lot of its own, released with the purchase's.
                                    customers[i].pending.append((now + Int64(pendingSeconds * 1000), bonus))
                                } else {
                                    customers[i].points += bonus
                                    customers[i].qualifyingPoints += bonus
                                }
                            }
                        }
                    }
                }
            case .return:
                if counting { out.returns += 1 }
                let number = Int(event.purchaseNumber)
                guard number >= 0, c >= 0, purchaseOwners[number] == c, let paid = purchaseTotals[number], paid > 0 else { continue }
                let fraction = min(1 - reversed[number, default: 0], event.refund / paid)
                guard fraction > 0 else { continue }
                reversed[number, default: 0] += fraction
                let points = (purchasePoints[number, default: 0] * fraction).rounded(.down)
                if counting { out.pointsReversed += points }
                customers[Int(c)].points -= points
                customers[Int(c)].qualifyingPoints -= points
            case .survey:
                if counting { out.surveys += 1 }
                facts.survey = event.survey
                if c >= 0 {
                    let i = Int(c)
                    customers[i].lastNps = facts.survey.nps
                    facts.customer = customerFacts(customers[i], id: input.customerIds[i], now: now, previous: customers[i].lastVisit)
                } else {
                    facts.customer = CustomerFacts()
                }
                if let alerts = book.alerts, counting {
                    alerts.evaluate(facts, into: &raised)
                    for rule in raised {
                        out.alerts += 1
                        out.rules[alertIds[rule], default: Totals()].effects += 1
                        if c >= 0 { out.rules[alertIds[rule], default: Totals()].customers.insert(c) }
                    }
                }
            }
        }
        return out
    }

    /// The report's figures in the reference's shape (rules that never took effect left out).
    static func summary(_ report: SimulationReport) -> (Reference, customersEarning: Int, rewarded: Int, discounted: Int) {
        var out = Reference()
        out.events = report.events
        out.purchases = report.purchases
        out.returns = report.returns
        out.surveys = report.surveys
        out.pointsGranted = report.pointsGranted
        out.pointsReversed = report.pointsReversed
        out.rewardsGranted = report.rewardsGranted
        out.rewardsCost = report.rewardsCost
        out.discounts = report.discounts
        out.discountTotal = report.discountTotal
        out.multiplierRedemptions = report.multiplierRedemptions
        out.campaignBonusPoints = report.campaignBonusPoints
        out.alerts = report.alerts
        return (out, report.customersEarning, report.customersRewarded, report.customersDiscounted)
    }

    static func check(_ book: RuleBook, _ events: PreparedEvents, countFrom: Int64 = .min) {
        let expected = reference(book, events, countFrom: countFrom)
        let report = RuleSimulation(book: book).run(events, countFrom: countFrom)
        let (totals, earning, rewarded, discounted) = summary(report)
        var plain = expected
        plain.earning = []
        plain.rewarded = []
        plain.discounted = []
        plain.rules = [:]
        #expect(totals == plain)
        #expect(earning == expected.earning.count)
        #expect(rewarded == expected.rewarded.count)
        #expect(discounted == expected.discounted.count)
        for row in report.rules {
            let want = expected.rules[row.ruleId] ?? Totals()
            #expect(row.effects == want.effects, "\(row.ruleId)")
            #expect(row.customers == want.customers.count, "\(row.ruleId)")
            #expect(row.points == want.points, "\(row.ruleId)")
            #expect(row.money == want.money, "\(row.ruleId)")
        }
        #expect(Set(expected.rules.keys).isSubset(of: Set(report.rules.map(\.ruleId))))
        #expect(report.rules.contains { $0.effects > 0 })
    }

    static func chain(seed: UInt64, customers: Int, events count: Int, currency: CurrencyCode?) -> PreparedEvents {
        var configuration = ChainSimulator.Configuration()
        configuration.seed = seed
        configuration.customers = customers
        var events = PreparedEvents()
        for envelope in ChainSimulator(configuration: configuration).prefix(count) { events.add(envelope, currency: currency) }
        return events
    }

    @Test(arguments: [(UInt64(7), 150, 12_000), (UInt64(42), 400, 20_000)])
    func theFiftyBenchmarkRulesGiveWhatAPlainEvaluationGives(seed: UInt64, customers: Int, events: Int) throws {
        let book = try #require(RuleLoader.load(paths: [RuleSimulationTests.repoRoot + "/benchmarks/rules/fifty-rules.yaml"]).book)
        let prepared = Self.chain(seed: seed, customers: customers, events: events, currency: book.currency)
        Self.check(book, prepared)
        // Counting from the middle: the first half only builds history.
        let middle = prepared.events[prepared.events.count / 2].epochMilliseconds
        Self.check(book, prepared, countFrom: middle)
    }

    @Test func theConfiguredRulesGiveWhatAPlainEvaluationGives() throws {
        let book = try #require(RuleLoader.load(paths: [RuleSimulationTests.repoRoot + "/config/rules"]).book)
        Self.check(book, Self.chain(seed: 3, customers: 200, events: 8_000, currency: book.currency))
    }
}
