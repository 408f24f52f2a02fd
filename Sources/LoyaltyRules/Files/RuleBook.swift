import Foundation
import LoyaltyEvents

/// A checked, compiled set of rule files: what plugins evaluate. Immutable; a hot reload
/// builds a new one and swaps it in whole.
public struct RuleBook: Sendable {
    /// A hash of the files' names and contents; recorded with every effect.
    public let version: String
    /// The files, as named when loaded, in load order.
    public let files: [String]
    /// The currency of every amount in the rules; purchases in another currency earn nothing from them.
    public let currency: CurrencyCode?
    /// The chain's time zone, for `clock.*`, dates and expiry.
    public let timeZone: TimeZone
    public let earning: EarningPolicy?
    public let tiers: TierPolicy?
    public let rewards: RewardPolicy?
    public let campaigns: CampaignPolicy?
    public let alerts: AlertPolicy?
    /// Shadowed and contradictory rules; they do not stop the rules from loading.
    public let warnings: [RuleDiagnostic]
    /// What the rules read: the history window plugins must keep, the customer fields they must fill.
    public let usage: ExpressionUsage

    public init(version: String, files: [String], currency: CurrencyCode?, timeZone: TimeZone,
                earning: EarningPolicy?, tiers: TierPolicy?, rewards: RewardPolicy?, campaigns: CampaignPolicy?,
                alerts: AlertPolicy?, warnings: [RuleDiagnostic], usage: ExpressionUsage) {
        self.version = version
        self.files = files
        self.currency = currency
        self.timeZone = timeZone
        self.earning = earning
        self.tiers = tiers
        self.rewards = rewards
        self.campaigns = campaigns
        self.alerts = alerts
        self.warnings = warnings
        self.usage = usage
    }

    /// No rules at all: nothing is earned, granted or raised.
    public static let empty = RuleBook(version: RuleBook.hash([]), files: [], currency: nil, timeZone: TimeZone(identifier: "UTC")!,
                                       earning: nil, tiers: nil, rewards: nil, campaigns: nil, alerts: nil,
                                       warnings: [], usage: ExpressionUsage())

    /// A fresh clock in the rules' time zone (one per evaluating thread).
    public func makeClock() -> LocalClock { LocalClock(timeZone: timeZone) }

    /// Every rule id, by section.
    public var ruleIds: [String: [String]] {
        var ids: [String: [String]] = [:]
        if let earning { ids["earning"] = earning.rules.map(\.header.id) }
        if let tiers { ids["tiers"] = tiers.levels.map(\.header.id) }
        if let rewards { ids["rewards"] = rewards.rules.map(\.header.id) }
        if let campaigns { ids["campaigns"] = campaigns.rules.map(\.header.id) }
        if let alerts { ids["alerts"] = alerts.rules.map(\.header.id) + alerts.watches.map(\.header.id) }
        return ids
    }

    /// FNV-1a (64 bit) over each file's name and bytes, in load order: a short, stable content hash. It names
    /// a version of the rules; it is not a security measure.
    public static func hash(_ files: [(name: String, text: String)]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        for file in files {
            // The file's own name, not its path: the same files hash the same wherever they are.
            let name = file.name.split(separator: "/").last.map(String.init) ?? file.name
            for byte in name.utf8 { mix(byte) }
            mix(0)
            for byte in file.text.utf8 { mix(byte) }
            mix(0)
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
