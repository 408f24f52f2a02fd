import ArgumentParser
import Foundation
import LoyaltyConfig
import LoyaltyEvents
import LoyaltySimulation
import LoyaltyWire
import ZeroMQ

struct PosCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pos",
        abstract: "Act as a point-of-sale terminal: send one event, or simulate a whole chain.",
        subcommands: [PosSendCommand.self, PosSimulateCommand.self]
    )
}

struct PosSendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send one purchase (from flags) or any event (from JSON), retrying with the same eventId until acknowledged.",
        discussion: """
            Exit status: 0 stored or duplicate, 2 refused (the reason is printed), 3 no acknowledgement.

            Examples:
              loyalty pos send --store S001 --terminal T1 --receipt 000123 \\
                  --customer C000042 --line COF-001:coffee:2:3900 \\
                  --line BAK-001:bakery:1:2500
              loyalty pos send --json event.json
              echo '{"v":1,...}' | loyalty pos send --json -
            """
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("An event envelope as JSON ('-' for standard input). See docs/protocol.md.", valueName: "file"))
    var json: String?

    @Option(help: "Store id.") var store: String?
    @Option(help: "Terminal id.") var terminal: String?
    @Option(help: "Receipt number; with store and terminal it makes the eventId.") var receipt: String?
    @Option(help: "Loyalty card id (omit for an anonymous purchase).") var customer: String?
    @Option(name: .customLong("line"), help: ArgumentHelp("A purchase line sku:category:quantity:unitPrice[:margin], prices in minor units (øre, cents). Repeatable.", valueName: "line"))
    var lines: [String] = []
    @Option(help: "ISO 4217 currency code.") var currency = "NOK"
    @Option(help: "When it happened, RFC 3339 (default: now).") var at: String?

    @Option(help: "Attempts before giving up.") var attempts = 10
    @Option(help: "Milliseconds to wait for an acknowledgement per attempt.") var timeoutMs = 1000

    func run() throws {
        let configuration = try options.loadConfiguration()
        let body: [UInt8]
        if let json {
            let data = json == "-" ? FileHandle.standardInput.readDataToEndOfFile()
                                   : try Data(contentsOf: URL(fileURLWithPath: json))
            body = [UInt8](data)
        } else {
            body = EventCodec.encode(try purchaseFromFlags())
        }
        // Check locally first: the same validation as the bus, with the same message.
        let envelope: EventEnvelope
        do {
            envelope = try EventCodec.decode(body)
        } catch {
            printError("refused before sending: \(error)")
            throw ExitCode(2)
        }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: configuration.bus.ingest, options: try configuration.clientSocketOptions())
        do {
            let ack = try client.publish(body, eventId: envelope.eventId, attemptTimeoutMilliseconds: timeoutMs, maxAttempts: attempts)
            print(ack)
            switch ack.status {
            case .stored, .duplicate: return
            case .rejected: throw ExitCode(2)
            case .unavailable: throw ExitCode(3)
            }
        } catch let error as BusClientError {
            printError("\(error)")
            throw ExitCode(3)
        }
    }

    private func purchaseFromFlags() throws -> EventEnvelope {
        guard let store, let terminal, let receipt else {
            throw ValidationError("give --json FILE, or --store, --terminal and --receipt with one or more --line")
        }
        guard !lines.isEmpty else { throw ValidationError("a purchase needs at least one --line sku:category:quantity:unitPrice") }
        guard let code = CurrencyCode(currency) else { throw ValidationError("--currency: '\(currency)' is not an ISO 4217 code") }
        var parsed: [PurchaseLine] = []
        for (index, line) in lines.enumerated() {
            let parts = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4 || parts.count == 5, let quantity = Int64(parts[2]), let price = Int64(parts[3]) else {
                throw ValidationError("--line #\(index + 1) '\(line)': expected sku:category:quantity:unitPrice[:margin] with integer quantity and price in minor units")
            }
            let margin = parts.count == 5 ? Int64(parts[4]) : nil
            if parts.count == 5 && margin == nil { throw ValidationError("--line #\(index + 1): margin '\(parts[4])' is not an integer") }
            parsed.append(PurchaseLine(sku: parts[0], category: parts[1], quantity: quantity, unitPrice: price, margin: margin))
        }
        var total: Int64 = 0
        for line in parsed {
            let (amount, overflow) = line.quantity.multipliedReportingOverflow(by: line.unitPrice)
            guard !overflow else { throw ValidationError("--line \(line.sku): quantity × unitPrice is too large") }
            total += amount
        }
        let occurredAt: Timestamp
        if let at {
            guard let parsedTime = try? Timestamp(rfc3339: at) else { throw ValidationError("--at '\(at)': expected RFC 3339, e.g. 2026-11-23T10:00:00Z") }
            occurredAt = parsedTime
        } else {
            occurredAt = .now()
        }
        let purchase = Purchase(storeId: store, terminalId: terminal, receiptId: receipt, customerId: customer,
                                currency: code, lines: parsed, total: total)
        return EventEnvelope(eventId: "\(store)-\(terminal)-\(receipt)", occurredAt: occurredAt,
                             source: "pos/\(store)/\(terminal)", payload: .purchase(purchase))
    }
}

struct PosSimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Feed the bus a deterministic synthetic chain: loyal, occasional and churning customers, returns and surveys.",
        discussion: "The same --seed gives the same events; a second run with the same seed is acknowledged as duplicates. Use --run-tag to make a distinct run."
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "Events to send.") var count = 10_000
    @Option(help: "Events per second (0: as fast as the bus acknowledges).") var rate: Double = 0
    @Option(help: "Seed of the synthetic chain.") var seed: UInt64 = 42
    @Option(help: "Stores in the chain.") var stores = 5
    @Option(help: "Registered customers.") var customers = 2000
    @Option(help: "Events in flight at once.") var window = 1000
    @Option(help: "A tag put in every receipt number, to make runs with the same seed distinct.") var runTag = ""
    @Flag(help: "No progress bar.") var quiet = false
    @Option(help: ArgumentHelp("Write the events to this file as JSON lines instead of sending them (e.g. for 'loyalty rules simulate').", valueName: "file"))
    var output: String?

    func run() throws {
        let configuration = try options.loadConfiguration()
        var chain = ChainSimulator.Configuration()
        chain.seed = seed
        chain.stores = stores
        chain.customers = customers
        chain.runTag = runTag
        guard count > 0, stores > 0, customers > 0, window > 0 else { throw ValidationError("count, stores, customers and window must be positive") }
        let simulator = ChainSimulator(configuration: chain)
        if let output {
            try writeJSONLines(simulator.prefix(count), to: output)
            return
        }
        let events = simulator.prefix(count).lazy.map { OutgoingEvent(eventId: $0.eventId, envelope: EventCodec.encode($0)) }
        let context = try ZMQContext()
        let publisher = try PipelinedPublisher(context: context, endpoint: configuration.bus.ingest, window: window,
                                               options: try configuration.clientSocketOptions())
        let progress = ProgressBar(total: count, enabled: !quiet)
        let started = Date()
        var done = 0
        let summary = try publisher.publish(events, ratePerSecond: rate > 0 ? rate : nil, deadlineMilliseconds: 3_600_000, onAck: { _, _ in
            done += 1
            progress.update(done)
        })
        progress.finish()
        let seconds = Date().timeIntervalSince(started)
        print("sent \(count) events to \(configuration.bus.ingest) in \(String(format: "%.1f", seconds)) s (\(Int(Double(count) / max(seconds, 0.001))) events/s)")
        print("stored \(summary.stored), duplicates \(summary.duplicates), rejected \(summary.rejected.count), resent \(summary.resends), unacknowledged \(summary.unacknowledged.count)")
        for ack in summary.rejected.prefix(10) { print("  rejected: \(ack)") }
        if !summary.unacknowledged.isEmpty {
            printError("\(summary.unacknowledged.count) events got no acknowledgement; is the bus running? They are safe to send again.")
            throw ExitCode(3)
        }
        if !summary.rejected.isEmpty { throw ExitCode(2) }
    }
}

extension PosSimulateCommand {
    func writeJSONLines(_ events: some Sequence<EventEnvelope>, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("cannot create \(path)")
        }
        defer { try? handle.close() }
        var buffer: [UInt8] = []
        var written = 0
        for event in events {
            buffer += EventCodec.encode(event)
            buffer.append(0x0A)
            written += 1
            if buffer.count >= 1 << 20 {
                try handle.write(contentsOf: buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try handle.write(contentsOf: buffer)
        print("wrote \(written) events to \(path)")
    }
}

/// A one-line progress bar on standard error, redrawn at most ten times a second.
final class ProgressBar {
    let total: Int
    let enabled: Bool
    private var lastDraw = 0.0
    private let started = Date()

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled && isatty(STDERR_FILENO) == 1
    }

    func update(_ done: Int) {
        guard enabled else { return }
        let now = Date().timeIntervalSince(started)
        guard now - lastDraw >= 0.1 || done == total else { return }
        lastDraw = now
        let fraction = Double(done) / Double(max(total, 1))
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let rate = Double(done) / max(now, 0.001)
        FileHandle.standardError.write(Data("\r\(bar) \(done)/\(total) \(Int(rate))/s ".utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
