import Foundation
import LoyaltyBus
import LoyaltyTestSupport
import Testing

/// `Journal.read` against the plain definition (every event of the types after `after`, the first
/// `limit`, and `scannedThrough` past which nothing of those types was left out), on a journal
/// where some types are dense and others rare, for many cursors, limits and type sets.
@Suite struct JournalReadTests {
    @Test func readsTheFirstEventsOfTheTypesAfterTheCursorAndSaysHowFarItScanned() throws {
        let directory = try TemporaryDirectory("journal-read")
        defer { directory.remove() }
        let journal = try Journal(path: directory.path + "/journal.sqlite")
        var generator = SplitMix(seed: 7)
        // 3,000 events: purchases dense, the rest thinner, "alert.raised" very rare.
        let kinds: [(String, Int)] = [("purchase", 70), ("return", 10), ("survey", 8), ("points.accrued", 11), ("alert.raised", 1)]
        var stored: [(seq: Int64, type: String)] = []
        for chunk in 0..<6 {
            let entries = (0..<500).map { index -> Journal.Entry in
                var roll = Int(generator.next() % 100)
                let type = kinds.first { kind in defer { roll -= kind.1 }; return roll < kind.1 }!.0
                return Journal.Entry(eventId: "e-\(chunk)-\(index)", type: type, occurredAtMilliseconds: 0, customerId: nil,
                                     body: Array(#"{"eventId":"e-\#(chunk)-\#(index)","type":"\#(type)"}"#.utf8))
            }
            let results = try journal.append(entries, receivedAtMilliseconds: 0)
            for (entry, result) in zip(entries, results) {
                guard case .stored(let seq) = result else { Issue.record("not stored: \(result)"); return }
                stored.append((seq, entry.type))
            }
        }
        let head = stored.last!.seq
        #expect(try journal.head() == head)

        let typeSets: [[String]] = [[], ["purchase"], ["alert.raised"], ["survey", "alert.raised"], ["purchase", "return", "survey"],
                                    ["points.accrued", "purchase", "unknown.type"], ["unknown.type"], ["return", "return"]]
        var checks = 0
        for types in typeSets {
            for limit in [1, 2, 7, 100, 1000, 5000] {
                for after in [0, 1, 13, 499, 1500, 2990, head - 1, head, head + 5] {
                    let wanted = stored.filter { $0.seq > after && (types.isEmpty || types.contains($0.type)) }
                    let result = try journal.read(after: after, limit: limit, types: types)
                    let context: Comment = "types \(types), limit \(limit), after \(after)"
                    #expect(result.head == head, context)
                    #expect(result.entries.map(\.seq) == Array(wanted.prefix(limit).map(\.seq)), context)
                    #expect(result.entries.map(\.type) == Array(wanted.prefix(limit).map(\.type)), context)
                    // Nothing of these types between the cursor and scannedThrough is left out, and
                    // a full batch ends at its last event.
                    let upTo = wanted.filter { $0.seq <= result.scannedThrough }.map(\.seq)
                    #expect(upTo == result.entries.map(\.seq), context)
                    #expect(result.scannedThrough == (wanted.count >= limit ? wanted[limit - 1].seq : head), context)
                    checks += 1
                }
            }
        }
        #expect(checks == typeSets.count * 6 * 9)
        // The bodies are the stored ones.
        let one = try journal.read(after: 0, limit: 3, types: ["alert.raised"])
        for entry in one.entries {
            #expect(String(decoding: entry.body, as: UTF8.self).contains(#""type":"alert.raised""#))
        }
    }
}
