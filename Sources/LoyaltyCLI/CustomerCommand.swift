import ArgumentParser
import Foundation
import GRDB
import LoyaltyEvents
import LoyaltyMonitor

struct CustomerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "customer",
        abstract: "Look up a loyalty customer.",
        subcommands: [CustomerShowCommand.self]
    )
}

struct CustomerShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "A customer's points: the balance, and every change with its reason (rule, rules version, receipt).",
        discussion: """
            Reads the points-accrual plugin's database (read-only), so it works while the engine runs:
              loyalty customer show C000042
            """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The loyalty card id.") var customerId: String

    @Option(help: "Show at most this many ledger entries, newest last.") var limit = 200

    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let config = try options.loadConfiguration()
        let path = config.pluginDatabasePath(name: "points-accrual")
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("no points database at \(path): has the points-accrual plugin run?")
        }
        let queue = try ReadOnlyDatabase.open(path)
        let now = Timestamp.now().epochMilliseconds
        let (customer, lots, entries) = try queue.read { db in
            // A multiplier campaign's bonus sits in the purchase's lot and has its own ledger row
            // (cause: the campaign.redeemed event); the lot's row shows what its rules earned.
            // A database not yet migrated by the plugin has no bonus column.
            let bonus = try db.columns(in: "lots").contains { $0.name == "campaignBonus" } ? "campaignBonus" : "0"
            return (try Row.fetchOne(db, sql: "SELECT visits, spend, tier, owed, firstVisit, lastVisit FROM customers WHERE customerId = ?", arguments: [customerId]),
             try Row.fetchAll(db, sql: """
                SELECT eventId, points, remaining, reversed, pendingUntil, expiresAt, expired FROM lots WHERE customerId = ? ORDER BY lotId
                """, arguments: [customerId]),
             // A lot is its purchase's accrual; every other change is a ledger row.
             try Row.fetchAll(db, sql: """
                SELECT * FROM (
                    SELECT at, kind, points, cause, rulesVersion, detail, 1 AS source, entryId AS position FROM ledger WHERE customerId = ?
                    UNION ALL
                    SELECT earnedAt, 'accrued', points - \(bonus), eventId, rulesVersion, rules, 0, lotId FROM lots WHERE customerId = ? AND points > 0
                    ORDER BY at DESC, source DESC, position DESC LIMIT ?)
                ORDER BY at, source, position
                """, arguments: [customerId, customerId, limit]))
        }
        guard let customer else { throw ValidationError("no customer '\(customerId)' in \(path)") }
        var available: Int64 = 0, pending: Int64 = 0
        for lot in lots where !(lot["expired"] as Bool) {
            let expiresAt: Int64? = lot["expiresAt"]
            if let expiresAt, expiresAt <= now { continue }
            if (lot["pendingUntil"] as Int64) > now { pending += lot["remaining"] } else { available += lot["remaining"] }
        }
        let owed: Int64 = customer["owed"]
        if json {
            let object: JSONValue = .object([
                "customerId": .string(customerId), "visits": .int(customer["visits"]), "tier": (customer["tier"] as String?).map { .string($0) } ?? .null,
                "available": .int(available), "pending": .int(pending), "owed": .int(owed),
                "ledger": .array(entries.map { entry in
                    .object([
                        "at": .string(Timestamp(epochMilliseconds: entry["at"]).rfc3339), "kind": .string(entry["kind"]),
                        "points": .int(entry["points"]), "cause": .string(entry["cause"]),
                        "rulesVersion": (entry["rulesVersion"] as String?).map { .string($0) } ?? .null,
                        "detail": (entry["detail"] as String?).map { .string($0) } ?? .null,
                    ])
                }),
            ])
            print(String(decoding: JSONWriter.serialize(object), as: UTF8.self))
            return
        }
        print("Customer \(customerId): \(customer["visits"] as Int64) visits, tier \((customer["tier"] as String?) ?? "-")")
        print("Points: \(available) available, \(pending) pending\(owed > 0 ? ", \(owed) owed from returns" : "")")
        print("")
        print("when                      change  what            cause / reason")
        for entry in entries {
            let at = Timestamp(epochMilliseconds: entry["at"]).rfc3339.prefix(19).replacingOccurrences(of: "T", with: " ")
            let points: Int64 = entry["points"]
            let change = (points > 0 ? "+" : "") + String(points)
            var reason = entry["cause"] as String
            if let detail = entry["detail"] as String? {
                // The lot's own row: its campaign contributions are printed with the bonus's row.
                reason += "  " + Self.describe(detail, campaigns: (entry["source"] as Int64) == 1)
            }
            if let version = entry["rulesVersion"] as String? { reason += "  (rules \(version))" }
            print("\(at.padding(toLength: 24, withPad: " ", startingAt: 0))  \(change.leftPad(6))  \((entry["kind"] as String).padding(toLength: 14, withPad: " ", startingAt: 0))  \(reason)")
        }
    }

    /// `[{"rule":"base-rate","points":20.7}]` → `base-rate 20.7, …`; without `campaigns`, the
    /// `campaign:` contributions a multiplier campaign added are left out.
    static func describe(_ detail: String, campaigns: Bool = true) -> String {
        guard case .array(let items)? = try? JSONParser.parse(detail) else { return detail }
        return items.compactMap { item -> String? in
            guard case .object(let object) = item, case .string(let rule)? = object["rule"] else { return nil }
            if !campaigns, rule.hasPrefix("campaign:") { return nil }
            switch object["points"] {
            case .double(let p)?: return "\(rule) \(p == p.rounded() ? String(Int64(p)) : String(p))"
            case .int(let p)?: return "\(rule) \(p)"
            default: return rule
            }
        }.joined(separator: ", ")
    }
}

extension String {
    func leftPad(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
