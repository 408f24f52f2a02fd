import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// What an alert is about: a store, the chain, or a customer (at their store).
struct AlertSubject {
    var storeId: String?
    var customerId: String?

    /// The part of the standing key after the rule id.
    var key: String {
        if let customerId { return "customer:\(customerId)" }
        if let storeId { return "store:\(storeId)" }
        return "chain"
    }

    var scope: String { customerId != nil ? "customer" : storeId != nil ? "store" : "chain" }
}

/// One alert to be standing, with everything the store manager reads.
struct AlertDraft {
    var ruleId: String
    var kind: String
    var severity: AlertRule.Severity
    var subject: AlertSubject
    var message: String
    var action: String
    /// Figures behind it (NPS, counts, scores).
    var details: JSONObject
    /// What distinguishes one standing cause from another of the same key (the top driver):
    /// a change resolves the old alert and raises the new one.
    var detail = ""
}

/// The alerts standing now, in the plugin's database: an alert is raised once per cause and
/// stands until the cause goes away, then a `alert.resolved` event follows. Events are derived
/// from the input event (ids `<input>/satisfaction/raised:<key>`), so re-applying an input after
/// a crash produces the same bytes and the bus stores them once.
struct StandingAlerts {
    let db: Database
    let input: EventEnvelope
    let pluginName: String
    let rulesVersion: String

    struct Standing {
        var alertId: String
        var ruleId: String
        var kind: String
        var storeId: String?
        var customerId: String?
        var severity: String
        var raisedAt: Int64
        var message: String
        var detail: String
    }

    func standing(_ key: String) throws -> Standing? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT alertId, ruleId, kind, storeId, customerId, severity, raisedAt, message, detail FROM sat_alerts WHERE alertKey = ?
            """), arguments: [key]) else { return nil }
        return Standing(alertId: row[0], ruleId: row[1], kind: row[2], storeId: row[3], customerId: row[4], severity: row[5],
                        raisedAt: row[6], message: row[7], detail: row[8])
    }

    /// Raises `draft` unless the same cause already stands; a standing alert of the same key with
    /// another `detail` is resolved first.
    func ensure(_ draft: AlertDraft, emit: inout Emitter) throws {
        let key = "\(draft.ruleId)@\(draft.subject.key)"
        if let current = try standing(key) {
            if current.detail == draft.detail { return }
            try resolve(key: key, current, reason: "replaced: \(draft.message)", emit: &emit)
        }
        let emitKey = Self.emitKey("raised", key, input: input.eventId)
        let alertId = "\(input.eventId)/\(pluginName)/\(emitKey)"
        var payload: JSONObject = [
            "alertId": .string(alertId), "rule": .string(draft.ruleId), "kind": .string(draft.kind),
            "severity": .string(draft.severity.rawValue), "scope": .string(draft.subject.scope),
        ]
        if let store = draft.subject.storeId { payload["storeId"] = .string(store) }
        if let customer = draft.subject.customerId { payload["customerId"] = .string(customer) }
        payload["message"] = .string(draft.message)
        payload["action"] = .string(draft.action)
        payload["details"] = .object(draft.details)
        payload["rulesVersion"] = .string(rulesVersion)
        emit.emit(type: SatisfactionPlugin.raisedType, key: emitKey, payload: payload)
        try db.cachedStatement(sql: """
            INSERT INTO sat_alerts (alertKey, alertId, ruleId, kind, storeId, customerId, severity, raisedAt, message, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [key, alertId, draft.ruleId, draft.kind, draft.subject.storeId, draft.subject.customerId,
                                     draft.severity.rawValue, input.occurredAt.epochMilliseconds, draft.message, draft.detail])
    }

    /// Resolves the alert of `ruleId` for `subject` if one stands.
    func clear(ruleId: String, subject: AlertSubject, reason: String, emit: inout Emitter) throws {
        let key = "\(ruleId)@\(subject.key)"
        guard let current = try standing(key) else { return }
        try resolve(key: key, current, reason: reason, emit: &emit)
    }

    private func resolve(key: String, _ current: Standing, reason: String, emit: inout Emitter) throws {
        var payload: JSONObject = [
            "alertId": .string(current.alertId), "rule": .string(current.ruleId), "kind": .string(current.kind),
            "severity": .string(current.severity),
        ]
        if let store = current.storeId { payload["storeId"] = .string(store) }
        if let customer = current.customerId { payload["customerId"] = .string(customer) }
        payload["message"] = .string("resolved: \(current.message)")
        payload["reason"] = .string(reason)
        payload["raisedAt"] = .string(Timestamp(epochMilliseconds: current.raisedAt).rfc3339)
        payload["stoodSeconds"] = .int(max(0, (input.occurredAt.epochMilliseconds - current.raisedAt) / 1000))
        payload["rulesVersion"] = .string(rulesVersion)
        emit.emit(type: SatisfactionPlugin.resolvedType, key: Self.emitKey("resolved", key, input: input.eventId), payload: payload)
        try db.cachedStatement(sql: "DELETE FROM sat_alerts WHERE alertKey = ?").execute(arguments: [key])
    }

    /// Standing keys of one rule, with their subjects.
    func standingKeys(ruleId: String) throws -> [(storeId: String?, customerId: String?)] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT storeId, customerId FROM sat_alerts WHERE ruleId = ? ORDER BY alertKey"),
                         arguments: [ruleId]).map { ($0[0], $0[1]) }
    }

    /// Rules whose alerts stand but are no longer in the rule files: resolved, so none stands forever.
    func resolveRetired(keeping ruleIds: Set<String>, emit: inout Emitter) throws {
        let rows = try Row.fetchAll(db, sql: "SELECT alertKey FROM sat_alerts ORDER BY alertKey")
        for row in rows {
            let key: String = row[0]
            guard let current = try standing(key), !ruleIds.contains(current.ruleId) else { continue }
            try resolve(key: key, current, reason: "the rule '\(current.ruleId)' was removed from the rule files", emit: &emit)
        }
    }

    /// The key of a derived event: `raised:<key>`, shortened to a hash when the whole event id
    /// would pass the bus's 128-character limit.
    static func emitKey(_ prefix: String, _ key: String, input: String) -> String {
        let plain = "\(prefix):\(key)"
        let fixed = input.utf8.count + "/satisfaction/".utf8.count
        if fixed + plain.utf8.count <= 128 { return plain }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return "\(prefix):\(String(hash, radix: 16))"
    }
}
