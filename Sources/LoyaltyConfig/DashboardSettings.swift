import Yams

/// `dashboard:` in config/loyalty.yaml: where the web dashboard's access token is kept.
public struct DashboardSettings: Sendable, Equatable {
    /// Absolute path of the token file (`loyalty dashboard token` writes it, mode 0600). While it
    /// exists the dashboard requires the token on every request; without it the dashboard serves
    /// loopback only, openly.
    public var tokenFile: String

    public init(tokenFile: String) { self.tokenFile = tokenFile }

    /// The default, relative to the project root.
    static let defaultTokenFile = "config/dashboard.token"
}

extension LoyaltyConfiguration {
    static func readDashboard(_ node: Node, into settings: inout DashboardSettings, root: String, _ reader: YAMLReader) throws(ConfigError) {
        let keys = try reader.mapping(node, allowed: ["tokenFile"], what: "'dashboard'")
        if let node = keys["tokenFile"]?.value {
            let value = try reader.string(node, key: "tokenFile")
            guard !value.isEmpty else { throw reader.error("'tokenFile' must not be empty", at: node, suggestion: "for example config/dashboard.token") }
            guard !value.hasSuffix("/") else {
                throw reader.error("'tokenFile' must name a file, not a folder: '\(value)'", at: node, suggestion: "for example config/dashboard.token")
            }
            settings.tokenFile = Paths.resolve(value, against: root)
        }
    }
}
