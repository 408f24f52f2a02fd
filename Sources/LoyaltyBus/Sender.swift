import LoyaltyEvents
import LoyaltyWire

/// Who sent a message to a CURVE bus: the kind and name of the allow-listed key its connection
/// authenticated with, from the ZAP handler's user id (`terminal:<name>`, `plugin:<name>`).
///
/// What each may do. A terminal publishes what tills and survey kiosks produce (purchases,
/// returns, surveys), never under a plugin's source, and asks for services. A plugin publishes
/// under its own source only (`plugin/<name>`, which the runtime's derived events carry) and may
/// offer services. So a till's key cannot mint points with a `points.accrued` or a
/// `reward.granted`, cannot register as the worker behind `points.balance`, and no plugin can
/// speak for another. A terminal listed with sources in allowed.txt (`loyalty keys add-terminal
/// NAME --source pos/S017/T02`) may publish under those only, so one till cannot pass its
/// receipts off as another's.
struct Sender: Sendable, Equatable, CustomStringConvertible {
    var kind: AllowedKey.Kind
    var name: String
    /// The sources a terminal may publish under (exact or `prefix*`); empty, any but a plugin's.
    var sources: [String]

    init(kind: AllowedKey.Kind, name: String, sources: [String] = []) {
        self.kind = kind
        self.name = name
        self.sources = sources
    }

    /// From the ZAP handler's user id: `kind:name`, then the sources, separated by spaces.
    /// - Returns: nil for a user id the ZAP handler does not give.
    init?(userId: String) {
        let words = userId.split(separator: " ").map(String.init)
        guard let first = words.first, let colon = first.firstIndex(of: ":"),
              let kind = AllowedKey.Kind(rawValue: String(first[..<colon])) else { return nil }
        self.init(kind: kind, name: String(first[first.index(after: colon)...]), sources: Array(words.dropFirst()))
    }

    static let terminalTypes: Set<String> = [EventType.purchase, EventType.return, EventType.survey]

    /// Why this sender may not publish an event of `type` under `source`; nil when it may.
    func refusal(type: String, source: String) -> String? {
        switch kind {
        case .terminal:
            guard Self.terminalTypes.contains(type) else {
                return "\(self) may publish purchase, return and survey events only, not '\(type)'"
            }
            guard !source.hasPrefix("plugin/") else {
                return "\(self) may not publish under a plugin's source ('\(source)')"
            }
            guard sources.isEmpty || AllowedKey.source(source, matches: sources) else {
                return "\(self) may publish under \(sources.joined(separator: ", ")) only, not '\(source)'"
            }
            return nil
        case .plugin:
            guard source == "plugin/\(name)" else {
                return "\(self) may publish only under its own source 'plugin/\(name)', not '\(source)'"
            }
            return nil
        }
    }

    var description: String { "the \(kind.rawValue) key '\(name)'" }
}
