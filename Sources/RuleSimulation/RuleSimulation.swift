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

    /// Sets of customer numbers, one bit each, one set per row (a rule, or "customers earning"...),
    /// with per-row tallies, in single allocations: marking costs no copy-on-write checks.
    private struct Tally {
        let rows: Int
        let wordsPerRow: Int
        let words: UnsafeMutablePointer<UInt64>
        let customers: UnsafeMutablePointer<Int>
        let effects: UnsafeMutablePointer<Int>
        let points: UnsafeMutablePointer<Double>
        let money: UnsafeMutablePointer<Double>

        init(rows: Int, customers customerCount: Int) {
            self.rows = rows
            wordsPerRow = (customerCount + 63) / 64
            words = .allocate(capacity: max(1, rows * wordsPerRow))
            words.initialize(repeating: 0, count: max(1, rows * wordsPerRow))
            customers = .allocate(capacity: max(1, rows))
            customers.initialize(repeating: 0, count: max(1, rows))
            effects = .allocate(capacity: max(1, rows))
            effects.initialize(repeating: 0, count: max(1, rows))
            points = .allocate(capacity: max(1, rows))
            points.initialize(repeating: 0, count: max(1, rows))
            money = .allocate(capacity: max(1, rows))
            money.initialize(repeating: 0, count: max(1, rows))
        }

        /// Adds customer `c` to row `row`'s set.
        @inline(__always) func mark(_ row: Int, _ c: Int32) {
            let index = Int(c)
            let word = row * wordsPerRow + index >> 6
            let bit = UInt64(1) << UInt64(index & 63)
            if words[word] & bit == 0 {
                words[word] |= bit
                customers[row] += 1
            }
        }

        func deallocate() {
            words.deallocate()
            customers.deallocate()
            effects.deallocate()
            points.deallocate()
            money.deallocate()
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
        for i in 0..<customerCount { customers[i].tier = firstTier }
        // The rules read the history of the customer at hand through this; nil when they never ask.
        let historyView: HistoryView? = historyWindow > 0 ? HistoryView() : nil
        var purchasePoints = [Double](repeating: 0, count: input.purchaseCount)
        var purchaseTotals = [Double](repeating: 0, count: input.purchaseCount)
        var purchaseOwners = [Int32](repeating: -1, count: input.purchaseCount)
        var reversedFraction = [Double](repeating: 0, count: input.purchaseCount)

        // Per-rule totals, indexed; rule id → index.
        var totals: [SimulationReport.RuleTotals] = []
        var index: [String: Int] = [:]
        for (section, ids) in book.ruleIds.sorted(by: { $0.key < $1.key }) where section != "tiers" {
            for id in ids {
                index[id] = totals.count
                totals.append(SimulationReport.RuleTotals(section: section, ruleId: id))
            }
        }
        // Rows of the tally: one per rule, then customers earning, rewarded and discounted.
        let (earningRow, rewardedRow, discountedRow) = (totals.count, totals.count + 1, totals.count + 2)
        let tally = Tally(rows: totals.count + 3, customers: customerCount)
        defer { tally.deallocate() }
        // Each section's rules by position → their row.
        let earningRows = (book.earning?.rules ?? []).map { index[$0.header.id]! }
        let rewardRows = (book.rewards?.rules ?? []).map { index[$0.header.id]! }
        let campaignRows = (book.campaigns?.rules ?? []).map { index[$0.header.id]! }
        let alertRows = (book.alerts?.rules ?? []).map { index[$0.header.id]! }
        let tierIds = (book.tiers?.levels ?? []).map(\.header.id)
        let rewardValues = (book.rewards?.rules ?? []).map(\.value)
        let campaignBudgets = (book.campaigns?.rules ?? []).map(\.budget)
        let rewardCount = rewardRows.count
        var lastGrant = [Int64](repeating: .min, count: customerCount * rewardCount)
        var budgetSpent = [Double](repeating: 0, count: campaignRows.count)
        var scratch = EarningPolicy.Scratch()
        var discountScratch: [Double] = []
        var granted: [Int] = []
        var quotes: [(rule: Int, discount: Double)] = []
        var raised: [Int] = []
        let events = input.events

        let started = DispatchTime.now().uptimeNanoseconds
        for e in events.indices {
            // Fields are read in place: copying a whole event would retain each of its strings.
            let now = events[e].epochMilliseconds
            let counting = now >= countFrom
            if counting { report.events += 1 }
            facts.clock = clock.facts(at: now)
            let c = events[e].customer
            if c >= 0 {
                let i = Int(c)
                // Pending points whose return window has passed become spendable and count for tiers.
                if !customers[i].pending.isEmpty {
                    var released = 0
                    for lot in customers[i].pending where lot.releaseAt <= now {
                        customers[i].points += lot.points
                        customers[i].qualifyingPoints += lot.points
                        released += 1
                    }
                    if released > 0 { customers[i].pending.removeFirst(released) }
                }
            }
            switch events[e].kind {
            case .purchase:
                if counting { report.purchases += 1 }
                facts.purchase = events[e].purchase
                let total = facts.purchase.total
                let number = Int(events[e].purchaseNumber)
                purchaseTotals[number] = total
                purchaseOwners[number] = c
                if c >= 0 {
                    let i = Int(c)
                    // The customer's state is moved out for the purchase and back at the end.
                    var state = CustomerState()
                    swap(&state, &customers[i])
                    defer { swap(&state, &customers[i]) }
                    if state.visits == 0 { state.firstVisit = now }
                    let previous = state.lastVisit
                    state.visits += 1
                    state.spend += total
                    if historyWindow > 0 { state.history.record(day: facts.clock.day, spend: total, window: historyWindow) }
                    fill(facts, from: state, id: input.customerIds[i], now: now, previousVisit: previous, history: historyView)
                    state.lastVisit = now
                    if let tiers = book.tiers, let level = tiers.levelIndex(for: facts) {
                        state.tier = tierIds[level]
                        facts.customer.tier = tierIds[level]
                    }
                    if let policy = book.earning {
                        if state.earnedDay != facts.clock.day {
                            state.earnedDay = facts.clock.day
                            state.earnedToday = 0
                        }
                        let outcome = policy.evaluate(facts, earnedToday: state.earnedToday, scratch: &scratch)
                        if counting {
                            let rules = scratch.rulesOfContributions
                            for (k, contribution) in outcome.contributions.enumerated() {
                                let r = earningRows[rules[k]]
                                tally.effects[r] += 1
                                tally.points[r] += contribution.points
                                tally.mark(r, c)
                            }
                        }
                        if outcome.points > 0 {
                            let points = Double(outcome.points)
                            if counting {
                                report.pointsGranted += points
                                tally.mark(earningRow, c)
                            }
                            purchasePoints[number] = points
                            state.earnedToday += points
                            if policy.pendingSeconds > 0 {
                                state.pending.append((now + Int64(policy.pendingSeconds * 1000), points))
                            } else {
                                state.points += points
                                state.qualifyingPoints += points
                            }
                        }
                    }
                    if let rewards = book.rewards {
                        let base = i * rewardCount
                        rewards.evaluate(facts, lastGrantedAt: { rule in
                            let last = lastGrant[base + rule]
                            return last == .min ? nil : last
                        }, into: &granted)
                        for rule in granted {
                            lastGrant[base + rule] = now
                            guard counting else { continue }
                            let value = rewardValues[rule]
                            report.rewardsGranted += 1
                            report.rewardsCost += value
                            tally.mark(rewardedRow, c)
                            let r = rewardRows[rule]
                            tally.effects[r] += 1
                            tally.money[r] += value
                            tally.mark(r, c)
                        }
                    }
                } else {
                    facts.customer = CustomerFacts()
                    facts.customer.tier = firstTier
                }
                if let campaigns = book.campaigns {
                    campaigns.quote(facts, remainingBudgetOf: { rule in
                        campaignBudgets[rule].map { $0 - budgetSpent[rule] }
                    }, scratch: &discountScratch, into: &quotes)
                    for quote in quotes {
                        budgetSpent[quote.rule] += quote.discount
                        guard counting else { continue }
                        report.discounts += 1
                        report.discountTotal += quote.discount
                        if c >= 0 { tally.mark(discountedRow, c) }
                        let r = campaignRows[quote.rule]
                        tally.effects[r] += 1
                        tally.money[r] += quote.discount
                        if c >= 0 { tally.mark(r, c) }
                    }
                }
                // The rules are done: let go of the view's reference to this customer's history,
                // so that recording their next visit does not copy it.
                historyView?.history = DailyHistory()
            case .return:
                if counting { report.returns += 1 }
                let number = Int(events[e].purchaseNumber)
                // Only the buyer's own return of a known purchase takes points back, and never
                // more than the purchase earned.
                guard number >= 0, c >= 0, purchaseOwners[number] == c, purchaseTotals[number] > 0 else { continue }
                let fraction = min(1 - reversedFraction[number], events[e].refund / purchaseTotals[number])
                guard fraction > 0 else { continue }
                reversedFraction[number] += fraction
                let points = (purchasePoints[number] * fraction).rounded(.down)
                if counting { report.pointsReversed += points }
                let i = Int(c)
                customers[i].points -= points
                customers[i].qualifyingPoints -= points
            case .survey:
                if counting { report.surveys += 1 }
                facts.survey = events[e].survey
                if c >= 0 {
                    let i = Int(c)
                    customers[i].lastNps = facts.survey.nps
                    fill(facts, from: customers[i], id: input.customerIds[i], now: now, previousVisit: customers[i].lastVisit, history: historyView)
                } else {
                    facts.customer = CustomerFacts()
                }
                defer { historyView?.history = DailyHistory() }
                if let alerts = book.alerts, counting {
                    alerts.evaluate(facts, into: &raised)
                    for rule in raised {
                        report.alerts += 1
                        let r = alertRows[rule]
                        tally.effects[r] += 1
                        if c >= 0 { tally.mark(r, c) }
                    }
                }
            }
        }
        report.evaluationSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        for r in totals.indices {
            totals[r].effects = tally.effects[r]
            totals[r].customers = tally.customers[r]
            totals[r].points = tally.points[r]
            totals[r].money = tally.money[r]
        }
        report.rules = totals
        report.customersEarning = tally.customers[earningRow]
        report.customersRewarded = tally.customers[rewardedRow]
        report.customersDiscounted = tally.customers[discountedRow]
        return report
    }

    @inline(__always)
    private func fill(_ facts: Facts, from state: CustomerState, id: String, now: Int64, previousVisit: Int64, history: HistoryView?) {
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
        if let history {
            history.history = state.history
            customer.history = history
        }
        facts.customer = customer
    }
}
