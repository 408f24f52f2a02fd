/// An alert that watches more than one answer or event: NPS over rolling windows, a surge of
/// detractors, churn risk of valuable customers, the driver that weighs most on detractors.
/// Written in the `alerts:` section with a `kind:` other than `survey` (see config/README.md 4.6).
/// The satisfaction plugin evaluates them; `rules simulate` does not.
public struct AlertWatch: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// NPS over `window` below `below`, with at least `minResponses` answers.
        case npsBelow = "nps-below"
        /// NPS over `window` at least `drop` points below the window before it, both with `minResponses`.
        case npsDrop = "nps-drop"
        /// At least `minDetractors` detractors in `window`, and a detractor share at least `factor`
        /// times the share over the `baseline` before the window.
        case detractorSurge = "detractor-surge"
        /// A customer matching `when` (e.g. valuable) whose probability alive fell below
        /// `pAliveBelow`, or whose time since the last visit is over `gapFactor` times their usual gap.
        case churnRisk = "churn-risk"
        /// Per store, the driver with the lowest average among detractors in `window`.
        case topDriver = "top-driver"
    }

    /// Which NPS the window kinds watch: each store's, the chain's, or both.
    public enum Coverage: String, Sendable, CaseIterable {
        case stores, chain, both
    }

    public var header: RuleHeader
    public var kind: Kind
    public var severity: AlertRule.Severity
    /// What the store manager reads (the plugin adds the figures).
    public var message: String
    /// What to do about it; nil for the plugin's default for the kind.
    public var action: String?
    /// Seconds.
    public var window: Double
    public var coverage: Coverage = .both
    public var minResponses = 20
    /// NPS points, -100...100.
    public var below = 0.0
    /// NPS points.
    public var drop = 10.0
    public var minDetractors = 5
    public var factor = 2.0
    /// Seconds before the window that the surge compares with.
    public var baseline = 30 * 86_400.0
    /// Churn risk: which customers are watched (customer and clock facts).
    public var when: CompiledCondition?
    public var pAliveBelow: Double?
    public var gapFactor: Double?
    /// Churn risk by gap: visits needed before a customer's usual gap means anything.
    public var minVisits = 3

    public init(header: RuleHeader, kind: Kind, severity: AlertRule.Severity, message: String, action: String? = nil, window: Double) {
        self.header = header
        self.kind = kind
        self.severity = severity
        self.message = message
        self.action = action
        self.window = window
    }

    /// The window a kind watches when the rule does not say.
    public static func defaultWindow(_ kind: Kind) -> Double {
        switch kind {
        case .npsBelow, .npsDrop: 7 * 86_400
        case .detractorSurge: 86_400
        case .churnRisk, .topDriver: 30 * 86_400
        }
    }

    public static func defaultSeverity(_ kind: Kind) -> AlertRule.Severity {
        kind == .topDriver ? .info : .high
    }
}
