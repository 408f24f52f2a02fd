import Foundation
import GRDB
import Testing
@testable import Satisfaction

/// `Stores.answering` (seeks through the `(storeId, at)` index) against the plain `DISTINCT` query.
@Suite struct StoresTests {
    @Test func listsTheStoresWithAnAnswerAfterTheInstantLikeADistinctQuery() throws {
        let harness = try Harness(rules: "")   // no alert rules: only the answers are kept
        #expect(try harness.pool.read { db in try Stores.answering(after: nil, in: db) } == [])
        // Store S00k answers every k hours; S007 once, at the start; "S010" sorts between S001 and S002.
        var times: [Int64] = []
        for hourIndex in 0..<48 {
            for k in [1, 2, 3, 5] where hourIndex % k == 0 {
                try harness.survey(9, store: "S00\(k)", at: start + Int64(hourIndex) * hour)
            }
            if hourIndex % 7 == 0 { try harness.survey(2, store: "S010", at: start + Int64(hourIndex) * hour + 1) }
            times.append(start + Int64(hourIndex) * hour)
        }
        try harness.survey(7, store: "S007", at: start)
        for since in [Int64.min, start - 1, start, start + 1] + times.suffix(10) + [times.last! + 1] {
            let (sought, distinct) = try harness.pool.read { db in
                (try Stores.answering(after: since, in: db),
                 try String.fetchAll(db, sql: "SELECT DISTINCT storeId FROM sat_responses WHERE at > ? ORDER BY storeId", arguments: [since]))
            }
            #expect(sought == distinct, "after \(since)")
        }
        let all = try harness.pool.read { db in try Stores.answering(after: nil, in: db) }
        #expect(all == ["S001", "S002", "S003", "S005", "S007", "S010"])
        // Late in the period only the frequent answerers are left.
        #expect(try harness.pool.read { db in try Stores.answering(after: start + 46 * hour, in: db) } == ["S001"])
    }
}
