import Yams

/// The `rewards:` section: what sets a reward off (`trigger:`), what it gives (`reward:`), and
/// its limits (`repeat:`, `perCustomer:`, `budget:`, `expires:`).
extension LoadContext {
    static let rewardKeys = ["id", "description", "priority", "group", "when", "grant", "value", "repeat",
                             "trigger", "reward", "perCustomer", "budget", "expires"]

    mutating func readRewards(_ node: Node, in text: SourceText) {
        guard let items = list(node, key: "rewards", in: text) else { return }
        for item in items {
            guard let keys = mapping(item, allowed: Self.rewardKeys, what: "a reward", in: text),
                  let header = header(keys, item: item, in: text, section: "rewards") else { continue }
            let errorsBefore = diagnostics.count
            var trigger = RewardTrigger.purchase
            if let (_, triggerNode) = keys["trigger"] {
                guard let read = rewardTrigger(triggerNode, in: text, ruleId: header.id) else { continue }
                trigger = read
            }
            let roots: Set<Scope.Root> = switch trigger {
            case .topCustomers, .winBack: [.customer, .clock]
            case .promoter, .detractor: [.customer, .survey, .clock]
            default: Self.purchaseRoots
            }
            let when = keys["when"].flatMap { condition($0.value, scope: scope(roots), in: text, ruleId: header.id) }
            guard let (_, grantNode) = keys["grant"] else {
                diagnostics.append(text.diagnostic("reward '\(header.id)' needs 'grant': what the customer gets, e.g. grant: free coffee",
                                                   at: keys["id"]?.key, ruleId: header.id))
                continue
            }
            let grant = string(grantNode, key: "grant", in: text, ruleId: header.id)
            var kind = RewardKind.freeItem(sku: nil)
            if let (_, rewardNode) = keys["reward"], let read = rewardKind(rewardNode, in: text, ruleId: header.id) { kind = read }
            var value = 0.0
            if let (_, valueNode) = keys["value"] {
                value = money(valueNode, key: "value", in: text, ruleId: header.id) ?? -1
            } else if case .voucher(let amount?, _) = kind {
                value = amount
            }
            var repeats = RewardRule.Repeat.once
            if let (_, repeatNode) = keys["repeat"], let word = string(repeatNode, key: "repeat", in: text, ruleId: header.id) {
                switch word {
                case "once": repeats = .once
                case "every-time": repeats = .everyTime
                default:
                    guard let seconds = durationValue(word), seconds > 0 else {
                        diagnostics.append(text.diagnostic("repeat must be once, every-time, or a duration longer than zero, found '\(word)'",
                                                           at: repeatNode, suggestion: "for example repeat: 30d (at most once in 30 days)", ruleId: header.id))
                        continue
                    }
                    repeats = .oncePer(seconds)
                }
            }
            var limits = RewardLimits()
            if let (_, node) = keys["perCustomer"], let n = number(node, key: "perCustomer", in: text, ruleId: header.id, range: 1...1_000_000) {
                if n.rounded() == n { limits.perCustomer = Int(n) } else {
                    diagnostics.append(text.diagnostic("'perCustomer' must be a whole number, found '\(format(n))'", at: node, ruleId: header.id))
                }
            }
            if let (_, node) = keys["budget"],
               let budgetKeys = mapping(node, allowed: ["count", "amount"], what: "a budget", in: text, ruleId: header.id) {
                if let (_, countNode) = budgetKeys["count"],
                   let n = number(countNode, key: "count", in: text, ruleId: header.id, range: 1...1_000_000_000) {
                    if n.rounded() == n { limits.budgetCount = Int(n) } else {
                        diagnostics.append(text.diagnostic("'count' must be a whole number of rewards, found '\(format(n))'", at: countNode, ruleId: header.id))
                    }
                }
                if let (_, amountNode) = budgetKeys["amount"] { limits.budgetAmount = money(amountNode, key: "amount", in: text, ruleId: header.id) }
                if budgetKeys.isEmpty {
                    diagnostics.append(text.diagnostic("a budget needs count, amount or both, e.g. budget: { count: 500, amount: 20000 \(currency?.code ?? "NOK") }",
                                                       at: node, ruleId: header.id))
                }
                if budgetKeys["amount"] != nil && keys["value"] == nil && value == 0 {
                    diagnostics.append(text.diagnostic("budget amount needs the reward's 'value' (what one reward costs), e.g. value: 35 \(currency?.code ?? "NOK")",
                                                       at: node, ruleId: header.id))
                }
            }
            if let (_, node) = keys["expires"], let seconds = duration(node, key: "expires", in: text, ruleId: header.id) {
                if !kind.isRedeemable {
                    diagnostics.append(text.diagnostic("'expires' is for rewards redeemed later (free-item, voucher); a \(kind.name) reward is applied at once",
                                                       at: node, ruleId: header.id))
                } else if seconds <= 0 {
                    diagnostics.append(text.diagnostic("'expires' must be longer than zero, e.g. expires: 30d", at: node, ruleId: header.id))
                } else {
                    limits.expiresSeconds = seconds
                }
            }
            guard let grant, value >= 0, keys["when"] == nil || when != nil, diagnostics.count == errorsBefore else { continue }
            var rule = RewardRule(header: header, when: when, grant: grant, value: value, repeats: repeats)
            rule.trigger = trigger
            rule.kind = kind
            rule.limits = limits
            rewards.append(rule)
            // Rewards set off at different moments never compete: they are different kinds for the analysis.
            var shape = when?.shape ?? .always
            let analysedKind: String
            switch trigger {
            case .purchase, .firstPurchase, .frequency, .nthPurchase, .spend, .streak:
                analysedKind = "reward"
                if trigger != .purchase { shape.clauses.append(.opaque("trigger: \(trigger)")) }
            case .promoter, .detractor:
                analysedKind = "survey reward"
                shape.clauses.append(.opaque("trigger: \(trigger)"))
            case .topCustomers, .winBack:
                analysedKind = "\(trigger.name) reward"
                shape.clauses.append(.opaque("trigger: \(trigger)"))
            }
            analysed.append(AnalysedRule(section: "rewards", header: header, kind: analysedKind, shape: shape, index: analysed.count))
        }
    }

    /// `trigger: first-purchase` or `trigger: { kind: nth-purchase, count: 10, within: 30d }`.
    private mutating func rewardTrigger(_ node: Node, in text: SourceText, ruleId: String) -> RewardTrigger? {
        let simple: [String: RewardTrigger] = ["purchase": .purchase, "first-purchase": .firstPurchase, "promoter": .promoter, "detractor": .detractor]
        func unknown(_ word: String, at node: Node) {
            diagnostics.append(text.diagnostic("trigger must be one of \(RewardTrigger.names.joined(separator: ", ")), found '\(word)'", at: node,
                                               suggestion: closest(to: word, in: RewardTrigger.names).map { "did you mean '\($0)'?" }, ruleId: ruleId))
        }
        if case .scalar = node {
            guard let word = string(node, key: "trigger", in: text, ruleId: ruleId) else { return nil }
            if let trigger = simple[word] { return trigger }
            if RewardTrigger.names.contains(word) {
                diagnostics.append(text.diagnostic("a \(word) trigger needs settings, e.g. \(Self.triggerExample(word))", at: node, ruleId: ruleId))
            } else {
                unknown(word, at: node)
            }
            return nil
        }
        let settings: [String: [String]] = [
            "purchase": [], "first-purchase": [], "promoter": [], "detractor": [],
            "nth-purchase": ["count", "within", "label"], "streak": ["weeks"], "frequency": ["visits", "within"],
            "spend": ["amount", "within"], "top-customers": ["by", "percent", "every"], "win-back": ["pAliveBelow"],
        ]
        guard case .mapping(let entries) = node else {
            diagnostics.append(text.diagnostic("'trigger' must be a name (first-purchase) or a mapping with a kind, e.g. \(Self.triggerExample("nth-purchase"))",
                                               at: node, ruleId: ruleId))
            return nil
        }
        guard let kindNode = entries["kind"] else {
            diagnostics.append(text.diagnostic("a trigger needs 'kind', e.g. \(Self.triggerExample("nth-purchase"))", at: node, ruleId: ruleId))
            return nil
        }
        guard let word = string(kindNode, key: "kind", in: text, ruleId: ruleId) else { return nil }
        guard let allowed = settings[word] else {
            unknown(word, at: kindNode)
            return nil
        }
        guard let keys = mapping(node, allowed: ["kind"] + allowed, what: "a \(word) trigger", in: text, ruleId: ruleId) else { return nil }
        let errorsBefore = diagnostics.count
        func required(_ key: String) -> Node? {
            if let (_, value) = keys[key] { return value }
            diagnostics.append(text.diagnostic("a \(word) trigger needs '\(key)', e.g. \(Self.triggerExample(word))", at: kindNode, ruleId: ruleId))
            return nil
        }
        func whole(_ node: Node, _ key: String, _ range: ClosedRange<Double>) -> Int? {
            guard let n = number(node, key: key, in: text, ruleId: ruleId, range: range) else { return nil }
            guard n.rounded() == n else {
                diagnostics.append(text.diagnostic("'\(key)' must be a whole number, found '\(format(n))'", at: node, ruleId: ruleId))
                return nil
            }
            return Int(n)
        }
        func days(_ node: Node) -> Int? {
            guard let seconds = duration(node, key: "within", in: text, ruleId: ruleId) else { return nil }
            guard seconds >= 86_400, seconds.truncatingRemainder(dividingBy: 86_400) == 0, seconds <= 3660 * 86_400 else {
                diagnostics.append(text.diagnostic("'within' must be whole days from 1d to 3660d here, found '\(format(seconds / 86_400))d'",
                                                   at: node, suggestion: "for example within: 30d", ruleId: ruleId))
                return nil
            }
            return Int(seconds / 86_400)
        }
        var trigger: RewardTrigger?
        switch word {
        case "nth-purchase":
            let count = required("count").flatMap { whole($0, "count", 2...100_000) }
            var within: Double?
            if let (_, node) = keys["within"], let seconds = duration(node, key: "within", in: text, ruleId: ruleId) {
                if seconds > 0 { within = seconds } else {
                    diagnostics.append(text.diagnostic("'within' must be longer than zero", at: node, ruleId: ruleId))
                }
            }
            let label = keys["label"].flatMap { string($0.value, key: "label", in: text, ruleId: ruleId) }
            if let count { trigger = .nthPurchase(count: count, withinSeconds: within, label: label) }
        case "streak":
            if let weeks = required("weeks").flatMap({ whole($0, "weeks", 2...520) }) { trigger = .streak(weeks: weeks) }
        case "frequency":
            let visits = required("visits").flatMap { whole($0, "visits", 1...100_000) }
            let window = required("within").flatMap { days($0) }
            if let visits, let window { trigger = .frequency(visits: visits, days: window) }
        case "spend":
            let amount = required("amount").flatMap { money($0, key: "amount", in: text, ruleId: ruleId) }
            let window = keys["within"].flatMap { days($0.value) }
            if let amount {
                if amount <= 0 {
                    diagnostics.append(text.diagnostic("'amount' must be more than zero", at: keys["amount"]!.value, ruleId: ruleId))
                } else {
                    trigger = .spend(amount: amount, days: window)
                }
            }
        case "top-customers":
            var by = RewardTrigger.RankBy.clv
            if let (_, node) = keys["by"], let value = string(node, key: "by", in: text, ruleId: ruleId) {
                if let parsed = RewardTrigger.RankBy(rawValue: value) { by = parsed } else {
                    diagnostics.append(text.diagnostic("'by' must be clv or profit, found '\(value)'", at: node,
                                                       suggestion: closest(to: value, in: RewardTrigger.RankBy.allCases.map(\.rawValue)).map { "did you mean '\($0)'?" },
                                                       ruleId: ruleId))
                }
            }
            var period = CalendarPeriod.month
            if let (_, node) = keys["every"], let value = string(node, key: "every", in: text, ruleId: ruleId) {
                if let parsed = CalendarPeriod(rawValue: value) { period = parsed } else {
                    diagnostics.append(text.diagnostic("'every' must be week, month, quarter or year, found '\(value)'", at: node,
                                                       suggestion: closest(to: value, in: CalendarPeriod.allCases.map(\.rawValue)).map { "did you mean '\($0)'?" },
                                                       ruleId: ruleId))
                }
            }
            let percent = required("percent").flatMap { number($0, key: "percent", in: text, ruleId: ruleId, range: 0.01...100) }
            if let percent { trigger = .topCustomers(by: by, percent: percent, period: period) }
        case "win-back":
            if let p = required("pAliveBelow").flatMap({ number($0, key: "pAliveBelow", in: text, ruleId: ruleId, range: 0.001...1) }) {
                trigger = .winBack(pAliveBelow: p)
            }
        default:
            trigger = simple[word]
        }
        return diagnostics.count == errorsBefore ? trigger : nil
    }

    static func triggerExample(_ kind: String) -> String {
        switch kind {
        case "nth-purchase": "trigger: { kind: nth-purchase, count: 10, within: 30d, label: coffee }"
        case "streak": "trigger: { kind: streak, weeks: 4 }"
        case "frequency": "trigger: { kind: frequency, visits: 4, within: 30d }"
        case "spend": "trigger: { kind: spend, amount: 3000 NOK, within: 90d }"
        case "top-customers": "trigger: { kind: top-customers, by: clv, percent: 5, every: quarter }"
        case "win-back": "trigger: { kind: win-back, pAliveBelow: 0.3 }"
        default: "trigger: \(kind)"
        }
    }

    /// `reward: { kind: voucher, amount: 50 NOK }` (or just `reward: free-item`).
    private mutating func rewardKind(_ node: Node, in text: SourceText, ruleId: String) -> RewardKind? {
        let settings: [String: [String]] = [
            "free-item": ["sku"], "voucher": ["amount", "percent"], "bonus-points": ["points"],
            "tier": ["tier", "for"], "custom": ["type", "params"],
        ]
        var kindNode = node
        var keys: [String: (key: Node, value: Node)] = [:]
        if case .mapping(let entries) = node {
            guard let named = entries["kind"] else {
                diagnostics.append(text.diagnostic("a reward needs 'kind': \(RewardKind.names.joined(separator: ", "))", at: node, ruleId: ruleId))
                return nil
            }
            kindNode = named
        }
        guard let word = string(kindNode, key: "kind", in: text, ruleId: ruleId) else { return nil }
        guard let allowed = settings[word] else {
            diagnostics.append(text.diagnostic("reward kind must be one of \(RewardKind.names.joined(separator: ", ")), found '\(word)'", at: kindNode,
                                               suggestion: closest(to: word, in: RewardKind.names).map { "did you mean '\($0)'?" }, ruleId: ruleId))
            return nil
        }
        if case .mapping = node {
            guard let read = mapping(node, allowed: ["kind"] + allowed, what: "a \(word) reward", in: text, ruleId: ruleId) else { return nil }
            keys = read
        }
        let errorsBefore = diagnostics.count
        var kind: RewardKind?
        switch word {
        case "free-item":
            kind = .freeItem(sku: keys["sku"].flatMap { string($0.value, key: "sku", in: text, ruleId: ruleId) })
        case "voucher":
            let amount = keys["amount"].flatMap { money($0.value, key: "amount", in: text, ruleId: ruleId) }
            let percent = keys["percent"].flatMap { number($0.value, key: "percent", in: text, ruleId: ruleId, range: 0.01...100) }
            if (keys["amount"] == nil) == (keys["percent"] == nil) {
                diagnostics.append(text.diagnostic("a voucher has either amount: N \(currency?.code ?? "NOK") or percent: N", at: kindNode, ruleId: ruleId))
            } else if let amount, amount <= 0 {
                diagnostics.append(text.diagnostic("a voucher's amount must be more than zero", at: keys["amount"]!.value, ruleId: ruleId))
            } else {
                kind = .voucher(amount: amount, percent: percent)
            }
        case "bonus-points":
            if let (_, node) = keys["points"] {
                if let points = number(node, key: "points", in: text, ruleId: ruleId, range: 1...1_000_000_000) {
                    if points.rounded() == points { kind = .bonusPoints(points) } else {
                        diagnostics.append(text.diagnostic("'points' must be whole points, found '\(format(points))'", at: node, ruleId: ruleId))
                    }
                }
            } else {
                diagnostics.append(text.diagnostic("a bonus-points reward needs 'points', e.g. reward: { kind: bonus-points, points: 200 }", at: kindNode, ruleId: ruleId))
            }
        case "tier":
            guard let (_, tierNode) = keys["tier"] else {
                diagnostics.append(text.diagnostic("a tier reward needs 'tier', e.g. reward: { kind: tier, tier: gold, for: 90d }", at: kindNode, ruleId: ruleId))
                return nil
            }
            guard let tier = string(tierNode, key: "tier", in: text, ruleId: ruleId) else { return nil }
            if !tierIds.contains(tier) {
                diagnostics.append(text.diagnostic(tierIds.isEmpty ? "a tier reward needs tier levels (the tiers: section)" : "there is no tier level '\(tier)'",
                                                   at: tierNode, suggestion: closest(to: tier, in: tierIds).map { "did you mean '\($0)'?" }, ruleId: ruleId))
            }
            var seconds: Double?
            if let (_, forNode) = keys["for"], let value = duration(forNode, key: "for", in: text, ruleId: ruleId) {
                if value > 0 { seconds = value } else {
                    diagnostics.append(text.diagnostic("'for' must be longer than zero, e.g. for: 90d", at: forNode, ruleId: ruleId))
                }
            }
            kind = .tier(tier, forSeconds: seconds)
        case "custom":
            var type = "reward.custom"
            if let (_, typeNode) = keys["type"], let value = string(typeNode, key: "type", in: text, ruleId: ruleId) {
                let valid = !value.isEmpty && value.count <= 64 && value.unicodeScalars.allSatisfy {
                    ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "_" || $0 == "."
                }
                if valid { type = value } else {
                    diagnostics.append(text.diagnostic("'type' must be lowercase letters, digits, '-', '_' or '.' (at most 64), found '\(value)'",
                                                       at: typeNode, ruleId: ruleId))
                }
            }
            var params: [(String, String)] = []
            if let (_, paramsNode) = keys["params"] {
                if case .mapping(let entries) = paramsNode {
                    for (keyNode, valueNode) in entries {
                        guard let key = string(keyNode, key: "params", in: text, ruleId: ruleId),
                              let value = string(valueNode, key: key, in: text, ruleId: ruleId) else { continue }
                        params.append((key, value))
                    }
                } else {
                    diagnostics.append(text.diagnostic("'params' must be a mapping of names to values, e.g. params: { partner: cinema, tickets: 2 }",
                                                       at: paramsNode, ruleId: ruleId))
                }
            }
            kind = .custom(type: type, params: params)
        default:
            break
        }
        return diagnostics.count == errorsBefore ? kind : nil
    }
}
