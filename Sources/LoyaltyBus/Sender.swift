import LoyaltyEvents
import LoyaltyWire

/// Who sent a message to a CURVE bus: the kind and name of the allow-listed key its connection
/// authenticated with, from the ZAP handler's user id (`terminal:<name>`, `plugin:<name>`,
/// `reader:<name>`).
///
/// What each may do. A terminal publishes what tills and survey kiosks produce (purchases,
/// returns, surveys), never under a plugin's source, and asks for services. A plugin publishes
/// under its own source only (`plugin/<name>`, which the runtime's derived events carry) and may
/// offer services. So a till's key cannot mint points with a `points.accrued` or a
/// `reward.granted`, cannot register as the worker behind `points.balance`, and no plugin can
/// speak for another. A terminal listed with sources in allowed.txt (`loyalty keys add-terminal
/// NAME --source pos/S017/T02`) may publish under those only, so one till cannot pass its
/// receipts off as another's. A reader publishes nothing and offers no service.
///
/// Reading (the publish and replay endpoints) is for plugins, readers and terminals registered
/// with `+read` only: a till's key, which sits in a shop, must not unlock every customer's
/// history. The ZAP handler refuses the others on the publish endpoint; the replay server
/// answers their requests `not_permitted`.
struct Sender: Sendable, Equatable, CustomStringConvertible {
    var kind: AllowedKey.Kind
    var name: String
    /// The sources a terminal may publish under (exact or `prefix*`); empty, any but a plugin's.
    var sources: [String]
    /// May subscribe and replay: a plugin, a reader, or a terminal registered with `+read`.
    var mayRead: Bool

    init(kind: AllowedKey.Kind, name: String, sources: [String] = [], read: Bool = false) {
        self.kind = kind
        self.name = name
        self.sources = sources
        self.mayRead = kind != .terminal || read
    }

    init(_ key: AllowedKey) {
        self.init(kind: key.kind, name: key.name, sources: key.sources, read: key.read)
    }

    /// The user id the ZAP handler gives a connection: `kind:name`, then `+read` for a terminal
    /// that may read, then its sources, separated by spaces (names, flags and patterns hold none;
    /// a source never starts with `+`).
    static func userId(for key: AllowedKey) -> String {
        (["\(key.kind.rawValue):\(key.name)"] + (key.read ? [AllowedKey.readFlag] : []) + key.sources).joined(separator: " ")
    }

    /// From the ZAP handler's user id (`userId(for:)`).
    /// - Returns: nil for a user id the ZAP handler does not give.
    init?(userId: String) {
        let words = userId.split(separator: " ")
        guard let first = words.first, let colon = first.firstIndex(of: ":"),
              let kind = AllowedKey.Kind(rawValue: String(first[..<colon])) else { return nil }
        let rest = words.dropFirst()
        let read = rest.first == Substring(AllowedKey.readFlag)
        self.init(kind: kind, name: String(first[first.index(after: colon)...]), sources: rest.dropFirst(read ? 1 : 0).map(String.init),
                  read: read)
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
        case .reader:
            return "\(self) may not publish events (a reader key subscribes, replays and asks services only); publish with a terminal or plugin key"
        }
    }

    /// Why this sender may not `action` ("subscribe", "replay"), with what to do; nil when it may.
    func readRefusal(_ action: String) -> String? {
        guard !mayRead else { return nil }
        return "the terminal key '\(name)' may not \(action); let it with `loyalty keys grant-read \(name)` "
            + "or use a reader key (`loyalty keys add-reader NAME`)"
    }

    var description: String { "the \(kind.rawValue) key '\(name)'" }
}
