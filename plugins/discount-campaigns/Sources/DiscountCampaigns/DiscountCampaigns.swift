import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// The discount-campaigns plugin: answers `campaign.quote` at the till from counters in memory
/// (a quote reserves nothing), and commits each purchase's discounts from the journal, consuming
/// budgets, limits and coupon codes in the transaction that moves its cursor. A purchase that
/// carries a quote id is evaluated as of its quote's time (within `QuoteId.validity`), one without
/// at its own time; either way against the budgets left at commit, so no budget is ever exceeded.
public struct DiscountCampaignsPlugin: LoyaltyPlugin {
    public let name = "discount-campaigns"
    public let topics: Set<String> = [EventType.purchase, EventType.survey, "points.accrued", "tier.changed", "customer.scored"]
    public let rules: LiveRules
    /// The time a quote without `at` is made at, epoch ms (injected by tests).
    let now: @Sendable () -> Int64
    let memory = Memory()
    let checkout = Checkout()

    public init(rules: LiveRules = LiveRules(), now: @escaping @Sendable () -> Int64 = { Timestamp.now().epochMilliseconds }) {
        self.rules = rules
        self.now = now
    }

    public var liveRules: LiveRules? { rules }

    public func registerMigrations(_ migrator: inout DatabaseMigrator) {
        Schema.register(&migrator)
    }

    public func apply(_ event: StoredEvent, in db: Database, emit: inout Emitter) throws {
        var changes = Changes()
        switch event.envelope.payload {
        case .purchase(let purchase):
            try commit(purchase, event: event.envelope, in: db, changes: &changes, emit: &emit)
        case .survey(let survey):
            guard let id = survey.customerId else { return }
            var customer = try CustomerRow.fetch(id, in: db) ?? CustomerRow()
            customer.lastNps = Int64(survey.nps)
            try customer.save(id, in: db)
            changes.customers.append((id, customer))
        case .derived(let payload) where event.envelope.type == "points.accrued":
            // The points plugin's tier for the customer, as of this purchase, unless the
            // reward-rules plugin keeps the tiers (it has sent a tier.changed for this customer).
            guard case .string(let id)? = payload["customerId"], case .string(let tier)? = payload["tier"] else { return }
            var customer = try CustomerRow.fetch(id, in: db) ?? CustomerRow()
            guard customer.tier != tier, !customer.tierKept else { return }
            customer.tier = tier
            try customer.save(id, in: db)
            changes.customers.append((id, customer))
        case .derived(let payload) where event.envelope.type == "tier.changed":
            // The reward-rules plugin keeps the tiers, downgrades included.
            let change = try TierChanged(payload)
            let id = change.customerId
            var customer = try CustomerRow.fetch(id, in: db) ?? CustomerRow()
            customer.tier = change.tier
            customer.tierKept = true
            try customer.save(id, in: db)
            changes.customers.append((id, customer))
        case .derived(let payload) where event.envelope.type == "customer.scored":
            let score = try CustomerScored(payload)
            var customer = try CustomerRow.fetch(score.customerId, in: db) ?? CustomerRow()
            customer.clv = score.clv
            customer.clvPercentile = score.clvPercentile
            customer.pAlive = score.pAlive
            try customer.save(score.customerId, in: db)
            changes.customers.append((score.customerId, customer))
        default:
            return
        }
        // Last, after every write of this event succeeded: a failed event's savepoint is rolled
        // back, and its changes must not reach memory.
        memory.publish(changes, onCommitOf: db)
    }

    /// The purchase's discounts, consumed from budgets, limits and codes in this transaction.
    private func commit(_ purchase: Purchase, event: EventEnvelope, in db: Database, changes: inout Changes, emit: inout Emitter) throws {
        let book = rules.current
        let purchaseAt = event.occurredAt.epochMilliseconds
        var codes: [String] = []
        for code in purchase.couponCodes.map(CampaignPolicy.normalise(code:)) where !codes.contains(code) { codes.append(code) }
        let basket = Basket(storeId: purchase.storeId, terminalId: purchase.terminalId, customerId: purchase.customerId,
                            currency: purchase.currency, lines: purchase.lines,
                            at: QuoteId.evaluationTime(quoteId: purchase.quoteId, purchaseAt: purchaseAt), codes: codes)
        var customer = try purchase.customerId.flatMap { try CustomerRow.fetch($0, in: db) }
        let day = checkout.clockFacts(book, at: basket.at).day
        let usage = try Counters.forCommit(db, day: day, customerId: purchase.customerId, codes: codes)
        let evaluation = checkout.evaluate(basket, customer: customer, book: book, usage: usage)
        var given: [JSONValue] = []
        for outcome in evaluation.applied {
            let rule = evaluation.rule(outcome)
            let id = rule.header.id
            let discount = Int64(outcome.discount)
            try db.cachedStatement(sql: """
                INSERT INTO campaign_usage (campaignId, redemptions, discount) VALUES (?, 1, ?)
                ON CONFLICT(campaignId) DO UPDATE SET redemptions = redemptions + 1, discount = discount + excluded.discount
                """).execute(arguments: [id, discount])
            try db.cachedStatement(sql: """
                INSERT INTO campaign_days (campaignId, day, redemptions) VALUES (?, ?, 1)
                ON CONFLICT(campaignId, day) DO UPDATE SET redemptions = redemptions + 1
                """).execute(arguments: [id, day])
            if let customerId = purchase.customerId {
                try db.cachedStatement(sql: """
                    INSERT INTO campaign_customers (campaignId, customerId, redemptions) VALUES (?, ?, 1)
                    ON CONFLICT(campaignId, customerId) DO UPDATE SET redemptions = redemptions + 1
                    """).execute(arguments: [id, customerId])
            }
            var issuedCode: String?
            if case .issued = rule.code, let code = outcome.code {
                // The evaluation read `uses < maxUses` in this transaction; the CHECK makes sure.
                try db.cachedStatement(sql: "UPDATE coupon_codes SET uses = uses + 1 WHERE code = ? AND campaignId = ?").execute(arguments: [code, id])
                issuedCode = code
            }
            try db.cachedStatement(sql: """
                INSERT INTO redemptions (eventId, campaignId, customerId, storeId, at, discount, pointsMultiplier, code, quoteId, rulesVersion)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [event.eventId, id, purchase.customerId, purchase.storeId, purchaseAt, discount,
                                 outcome.pointsMultiplier, outcome.code, purchase.quoteId, book.version])
            changes.redemptions.append(Changes.Redemption(campaignId: id, day: day, customerId: purchase.customerId,
                                                          discount: discount, code: issuedCode))
            var item: JSONObject = ["campaign": .string(id), "discount": .int(discount)]
            if let multiplier = outcome.pointsMultiplier { item["pointsMultiplier"] = .double(multiplier) }
            if let code = outcome.code { item["code"] = .string(code) }
            given.append(.object(item))
        }
        // Limits that held a campaign back at commit: what a till that quoted earlier may have given anyway.
        let limits: Set<CampaignReason> = [.budgetSpent, .redemptionsSpent, .customerLimit, .dayLimit]
        let refused: [JSONValue] = evaluation.outcomes.compactMap { outcome in
            guard let reason = outcome.reason else { return nil }
            // A code presented but refused (used up, or not this campaign's) is worth telling too.
            let codeRefused = reason == .needsCode && !codes.isEmpty && evaluation.rule(outcome).code == .issued
            guard limits.contains(reason) || codeRefused else { return nil }
            return .object(["campaign": .string(evaluation.rule(outcome).header.id), "reason": .string(reason.rawValue)])
        }
        if let customerId = purchase.customerId {
            var row = customer ?? CustomerRow()
            row.visit(at: purchaseAt, amount: purchase.total)
            try row.save(customerId, in: db)
            changes.customers.append((customerId, row))
            customer = row
        }
        guard !given.isEmpty || !refused.isEmpty else { return }
        var payload: JSONObject = [
            "purchaseEventId": .string(event.eventId), "storeId": .string(purchase.storeId),
            "evaluatedAt": .string(Timestamp(epochMilliseconds: basket.at).rfc3339),
            "currency": .string(purchase.currency.code), "discount": .int(evaluation.discount),
            "tillDiscount": .int(purchase.discount), "rulesVersion": .string(book.version), "campaigns": .array(given),
        ]
        if let customerId = purchase.customerId { payload["customerId"] = .string(customerId) }
        if let quoteId = purchase.quoteId { payload["quoteId"] = .string(quoteId) }
        if !refused.isEmpty { payload["refused"] = .array(refused) }
        emit.emit(type: "campaign.redeemed", key: "redeemed", payload: payload)
    }

    public var services: [String: ServiceHandler] {
        let plugin = self
        return [
            "campaign.quote": { request, pool in try plugin.quote(request.body, pool: pool) },
            "campaign.codes.import": { request, pool in try CouponCodes.importCodes(request.body, pool: pool, book: plugin.rules.current, memory: plugin.memory, now: plugin.now()) },
            "campaign.report": { _, pool in try CampaignReport.make(pool: pool, book: plugin.rules.current) },
        ]
    }

    /// `campaign.quote`: what this basket gets here and now, from the counters in memory.
    func quote(_ body: [UInt8], pool: DatabasePool) throws -> ServiceResponse {
        let book = rules.current
        let now = self.now()
        let request: QuoteRequest
        do {
            request = try QuoteRequest(body, defaultCurrency: book.currency, now: now)
        } catch {
            return .error(error.description)
        }
        let basket = request.basket
        let today = Int(now / 86_400_000)
        // Loads the counters on the first quote, then the customer (cached after the first sight).
        try memory.withCounters(pool, today: today) { _ in }
        let customer = try basket.customerId.flatMap { try memory.customer($0, pool: pool) }
        let evaluation = try memory.withCounters(pool, today: today) { counters in
            checkout.evaluate(basket, customer: customer, book: book, usage: counters)
        }
        var applied: [JSONValue] = []
        var notApplied: [JSONValue] = []
        let rules = book.campaigns?.rules ?? []
        for outcome in evaluation.outcomes {
            var item: JSONObject = ["campaign": .string(rules[outcome.campaign].header.id)]
            if let reason = outcome.reason {
                item["reason"] = .string(reason.rawValue)
                item["text"] = .string(reason.text)
                if let because = outcome.because { item["because"] = .string(because) }
                notApplied.append(.object(item))
            } else {
                item["discount"] = .int(Int64(outcome.discount))
                if let multiplier = outcome.pointsMultiplier { item["pointsMultiplier"] = .double(multiplier) }
                if let code = outcome.code { item["code"] = .string(code) }
                item["reason"] = .string(rules[outcome.campaign].header.description ?? rules[outcome.campaign].header.id)
                applied.append(.object(item))
            }
        }
        let subtotal = basket.subtotal
        let discount = evaluation.discount
        let answer: JSONObject = [
            "quoteId": .string(QuoteId.make(at: basket.at)), "at": .string(Timestamp(epochMilliseconds: basket.at).rfc3339),
            "rulesVersion": .string(book.version), "currency": .string(basket.currency.code),
            "subtotal": .int(subtotal), "discount": .int(discount), "total": .int(subtotal - discount),
            "applied": .array(applied), "notApplied": .array(notApplied),
        ]
        return .ok(JSONWriter.serialize(.object(answer)))
    }
}
