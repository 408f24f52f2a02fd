import Foundation
import LoyaltyEvents

/// Why a campaign gave nothing to a purchase, for the till and for reports.
public enum CampaignReason: String, Sendable, CaseIterable {
    case notStarted = "not-started"
    case ended = "ended"
    case wrongWeekday = "not-on-this-weekday"
    case outsideHours = "outside-hours"
    case otherStore = "other-store"
    case otherCurrency = "other-currency"
    case needsCustomer = "needs-loyalty-customer"
    case notInSegment = "not-in-segment"
    case notInTier = "not-in-tier"
    case condition = "condition-not-met"
    case noLines = "no-matching-lines"
    case needsCode = "needs-code"
    case budgetSpent = "budget-spent"
    case redemptionsSpent = "redemptions-spent"
    case customerLimit = "customer-limit-reached"
    case dayLimit = "day-limit-reached"
    case groupTaken = "group-taken"
    case excluded = "excluded-by-exclusive"
    case notAlone = "exclusive-needs-to-be-alone"
    case nothingLeft = "nothing-left-to-discount"

    /// A sentence for the till.
    public var text: String {
        switch self {
        case .notStarted: "the campaign has not started yet"
        case .ended: "the campaign has ended"
        case .wrongWeekday: "the campaign does not run on this weekday"
        case .outsideHours: "the campaign does not run at this hour"
        case .otherStore: "the campaign does not run in this store"
        case .otherCurrency: "the purchase is not in the rules' currency"
        case .needsCustomer: "the campaign is for loyalty customers: no customer on the purchase"
        case .notInSegment: "the customer is not in the campaign's segment"
        case .notInTier: "the customer's tier is not one the campaign is for"
        case .condition: "the campaign's condition does not hold for this basket"
        case .noLines: "no line of the basket is covered by the campaign"
        case .needsCode: "the campaign needs a valid coupon code"
        case .budgetSpent: "the campaign's budget is spent"
        case .redemptionsSpent: "the campaign's redemptions are all used"
        case .customerLimit: "the customer has used the campaign as often as allowed"
        case .dayLimit: "the campaign's redemptions for today are all used"
        case .groupTaken: "another campaign of its group applies"
        case .excluded: "an exclusive campaign applies"
        case .notAlone: "the campaign is exclusive and another campaign already applies"
        case .nothingLeft: "earlier campaigns left nothing to discount"
        }
    }
}

/// What one campaign does to one purchase.
public struct CampaignOutcome: Sendable, Equatable {
    /// Position in `CampaignPolicy.rules`.
    public var campaign: Int
    /// Minor units, whole; 0 for a points multiplier.
    public var discount: Double = 0
    /// Set for a points-multiplier campaign that applies.
    public var pointsMultiplier: Double? = nil
    /// The coupon code the campaign used, if it needs one.
    public var code: String? = nil
    /// Nil when the campaign applies.
    public var reason: CampaignReason? = nil
    /// For `groupTaken` and `excluded`: the id of the campaign that took precedence.
    public var because: String? = nil

    public var applied: Bool { reason == nil }
}

/// What the evaluating plugin knows of campaigns' use so far. Campaigns are named by id, so
/// counts survive a reload that reorders them.
public protocol CampaignUsage {
    /// Money given so far, minor units.
    func spent(_ campaign: String) -> Double
    func redemptions(_ campaign: String) -> Int
    /// Redemptions on the store-local day `day` (days since 1970-01-01).
    func redemptions(_ campaign: String, day: Int) -> Int
    func redemptions(_ campaign: String, customer: String) -> Int
    /// The first of `codes` issued for `campaign` and still usable; nil when none.
    func issuedCode(_ campaign: String, among codes: [String]) -> String?
}

/// The simulator's view: money budgets from its own tally, nothing else limited, no issued codes.
struct SimulatedUsage: CampaignUsage {
    let rules: [CampaignRule]
    let remaining: (Int) -> Double?
    func spent(_ campaign: String) -> Double {
        guard let index = rules.firstIndex(where: { $0.header.id == campaign }), let budget = rules[index].budget,
              let left = remaining(index) else { return 0 }
        return budget - left
    }
    func redemptions(_ campaign: String) -> Int { 0 }
    func redemptions(_ campaign: String, day: Int) -> Int { 0 }
    func redemptions(_ campaign: String, customer: String) -> Int { 0 }
    func issuedCode(_ campaign: String, among codes: [String]) -> String? { nil }
}

extension CampaignPolicy {
    /// Normalises a coupon code as typed: trimmed of spaces, upper case.
    public static func normalise(code: String) -> String {
        String(code.trimmingCharacters(in: .whitespaces).uppercased())
    }

    /// Every campaign's outcome for this purchase, in priority order (highest first).
    ///
    /// Campaigns are taken by priority. One that applies takes its discount off the lines it
    /// covers, so the next sees only what is left and no line goes below zero. In a group only the
    /// first that gives something applies. An exclusive campaign applies only if none before it
    /// did, and then none after it does. Discounts are rounded down to whole minor units and never
    /// exceed `maxDiscount` nor the budget left. `codes` are the coupon codes presented, normalised.
    /// `facts.customer.known` must be false for an anonymous purchase; `facts.clock` and
    /// `facts.purchase` must be filled. A purchase in another currency than `currency` (when set) gets nothing.
    public func evaluate(_ facts: Facts, codes: [String], currency: CurrencyCode? = nil, usage: some CampaignUsage,
                         scratch: inout [Double], into outcomes: inout [CampaignOutcome]) {
        outcomes.empty()
        let lineCount = facts.purchase.lines.count
        var remaining: [Double] = []
        swap(&remaining, &scratch)
        remaining.empty()
        for i in 0..<lineCount { remaining.append(facts.purchase.lines[i].amount) }
        defer { swap(&remaining, &scratch) }
        var groupWinner: [Int: String] = [:]
        var exclusiveWinner: String?
        var anyApplied = false
        let currencyOK = currency.map { $0 == facts.purchase.currency } ?? true
        rules.withUnsafeBufferPointer { rules in
            steps.codes.forEach { code in
                let index = code.rule
                // Fields are read through the pointer: copying the whole rule would retain and
                // release each of its strings, arrays and closures, per campaign, per quote.
                let rule = rules.baseAddress! + index
                var outcome = CampaignOutcome(campaign: index)
                func refuse(_ reason: CampaignReason, because: String? = nil) {
                    outcome.reason = reason
                    outcome.because = because
                    outcomes.append(outcome)
                }
                if let winner = exclusiveWinner { return refuse(.excluded, because: winner) }
                if let winner = groupWinner[code.group] { return refuse(.groupTaken, because: winner) }
                let clock = facts.clock
                if let start = rule.pointee.startDay, clock.day < start { return refuse(.notStarted) }
                if let end = rule.pointee.endDay, clock.day > end { return refuse(.ended) }
                if rule.pointee.weekdays != 0 && rule.pointee.weekdays & (1 << UInt8(clock.weekday)) == 0 { return refuse(.wrongWeekday) }
                if let hours = rule.pointee.hours, !hours.contains(clock.minuteOfDay) { return refuse(.outsideHours) }
                if !rule.pointee.stores.isEmpty && !rule.pointee.stores.contains(facts.purchase.store) { return refuse(.otherStore) }
                if !currencyOK { return refuse(.otherCurrency) }
                let customer = facts.customer.known ? facts.customer.id : nil
                if customer == nil && (rule.pointee.segment != nil || !rule.pointee.tiers.isEmpty || rule.pointee.perCustomer != nil) {
                    return refuse(.needsCustomer)
                }
                if !rule.pointee.tiers.isEmpty && !rule.pointee.tiers.contains(facts.customer.tier) { return refuse(.notInTier) }
                if let segment = rule.pointee.segment, !segment.evaluate(facts) { return refuse(.notInSegment) }
                guard code.applies(facts) else { return refuse(.condition) }
                switch rule.pointee.code {
                case .none: break
                case .fixed(let text):
                    guard codes.contains(text) else { return refuse(.needsCode) }
                    outcome.code = text
                case .issued:
                    guard let used = usage.issuedCode(rule.pointee.header.id, among: codes) else { return refuse(.needsCode) }
                    outcome.code = used
                }
                let id = rule.pointee.header.id
                if let max = rule.pointee.maxRedemptions, usage.redemptions(id) >= max { return refuse(.redemptionsSpent) }
                if let max = rule.pointee.perDay, usage.redemptions(id, day: clock.day) >= max { return refuse(.dayLimit) }
                if let max = rule.pointee.perCustomer, let customer, usage.redemptions(id, customer: customer) >= max {
                    return refuse(.customerLimit)
                }
                var covered = 0.0
                var matched = false
                for i in 0..<lineCount {
                    if code.hasLines {
                        facts.lineIndex = i
                        guard code.lines(facts) else { continue }
                    }
                    matched = true
                    covered += remaining[i]
                }
                guard matched else { return refuse(.noLines) }
                if rule.pointee.stacking == .exclusive && anyApplied { return refuse(.notAlone) }
                var discount: Double
                switch rule.pointee.discount {
                case .pointsMultiplier(let multiplier):
                    outcome.pointsMultiplier = multiplier
                    discount = 0
                case .percent(let percent):
                    discount = covered * percent / 100
                case .amount(let amount):
                    discount = min(amount, covered)
                case .buyGet(let buy, let get):
                    discount = freeUnits(facts, code: code, remaining: remaining, buy: buy, get: get)
                }
                if case .pointsMultiplier = rule.pointee.discount {} else {
                    if let cap = rule.pointee.maxDiscount { discount = min(discount, cap) }
                    if let budget = rule.pointee.budget {
                        let left = budget - usage.spent(id)
                        if left < 1 { return refuse(.budgetSpent) }
                        discount = min(discount, left)
                    }
                    discount = discount.rounded(.down)
                    guard discount > 0 else { return refuse(.nothingLeft) }
                    // Off the covered lines in proportion, so later campaigns see what is left.
                    let share = covered > 0 ? discount / covered : 0
                    for i in 0..<lineCount {
                        if code.hasLines {
                            facts.lineIndex = i
                            guard code.lines(facts) else { continue }
                        }
                        remaining[i] -= remaining[i] * share
                    }
                }
                outcome.discount = discount
                if code.group >= 0 { groupWinner[code.group] = id }
                if rule.pointee.stacking == .exclusive { exclusiveWinner = id }
                anyApplied = true
                outcomes.append(outcome)
            }
        }
    }

    /// What `evaluate` gives with no codes presented, no currency and `SimulatedUsage` (money
    /// budgets only), reduced to the campaigns that apply: sets `quotes` to their (position,
    /// discount), in order; a points multiplier comes with discount 0 (its factor is the rule's).
    /// The same steps in the same order as `evaluate`, but a refused campaign
    /// builds nothing, groups taken are bits rather than a dictionary of ids, and no rule id is
    /// read: building an outcome (two optional texts) per campaign per purchase, and throwing it
    /// away, was a third of the simulation's instructions. `ReferenceSimulationTests` compare the two.
    func discounts(_ facts: Facts, remainingBudgetOf: (Int) -> Double?, scratch: inout [Double],
                   into quotes: inout [(rule: Int, discount: Double)]) {
        quotes.empty()
        let lineCount = facts.purchase.lines.count
        var storage: [Double] = []
        swap(&storage, &scratch)
        defer { swap(&storage, &scratch) }
        // Only grown; the first `lineCount` entries are this purchase's. Written through a pointer:
        // emptying and refilling the array, and checking its uniqueness on each write, cost more
        // than the arithmetic. The pointer is used only inside this call, below `lineCount`.
        if storage.count < lineCount { storage.append(contentsOf: repeatElement(0, count: lineCount - storage.count)) }
        var gate = GroupGate()
        var exclusiveTaken = false
        var anyApplied = false
        let firstOfId = steps.firstOfId
        let known = facts.customer.known
        storage.withUnsafeMutableBufferPointer { storage in
            let remaining = UnsafeMutableBufferPointer(rebasing: storage[0..<lineCount])
            for i in 0..<lineCount { remaining[i] = facts.purchase.lines[i].amount }
            rules.withUnsafeBufferPointer { rules in
                steps.codes.forEach { code in
                    let index = code.rule
                    let rule = rules.baseAddress! + index
                    if exclusiveTaken || gate.isTaken(code.group) { return }
                    let clock = facts.clock
                    if let start = rule.pointee.startDay, clock.day < start { return }
                    if let end = rule.pointee.endDay, clock.day > end { return }
                    if rule.pointee.weekdays != 0 && rule.pointee.weekdays & (1 << UInt8(clock.weekday)) == 0 { return }
                    if let hours = rule.pointee.hours, !hours.contains(clock.minuteOfDay) { return }
                    if !rule.pointee.stores.isEmpty && !rule.pointee.stores.contains(facts.purchase.store) { return }
                    if !known && (rule.pointee.segment != nil || !rule.pointee.tiers.isEmpty || rule.pointee.perCustomer != nil) { return }
                    if !rule.pointee.tiers.isEmpty && !rule.pointee.tiers.contains(facts.customer.tier) { return }
                    if let segment = rule.pointee.segment, !segment.evaluate(facts) { return }
                    guard code.applies(facts) else { return }
                    // No codes are presented and none is issued.
                    if case .none = rule.pointee.code {} else { return }
                    // Nothing is redeemed: a limit holds the campaign back only when it is 0 or less.
                    if let max = rule.pointee.maxRedemptions, 0 >= max { return }
                    if let max = rule.pointee.perDay, 0 >= max { return }
                    if let max = rule.pointee.perCustomer, known, 0 >= max { return }
                    var covered = 0.0
                    var matched = false
                    for i in 0..<lineCount {
                        if code.hasLines {
                            facts.lineIndex = i
                            guard code.lines(facts) else { continue }
                        }
                        matched = true
                        covered += remaining[i]
                    }
                    guard matched else { return }
                    if rule.pointee.stacking == .exclusive && anyApplied { return }
                    var discount: Double
                    switch rule.pointee.discount {
                    case .pointsMultiplier:
                        discount = 0
                    case .percent(let percent):
                        discount = covered * percent / 100
                    case .amount(let amount):
                        discount = min(amount, covered)
                    case .buyGet(let buy, let get):
                        discount = freeUnits(facts, code: code, remaining: Array(remaining), buy: buy, get: get)
                    }
                    if case .pointsMultiplier = rule.pointee.discount {} else {
                        if let cap = rule.pointee.maxDiscount { discount = min(discount, cap) }
                        if let budget = rule.pointee.budget {
                            // As `SimulatedUsage.spent` and `evaluate` compute it, to the last bit.
                            let owner = firstOfId[index]
                            var spent = 0.0
                            if let ownerBudget = (rules.baseAddress! + owner).pointee.budget, let left = remainingBudgetOf(owner) { spent = ownerBudget - left }
                            let left = budget - spent
                            if left < 1 { return }
                            discount = min(discount, left)
                        }
                        discount = discount.rounded(.down)
                        guard discount > 0 else { return }
                        let share = covered > 0 ? discount / covered : 0
                        for i in 0..<lineCount {
                            if code.hasLines {
                                facts.lineIndex = i
                                guard code.lines(facts) else { continue }
                            }
                            remaining[i] -= remaining[i] * share
                        }
                    }
                    _ = gate.admit(code.group)
                    if rule.pointee.stacking == .exclusive { exclusiveTaken = true }
                    anyApplied = true
                    quotes.append((index, discount))
                }
            }
        }
    }

    /// Of every `buy + get` units of the covered lines, the `get` cheapest: their value as left
    /// by earlier campaigns.
    private func freeUnits(_ facts: Facts, code: RuleCode, remaining: [Double], buy: Int, get: Int) -> Double {
        var units: [(price: Double, count: Double)] = []
        var total = 0.0
        for i in 0..<facts.purchase.lines.count {
            if code.hasLines {
                facts.lineIndex = i
                guard code.lines(facts) else { continue }
            }
            let quantity = facts.purchase.lines[i].quantity
            guard quantity > 0 else { continue }
            units.append((remaining[i] / quantity, quantity))
            total += quantity
        }
        var free = (total / Double(buy + get)).rounded(.down) * Double(get)
        units.sort { $0.price < $1.price }
        var value = 0.0
        for unit in units where free > 0 {
            let taken = min(free, unit.count)
            value += taken * unit.price
            free -= taken
        }
        return value
    }
}
