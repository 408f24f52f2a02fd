import CPrefetch
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
        /// Points (earning rules; a points-multiplier campaign's share of its bonus), before caps
        /// and rounding.
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
    /// Money discounts given (points multipliers are not counted here: they take no money off).
    public var discounts = 0
    public var discountTotal = 0.0
    /// Redemptions of points-multiplier campaigns (`pointsMultiplier:`), each a redemption with
    /// discount 0 as the discount-campaigns plugin records it.
    public var multiplierRedemptions = 0
    /// The bonus points those campaigns added, after rounding; part of `pointsGranted`.
    public var campaignBonusPoints = 0.0
    public var alerts = 0
    public var customersEarning = 0
    public var customersRewarded = 0
    /// Customers who got money off (a points multiplier alone does not count).
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

    /// How many events ahead `run` prefetches a customer's state (and the event itself twice as
    /// far); half as far, what the state points to. An event takes over a microsecond, a cache
    /// miss about a tenth of that; 8 measured the same as 4.
    private static let prefetchDistance = 4

    /// The largest campaign bonus the points plugin credits (`CampaignBonus.largestBonus` there):
    /// beyond it, it refuses the multipliers' event and gives nothing.
    static let largestCampaignBonus: Double = 1_000_000_000_000

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
        // `facts.purchase` is lent each purchase's facts, bit for bit, without owning them (see
        // `lendPurchase`): assigning `events[e].purchase` retained its texts and lines and released
        // the previous purchase's, about 16 reference counts and two outlined copies per purchase
        // (6% of the instructions). Safe because:
        // - the lent references are owned by `events` (or `blankPurchase`), which outlive the loop,
        //   and nothing writes `facts.purchase` or its lines while a purchase is lent (the rules
        //   only read, and this function only ever lends);
        // - `facts` does not escape `run` (the policies only read it during a call), and before
        //   the defer below gives it back an owned `PurchaseFacts()` it never releases lent bits.
        let blankPurchase = UnsafeMutablePointer<PurchaseFacts>.allocate(capacity: 1)
        blankPurchase.initialize(to: PurchaseFacts())
        withUnsafeMutablePointer(to: &facts.purchase) { slot in
            slot.deinitialize(count: 1)
            Self.lendPurchase(UnsafeRawPointer(blankPurchase), to: slot)
        }
        defer {
            // The lent bits are simply overwritten: they were never retained.
            withUnsafeMutablePointer(to: &facts.purchase) { $0.initialize(to: PurchaseFacts()) }
            withExtendedLifetime(facts) {}
            blankPurchase.deinitialize(count: 1)
            blankPurchase.deallocate()
        }
        var clock = book.makeClock()
        let historyWindow = book.usage.historyDays
        let tierIds = (book.tiers?.levels ?? []).map(\.header.id)
        // The customers' states, in one allocation that the per-event code reaches through a
        // pointer: the state is updated in place (no copy out and back per purchase), and the
        // history view reads the customer's history where it is. Freed at the end of `run`, after
        // the last use of `historyView`.
        let customers = UnsafeMutablePointer<CustomerState>.allocate(capacity: max(1, customerCount))
        var initial = CustomerState()
        initial.tier = tierIds.isEmpty ? -1 : 0
        customers.initialize(repeating: initial, count: customerCount)
        defer {
            customers.deinitialize(count: customerCount)
            customers.deallocate()
        }
        // The rules read the history of the customer at hand through this; nil when they never ask.
        let historyView: HistoryView? = historyWindow > 0 ? HistoryView(customers) : nil
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
        let rewardValues = (book.rewards?.rules ?? []).map(\.value)
        let campaignBudgets = (book.campaigns?.rules ?? []).map(\.budget)
        // Each campaign's points multiplier by position, 0 for a money discount. Decided once, so
        // that a set without multipliers pays only a test of a constant per purchase.
        let campaignFactors = (book.campaigns?.pointsMultipliers ?? []).map { $0 ?? 0 }
        let hasMultipliers = campaignFactors.contains { $0 > 0 }
        let rounding = book.earning?.rounding ?? .down
        let rewardCount = rewardRows.count
        // When each customer last got each reward, customer by customer; a pointer, so that a
        // customer's row can be prefetched.
        let lastGrant = UnsafeMutablePointer<Int64>.allocate(capacity: max(1, customerCount * rewardCount))
        lastGrant.initialize(repeating: .min, count: customerCount * rewardCount)
        defer { lastGrant.deallocate() }
        var budgetSpent = [Double](repeating: 0, count: campaignRows.count)
        // Contributions by rule position and points only: no rule id texts per contribution.
        var scratch = EarningPolicy.Scratch(ruleIds: false)
        var discountScratch: [Double] = []
        var granted: [Int] = []
        var quotes: [(rule: Int, discount: Double)] = []
        var campaignOutcomes: [CampaignOutcome] = []
        var raised: [Int] = []
        let events = input.events
        // The policies, taken out of the book once: `if let policy = book.earning` in the loop
        // copied the whole policy (retaining and releasing each of its arrays) per event.
        let tierPolicy = book.tiers, rewardPolicy = book.rewards
        let campaignPolicy = book.campaigns, alertPolicy = book.alerts
        // In a box: called on a local (even a `let`), the earning policy, a large struct passed by
        // address, was copied to the stack and destroyed per purchase, retaining and releasing
        // each of its arrays; a class's constant is passed in place.
        let hasEarning = book.earning != nil
        let earning = Boxed(book.earning ?? EarningPolicy())
        let pendingMilliseconds = book.earning.map { Int64($0.pendingSeconds * 1000) } ?? 0
        let pendingSeconds = book.earning?.pendingSeconds ?? 0
        // `facts.customer` is rewritten in place per event (see `fill`). What it holds now: a known
        // customer's fields, or one of the two anonymous customers, so that a run of anonymous
        // purchases does not rewrite it.
        enum Held { case known, anonymousPurchase, anonymousSurvey }
        var held = Held.known
        let anonymousPurchaseCustomer: CustomerFacts = {
            var customer = CustomerFacts()
            customer.tier = tierIds.first ?? ""
            return customer
        }()
        let anonymousSurveyCustomer = CustomerFacts()
        if let historyView { facts.customer.history = historyView }

        let stateStride = MemoryLayout<CustomerState>.stride
        let eventCount = events.count
        let eventStride = MemoryLayout<PreparedEvents.Event>.stride
        // A prefetch hint only (never dereferenced): the events are read in order, but a few
        // hundred bytes each, and the hardware's own prefetching does not keep up.
        let eventsHint = events.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }

        let started = DispatchTime.now().uptimeNanoseconds
        for e in events.indices {
            // The customers are visited in random order, and their state, history, pending points
            // and reward history each miss the cache: fetch them a few events ahead. First the
            // state (and reward history), then, once that has arrived, what its hints point to.
            if eventsHint != 0 && e + 2 * Self.prefetchDistance < eventCount {
                let event = eventsHint + UInt((e + 2 * Self.prefetchDistance) * eventStride)
                var offset: UInt = 0
                while offset < UInt(eventStride) {
                    loyalty_prefetch(UnsafeRawPointer(bitPattern: event + offset))
                    offset += 64
                }
            }
            if e + Self.prefetchDistance < eventCount {
                let linesHint = events[e + Self.prefetchDistance].linesHint
                if linesHint != 0 {
                    // The array's header, then the first lines.
                    loyalty_prefetch(UnsafeRawPointer(bitPattern: linesHint &- 32))
                    loyalty_prefetch(UnsafeRawPointer(bitPattern: linesHint &+ 32))
                    loyalty_prefetch(UnsafeRawPointer(bitPattern: linesHint &+ 96))
                    loyalty_prefetch(UnsafeRawPointer(bitPattern: linesHint &+ 160))
                }
                let ahead = events[e + Self.prefetchDistance].customer
                if ahead >= 0 {
                    let state = UnsafeRawPointer(customers + Int(ahead))
                    var offset = 0
                    while offset < stateStride {
                        loyalty_prefetch(state + offset)
                        offset += 64
                    }
                    if rewardCount > 0 { loyalty_prefetch(lastGrant + Int(ahead) * rewardCount) }
                }
            }
            if e + Self.prefetchDistance / 2 < eventCount {
                let ahead = events[e + Self.prefetchDistance / 2].customer
                if ahead >= 0 {
                    let state = customers + Int(ahead)
                    let (first, last) = state.pointee.historyHints
                    // The array's header (its count) is just before its first entry.
                    if first != 0 { loyalty_prefetch(UnsafeRawPointer(bitPattern: first &- 32)) }
                    if last != 0 { loyalty_prefetch(UnsafeRawPointer(bitPattern: last)) }
                    let pending = state.pointee.pendingHint
                    if pending != 0 { loyalty_prefetch(UnsafeRawPointer(bitPattern: pending &- 32)) }
                }
            }
            // Fields are read in place: copying a whole event would retain each of its strings.
            let now = events[e].epochMilliseconds
            let counting = now >= countFrom
            if counting { report.events += 1 }
            facts.clock = clock.facts(at: now)
            let c = events[e].customer
            if c >= 0 {
                let state = customers + Int(c)
                // Pending points whose return window has passed become spendable and count for tiers.
                if state.pointee.nextRelease <= now {
                    var released = 0
                    for lot in state.pointee.pending where lot.releaseAt <= now {
                        state.pointee.points += lot.points
                        state.pointee.qualifyingPoints += lot.points
                        released += 1
                    }
                    if released > 0 {
                        state.pointee.pending.removeFirst(released)
                        state.pointee.updatePendingHint()
                    }
                    var next = Int64.max
                    for lot in state.pointee.pending { next = min(next, lot.releaseAt) }
                    state.pointee.nextRelease = next
                }
            }
            switch events[e].kind {
            case .purchase:
                if counting { report.purchases += 1 }
                events.withUnsafeBufferPointer { events in
                    let purchase = UnsafeRawPointer(events.baseAddress! + e) + Self.purchaseOffset
                    withUnsafeMutablePointer(to: &facts.purchase) { Self.lendPurchase(purchase, to: $0) }
                }
                let total = facts.purchase.total
                let number = Int(events[e].purchaseNumber)
                purchaseTotals[number] = total
                purchaseOwners[number] = c
                if c >= 0 {
                    let i = Int(c)
                    let state = customers + i
                    if state.pointee.visits == 0 { state.pointee.firstVisit = now }
                    let previous = state.pointee.lastVisit
                    state.pointee.visits += 1
                    state.pointee.spend += total
                    if historyWindow > 0 {
                        state.pointee.history.record(day: facts.clock.day, spend: total, window: historyWindow)
                        state.pointee.historyHints = state.pointee.history.storageHints
                    }
                    fill(facts, from: state, id: input.customerIds[i], tierIds: tierIds, now: now, previousVisit: previous,
                         history: historyView, wasAnonymous: held != .known)
                    held = .known
                    state.pointee.lastVisit = now
                    if let tiers = tierPolicy, let level = tiers.levelIndex(for: facts) {
                        state.pointee.tier = level
                        facts.customer.tier = tierIds[level]
                    }
                    if hasEarning {
                        if state.pointee.earnedDay != facts.clock.day {
                            state.pointee.earnedDay = facts.clock.day
                            state.pointee.earnedToday = 0
                        }
                        let outcome = earning.value.evaluate(facts, earnedToday: state.pointee.earnedToday, scratch: &scratch)
                        if counting {
                            scratch.forEachContribution { rule, points in
                                let r = earningRows[rule]
                                tally.effects[r] += 1
                                tally.points[r] += points
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
                            state.pointee.earnedToday += points
                            if pendingSeconds > 0 {
                                let releaseAt = now + pendingMilliseconds
                                // As for the history: room for a few lots at once, not grown 1, 2, 4.
                                if state.pointee.pending.capacity == 0 { state.pointee.pending.reserveCapacity(4) }
                                state.pointee.pending.append((releaseAt, points))
                                state.pointee.updatePendingHint()
                                state.pointee.nextRelease = min(state.pointee.nextRelease, releaseAt)
                            } else {
                                state.pointee.points += points
                                state.pointee.qualifyingPoints += points
                            }
                        }
                    }
                    if let rewards = rewardPolicy {
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
                } else if held != .anonymousPurchase {
                    facts.customer = anonymousPurchaseCustomer
                    held = .anonymousPurchase
                }
                if let campaigns = campaignPolicy {
                    campaigns.quote(facts, remainingBudgetOf: { rule in
                        campaignBudgets[rule].map { $0 - budgetSpent[rule] }
                    }, scratch: &discountScratch, outcomes: &campaignOutcomes, into: &quotes)
                    for quote in quotes {
                        // A points multiplier, the only campaign quoted with no money, is counted below.
                        if quote.discount == 0 { continue }
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
                    if hasMultipliers {
                        countMultipliers(quotes, factors: campaignFactors, rows: campaignRows, customer: c, purchase: number,
                                         rounding: rounding, counting: counting, customers: customers, pending: pendingSeconds > 0,
                                         purchasePoints: &purchasePoints, report: &report, tally: tally)
                    }
                }
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
                let state = customers + Int(c)
                state.pointee.points -= points
                state.pointee.qualifyingPoints -= points
            case .survey:
                if counting { report.surveys += 1 }
                facts.survey = events[e].survey
                if c >= 0 {
                    let i = Int(c)
                    let state = customers + i
                    state.pointee.lastNps = facts.survey.nps
                    fill(facts, from: state, id: input.customerIds[i], tierIds: tierIds, now: now,
                         previousVisit: state.pointee.lastVisit, history: historyView, wasAnonymous: held != .known)
                    held = .known
                } else if held != .anonymousSurvey {
                    // An anonymous survey's customer has no tier (unlike an anonymous purchase's).
                    facts.customer = anonymousSurveyCustomer
                    held = .anonymousSurvey
                }
                if let alerts = alertPolicy, counting {
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

    /// Counts the points-multiplier campaigns among `quotes` as redemptions with no money off (as
    /// the discount-campaigns plugin records them), and credits their bonus as the points plugin
    /// does: the multipliers multiply, bonus = points the purchase earned × (product − 1),
    /// rounded as the earning section says, not capped and not using the day's cap. It joins the
    /// purchase's lot (`purchasePoints`, so a return takes back its share; the pending lot the
    /// earning just added, or the balance and tier points at once). Each campaign's row gets
    /// what its factor added to the points so far, before rounding.
    ///
    /// Out of `run`, and never inlined: in its loop, this code made the compiler stop inlining the
    /// pending lot's append (callgrind, fifty-rules.yaml, which has no multiplier: 5,313
    /// instructions per event before multipliers were simulated, 5,320 with this code in the
    /// loop, 5,299 with it here).
    @inline(never)
    private func countMultipliers(_ quotes: [(rule: Int, discount: Double)], factors: [Double], rows: [Int], customer c: Int32,
                                  purchase number: Int, rounding: EarningPolicy.Rounding, counting: Bool,
                                  customers: UnsafeMutablePointer<CustomerState>, pending: Bool, purchasePoints: inout [Double],
                                  report: inout SimulationReport, tally: Tally) {
        if counting {
            for quote in quotes where factors[quote.rule] > 0 {
                report.multiplierRedemptions += 1
                tally.effects[rows[quote.rule]] += 1
                if c >= 0 { tally.mark(rows[quote.rule], c) }
            }
        }
        // Anonymous, or no points earned: nothing to multiply.
        guard c >= 0, purchasePoints[number] > 0 else { return }
        let earned = purchasePoints[number]
        var running = earned
        for quote in quotes where factors[quote.rule] > 0 { running *= factors[quote.rule] }
        let exact = running - earned
        guard exact > 0, exact <= Self.largestCampaignBonus else { return }
        let rounded: Double = switch rounding {
        case .down: exact.rounded(.down)
        case .nearest: exact.rounded(.toNearestOrAwayFromZero)
        case .up: exact.rounded(.up)
        }
        if counting {
            running = earned
            for quote in quotes where factors[quote.rule] > 0 {
                tally.points[rows[quote.rule]] += running * (factors[quote.rule] - 1)
                running *= factors[quote.rule]
            }
        }
        let bonus = max(0, rounded)
        guard bonus > 0 else { return }
        purchasePoints[number] += bonus
        if counting {
            report.pointsGranted += bonus
            report.campaignBonusPoints += bonus
        }
        let state = customers + Int(c)
        if pending {
            // The purchase's own lot: the earning appended it to the end during this event.
            state.pointee.pending[state.pointee.pending.count - 1].points += bonus
        } else {
            state.pointee.points += bonus
            state.pointee.qualifyingPoints += bonus
        }
    }

    /// Where `purchase` is in a prepared event.
    private static let purchaseOffset = MemoryLayout<PreparedEvents.Event>.offset(of: \PreparedEvents.Event.purchase)!

    /// Copies the bits of the `PurchaseFacts` at `source` over `slot` with no retain and no
    /// release: `slot` then refers to what `source` owns (see `run` for why that is safe there).
    @inline(__always)
    private static func lendPurchase(_ source: UnsafeRawPointer, to slot: UnsafeMutablePointer<PurchaseFacts>) {
        UnsafeMutableRawPointer(slot).copyMemory(from: source, byteCount: MemoryLayout<PurchaseFacts>.size)
    }

    /// Writes the customer's fields into `facts.customer` in place. Assigning a whole new
    /// `CustomerFacts` would release and retain its strings and history per event.
    @inline(__always)
    private func fill(_ facts: Facts, from state: UnsafeMutablePointer<CustomerState>, id: String, tierIds: [String], now: Int64,
                      previousVisit: Int64, history: HistoryView?, wasAnonymous: Bool) {
        if wasAnonymous {
            // Back to what `CustomerFacts()` holds for the fields below that are not all written.
            facts.customer.clv = .nan
            facts.customer.clvPercentile = .nan
            facts.customer.pAlive = .nan
        }
        facts.customer.id = id
        facts.customer.known = true
        facts.customer.tier = state.pointee.tier >= 0 ? tierIds[state.pointee.tier] : ""
        facts.customer.points = state.pointee.points
        facts.customer.qualifyingPoints = state.pointee.qualifyingPoints
        facts.customer.visits = state.pointee.visits
        facts.customer.spend = state.pointee.spend
        facts.customer.sinceLastVisit = previousVisit > 0 ? Double(now - previousVisit) / 1000 : .nan
        facts.customer.memberFor = state.pointee.visits > 0 ? Double(now - state.pointee.firstVisit) / 1000 : 0
        facts.customer.lastNps = state.pointee.lastNps
        if let history {
            history.look(at: UnsafePointer(state))
            // An anonymous customer's facts had the empty history.
            if wasAnonymous { facts.customer.history = history }
        }
    }
}

/// A value held by a class, so that methods of a large struct are called on it in place.
private final class Boxed<Value> {
    let value: Value

    init(_ value: Value) {
        self.value = value
    }
}
