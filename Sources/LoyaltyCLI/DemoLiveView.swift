import Foundation
import LoyaltyEvents
import LoyaltyWire
import ZeroMQ

/// What the demo prints while it runs: alerts, tier changes and rewards as the bus publishes
/// them, and once a second a line with the simulated date and the running totals.
///
/// A busy chain raises far more events than a person can read, so each second shows at most a
/// few lines of each kind and counts the rest; the summary at the end has the exact figures from
/// the journal. Runs on its own thread: it owns the SUB socket.
struct DemoLiveView {
    let endpoint: String
    let socketOptions: [SocketOption]
    let progress: DemoProgress
    let start: Timestamp
    let days: Int
    let colour: Bool
    let stop: StopSignal

    static let topics = ["alert.raised", "reward.granted", "tier.changed", "campaign.redeemed"]
    /// Lines per second, per kind.
    static let linesPerSecond = ["alert.raised": 3, "tier.changed": 1, "reward.granted": 2]

    func run() throws {
        let context = try ZMQContext()
        let subscriber = try Socket(context: context, type: .sub)
        defer { subscriber.close() }
        try subscriber.set(socketOptions)
        try subscriber.set([.receiveHighWaterMark(0)] + Self.topics.map { .subscribe(Array($0.utf8)) })
        try subscriber.connect(endpoint)
        var poller = Poller()
        poller.add(subscriber)

        var totals: [String: Int] = [:]
        var shownThisSecond: [String: Int] = [:]
        var hidden = 0
        var nextTick = Monotonic.now + 1000
        while !stop.isSet {
            if try poller.poll(timeoutMilliseconds: 100)[0].contains(.readable) {
                while let frames = try subscriber.receive(dontWait: true) {
                    guard let event = PublishedEvent(frames: frames) else { continue }
                    totals[event.topic, default: 0] += 1
                    guard let limit = Self.linesPerSecond[event.topic] else { continue }
                    if shownThisSecond[event.topic, default: 0] < limit, let line = describe(event) {
                        shownThisSecond[event.topic, default: 0] += 1
                        write(line)
                    } else {
                        hidden += 1
                    }
                }
            }
            if Monotonic.now >= nextTick {
                nextTick += 1000
                write(tick(totals: totals, hidden: hidden))
                shownThisSecond = [:]
                hidden = 0
            }
        }
    }

    private func tick(totals: [String: Int], hidden: Int) -> String {
        let now = progress.simulatedNow.load(ordering: .relaxed)
        let day = min(days, Int((now - start.epochMilliseconds) / 86_400_000) + 1)
        let date = String(Timestamp(epochMilliseconds: now).rfc3339.prefix(10))
        var parts = ["\(date) (day \(day) of \(days))",
                     "\(grouped(progress.purchases.load(ordering: .relaxed))) purchases",
                     "\(grouped(totals["reward.granted", default: 0])) rewards",
                     "\(grouped(totals["tier.changed", default: 0])) tier changes",
                     "\(grouped(totals["campaign.redeemed", default: 0])) discounted baskets",
                     "\(grouped(totals["alert.raised", default: 0])) alerts"]
        if hidden > 0 { parts.append("(\(grouped(hidden)) more not shown)") }
        return paint("── " + parts.joined(separator: " · "), "2")
    }

    private func describe(_ event: PublishedEvent) -> String? {
        guard let envelope = try? EventCodec.decode(event.envelope), case .derived(let payload) = envelope.payload else { return nil }
        func text(_ key: String) -> String? {
            if case .string(let value)? = payload[key] { return value }
            return nil
        }
        let when = envelope.occurredAt.rfc3339.prefix(16).replacingOccurrences(of: "T", with: " ")
        switch event.topic {
        case "alert.raised":
            let severity = text("severity") ?? "-"
            let place = text("storeId") ?? text("customerId") ?? "chain"
            var line = "\(when)  \(paint("ALERT ", AlertPrinter.colour(severity: severity)))  \(pad(severity, 8)) \(pad(place, 8))  \(text("message") ?? "")"
            if let action = text("action") { line += paint("  → " + action, "2") }
            return line
        case "tier.changed":
            return "\(when)  \(paint("TIER  ", "35"))  \(pad(text("customerId") ?? "-", 17))  \(text("sentence") ?? "")"
        case "reward.granted":
            return "\(when)  \(paint("REWARD", "32"))  \(pad(text("customerId") ?? "-", 8)) \(pad(text("rule") ?? "-", 8))  \(text("sentence") ?? "")"
        default:
            return nil
        }
    }

    private func write(_ line: String) { say(line) }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    private func paint(_ text: String, _ code: String) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}

/// 12345 → "12,345".
func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (index, character) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
        out.append(character)
    }
    return value < 0 ? "-" + out : out
}
