import Yams

/// `security:` in config/loyalty.yaml: CURVE keys and the allow-list.
public struct SecuritySettings: Sendable, Equatable {
    /// CURVE on every bus endpoint, with the allow-list checked through ZAP; required to bind
    /// anything but loopback.
    public var curve = false
    /// Absolute folder of keys and the allow-list (`loyalty keys`).
    public var keysDirectory: String
    /// The key command-line tools (`loyalty pos`, `request`, `alerts` …) connect with:
    /// `<keysDir>/terminals/<clientKey>.key_secret` (made with +read by `loyalty keys init`), or
    /// else `<keysDir>/readers/<clientKey>.key_secret` on a host that only reads.
    public var clientKey = "cli"

    public init(keysDirectory: String) { self.keysDirectory = keysDirectory }
}

/// `limits:` in config/loyalty.yaml: what the bus admits.
public struct LimitSettings: Sendable, Equatable {
    public var maxMessageBytes = 65_536
    public var maxLines = 500
    public var maxQuantity: Int64 = 1_000_000
    public var maxAmountMinorUnits: Int64 = 1_000_000_000_000
    /// nil: unchecked.
    public var maxFutureDays: Double? = 3650
    public var maxPastDays: Double? = 18_300
    /// Per event `source`; nil: no rate limit.
    public var ratePerSource: Double?
    public var burstPerSource: Double?

    public init() {}
}

extension LoyaltyConfiguration {
    static func readSecurity(_ node: Node, into settings: inout SecuritySettings, root: String, _ reader: YAMLReader) throws(ConfigError) {
        let keys = try reader.mapping(node, allowed: ["curve", "keysDir", "clientKey"], what: "'security'")
        if let node = keys["curve"]?.value {
            switch try reader.string(node, key: "curve") {
            case "true", "yes", "on": settings.curve = true
            case "false", "no", "off": settings.curve = false
            case let other: throw reader.error("'curve' must be true or false, got '\(other)'", at: node)
            }
        }
        if let node = keys["keysDir"]?.value {
            let value = try reader.string(node, key: "keysDir")
            guard !value.isEmpty else { throw reader.error("'keysDir' must not be empty", at: node) }
            settings.keysDirectory = Paths.resolve(value, against: root)
        }
        if let node = keys["clientKey"]?.value {
            let value = try reader.string(node, key: "clientKey")
            guard PluginManifest.isValidName(value) else {
                throw reader.error("'clientKey' must be a key name made with `loyalty keys add-terminal NAME --read` or `loyalty keys add-reader NAME`, got '\(value)'", at: node)
            }
            settings.clientKey = value
        }
    }

    static func readLimits(_ node: Node, into limits: inout LimitSettings, _ reader: YAMLReader) throws(ConfigError) {
        let keys = try reader.mapping(node, allowed: ["maxMessageBytes", "maxLines", "maxQuantity", "maxAmountMinorUnits",
                                                      "maxFutureDays", "maxPastDays", "ratePerSource", "burstPerSource"],
                                      what: "'limits'")
        func number(_ key: String, _ range: ClosedRange<Double>) throws(ConfigError) -> Double?? {
            guard let node = keys[key]?.value else { return .none }
            if YAMLReader.isNull(node) { return .some(nil) }
            let text = try reader.string(node, key: key)
            if text == "off" || text == "none" { return .some(nil) }
            guard let value = Double(text.replacingOccurrences(of: "_", with: "")), range.contains(value) else {
                throw reader.error("'\(key)' must be a number from \(range.lowerBound) to \(range.upperBound) (or off), got '\(text)'", at: node)
            }
            return .some(value)
        }
        func required(_ key: String, _ range: ClosedRange<Double>) throws(ConfigError) -> Double? {
            switch try number(key, range) {
            case .none: return nil
            case .some(nil): throw reader.error("'\(key)' cannot be off", at: keys[key]?.value)
            case .some(let value?): return value
            }
        }
        if let value = try required("maxMessageBytes", 256...16_777_216) { limits.maxMessageBytes = Int(value) }
        if let value = try required("maxLines", 1...100_000) { limits.maxLines = Int(value) }
        if let value = try required("maxQuantity", 1...1e15) { limits.maxQuantity = Int64(value) }
        if let value = try required("maxAmountMinorUnits", 1...1e18) { limits.maxAmountMinorUnits = Int64(value) }
        if case .some(let value) = try number("maxFutureDays", 0...36_500) { limits.maxFutureDays = value }
        if case .some(let value) = try number("maxPastDays", 0...36_500) { limits.maxPastDays = value }
        if case .some(let value) = try number("ratePerSource", 0.001...10_000_000) { limits.ratePerSource = value }
        if case .some(let value) = try number("burstPerSource", 1...10_000_000) { limits.burstPerSource = value }
    }
}
