import Foundation
import GRDB
import LoyaltyEvents
import PluginRuntime

/// `satisfaction.trend`: NPS per store (and the chain) per local calendar day over the last N
/// days, for a chart. The days are those of the rules' time zone, so a store's "Tuesday" is its
/// own; the last day runs up to the plugin's clock (the latest event time applied). With a
/// `window` ("7d"), each day's point is the NPS of that window ending with the day: a rolling
/// figure, steadier than one day's few answers.
public enum Trend {
    public static let maximumDays = 92

    /// Request: `{}` or `{"days":14,"window":"7d","store":"S001","at":"2026-11-23T12:00:00Z"}` (every key optional).
    /// Answer: `{"asOf","timeZone","days":["2026-11-10",...],"stores":[{"storeId","points":[{"nps","responses"}]}],"chain":{...}}`,
    /// one point per day, `nps` null on a day without answers.
    static func handle(_ body: [UInt8], pool: DatabasePool, timeZone: TimeZone) throws -> ServiceResponse {
        let usage = "expected a JSON object such as {\"days\":14,\"store\":\"S001\"} (every key optional)"
        var query = JSONObject()
        if !body.isEmpty {
            guard case .object(let object)? = try? JSONParser.parse(body) else { return .error(usage) }
            query = object
        }
        var days = 14
        var store: String?
        var at: Int64?
        var window: Double?
        for (key, value) in query.pairs {
            switch (key, value) {
            case ("days", .int(let n)):
                guard n >= 1, n <= maximumDays else { return .error("days: give 1 to \(maximumDays), got \(n)") }
                days = Int(n)
            case ("store", .string(let text)): store = text
            case ("window", .string(let text)):
                guard let seconds = Report.parseWindow(text) else {
                    return .error("window: must be like \"7d\", \"12h\" or \"2w\", got \"\(text)\"")
                }
                window = seconds
            case ("at", .string(let text)):
                guard let time = Timestamp.parse(text) else { return .error("at: must be an RFC 3339 time, got \"\(text)\"") }
                at = time.epochMilliseconds
            default:
                return .error("unknown or mistyped key '\(key)'; \(usage)")
            }
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let labels = DateFormatter()
        labels.calendar = calendar
        labels.timeZone = timeZone
        labels.locale = Locale(identifier: "en_US_POSIX")
        labels.dateFormat = "yyyy-MM-dd"
        let result = try pool.read { db -> JSONObject in
            let now = try at ?? SatisfactionPlugin.clock(db).now
            let today = calendar.startOfDay(for: Date(timeIntervalSince1970: Double(now) / 1000))
            // Day i covers [start_i, start_{i+1}); counted as (start - 1 ms, next start - 1 ms].
            let starts: [Date] = (0...days).compactMap { calendar.date(byAdding: .day, value: $0 - days + 1, to: today) }
            let bounds = starts.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) - 1 }
            let stores = try store.map { [$0] } ?? Stores.answering(after: nil, in: db)
            func series(_ store: String?) throws -> JSONObject {
                var points: [JSONValue] = []
                for day in 0..<days {
                    let from = window.map { bounds[day + 1] - Int64($0 * 1000) } ?? bounds[day]
                    let count = try NPSCount.count(store: store, from: from, to: bounds[day + 1], in: db)
                    points.append(.object(["nps": count.nps.map { .double(($0 * 10).rounded() / 10) } ?? .null,
                                           "responses": .int(Int64(count.responses))]))
                }
                var object: JSONObject = [:]
                if let store { object["storeId"] = .string(store) }
                object["points"] = .array(points)
                return object
            }
            var result: JSONObject = ["asOf": .string(Timestamp(epochMilliseconds: now).rfc3339),
                                      "timeZone": .string(timeZone.identifier),
                                      "window": .string(window.map(durationText) ?? "1d"),
                                      "days": .array(starts.prefix(days).map { .string(labels.string(from: $0)) })]
            result["stores"] = .array(try stores.map { .object(try series($0)) })
            if store == nil { result["chain"] = .object(try series(nil)) }
            return result
        }
        return .ok(JSONWriter.serialize(.object(result)))
    }
}
