import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// The services: `satisfaction.report` (NPS per store and chain, each window against the one
/// before it) and `satisfaction.alerts` (the alerts standing now).
public enum Report {
    /// The windows shown when the request names none: those of the rules' NPS alerts, else 7 and 30 days.
    static func defaultWindows(_ book: RuleBook) -> [Double] {
        let fromRules = Set((book.alerts?.watches ?? []).filter { $0.kind == .npsBelow || $0.kind == .npsDrop }.map(\.window))
        return fromRules.isEmpty ? [7 * 86_400, 30 * 86_400] : fromRules.sorted()
    }

    /// "7d", "36h", "2w" → seconds.
    static func parseWindow(_ text: String) -> Double? {
        guard let unit = text.last, let number = Double(text.dropLast()), number > 0, number <= 3660 else { return nil }
        switch unit {
        case "h": return number * 3600
        case "d": return number * 86_400
        case "w": return number * 7 * 86_400
        default: return nil
        }
    }

    /// Request: `{}` or `{"store":"S001","windows":["7d","30d"],"at":"2026-11-23T12:00:00Z"}`.
    /// `at` defaults to the time of the latest event the plugin applied.
    static func handle(_ body: [UInt8], pool: DatabasePool, book: RuleBook) throws -> ServiceResponse {
        let usage = "expected a JSON object such as {\"store\":\"S001\",\"windows\":[\"7d\",\"30d\"]} (every key optional)"
        let query: JSONObject
        if body.isEmpty {
            query = JSONObject()
        } else {
            guard case .object(let object)? = try? JSONParser.parse(body) else { return .error(usage) }
            query = object
        }
        var store: String?
        var windows = defaultWindows(book)
        var at: Int64?
        for (key, value) in query.pairs {
            switch (key, value) {
            case ("store", .string(let text)): store = text
            case ("windows", .array(let items)):
                var parsed: [Double] = []
                for item in items {
                    guard case .string(let text) = item, let seconds = parseWindow(text) else {
                        return .error("windows: each must be like \"7d\", \"12h\" or \"2w\" (at most 10 years), got \(JSONWriter.serializeToString(item))")
                    }
                    parsed.append(seconds)
                }
                guard !parsed.isEmpty, parsed.count <= 8 else { return .error("windows: give 1 to 8 windows") }
                windows = parsed
            case ("at", .string(let text)):
                guard let time = Timestamp.parse(text) else { return .error("at: must be an RFC 3339 time, got \"\(text)\"") }
                at = time.epochMilliseconds
            default:
                return .error("unknown or mistyped key '\(key)'; \(usage)")
            }
        }
        let result = try pool.read { db -> JSONObject in
            let now = try at ?? SatisfactionPlugin.clock(db).now
            let stores = try store.map { [$0] } ?? Stores.answering(after: nil, in: db)
            func entry(_ store: String?) throws -> JSONValue {
                var list: [JSONValue] = []
                for window in windows {
                    let span = Int64(window * 1000)
                    let current = try NPSCount.count(store: store, from: now - span, to: now, in: db)
                    let before = try NPSCount.count(store: store, from: now - 2 * span, to: now - span, in: db)
                    var object: JSONObject = [
                        "window": .string(durationText(window)), "responses": .int(Int64(current.responses)),
                        "promoters": .int(Int64(current.promoters)), "passives": .int(Int64(current.passives)),
                        "detractors": .int(Int64(current.detractors)),
                    ]
                    object["nps"] = current.nps.map { .double(($0 * 10).rounded() / 10) } ?? .null
                    object["previousResponses"] = .int(Int64(before.responses))
                    object["previousNps"] = before.nps.map { .double(($0 * 10).rounded() / 10) } ?? .null
                    if let nps = current.nps, let previous = before.nps {
                        object["trend"] = .double(((nps - previous) * 10).rounded() / 10)
                    } else {
                        object["trend"] = .null
                    }
                    list.append(.object(object))
                }
                var object: JSONObject = [:]
                if let store { object["storeId"] = .string(store) }
                object["windows"] = .array(list)
                if let store {
                    object["standingAlerts"] = .int(try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM sat_alerts WHERE storeId = ?", arguments: [store]) ?? 0)
                }
                return .object(object)
            }
            var result: JSONObject = ["asOf": .string(Timestamp(epochMilliseconds: now).rfc3339),
                                      "windows": .array(windows.map { .string(durationText($0)) })]
            result["stores"] = .array(try stores.map { try entry($0) })
            if store == nil { result["chain"] = try entry(nil) }
            return result
        }
        return .ok(JSONWriter.serialize(.object(result)))
    }

    /// The alerts standing now, oldest first.
    static func standing(pool: DatabasePool) throws -> ServiceResponse {
        let list = try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT alertId, ruleId, kind, storeId, customerId, severity, raisedAt, message FROM sat_alerts ORDER BY raisedAt, alertKey
                """).map { row -> JSONValue in
                var object: JSONObject = ["alertId": .string(row[0]), "rule": .string(row[1]), "kind": .string(row[2])]
                if let store = row[3] as String? { object["storeId"] = .string(store) }
                if let customer = row[4] as String? { object["customerId"] = .string(customer) }
                object["severity"] = .string(row[5])
                object["raisedAt"] = .string(Timestamp(epochMilliseconds: row[6]).rfc3339)
                object["message"] = .string(row[7])
                return .object(object)
            }
        }
        return .ok(JSONWriter.serialize(.object(["alerts": .array(list)])))
    }
}
