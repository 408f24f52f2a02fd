import Foundation
import Logging
import LoyaltyConfig
import LoyaltyEvents
import LoyaltyMonitor
import LoyaltyWire
import Synchronization
import ZeroMQ

/// Refreshes the dashboard's snapshot on one dedicated thread: every call that blocks (ZeroMQ
/// requests and polls, SQLite reads) happens there, never on the Swift concurrency pool, and
/// the HTTP handlers only read the latest snapshot under a mutex.
public final class DashboardCollector: Sendable {
    public struct Settings: Sendable {
        /// Seconds between two passes.
        public var interval: Double = 2
        /// Days of the NPS chart.
        public var trendDays = 28
        /// Each day's point is the NPS over this window ending that day (steadier than one day's answers).
        public var trendWindow = "7d"
        public var topCustomers = 8
        /// Alert events kept for the feed (newest shown first).
        public var alertsKept = 5
        /// Standing alerts listed (the most severe first; all are counted).
        public var standingShown = 6
        /// How long one service request may take before its panel says the plugin does not answer.
        public var requestTimeoutMilliseconds = 1500
        /// CURVE client options for the bus's endpoints (empty when CURVE is off).
        public var busSocketOptions: [SocketOption] = []

        public init() {}
    }

    private let configuration: LoyaltyConfiguration
    private let settings: Settings
    private let logger: Logger
    private let latest = Mutex<DashboardSnapshot>(.starting)
    private let passes = Atomic<Int>(0)
    private let stopSignal = StopSignal()
    private let thread = Mutex<OwnedThread?>(nil)

    public init(configuration: LoyaltyConfiguration, settings: Settings = Settings(), logger: Logger) {
        self.configuration = configuration
        self.settings = settings
        self.logger = logger
    }

    /// The latest snapshot; cheap, never blocks on I/O.
    public var snapshot: DashboardSnapshot { latest.withLock { $0 } }
    /// How many passes have finished (tests wait on it).
    public var completedPasses: Int { passes.load(ordering: .acquiring) }

    public func start() {
        thread.withLock { current in
            guard current == nil else { return }
            current = OwnedThread(name: "dashboard.collect") { [self] in run() }
        }
    }

    /// Asks the thread to stop and waits for it; blocking, so call it off the pool.
    public func stopAndJoin() {
        stopSignal.set()
        thread.withLock { $0 }?.join()
    }

    private func run() {
        var state = CollectorState(configuration: configuration, settings: settings, logger: logger)
        defer { state.close() }
        while !stopSignal.isSet {
            let started = Monotonic.now
            let next = state.pass(stop: stopSignal)
            latest.withLock { $0 = next }
            passes.add(1, ordering: .releasing)
            // Sleep in short steps so a stop is seen within 100 ms; wake early on a live alert.
            let deadline = started + Int(settings.interval * 1000)
            while let remaining = Monotonic.remaining(until: deadline), !stopSignal.isSet {
                if state.waitForAlert(milliseconds: min(remaining, 100)) {
                    state.drainAlerts(stop: stopSignal)
                    latest.withLock { $0.alerts = state.alertPanel }
                }
            }
        }
    }
}

/// Everything the collector thread owns: its sockets and what it has read so far. Never leaves
/// that thread.
struct CollectorState {
    let configuration: LoyaltyConfiguration
    let settings: DashboardCollector.Settings
    let logger: Logger
    let plugins: [String]
    private var context: ZMQContext?
    private var client: BusClient?
    private var subscriber: Socket?
    private var replay: Socket?
    private var setupProblem: String?
    private var previousSample: StatusSample?
    /// Alert events after which the feed is complete, and the feed itself (oldest first).
    private var alertCursor: Int64?
    private var recentAlerts: [AlertRow] = []
    private var alertProblem: String?

    init(configuration: LoyaltyConfiguration, settings: DashboardCollector.Settings, logger: Logger) {
        self.configuration = configuration
        self.settings = settings
        self.logger = logger
        plugins = EngineStatus.plugins(configuration)
        do {
            let context = try ZMQContext()
            let curve = settings.busSocketOptions
            client = try BusClient(context: context, endpoint: configuration.bus.ingest, options: curve)
            let subscriber = try Socket(context: context, type: .sub)
            try subscriber.set(curve)
            // Subscribed before the history is read. The live feed only says when to ask the replay
            // endpoint; a message PUB dropped is still fetched by the next pass's replay.
            try subscriber.set([.receiveHighWaterMark(0), .subscribe(Array("alert.".utf8))])
            try subscriber.connect(configuration.bus.publish)
            let replay = try Socket(context: context, type: .dealer)
            try replay.set(curve)
            try replay.set([.reconnectInterval(milliseconds: 100)])
            try replay.connect(configuration.bus.replay)
            self.context = context
            self.subscriber = subscriber
            self.replay = replay
        } catch {
            setupProblem = "cannot connect to the bus: \(error)"
            logger.error("dashboard: \(error)")
        }
    }

    mutating func close() {
        client = nil
        subscriber?.close()
        replay?.close()
        subscriber = nil
        replay = nil
        context = nil
    }

    mutating func pass(stop: StopSignal) -> DashboardSnapshot {
        var snapshot = DashboardSnapshot.starting
        snapshot.engine = engine()
        if let setupProblem {
            snapshot.nps = .unavailable(setupProblem)
            snapshot.standing = .unavailable(setupProblem)
            snapshot.campaigns = .unavailable(setupProblem)
            snapshot.alerts = .unavailable(setupProblem)
        } else {
            drainAlerts(stop: stop)
            snapshot.alerts = alertPanel
            // When the bus itself does not answer, the other requests would only wait as long again.
            var busDown: String?
            snapshot.nps = nps(busDown: &busDown)
            if let busDown {
                snapshot.standing = .unavailable(busDown)
            } else {
                snapshot.standing = standing(busDown: &busDown)
            }
            if let busDown {
                snapshot.campaigns = .unavailable(busDown)
            } else {
                snapshot.campaigns = campaigns(busDown: &busDown)
            }
        }
        snapshot.customers = customers()
        snapshot.takenAt = Timestamp.now().rfc3339
        return snapshot
    }

    // MARK: engine

    mutating func engine() -> Panel<EngineStatusReport> {
        let sample = EngineStatus.sample(configuration, plugins: plugins)
        let report = EngineStatus.report(configuration, plugins: plugins, first: previousSample ?? sample, second: sample)
        previousSample = sample
        return .ready(report)
    }

    // MARK: service requests

    enum Answer {
        case ok(JSONObject)
        case down(String)
    }

    /// One request through the bus; `.down` names the plugin and why, for the panel.
    func ask(_ service: String, _ body: JSONObject, plugin: String, busDown: inout String?) -> Answer {
        guard let client else { return .down(setupProblem ?? "not connected to the bus") }
        if !plugins.contains(plugin) {
            return .down("The \(plugin) plugin is not enabled in \(configuration.sourceFile ?? "the configuration") (plugins.enabled).")
        }
        do {
            let reply = try client.request(service: service, body: JSONWriter.serialize(.object(body)),
                                           timeoutMilliseconds: settings.requestTimeoutMilliseconds)
            switch reply.status {
            case .ok:
                guard case .object(let object)? = try? JSONParser.parse(reply.body) else {
                    return .down("\(service) answered something that is not a JSON object.")
                }
                return .ok(object)
            case .error:
                return .down("\(service) refused the request: \(reply.bodyText)")
            case .unavailable, .timeout:
                return .down("The \(plugin) plugin is not answering (\(service): \(reply.status.rawValue)); it may be down or restarting — see the engine panel.")
            }
        } catch {
            let reason = "The bus is not answering at \(configuration.bus.ingest); is `loyalty up` running?"
            busDown = reason
            return .down(reason)
        }
    }

    func nps(busDown: inout String?) -> Panel<NPSPanel> {
        let trend: JSONObject
        let request: JSONObject = ["days": .int(Int64(settings.trendDays)), "window": .string(settings.trendWindow)]
        switch ask("satisfaction.trend", request, plugin: "satisfaction", busDown: &busDown) {
        case .down(let reason): return .unavailable(reason)
        case .ok(let object): trend = object
        }
        var current: [NPSPanel.Current] = []
        if case .ok(let report) = ask("satisfaction.report", [:], plugin: "satisfaction", busDown: &busDown) {
            current = Self.currentNPS(report)
        }
        return .ready(Self.npsPanel(trend: trend, current: current))
    }

    static func npsPanel(trend: JSONObject, current: [NPSPanel.Current]) -> NPSPanel {
        let days = strings(trend["days"])
        func series(_ object: JSONObject, name: String) -> NPSPanel.Series {
            var nps: [Double?] = []
            var responses: [Int] = []
            for case .object(let point) in array(object["points"]) {
                nps.append(number(point["nps"]))
                responses.append(Int(number(point["responses"]) ?? 0))
            }
            return NPSPanel.Series(name: name, nps: nps, responses: responses)
        }
        var stores: [NPSPanel.Series] = []
        for case .object(let store) in array(trend["stores"]) {
            guard case .string(let id)? = store["storeId"] else { continue }
            stores.append(series(store, name: id))
        }
        var chain: NPSPanel.Series?
        if case .object(let object)? = trend["chain"] { chain = series(object, name: "whole chain") }
        var asOf: String?
        if case .string(let text)? = trend["asOf"] { asOf = text }
        var window = "1d"
        if case .string(let text)? = trend["window"] { window = text }
        return NPSPanel(days: days, stores: stores, chain: chain, current: current, asOf: asOf, window: window)
    }

    /// The first (shortest) window of `satisfaction.report` per store and for the chain.
    static func currentNPS(_ report: JSONObject) -> [NPSPanel.Current] {
        var rows: [(String, JSONObject)] = []
        for case .object(let store) in array(report["stores"]) {
            if case .string(let id)? = store["storeId"] { rows.append((id, store)) }
        }
        if case .object(let chain)? = report["chain"] { rows.append(("chain", chain)) }
        return rows.compactMap { id, object in
            guard case .object(let window)? = array(object["windows"]).first else { return nil }
            var name = ""
            if case .string(let text)? = window["window"] { name = text }
            return NPSPanel.Current(storeId: id, window: name, nps: number(window["nps"]), responses: Int(number(window["responses"]) ?? 0),
                                    trend: number(window["trend"]))
        }
    }

    func standing(busDown: inout String?) -> Panel<StandingAlerts> {
        switch ask("satisfaction.alerts", [:], plugin: "satisfaction", busDown: &busDown) {
        case .down(let reason): return .unavailable(reason)
        case .ok(let answer): return .ready(StandingAlerts(Self.standingRows(answer), limit: settings.standingShown))
        }
    }

    /// `satisfaction.alerts`' list as rows.
    static func standingRows(_ answer: JSONObject) -> [AlertRow] {
        array(answer["alerts"]).compactMap { item in
            guard case .object(let alert) = item else { return nil }
            func text(_ key: String) -> String? { if case .string(let value)? = alert[key] { value } else { nil } }
            return AlertRow(seq: 0, occurredAt: text("raisedAt") ?? "", state: "RAISED", severity: text("severity") ?? "info",
                            kind: text("rule") ?? text("kind") ?? "?", place: text("storeId") ?? "chain", customerId: text("customerId"),
                            message: text("message") ?? "")
        }
    }

    func campaigns(busDown: inout String?) -> Panel<CampaignsPanel> {
        switch ask("campaign.report", [:], plugin: "discount-campaigns", busDown: &busDown) {
        case .down(let reason): return .unavailable(reason)
        case .ok(let report): return .ready(Self.campaignsPanel(report))
        }
    }

    static func campaignsPanel(_ report: JSONObject) -> CampaignsPanel {
        func int(_ object: JSONObject, _ key: String) -> Int64? { if case .int(let n)? = object[key] { n } else { nil } }
        var rows: [CampaignRow] = []
        for case .object(let c) in array(report["campaigns"]) {
            guard case .string(let id)? = c["campaign"] else { continue }
            rows.append(CampaignRow(campaign: id, inRules: c["inRules"] == .bool(true), redemptions: int(c, "redemptions") ?? 0,
                                    discount: int(c, "discount") ?? 0, budget: int(c, "budget"), budgetLeft: int(c, "budgetLeft"),
                                    maxRedemptions: int(c, "maxRedemptions"), redemptionsLeft: int(c, "redemptionsLeft")))
        }
        var currency: String?
        if case .string(let code)? = report["currency"] { currency = code }
        return CampaignsPanel(currency: currency, campaigns: rows)
    }

    // MARK: customers (read-only SQLite, as `loyalty report customers`)

    func customers() -> Panel<CustomerScoresReport> {
        guard plugins.contains(CustomerScores.plugin) else {
            return .unavailable("The \(CustomerScores.plugin) plugin is not enabled (plugins.enabled in the configuration).")
        }
        do {
            return .ready(try CustomerScores.read(path: configuration.pluginDatabasePath(name: CustomerScores.plugin), top: settings.topCustomers))
        } catch let unavailable as CustomerScoresUnavailable {
            return .unavailable(unavailable.description)
        } catch {
            return .unavailable("Cannot read the customer scores: \(error)")
        }
    }

    // MARK: alerts

    var alertPanel: Panel<[AlertRow]> {
        if recentAlerts.isEmpty, let alertProblem { return .unavailable(alertProblem) }
        return .ready(recentAlerts.reversed())
    }

    /// True when the live feed has an alert past the cursor.
    mutating func waitForAlert(milliseconds: Int) -> Bool {
        guard let subscriber else {
            usleep(UInt32(milliseconds) * 1000)
            return false
        }
        var poller = Poller()
        poller.add(subscriber)
        var wake = false
        do {
            guard try poller.poll(timeoutMilliseconds: milliseconds)[0].contains(.readable) else { return false }
            while let frames = try subscriber.receive(dontWait: true) {
                if let event = PublishedEvent(frames: frames), event.seq > (alertCursor ?? 0) { wake = true }
            }
        } catch {
            logger.warning("dashboard: alert feed: \(error)")
        }
        return wake
    }

    /// Reads every alert after the cursor from the replay endpoint, in seq order: none missed
    /// (the journal has them all) and none shown twice (the cursor only moves forward).
    mutating func drainAlerts(stop: StopSignal) {
        guard let replay else { return }
        if alertCursor == nil {
            // First time: only the latest alerts, found in the journal file read-only.
            guard let start = AlertHistory.startOfLatest(settings.alertsKept, journalPath: configuration.journalPath) else {
                alertProblem = "No journal yet at \(configuration.journalPath): start the engine with `loyalty up`."
                return
            }
            alertCursor = start
        }
        var cursor = alertCursor ?? 0
        for _ in 0..<20 where !stop.isSet {
            let outcome: ReplayOutcome
            do {
                outcome = try ReplayFetch.fetch(replay, after: cursor, topics: AlertRecord.topics, limit: 500,
                                                timeoutMilliseconds: settings.requestTimeoutMilliseconds, shouldStop: { stop.isSet })
            } catch {
                alertProblem = "alert feed: \(error)"
                break
            }
            switch outcome {
            case .batch(let batch):
                alertProblem = nil
                for event in batch.events where event.seq > cursor {
                    if let alert = AlertRecord(event) { recentAlerts.append(AlertRow(alert)) }
                }
                if recentAlerts.count > settings.alertsKept { recentAlerts.removeFirst(recentAlerts.count - settings.alertsKept) }
                cursor = max(cursor, batch.scannedThrough)
                alertCursor = cursor
                if batch.scannedThrough >= batch.head { return }
            case .refused(let reason):
                alertProblem = "The bus refused the alert history request: \(reason)"
                return
            case .noAnswer:
                alertProblem = "The bus's replay endpoint \(configuration.bus.replay) is not answering; is `loyalty up` running?"
                return
            }
        }
    }
}

private func array(_ value: JSONValue?) -> [JSONValue] {
    if case .array(let items)? = value { return items }
    return []
}

private func strings(_ value: JSONValue?) -> [String] {
    array(value).compactMap { if case .string(let text) = $0 { text } else { nil } }
}

private func number(_ value: JSONValue?) -> Double? {
    switch value {
    case .int(let n)?: Double(n)
    case .double(let d)?: d
    default: nil
    }
}
