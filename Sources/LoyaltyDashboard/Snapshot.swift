import LoyaltyEvents
import LoyaltyMonitor

/// What one panel has to show: its data, or why there is none (a plugin down, no data yet).
public enum Panel<Value: Sendable & Equatable>: Sendable, Equatable {
    case ready(Value)
    /// Shown in the panel instead of the data, e.g. "satisfaction plugin not running".
    case unavailable(String)
}

/// One alert event of the feed.
public struct AlertRow: Sendable, Equatable {
    public var seq: Int64
    public var occurredAt: String
    /// RAISED, RESOLVED or CONFIG.
    public var state: String
    public var severity: String
    public var kind: String
    public var place: String
    public var customerId: String?
    public var message: String
    /// What to do (raised), or why it ended (resolved).
    public var note: String?

    public init(seq: Int64, occurredAt: String, state: String, severity: String, kind: String, place: String,
                customerId: String? = nil, message: String, note: String? = nil) {
        self.seq = seq
        self.occurredAt = occurredAt
        self.state = state
        self.severity = severity
        self.kind = kind
        self.place = place
        self.customerId = customerId
        self.message = message
        self.note = note
    }

    public init(_ alert: AlertRecord) {
        self.init(seq: alert.seq, occurredAt: alert.occurredAt.rfc3339, state: alert.state, severity: alert.severity ?? "-",
                  kind: alert.rule ?? alert.text("plugin") ?? alert.kind, place: alert.place ?? "-", customerId: alert.customerId,
                  message: alert.message ?? "", note: alert.type == "alert.raised" ? alert.action : alert.reason)
    }
}

/// The alerts standing now (raised and not resolved), as the satisfaction plugin keeps them.
public struct StandingAlerts: Sendable, Equatable {
    public var total: Int
    /// Counts per severity, most severe first.
    public var bySeverity: [(severity: String, count: Int)]
    /// The latest first (a store manager looks for what is new; the counts give the weight).
    public var top: [AlertRow]

    public init(total: Int, bySeverity: [(severity: String, count: Int)], top: [AlertRow]) {
        self.total = total
        self.bySeverity = bySeverity
        self.top = top
    }

    public static func == (a: StandingAlerts, b: StandingAlerts) -> Bool {
        a.total == b.total && a.top == b.top && a.bySeverity.map(\.severity) == b.bySeverity.map(\.severity)
            && a.bySeverity.map(\.count) == b.bySeverity.map(\.count)
    }

    public static let severities = ["critical", "high", "warning", "info"]

    /// Orders (latest first, then the most severe) and counts a plugin's list; keeps `limit` rows.
    public init(_ rows: [AlertRow], limit: Int) {
        func rank(_ severity: String) -> Int { Self.severities.firstIndex(of: severity) ?? Self.severities.count }
        let sorted = rows.sorted { ($1.occurredAt, rank($0.severity), $0.place) < ($0.occurredAt, rank($1.severity), $1.place) }
        var counts: [String: Int] = [:]
        for row in rows { counts[row.severity, default: 0] += 1 }
        self.init(total: rows.count,
                  bySeverity: counts.keys.sorted { (rank($0), $0) < (rank($1), $1) }.map { ($0, counts[$0]!) },
                  top: Array(sorted.prefix(limit)))
    }
}

/// NPS per store per day (the chart) and over the rules' windows (the table beside it).
public struct NPSPanel: Sendable, Equatable {
    public struct Series: Sendable, Equatable {
        public var name: String
        /// One per day of `days`; nil on a day without answers.
        public var nps: [Double?]
        public var responses: [Int]

        public init(name: String, nps: [Double?], responses: [Int]) {
            self.name = name
            self.nps = nps
            self.responses = responses
        }
    }

    public struct Current: Sendable, Equatable {
        public var storeId: String
        public var window: String
        public var nps: Double?
        public var responses: Int
        /// Against the window just before.
        public var trend: Double?

        public init(storeId: String, window: String, nps: Double?, responses: Int, trend: Double?) {
            self.storeId = storeId
            self.window = window
            self.nps = nps
            self.responses = responses
            self.trend = trend
        }
    }

    public var days: [String]
    public var stores: [Series]
    public var chain: Series?
    public var current: [Current]
    public var asOf: String?
    /// Each point's span: "1d" (that day's answers) or a rolling window such as "7d".
    public var window: String

    public init(days: [String], stores: [Series], chain: Series?, current: [Current], asOf: String?, window: String = "1d") {
        self.window = window
        self.days = days
        self.stores = stores
        self.chain = chain
        self.current = current
        self.asOf = asOf
    }
}

public struct CampaignRow: Sendable, Equatable {
    public var campaign: String
    public var inRules: Bool
    public var redemptions: Int64
    public var discount: Int64
    public var budget: Int64?
    public var budgetLeft: Int64?
    public var maxRedemptions: Int64?
    public var redemptionsLeft: Int64?

    public init(campaign: String, inRules: Bool, redemptions: Int64, discount: Int64, budget: Int64? = nil, budgetLeft: Int64? = nil,
                maxRedemptions: Int64? = nil, redemptionsLeft: Int64? = nil) {
        self.campaign = campaign
        self.inRules = inRules
        self.redemptions = redemptions
        self.discount = discount
        self.budget = budget
        self.budgetLeft = budgetLeft
        self.maxRedemptions = maxRedemptions
        self.redemptionsLeft = redemptionsLeft
    }
}

public struct CampaignsPanel: Sendable, Equatable {
    public var currency: String?
    public var campaigns: [CampaignRow]

    public init(currency: String?, campaigns: [CampaignRow]) {
        self.currency = currency
        self.campaigns = campaigns
    }
}

/// Everything the page shows, as of one pass of the collector.
public struct DashboardSnapshot: Sendable, Equatable {
    /// When the collector finished this pass; nil before its first.
    public var takenAt: String?
    /// Newest first.
    public var alerts: Panel<[AlertRow]>
    public var standing: Panel<StandingAlerts>
    public var nps: Panel<NPSPanel>
    public var customers: Panel<CustomerScoresReport>
    public var campaigns: Panel<CampaignsPanel>
    public var engine: Panel<EngineStatusReport>

    public init(takenAt: String?, alerts: Panel<[AlertRow]>, standing: Panel<StandingAlerts>, nps: Panel<NPSPanel>, customers: Panel<CustomerScoresReport>,
                campaigns: Panel<CampaignsPanel>, engine: Panel<EngineStatusReport>) {
        self.takenAt = takenAt
        self.alerts = alerts
        self.standing = standing
        self.nps = nps
        self.customers = customers
        self.campaigns = campaigns
        self.engine = engine
    }

    /// Before the collector's first pass.
    public static let starting = DashboardSnapshot(
        takenAt: nil, alerts: .unavailable("collecting…"), standing: .unavailable("collecting…"), nps: .unavailable("collecting…"), customers: .unavailable("collecting…"),
        campaigns: .unavailable("collecting…"), engine: .unavailable("collecting…"))
}
