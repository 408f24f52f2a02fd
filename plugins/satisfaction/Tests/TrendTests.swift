import Foundation
import LoyaltyEvents
import PluginRuntime
import Testing
@testable import Satisfaction

@Suite struct TrendTests {
    let hour: Int64 = 3_600_000
    let day: Int64 = 86_400_000

    func points(_ series: JSONObject?) -> [(nps: Double?, responses: Double?)] {
        guard case .array(let list)? = series?["points"] else { return [] }
        return list.compactMap { if case .object(let o) = $0 { (o.number("nps"), o.number("responses")) } else { nil } }
    }

    @Test func npsPerStorePerLocalDayWithEmptyDaysAsNull() throws {
        let harness = try Harness(rules: "alerts: []\n")
        // Three days before the last: S001 all promoters; the day before the last: half detractors.
        for i in 0..<4 { try harness.survey(10, at: start + Int64(i) * hour) }
        for i in 0..<4 { try harness.survey(i < 2 ? 10 : 0, at: start + 2 * day + Int64(i) * hour) }
        try harness.survey(0, store: "S002", at: start + 2 * day + 5 * hour)
        // The last answer sets the plugin's clock: day 4 (2026-11-05), 01:00 UTC.
        try harness.survey(8, store: "S002", at: start + 3 * day + hour)
        let response = try Trend.handle(Array(#"{"days":4}"#.utf8), pool: harness.pool, timeZone: TimeZone(identifier: "UTC")!)
        guard case .ok(let body) = response, case .object(let trend)? = try? JSONParser.parse(body),
              case .array(let days)? = trend["days"], case .array(let stores)? = trend["stores"],
              case .object(let s1)? = stores.first, case .object(let s2)? = stores.last, case .object(let chain)? = trend["chain"] else {
            Issue.record("unexpected answer \(response)")
            return
        }
        #expect(days == [.string("2026-11-02"), .string("2026-11-03"), .string("2026-11-04"), .string("2026-11-05")])
        #expect(s1.string("storeId") == "S001")
        let first = points(s1)
        #expect(first.count == 4)
        #expect(first[0].nps == 100 && first[0].responses == 4)
        #expect(first[1].nps == nil && first[1].responses == 0)
        #expect(first[2].nps == 0 && first[2].responses == 4)
        let second = points(s2)
        #expect(second[2].nps == -100)
        #expect(second[3].nps == 0 && second[3].responses == 1)
        // The chain counts every store: day 3 has 2 promoters and 3 detractors of 5.
        #expect(points(chain)[2].nps == -20)
    }

    @Test func daysFollowTheRulesTimeZone() throws {
        let harness = try Harness(rules: "alerts: []\n")
        // 23:30 UTC on 2026-11-02 is already 2026-11-03 in Oslo (UTC+1 in November).
        try harness.survey(10, at: start + 23 * hour + 30 * 60_000)
        let response = try Trend.handle(Array(#"{"days":2}"#.utf8), pool: harness.pool, timeZone: TimeZone(identifier: "Europe/Oslo")!)
        guard case .ok(let body) = response, case .object(let trend)? = try? JSONParser.parse(body),
              case .array(let stores)? = trend["stores"], case .object(let s1)? = stores.first else {
            Issue.record("unexpected answer \(response)")
            return
        }
        #expect(trend["days"] == .array([.string("2026-11-02"), .string("2026-11-03")]))
        #expect(points(s1).map(\.responses) == [0, 1])
    }

    @Test func aWindowMakesEachDayARollingFigure() throws {
        let harness = try Harness(rules: "alerts: []\n")
        try harness.survey(10, at: start + hour)              // day 1: a promoter
        try harness.survey(0, at: start + 2 * day + hour)     // day 3: a detractor
        let response = try Trend.handle(Array(#"{"days":3,"window":"2d"}"#.utf8), pool: harness.pool, timeZone: TimeZone(identifier: "UTC")!)
        guard case .ok(let body) = response, case .object(let trend)? = try? JSONParser.parse(body),
              case .array(let stores)? = trend["stores"], case .object(let s1)? = stores.first else {
            Issue.record("unexpected answer \(response)")
            return
        }
        #expect(trend.string("window") == "2d")
        // Day 1: the promoter; day 2: still the promoter (days 1-2); day 3: days 2-3, the detractor only.
        #expect(points(s1).map(\.nps) == [100, 100, -100])
        #expect(points(s1).map(\.responses) == [1, 1, 1])
    }

    @Test func refusesBadRequestsWithTheReason() throws {
        let harness = try Harness(rules: "alerts: []\n")
        let utc = TimeZone(identifier: "UTC")!
        guard case .error(let tooMany) = try Trend.handle(Array(#"{"days":1000}"#.utf8), pool: harness.pool, timeZone: utc) else {
            Issue.record("accepted 1000 days")
            return
        }
        #expect(tooMany.contains("days"))
        guard case .error(let unknown) = try Trend.handle(Array(#"{"dayz":3}"#.utf8), pool: harness.pool, timeZone: utc) else {
            Issue.record("accepted an unknown key")
            return
        }
        #expect(unknown.contains("dayz"))
        guard case .error(let window) = try Trend.handle(Array(#"{"window":"soon"}"#.utf8), pool: harness.pool, timeZone: utc) else {
            Issue.record("accepted a bad window")
            return
        }
        #expect(window.contains("window"))
    }
}
