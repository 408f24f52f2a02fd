import Yams

extension LoadContext {
    static let purchaseRoots: Set<Scope.Root> = [.customer, .purchase, .clock]

    /// The part of a rule's condition the analysis sees: `when` and, for line rules, "some line matches".
    private func shape(when: CompiledCondition?, lines: CompiledCondition?) -> ConditionShape {
        var shape = when?.shape ?? .always
        if let lines {
            shape.clauses.append(.opaque("some line: \(lines.shape.clauses)"))
            shape.neverTrue = shape.neverTrue || lines.shape.neverTrue
        }
        return shape
    }

    // MARK: earning

    mutating func readEarning(_ node: Node, in text: SourceText) {
        guard let keys = mapping(node, allowed: ["rounding", "expiry", "expiryNotice", "pending", "returnShortfall", "caps", "pointValue", "rules"], what: "the earning section", in: text) else { return }
        var policy = earning ?? EarningPolicy()
        let settings = ["rounding", "expiry", "expiryNotice", "pending", "returnShortfall", "caps", "pointValue"].filter { keys[$0] != nil }
        if !settings.isEmpty {
            if let earningSettingsFile {
                diagnostics.append(text.diagnostic("earning settings (\(settings.joined(separator: ", "))) are already set in \(earningSettingsFile)",
                                                   at: keys[settings[0]]!.key, suggestion: "set rounding, expiry, pending and caps in one file"))
            }
            earningSettingsFile = text.name
        }
        if let (_, value) = keys["rounding"], let word = string(value, key: "rounding", in: text) {
            if let rounding = EarningPolicy.Rounding(rawValue: word) {
                policy.rounding = rounding
            } else {
                diagnostics.append(text.diagnostic("rounding must be down, nearest or up, found '\(word)'", at: value,
                                                   suggestion: closest(to: word, in: EarningPolicy.Rounding.allCases.map(\.rawValue)).map { "did you mean '\($0)'?" }))
            }
        }
        if let (_, value) = keys["expiry"], let word = string(value, key: "expiry", in: text) {
            switch word {
            case "never": policy.expiry = .never
            case "end-of-month": policy.expiry = .endOfMonth
            case "end-of-year": policy.expiry = .endOfYear
            default:
                if let seconds = durationValue(word), seconds >= 86_400, seconds.truncatingRemainder(dividingBy: 86_400) == 0 {
                    policy.expiry = .afterDays(Int(seconds / 86_400))
                } else {
                    diagnostics.append(text.diagnostic("expiry must be whole days (e.g. 365d), end-of-month, end-of-year or never, found '\(word)'",
                                                       at: value))
                }
            }
        }
        if let (_, value) = keys["expiryNotice"], let seconds = duration(value, key: "expiryNotice", in: text) {
            policy.expiryNoticeSeconds = seconds
        }
        if let (_, value) = keys["returnShortfall"], let word = string(value, key: "returnShortfall", in: text) {
            if let shortfall = EarningPolicy.Shortfall(rawValue: word) {
                policy.shortfall = shortfall
            } else {
                diagnostics.append(text.diagnostic("returnShortfall must be negative, clawback or floor, found '\(word)'", at: value,
                                                   suggestion: closest(to: word, in: EarningPolicy.Shortfall.allCases.map(\.rawValue)).map { "did you mean '\($0)'?" }))
            }
        }
        if let (_, value) = keys["pointValue"] { policy.pointValue = money(value, key: "pointValue", in: text, ruleId: nil) }
        if let (_, value) = keys["pending"], let seconds = duration(value, key: "pending", in: text) {
            policy.pendingSeconds = seconds
        }
        if let (_, value) = keys["caps"], let caps = mapping(value, allowed: ["perPurchase", "perDay"], what: "caps", in: text) {
            if let (_, cap) = caps["perPurchase"] { policy.capPerPurchase = number(cap, key: "perPurchase", in: text, range: 0...1e12) }
            if let (_, cap) = caps["perDay"] { policy.capPerDay = number(cap, key: "perDay", in: text, range: 0...1e12) }
        }
        if let (_, value) = keys["rules"], let items = list(value, key: "rules", in: text) {
            for item in items {
                guard let rule = readEarningRule(item, in: text) else { continue }
                policy.rules.append(rule)
                analysed.append(AnalysedRule(section: "earning", header: rule.header, kind: rule.effect.kind,
                                             shape: shape(when: rule.when, lines: rule.lines), index: analysed.count))
            }
        }
        earning = policy
    }

    private mutating func readEarningRule(_ item: Node, in text: SourceText) -> EarningPolicy.Rule? {
        let allowed = ["id", "description", "priority", "group", "when", "lines", "points", "multiplier", "bonus"]
        guard let keys = mapping(item, allowed: allowed, what: "an earning rule", in: text),
              let header = header(keys, item: item, in: text, section: "earning") else { return nil }
        let effects = ["points", "multiplier", "bonus"].filter { keys[$0] != nil }
        guard effects.count == 1 else {
            let message = effects.isEmpty
                ? "earning rule '\(header.id)' needs one of points, multiplier or bonus"
                : "earning rule '\(header.id)' has \(effects.joined(separator: " and ")); a rule has exactly one of points, multiplier or bonus"
            diagnostics.append(text.diagnostic(message, at: keys["id"]?.key ?? item,
                                               suggestion: effects.isEmpty ? nil : "split it into two rules", ruleId: header.id))
            return nil
        }
        let when = keys["when"].flatMap { condition($0.value, scope: scope(Self.purchaseRoots), in: text, ruleId: header.id) }
        let lines = keys["lines"].flatMap { condition($0.value, key: "lines", scope: scope(Self.purchaseRoots, inLine: true), in: text, ruleId: header.id) }
        let effectKey = effects[0]
        let (_, effectNode) = keys[effectKey]!
        // A `points` rule with `lines:` is worked out per line, so it may use the line's fields.
        let amountScope = scope(Self.purchaseRoots, inLine: lines != nil && effectKey == "points")
        guard let value = amount(effectNode, key: effectKey, scope: amountScope, accepted: [.number], in: text, ruleId: header.id) else { return nil }
        if (keys["when"] != nil && when == nil) || (keys["lines"] != nil && lines == nil) { return nil }
        if let constant = value.constant, constant < 0 {
            diagnostics.append(text.diagnostic("\(effectKey) must not be negative", at: effectNode, ruleId: header.id))
            return nil
        }
        let effect: EarningPolicy.Effect = switch effectKey {
        case "points": .points(value)
        case "multiplier": .multiplier(value)
        default: .bonus(value)
        }
        return EarningPolicy.Rule(header: header, when: when, lines: lines, effect: effect)
    }

    // MARK: rewards: in RuleLoader+Rewards.swift

    // MARK: campaigns: RuleLoader+Campaigns.swift

    // MARK: alerts

    mutating func readAlerts(_ node: Node, in text: SourceText) {
        guard let items = list(node, key: "alerts", in: text) else { return }
        let allowed = ["id", "description", "priority", "group", "kind", "when", "severity", "message", "action"]
        for item in items {
            if let kindNode = alertKind(item), let word = string(kindNode, key: "kind", in: text), word != "survey" {
                guard let kind = AlertWatch.Kind(rawValue: word) else {
                    let kinds = ["survey"] + AlertWatch.Kind.allCases.map(\.rawValue)
                    diagnostics.append(text.diagnostic("kind must be \(kinds.dropLast().joined(separator: ", ")) or \(kinds.last!), found '\(word)'",
                                                       at: kindNode, suggestion: closest(to: word, in: kinds).map { "did you mean '\($0)'?" }))
                    continue
                }
                readAlertWatch(item, kind: kind, in: text)
                continue
            }
            guard let keys = mapping(item, allowed: allowed, what: "an alert", in: text),
                  let header = header(keys, item: item, in: text, section: "alerts") else { continue }
            guard let (_, whenNode) = keys["when"] else {
                diagnostics.append(text.diagnostic("alert '\(header.id)' needs 'when', e.g. when: survey.nps <= 6", at: keys["id"]?.key, ruleId: header.id))
                continue
            }
            let when = condition(whenNode, scope: scope([.customer, .survey, .clock]), in: text, ruleId: header.id)
            var severity = AlertRule.Severity.warning
            if let (_, severityNode) = keys["severity"], let word = string(severityNode, key: "severity", in: text, ruleId: header.id) {
                if let parsed = AlertRule.Severity(rawValue: word) {
                    severity = parsed
                } else {
                    diagnostics.append(text.diagnostic("severity must be info, warning, high or critical, found '\(word)'", at: severityNode,
                                                       suggestion: closest(to: word, in: AlertRule.Severity.allCases.map(\.rawValue)).map { "did you mean '\($0)'?" },
                                                       ruleId: header.id))
                    continue
                }
            }
            let message = keys["message"].flatMap { string($0.value, key: "message", in: text, ruleId: header.id) } ?? header.description ?? header.id
            let action = keys["action"].flatMap { string($0.value, key: "action", in: text, ruleId: header.id) }
            guard let when else { continue }
            alerts.append(AlertRule(header: header, when: when, severity: severity, message: message, action: action))
            analysed.append(AnalysedRule(section: "alerts", header: header, kind: "alert", shape: when.shape, index: analysed.count))
        }
    }

    /// The `kind:` of an alert item, if it is a mapping that has one.
    private func alertKind(_ item: Node) -> Node? {
        guard case .mapping(let mapping) = item else { return nil }
        for (key, value) in mapping {
            if case .scalar(let scalar) = key, scalar.string == "kind" { return value }
        }
        return nil
    }

    /// An alert with `kind:` other than `survey`: NPS windows, detractor surges, churn risk, drivers.
    private mutating func readAlertWatch(_ item: Node, kind: AlertWatch.Kind, in text: SourceText) {
        let common = ["id", "description", "kind", "severity", "message", "action"]
        let specific: [String] = switch kind {
        case .npsBelow: ["window", "minResponses", "below", "scope"]
        case .npsDrop: ["window", "minResponses", "drop", "scope"]
        case .detractorSurge: ["window", "minDetractors", "factor", "baseline", "scope"]
        case .churnRisk: ["when", "pAliveBelow", "gapFactor", "minVisits"]
        case .topDriver: ["window", "minDetractors"]
        }
        guard let keys = mapping(item, allowed: common + specific, what: "a \(kind.rawValue) alert", in: text),
              let header = header(keys, item: item, in: text, section: "alerts") else { return }
        let errorsBefore = diagnostics.count
        var severity = AlertWatch.defaultSeverity(kind)
        if let (_, severityNode) = keys["severity"], let word = string(severityNode, key: "severity", in: text, ruleId: header.id) {
            if let parsed = AlertRule.Severity(rawValue: word) {
                severity = parsed
            } else {
                diagnostics.append(text.diagnostic("severity must be info, warning, high or critical, found '\(word)'", at: severityNode,
                                                   suggestion: closest(to: word, in: AlertRule.Severity.allCases.map(\.rawValue)).map { "did you mean '\($0)'?" },
                                                   ruleId: header.id))
            }
        }
        let message = keys["message"].flatMap { string($0.value, key: "message", in: text, ruleId: header.id) } ?? header.description ?? header.id
        let action = keys["action"].flatMap { string($0.value, key: "action", in: text, ruleId: header.id) }
        var watch = AlertWatch(header: header, kind: kind, severity: severity, message: message, action: action,
                               window: AlertWatch.defaultWindow(kind))
        if let (_, node) = keys["window"], let seconds = duration(node, key: "window", in: text, ruleId: header.id) {
            if seconds >= 3600 { watch.window = seconds } else {
                diagnostics.append(text.diagnostic("'window' must be at least 1h, found '\(format(seconds / 3600))h'", at: node,
                                                   suggestion: "for example window: 7d", ruleId: header.id))
            }
        }
        if let (_, node) = keys["baseline"], let seconds = duration(node, key: "baseline", in: text, ruleId: header.id) {
            if seconds >= 3600 { watch.baseline = seconds } else {
                diagnostics.append(text.diagnostic("'baseline' must be at least 1h", at: node, suggestion: "for example baseline: 30d", ruleId: header.id))
            }
        }
        if let (_, node) = keys["scope"], let word = string(node, key: "scope", in: text, ruleId: header.id) {
            if let coverage = AlertWatch.Coverage(rawValue: word) { watch.coverage = coverage } else {
                diagnostics.append(text.diagnostic("scope must be stores, chain or both, found '\(word)'", at: node,
                                                   suggestion: closest(to: word, in: AlertWatch.Coverage.allCases.map(\.rawValue)).map { "did you mean '\($0)'?" },
                                                   ruleId: header.id))
            }
        }
        if let (_, node) = keys["minResponses"], let n = number(node, key: "minResponses", in: text, ruleId: header.id, range: 1...1_000_000) {
            watch.minResponses = Int(n)
        }
        if let (_, node) = keys["minDetractors"], let n = number(node, key: "minDetractors", in: text, ruleId: header.id, range: 1...1_000_000) {
            watch.minDetractors = Int(n)
        }
        if let (_, node) = keys["minVisits"], let n = number(node, key: "minVisits", in: text, ruleId: header.id, range: 2...1_000_000) {
            watch.minVisits = Int(n)
        }
        if let (_, node) = keys["below"], let n = number(node, key: "below", in: text, ruleId: header.id, range: -100...100) { watch.below = n }
        if let (_, node) = keys["drop"], let n = number(node, key: "drop", in: text, ruleId: header.id, range: 1...200) { watch.drop = n }
        if let (_, node) = keys["factor"], let n = number(node, key: "factor", in: text, ruleId: header.id, range: 1...100) { watch.factor = n }
        if let (_, node) = keys["pAliveBelow"], let n = number(node, key: "pAliveBelow", in: text, ruleId: header.id, range: 0...1) { watch.pAliveBelow = n }
        if let (_, node) = keys["gapFactor"], let n = number(node, key: "gapFactor", in: text, ruleId: header.id, range: 1...1000) { watch.gapFactor = n }
        if let (_, node) = keys["when"] {
            watch.when = condition(node, scope: scope([.customer, .clock]), in: text, ruleId: header.id)
        }
        let required: String? = switch kind {
        case .npsBelow where keys["below"] == nil: "a nps-below alert needs 'below': the NPS it must not fall under, e.g. below: 20"
        case .npsDrop where keys["drop"] == nil: "a nps-drop alert needs 'drop': NPS points against the window before, e.g. drop: 15"
        case .churnRisk where keys["pAliveBelow"] == nil && keys["gapFactor"] == nil:
            "a churn-risk alert needs 'pAliveBelow' (e.g. 0.3), 'gapFactor' (e.g. 3), or both"
        default: nil
        }
        if let required { diagnostics.append(text.diagnostic(required, at: keys["id"]?.key ?? item, ruleId: header.id)) }
        guard diagnostics.count == errorsBefore else { return }
        alertWatches.append(watch)
    }
}
