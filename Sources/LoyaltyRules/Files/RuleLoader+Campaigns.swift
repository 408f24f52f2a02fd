import Yams

extension LoadContext {
    static let campaignKeys = [
        "id", "description", "priority", "group", "starts", "ends", "weekdays", "hours", "stores", "segment", "tiers",
        "when", "lines", "discount", "pointsMultiplier", "maxDiscount", "budget", "code", "stacking",
    ]

    // MARK: campaigns

    mutating func readCampaigns(_ node: Node, in text: SourceText) {
        guard let items = list(node, key: "campaigns", in: text) else { return }
        for item in items {
            guard let keys = mapping(item, allowed: Self.campaignKeys, what: "a campaign", in: text),
                  let header = header(keys, item: item, in: text, section: "campaigns") else { continue }
            let errorsBefore = diagnostics.count
            let starts = keys["starts"].flatMap { date($0.value, key: "starts", in: text, ruleId: header.id) }
            let ends = keys["ends"].flatMap { date($0.value, key: "ends", in: text, ruleId: header.id) }
            if let starts, let ends, ends < starts {
                diagnostics.append(text.diagnostic("the campaign ends (\(CivilDate(dayNumber: ends))) before it starts (\(CivilDate(dayNumber: starts)))",
                                                   at: keys["ends"]!.value, ruleId: header.id))
            }
            var stores: [String] = []
            if let (_, storesNode) = keys["stores"], let list = list(storesNode, key: "stores", in: text, ruleId: header.id) {
                stores = list.compactMap { string($0, key: "stores", in: text, ruleId: header.id) }
            }
            let weekdays = keys["weekdays"].map { campaignWeekdays($0.value, in: text, ruleId: header.id) } ?? 0
            let hours = keys["hours"].flatMap { campaignHours($0.value, in: text, ruleId: header.id) }
            let segment = keys["segment"].flatMap {
                condition($0.value, key: "segment", scope: scope([.customer, .clock]), in: text, ruleId: header.id)
            }
            var tiers: [String] = []
            if let (_, tiersNode) = keys["tiers"], let list = list(tiersNode, key: "tiers", in: text, ruleId: header.id) {
                for node in list {
                    guard let name = string(node, key: "tiers", in: text, ruleId: header.id) else { continue }
                    if !tierIds.contains(name) {
                        let known = tierIds.isEmpty ? "no tiers are defined" : "the tiers are \(tierIds.joined(separator: ", "))"
                        diagnostics.append(text.diagnostic("unknown tier '\(name)': \(known)", at: node,
                                                           suggestion: closest(to: name, in: tierIds).map { "did you mean '\($0)'?" }, ruleId: header.id))
                    }
                    tiers.append(name)
                }
            }
            let when = keys["when"].flatMap { condition($0.value, scope: scope(Self.purchaseRoots), in: text, ruleId: header.id) }
            let lines = keys["lines"].flatMap { condition($0.value, key: "lines", scope: scope(Self.purchaseRoots, inLine: true), in: text, ruleId: header.id) }
            let discount = campaignEffect(keys, in: text, ruleId: header.id)
            let maxDiscount = keys["maxDiscount"].flatMap { money($0.value, key: "maxDiscount", in: text, ruleId: header.id) }
            var limits = CampaignLimits()
            if let (_, budgetNode) = keys["budget"] { limits = campaignBudget(budgetNode, in: text, ruleId: header.id) }
            var code = CampaignRule.CodeRequirement.none
            if let (_, codeNode) = keys["code"], let word = string(codeNode, key: "code", in: text, ruleId: header.id) {
                if word == "required" {
                    code = .issued
                } else if word.utf8.count <= 64, !word.isEmpty,
                          word.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }) {
                    code = .fixed(CampaignPolicy.normalise(code: word))
                } else {
                    diagnostics.append(text.diagnostic("code must be 'required' (codes issued with `loyalty campaigns codes`) or one public code of 1-64 letters, digits, - or _, found '\(word)'",
                                                       at: codeNode, suggestion: "for example code: WELCOME10", ruleId: header.id))
                }
            }
            var stacking = CampaignRule.Stacking.stackable
            if let (_, node) = keys["stacking"], let word = string(node, key: "stacking", in: text, ruleId: header.id) {
                if let parsed = CampaignRule.Stacking(rawValue: word) { stacking = parsed } else {
                    diagnostics.append(text.diagnostic("stacking must be stackable or exclusive, found '\(word)'", at: node,
                                                       suggestion: closest(to: word, in: CampaignRule.Stacking.allCases.map(\.rawValue)).map { "did you mean '\($0)'?" },
                                                       ruleId: header.id))
                }
            }
            if case .pointsMultiplier = discount, maxDiscount != nil || limits.money != nil {
                diagnostics.append(text.diagnostic("a points-multiplier campaign gives no money off, so 'maxDiscount' and a money budget do not apply",
                                                   at: keys["maxDiscount"]?.key ?? keys["budget"]?.key, suggestion: "limit it with budget: { redemptions: N }",
                                                   ruleId: header.id))
            }
            guard diagnostics.count == errorsBefore, let discount,
                  keys["when"] == nil || when != nil, keys["lines"] == nil || lines != nil, keys["segment"] == nil || segment != nil else { continue }
            var rule = CampaignRule(header: header, startDay: starts, endDay: ends, stores: stores, when: when, lines: lines,
                                    discount: discount, maxDiscount: maxDiscount, budget: limits.money)
            rule.weekdays = weekdays
            rule.hours = hours
            rule.segment = segment
            rule.tiers = tiers
            rule.code = code
            rule.maxRedemptions = limits.redemptions
            rule.perCustomer = limits.perCustomer
            rule.perDay = limits.perDay
            rule.stacking = stacking
            campaigns.append(rule)
            // The dates, weekdays, stores, tiers and segment are part of the condition, for the analysis.
            var shape = when?.shape ?? .always
            if let lines {
                shape.clauses.append(.opaque("some line: \(lines.shape.clauses)"))
                shape.neverTrue = shape.neverTrue || lines.shape.neverTrue
            }
            if let segment {
                shape.clauses += segment.shape.clauses
                shape.neverTrue = shape.neverTrue || segment.shape.neverTrue
            }
            if let starts { shape.clauses.append(.atom(Atom(subject: "clock.date", relation: .greaterOrEqual, values: [.numeric(Double(starts))]))) }
            if let ends { shape.clauses.append(.atom(Atom(subject: "clock.date", relation: .lessOrEqual, values: [.numeric(Double(ends))]))) }
            if weekdays != 0 {
                let names = (1...7).filter { weekdays & (1 << UInt8($0)) != 0 }.map { Constant.string(Scope.weekdays[$0 - 1]) }
                shape.clauses.append(.atom(Atom(subject: "clock.weekday", relation: .member, values: names)))
            }
            if let hours { shape.clauses.append(.opaque("hours \(hours.from)-\(hours.until)")) }
            if !stores.isEmpty { shape.clauses.append(.atom(Atom(subject: "purchase.store", relation: .member, values: stores.map { .string($0) }))) }
            if !tiers.isEmpty { shape.clauses.append(.atom(Atom(subject: "customer.tier", relation: .member, values: tiers.map { .string($0) }))) }
            if code != .none { shape.clauses.append(.opaque("code \(code)")) }
            analysed.append(AnalysedRule(section: "campaigns", header: header, kind: "discount", shape: shape, index: analysed.count))
        }
    }

    /// `discount: { percent: N }`, `{ amount: N NOK }`, `{ buy: X, get: Y }`, or `pointsMultiplier: N` instead of a discount.
    private mutating func campaignEffect(_ keys: [String: (key: Node, value: Node)], in text: SourceText, ruleId: String) -> CampaignRule.Discount? {
        if let (multiplierKey, multiplierNode) = keys["pointsMultiplier"] {
            if keys["discount"] != nil {
                diagnostics.append(text.diagnostic("campaign '\(ruleId)' has both discount and pointsMultiplier; a campaign has one effect",
                                                   at: multiplierKey, suggestion: "split it into two campaigns", ruleId: ruleId))
                return nil
            }
            guard let multiplier = number(multiplierNode, key: "pointsMultiplier", in: text, ruleId: ruleId, range: 1...100) else { return nil }
            return .pointsMultiplier(multiplier)
        }
        guard let (_, discountNode) = keys["discount"] else {
            diagnostics.append(text.diagnostic("campaign '\(ruleId)' needs a discount, e.g. discount: { percent: 20 }, or pointsMultiplier: 2",
                                               at: keys["id"]?.key, ruleId: ruleId))
            return nil
        }
        guard let discountKeys = mapping(discountNode, allowed: ["percent", "amount", "buy", "get"], what: "a discount", in: text, ruleId: ruleId) else { return nil }
        let given = ["percent", "amount", "buy", "get"].filter { discountKeys[$0] != nil }
        switch Set(given) {
        case ["percent"]:
            return number(discountKeys["percent"]!.value, key: "percent", in: text, ruleId: ruleId, range: 0...100).map { .percent($0) }
        case ["amount"]:
            return money(discountKeys["amount"]!.value, key: "amount", in: text, ruleId: ruleId).map { .amount($0) }
        case ["buy", "get"]:
            guard let buy = number(discountKeys["buy"]!.value, key: "buy", in: text, ruleId: ruleId, range: 1...1000),
                  let get = number(discountKeys["get"]!.value, key: "get", in: text, ruleId: ruleId, range: 1...1000) else { return nil }
            guard buy.rounded() == buy, get.rounded() == get else {
                diagnostics.append(text.diagnostic("buy and get are whole numbers of items", at: discountNode, ruleId: ruleId))
                return nil
            }
            return .buyGet(buy: Int(buy), get: Int(get))
        default:
            diagnostics.append(text.diagnostic("a discount is one of percent: N, amount: N \(currency?.code ?? "NOK") or buy: X, get: Y (found \(given.isEmpty ? "nothing" : given.joined(separator: ", ")))",
                                               at: discountNode, suggestion: "for example discount: { buy: 2, get: 1 } (the cheapest of three is free)", ruleId: ruleId))
            return nil
        }
    }

    struct CampaignLimits {
        var money: Double?
        var redemptions: Int?
        var perCustomer: Int?
        var perDay: Int?
    }

    /// `budget: 500000 NOK`, or `budget: { amount: 500000 NOK, redemptions: 1000, perCustomer: 1, perDay: 100 }`.
    private mutating func campaignBudget(_ node: Node, in text: SourceText, ruleId: String) -> CampaignLimits {
        var limits = CampaignLimits()
        guard case .mapping = node else {
            limits.money = money(node, key: "budget", in: text, ruleId: ruleId)
            return limits
        }
        guard let keys = mapping(node, allowed: ["amount", "redemptions", "perCustomer", "perDay"], what: "a budget", in: text, ruleId: ruleId) else {
            return limits
        }
        if keys.isEmpty {
            diagnostics.append(text.diagnostic("an empty budget limits nothing", at: node,
                                               suggestion: "for example budget: { amount: 50000 NOK, perCustomer: 1 }", ruleId: ruleId))
        }
        if let (_, value) = keys["amount"] { limits.money = money(value, key: "amount", in: text, ruleId: ruleId) }
        func count(_ key: String) -> Int? {
            guard let (_, value) = keys[key] else { return nil }
            guard let n = number(value, key: key, in: text, ruleId: ruleId, range: 1...1e12) else { return nil }
            guard n.rounded() == n else {
                diagnostics.append(text.diagnostic("'\(key)' is a whole number of redemptions", at: value, ruleId: ruleId))
                return nil
            }
            return Int(n)
        }
        limits.redemptions = count("redemptions")
        limits.perCustomer = count("perCustomer")
        limits.perDay = count("perDay")
        return limits
    }

    /// `weekdays: [monday, friday]`, or `weekdays: weekdays` / `weekend`.
    private mutating func campaignWeekdays(_ node: Node, in text: SourceText, ruleId: String) -> UInt8 {
        var names: [(String, Node)] = []
        if case .scalar = node, let word = string(node, key: "weekdays", in: text, ruleId: ruleId) {
            switch word {
            case "weekdays": names = Scope.weekdays.prefix(5).map { ($0, node) }
            case "weekend": names = Scope.weekdays.suffix(2).map { ($0, node) }
            default: names = [(word, node)]
            }
        } else if let list = list(node, key: "weekdays", in: text, ruleId: ruleId) {
            names = list.compactMap { item in string(item, key: "weekdays", in: text, ruleId: ruleId).map { ($0, item) } }
        }
        var mask: UInt8 = 0
        for (name, at) in names {
            guard let index = Scope.weekdays.firstIndex(of: name.lowercased()) else {
                diagnostics.append(text.diagnostic("'\(name)' is not a weekday (monday … sunday, or weekdays / weekend)", at: at,
                                                   suggestion: closest(to: name.lowercased(), in: Scope.weekdays).map { "did you mean '\($0)'?" }, ruleId: ruleId))
                continue
            }
            mask |= 1 << UInt8(index + 1)
        }
        return mask
    }

    /// `hours: 07:00-10:00` (local time; the end is excluded; 22:00-02:00 runs over midnight).
    private mutating func campaignHours(_ node: Node, in text: SourceText, ruleId: String) -> CampaignRule.Hours? {
        guard let word = string(node, key: "hours", in: text, ruleId: ruleId) else { return nil }
        func minutes(_ part: Substring) -> Int? {
            let pieces = part.trimmingCharacters(in: .whitespaces).split(separator: ":")
            guard pieces.count == 2, pieces[0].count <= 2, pieces[1].count == 2,
                  let h = Int(pieces[0]), let m = Int(pieces[1]), (0...24).contains(h), (0...59).contains(m), h * 60 + m <= 1440 else { return nil }
            return h * 60 + m
        }
        let parts = word.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let from = minutes(parts[0]), let until = minutes(parts[1]), from != until else {
            diagnostics.append(text.diagnostic("hours must be a local time range HH:MM-HH:MM with a different start and end, found '\(word)'", at: node,
                                               suggestion: "for example hours: 07:00-10:00", ruleId: ruleId))
            return nil
        }
        return CampaignRule.Hours(from: from % 1440, until: until == 1440 ? 1440 : until)
    }
}
