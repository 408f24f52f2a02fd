import ArgumentParser
import Foundation
import LoyaltyEvents
import LoyaltyMonitor
import LoyaltyWire
import Synchronization
import ZeroMQ

/// Set by SIGINT / SIGTERM; the follow loop checks it at least every 200 ms.
private let alertsStopRequested = Atomic<Bool>(false)

struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Show satisfaction alerts as they are raised and resolved, live, optionally starting from history.",
        discussion: """
            Prints the alert.raised, alert.resolved and alert.config events of the journal: what is \
            wrong, where, how serious, and what to do. Follows new alerts until Ctrl-C (exit status 0).

            Examples:
              # live from now on
              loyalty alerts
              # the last 24 hours, then live
              loyalty alerts --since 24h
              # a week of alerts as JSON lines, then exit
              loyalty alerts --since 7d --no-follow --json
              # S001's alerts of severity high or critical
              loyalty alerts --store S001 --severity high
              # churn-risk and valuable-detractor alerts only
              loyalty alerts --type churn-risk --type valuable-detractor

            With --since, every alert printed comes from the journal in order: none is missed or \
            printed twice when alerts arrive while the history is being read.
            """
    )

    enum Severity: String, ExpressibleByArgument, CaseIterable {
        case info, warning, high, critical
        var rank: Int { Self.allCases.firstIndex(of: self)! }
    }

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("Start from the alerts of this period (e.g. 30min, 24h, 7d, 2w) or since this RFC 3339 time, then continue live.",
                               valueName: "period-or-time"))
    var since: String?

    @Flag(inversion: .prefixedNo, help: "Keep following new alerts (the default); --no-follow exits after the history.")
    var follow = true

    @Option(name: .customLong("store"), help: ArgumentHelp("Only this store's alerts (repeatable); 'chain' for chain-wide ones.", valueName: "id"))
    var stores: [String] = []

    @Option(help: "Only alerts of this severity or higher: info, warning, high, critical.")
    var severity: Severity?

    @Option(name: .customLong("type"), help: ArgumentHelp(
        "Only this kind (survey, nps-below, nps-drop, detractor-surge, churn-risk, top-driver, config) or rule id (repeatable).", valueName: "kind-or-rule"))
    var types: [String] = []

    @Flag(help: "One JSON object per line (the event's payload with seq, type, eventId, occurredAt).")
    var json = false

    static let topics = AlertRecord.topics

    func validate() throws {
        if let since, Self.sinceCutoff(since, now: 0) == nil {
            throw ValidationError("--since: '\(since)' is neither a period such as 30min, 24h, 7d or 2w, nor an RFC 3339 time such as 2026-11-23T08:00:00Z")
        }
        if !follow && since == nil {
            throw ValidationError("--no-follow needs --since: without history there is nothing to show")
        }
    }

    /// Epoch milliseconds from which history is shown.
    static func sinceCutoff(_ text: String, now: Int64) -> Int64? {
        if let time = Timestamp.parse(text) { return time.epochMilliseconds }
        let units: [(String, Double)] = [("min", 60), ("s", 1), ("h", 3600), ("d", 86_400), ("w", 604_800)]
        for (unit, seconds) in units where text.hasSuffix(unit) {
            guard let number = Double(text.dropLast(unit.count)), number >= 0, number <= 36_500 * 86_400 / seconds else { return nil }
            return now - Int64(number * seconds * 1000)
        }
        return nil
    }

    func run() throws {
        let configuration = try options.loadConfiguration()
        signal(SIGPIPE, SIG_IGN)
        signal(SIGINT) { _ in alertsStopRequested.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in alertsStopRequested.store(true, ordering: .relaxed) }
        let context = try ZMQContext()
        let subscriber = try Socket(context: context, type: .sub)
        let replay = try Socket(context: context, type: .dealer)
        defer {
            subscriber.close()
            replay.close()
        }
        // Subscribe before reading the history, so nothing published meanwhile goes unnoticed.
        let curve = try configuration.clientSocketOptions()
        let key = configuration.security.curve ? configuration.security.clientKey : nil
        try subscriber.set(curve)
        try replay.set(curve)
        try subscriber.set([.receiveHighWaterMark(0), .subscribe(Array("alert.".utf8)), .subscribe(Array(WireCommand.headTopic.utf8))])
        try subscriber.connect(configuration.bus.publish)
        try replay.set([.reconnectInterval(milliseconds: 100)])
        try replay.connect(configuration.bus.replay)

        var printer = AlertPrinter(filter: AlertFilter(stores: Set(stores), minimumSeverity: severity?.rank, types: Set(types)),
                                   json: json, colour: !json && isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil)
        let now = Timestamp.now().epochMilliseconds
        var cursor: Int64 = 0
        if let since {
            printer.cutoff = Self.sinceCutoff(since, now: now)
        } else {
            // Live only: start at the journal's head.
            guard let head = try fetch(replay: replay, after: Int64.max / 2, endpoint: configuration.bus.replay, key: key)?.head else { return }
            cursor = head
        }
        // Every alert printed comes from the replay endpoint, in seq order, after the cursor; the
        // live feed only says when to ask (an alert or a head beacon beyond the cursor). So none is
        // missed (the journal has all) and none is printed twice (the cursor only moves forward).
        var announced = false
        var poller = Poller()
        poller.add(subscriber)
        var wake = true
        while !alertsStopRequested.load(ordering: .relaxed) {
            if wake {
                guard let reached = try drain(replay: replay, from: cursor, printer: &printer, endpoint: configuration.bus.replay, key: key) else {
                    if !follow { throw ExitCode(3) }
                    continue
                }
                cursor = reached
                wake = false
                if printer.broken { break }
                if !follow { break }
                if !announced {
                    printError("loyalty alerts: following live alerts after seq \(cursor) (Ctrl-C to stop)")
                    announced = true
                }
            }
            guard try poller.poll(timeoutMilliseconds: 200)[0].contains(.readable) else { continue }
            while let frames = try subscriber.receive(dontWait: true) {
                if frames.first?.frameText == WireCommand.headTopic {
                    if frames.count == 2, let head = Int64(frames[1].frameText), head > cursor { wake = true }
                } else if let event = PublishedEvent(frames: frames), event.seq > cursor {
                    wake = true
                }
            }
        }
    }

    /// One replay batch after `after`; nil (with a message) if the bus does not answer in 3 s.
    /// - Parameter key: the CURVE key in use (`security.clientKey`), nil on a plaintext bus.
    /// - Throws: `ExitCode(1)` when the bus says the key may not read: retrying cannot help.
    private func fetch(replay: Socket, after: Int64, endpoint: String, key: String?) throws -> ReplayBatch? {
        switch try ReplayFetch.fetch(replay, after: after, topics: Self.topics, shouldStop: { alertsStopRequested.load(ordering: .relaxed) }) {
        case .batch(let batch):
            return batch
        case .refused(let reason):
            printError("loyalty alerts: the bus refused the replay request: \(reason)")
            if reason.hasPrefix("not_permitted"), let key {
                printError("loyalty alerts: the command-line key '\(key)' may not read the journal: run `loyalty keys init` on the bus host "
                           + "(it gives that key +read), or set security.clientKey to a reader key (`loyalty keys add-reader NAME`)")
                throw ExitCode(1)
            }
            return nil
        case .noAnswer:
            if !alertsStopRequested.load(ordering: .relaxed) {
                // A CURVE bus never answers a key it refuses: say so, since it looks like a bus that is down.
                let curveHint = key.map { " With CURVE on, the bus also stays silent to a key it does not accept: check that '\($0)' is in the bus host's allowed.txt (`loyalty keys list`) and that this host has the bus's current bus.key." } ?? ""
                printError("loyalty alerts: no answer from the bus's replay endpoint \(endpoint) within 3 s; is 'loyalty up' running?\(curveHint)\(follow ? " Retrying." : "")")
            }
            return nil
        }
    }

    /// Prints every alert after `from` up to the journal's head; returns the new cursor.
    private func drain(replay: Socket, from: Int64, printer: inout AlertPrinter, endpoint: String, key: String?) throws -> Int64? {
        var cursor = from
        while !alertsStopRequested.load(ordering: .relaxed) {
            guard let batch = try fetch(replay: replay, after: cursor, endpoint: endpoint, key: key) else { return nil }
            for event in batch.events where event.seq > cursor {
                printer.show(event)
                if printer.broken { return cursor }
            }
            cursor = max(cursor, batch.scannedThrough)
            if batch.scannedThrough >= batch.head { return cursor }
        }
        return cursor
    }
}

/// Which alerts the user asked for.
struct AlertFilter {
    var stores: Set<String>
    var minimumSeverity: Int?
    var types: Set<String>

    func admits(kind: String, rule: String?, store: String?, severity: String?) -> Bool {
        if !stores.isEmpty && !stores.contains(store ?? "chain") { return false }
        if let minimumSeverity {
            guard let severity, let rank = AlertsCommand.Severity(rawValue: severity)?.rank, rank >= minimumSeverity else { return false }
        }
        if !types.isEmpty && !types.contains(kind) && !(rule.map(types.contains) ?? false) { return false }
        return true
    }
}

/// Turns alert events into lines, for people (aligned, coloured on a terminal) or as JSON.
struct AlertPrinter {
    let filter: AlertFilter
    let json: Bool
    let colour: Bool
    /// Alerts that occurred before this time (epoch ms) are not shown.
    var cutoff: Int64?
    /// Standard output is gone (a closed pipe): stop.
    private(set) var broken = false

    init(filter: AlertFilter, json: Bool, colour: Bool) {
        self.filter = filter
        self.json = json
        self.colour = colour
    }

    mutating func show(_ event: PublishedEvent) {
        guard let alert = AlertRecord(event) else { return }
        if let cutoff, alert.occurredAt.epochMilliseconds < cutoff { return }
        guard filter.admits(kind: alert.kind, rule: alert.rule, store: alert.storeId, severity: alert.severity) else { return }
        let line: String
        if json {
            var object: JSONObject = ["seq": .int(alert.seq), "type": .string(alert.type), "eventId": .string(alert.eventId),
                                      "occurredAt": .string(alert.occurredAt.rfc3339)]
            for (key, value) in alert.payload.pairs where object[key] == nil { object[key] = value }
            line = JSONWriter.serializeToString(.object(object))
        } else {
            let state = alert.state
            let severity = alert.severity ?? "-"
            let place = [alert.place, alert.customerId].compactMap { $0 }.joined(separator: " ")
            let what = alert.rule ?? alert.text("plugin") ?? alert.kind
            var head = "\(alert.occurredAt.rfc3339)  \(paint(pad(state, 8), state == "RESOLVED" ? "32" : state == "CONFIG" ? "35" : "1"))"
            head += "  \(paint(pad(severity, 8), Self.colour(severity: severity)))  \(pad(what, 20))  \(pad(place.isEmpty ? "-" : place, 14))"
            var lines = [head + "  " + (alert.message ?? "")]
            if alert.type == "alert.raised", let action = alert.action { lines.append("    " + paint("→ " + action, "2")) }
            if alert.type == "alert.resolved", let reason = alert.reason { lines.append("    " + paint("because " + reason, "2")) }
            line = lines.joined(separator: "\n")
        }
        broken = !Self.writeOut(line + "\n")
    }

    /// Writes straight to file descriptor 1, unbuffered, so each alert is out the moment it is
    /// known (also into a pipe). False once standard output is closed.
    static func writeOut(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            bytes = bytes.dropFirst(written)
        }
        return true
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    private func paint(_ text: String, _ code: String) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    static func colour(severity: String) -> String {
        switch severity {
        case "critical": "1;31"
        case "high": "31"
        case "warning": "33"
        default: "36"
        }
    }
}
