import Foundation
import LoyaltyRules

/// What one set of rules granted over a run of events.
public struct SimulationReport: Sendable {
    public struct RuleTotals: Sendable {
        public var section: String
        public var ruleId: String
        /// How many times the rule took effect.
        public var effects = 0
        /// Distinct customers it took effect for.
        public var customers = 0
        /// Points (earning rules), before caps and rounding.
        public var points = 0.0
        /// Money (rewards' value, discounts), minor units.
        public var money = 0.0
    }

    public var version: String
    public var events = 0
    public var purchases = 0
    public var returns = 0
    public var surveys = 0
    /// Points credited, after caps and rounding.
    public var pointsGranted = 0.0
    /// Points taken back by returns.
    public var pointsReversed = 0.0
    /// What a point costs the chain (minor units), from `earning.pointValue`; nil if not set.
    public var pointValue: Double?
    public var rewardsGranted = 0
    public var rewardsCost = 0.0
    public var discounts = 0
    public var discountTotal = 0.0
    public var alerts = 0
    public var customersEarning = 0
    public var customersRewarded = 0
    public var customersDiscounted = 0
    public var rules: [RuleTotals] = []
    /// Seconds spent evaluating (not loading).
    public var evaluationSeconds = 0.0
    /// What the simulation could not know, e.g. customer scores.
    public var notes: [String] = []

    /// Net points (granted − reversed) times the point value, minor units.
    public var pointsCost: Double? { pointValue.map { (pointsGranted - pointsReversed) * $0 } }
}

/// Runs one rule book over prepared events, with no side effects: customers' visits, spend,
/// points, tiers, reward history and campaign budgets are all kept in memory.
public struct RuleSimulation {
    public let book: RuleBook

    public init(book: RuleBook) {
        self.book = book
    }

    /// A set of customer numbers, one bit each.
    private struct Marks {
        var words: [UInt64]
        var count = 0
        init(capacity: Int) { words = [UInt64](repeating: 0, count: (capacity + 63) / 64) }
        mutating func mark(_ i: Int32) {
            let index = Int(i)
            let (word, bit) = (index >> 6, UInt64(1) << UInt64(index & 63))
            if words[word] & bit == 0 {
                words[word] |= bit
                count += 1
            }
        }
    }

    /// - Parameter countFrom: events before this instant (epoch milliseconds) only build up the
    ///   customers' history (visits, points, tiers); their effects are not counted.
    public func run(_ input: PreparedEvents, countFrom: Int64 = .min) -> SimulationReport {
        let customerCount = input.customerIds.count
        var report = SimulationReport(version: book.version)
        report.pointValue = book.earning?.pointValue
        let scores: Set<String> = ["clv", "clvPercentile", "pAlive"]
        let usedScores = book.usage.customerFields.intersection(scores)
        if !usedScores.isEmpty {
            report.notes.append("customer scores (\(usedScores.sorted().joined(separator: ", "))) are not known in a simulation, so conditions on them are false")
        }

        let facts = Facts()
        var clock = book.makeClock()
        let historyWindow = book.usage.historyDays
        var customers = [CustomerState](repeating: CustomerState(), count: customerCount)
        let firstTier = book.tiers?.levels.first?.header.id ?? ""
        for i in 0..<customerCount {
            customers[i].tier = firstTier
            if historyWindow > 0 { customers[i].history = DailyHistory(window: historyWindow) }
        }
        var purchasePoints = [Double](repeating: 0, count: input.purchaseCount)
        var purchaseTotals = [Double](repeating: 0, count: input.purchaseCount)
        var purchaseOwners = [Int32](repeating: -1, count: input.purchaseCount)
        var reversedFraction = [Double](repeating: 0, count: input.purchaseCount)

        // Per-rule totals, indexed; rule id → index.
        var totals: [SimulationReport.RuleTotals] = []
        var marks: [Marks] = []
        var index: [String: Int] = [:]
        for (section, ids) in book.ruleIds.sorted(by: { $0.key < $1.key }) where section != "tiers" {
            for id in ids {
                index[id] = totals.count
                totals.append(SimulationReport.RuleTotals(section: section, ruleId: id))
                marks.append(Marks(capacity: customerCount))
            }
        }
        let rewardIndex = Dictionary(uniqueKeysWithValues: (book.rewards?.rules ?? []).enumerated().map { ($1.header.id, $0) })
        let rewardCount = rewardIndex.count
        var lastGrant = [Int64](repeating: .min, count: customerCount * rewardCount)
        var budgetSpent: [String: Double] = [:]
        var earning = Marks(capacity: customerCount), rewarded = Marks(capacity: customerCount), discounted = Marks(capacity: customerCount)
        var scratch = EarningPolicy.Scratch()
        var discountScratch: [Double] = []

        let started = DispatchTime.now().uptimeNanoseconds
        for event in input.events {
            let counting = event.epochMilliseconds >= countFrom
            if counting { report.events += 1 }
            facts.clock = clock.facts(at: event.epochMilliseconds)
            let c = event.customer
            if c >= 0 {
                let i = Int(c)
                // Pending points whose return window has passed become spendable and count for tiers.
                if !customers[i].pending.isEmpty {
                    var released = 0
                    for lot in customers[i].pending where lot.releaseAt <= event.epochMilliseconds {
                        customers[i].points += lot.points
                        customers[i].qualifyingPoints += lot.points
                        released += 1
                    }
                    if released > 0 { customers[i].pending.removeFirst(released) }
                }
            }
            switch event.kind {
            case .purchase:
                if counting { report.purchases += 1 }
                facts.purchase = event.purchase
                let number = Int(event.purchaseNumber)
                purchaseTotals[number] = event.purchase.total
                purchaseOwners[number] = c
                if c >= 0 {
                    let i = Int(c)
                    if customers[i].visits == 0 { customers[i].firstVisit = event.epochMilliseconds }
                    let previous = customers[i].lastVisit
                    customers[i].visits += 1
                    customers[i].spend += event.purchase.total
                    customers[i].history?.record(day: facts.clock.day, spend: event.purchase.total)
                    fill(facts, from: customers[i], id: input.customerIds[i], now: event.epochMilliseconds, previousVisit: previous)
                    customers[i].lastVisit = event.epochMilliseconds
                    if let tiers = book.tiers, let level = tiers.level(for: facts) {
                        customers[i].tier = level.header.id
                        facts.customer.tier = level.header.id
                    }
                    if let policy = book.earning {
                        if customers[i].earnedDay != facts.clock.day {
                            customers[i].earnedDay = facts.clock.day
                            customers[i].earnedToday = 0
                        }
                        let outcome = policy.evaluate(facts, earnedToday: customers[i].earnedToday, scratch: &scratch)
                        for contribution in outcome.contributions where counting {
                            if let r = index[contribution.ruleId] {
                                totals[r].effects += 1
                                totals[r].points += contribution.points
                                marks[r].mark(c)
                            }
                        }
                        if outcome.points > 0 {
                            let points = Double(outcome.points)
                            if counting {
                                report.pointsGranted += points
                                earning.mark(c)
                            }
                            purchasePoints[number] = points
                            customers[i].earnedToday += points
                            if policy.pendingSeconds > 0 {
                                customers[i].pending.append((event.epochMilliseconds + Int64(policy.pendingSeconds * 1000), points))
                            } else {
                                customers[i].points += points
                                customers[i].qualifyingPoints += points
                            }
                        }
                    }
                    if let rewards = book.rewards {
                        let base = i * rewardCount
                        let granted = rewards.evaluate(facts) { id in
                            let last = lastGrant[base + rewardIndex[id]!]
                            return last == .min ? nil : last
                        }
                        for rule in granted {
                            lastGrant[base + rewardIndex[rule.header.id]!] = event.epochMilliseconds
                            guard counting else { continue }
                            report.rewardsGranted += 1
                            report.rewardsCost += rule.value
                            rewarded.mark(c)
                            if let r = index[rule.header.id] {
                                totals[r].effects += 1
                                totals[r].money += rule.value
                                marks[r].mark(c)
                            }
                        }
                    }
                } else {
                    facts.customer = CustomerFacts()
                    facts.customer.tier = firstTier
                }
                if let campaigns = book.campaigns {
                    let quotes = campaigns.quote(facts, remainingBudget: { id in
                        campaigns.rules.first { $0.header.id == id }?.budget.map { $0 - (budgetSpent[id] ?? 0) }
                    }, scratch: &discountScratch)
                    for quote in quotes {
                        budgetSpent[quote.ruleId, default: 0] += quote.discount
                        guard counting else { continue }
                        report.discounts += 1
                        report.discountTotal += quote.discount
                        if c >= 0 { discounted.mark(c) }
                        if let r = index[quote.ruleId] {
                            totals[r].effects += 1
                            totals[r].money += quote.discount
                            if c >= 0 { marks[r].mark(c) }
                        }
                    }
                }
            case .return:
                if counting { report.returns += 1 }
                let number = Int(event.purchaseNumber)
                // Only the buyer's own return of a known purchase takes points back, and never
                // more than the purchase earned.
                guard number >= 0, c >= 0, purchaseOwners[number] == c, purchaseTotals[number] > 0 else { continue }
                let fraction = min(1 - reversedFraction[number], event.refund / purchaseTotals[number])
                guard fraction > 0 else { continue }
                reversedFraction[number] += fraction
                let points = (purchasePoints[number] * fraction).rounded(.down)
                if counting { report.pointsReversed += points }
                let i = Int(c)
                customers[i].points -= points
                customers[i].qualifyingPoints -= points
            case .survey:
                if counting { report.surveys += 1 }
                facts.survey = event.survey
                if c >= 0 {
                    let i = Int(c)
                    customers[i].lastNps = event.survey.nps
                    fill(facts, from: customers[i], id: input.customerIds[i], now: event.epochMilliseconds, previousVisit: customers[i].lastVisit)
                } else {
                    facts.customer = CustomerFacts()
                }
                if let alerts = book.alerts, counting {
                    for rule in alerts.evaluate(facts) {
                        report.alerts += 1
                        if let r = index[rule.header.id] {
                            totals[r].effects += 1
                            if c >= 0 { marks[r].mark(c) }
                        }
                    }
                }
            }
        }
        report.evaluationSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        for r in totals.indices { totals[r].customers = marks[r].count }
        report.rules = totals
        report.customersEarning = earning.count
        report.customersRewarded = rewarded.count
        report.customersDiscounted = discounted.count
        return report
    }

    @inline(__always)
    private func fill(_ facts: Facts, from state: CustomerState, id: String, now: Int64, previousVisit: Int64) {
        var customer = CustomerFacts()
        customer.id = id
        customer.known = true
        customer.tier = state.tier
        customer.points = state.points
        customer.qualifyingPoints = state.qualifyingPoints
        customer.visits = state.visits
        customer.spend = state.spend
        customer.sinceLastVisit = previousVisit > 0 ? Double(now - previousVisit) / 1000 : .nan
        customer.memberFor = state.visits > 0 ? Double(now - state.firstVisit) / 1000 : 0
        customer.lastNps = state.lastNps
        if let history = state.history { customer.history = history }
        facts.customer = customer
    }
}
