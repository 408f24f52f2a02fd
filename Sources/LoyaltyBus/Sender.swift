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
/// speak for another. (Which till may claim which `pos/...` source is not checked: allowed.txt
/// does not say.)
struct Sender: Sendable, Equatable, CustomStringConvertible {
    var kind: AllowedKey.Kind
    var name: String

    init(kind: AllowedKey.Kind, name: String) {
        self.kind = kind
        self.name = name
    }

    /// - Returns: nil for a user id the ZAP handler does not give.
    init?(userId: String) {
        guard let colon = userId.firstIndex(of: ":"), let kind = AllowedKey.Kind(rawValue: String(userId[..<colon])) else { return nil }
        self.init(kind: kind, name: String(userId[userId.index(after: colon)...]))
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
