import ArgumentParser
import Foundation
import Logging
import LoyaltyBus
import LoyaltyConfig
import LoyaltyEvents
import LoyaltySimulation
import LoyaltyWire
import Synchronization
import ZeroMQ

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks anyone can run: the bus (default), the scoring models, the rules and the points plugin.",
        subcommands: [BusBenchCommand.self, ScoringBenchCommand.self, RulesBenchCommand.self, PointsBenchCommand.self, CampaignsBenchCommand.self],
        defaultSubcommand: BusBenchCommand.self
    )
}

struct BusBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bus",
        abstract: "Measure the bus: durable ingest throughput, ack latency at a fixed rate, and libzmq's raw loopback rate for comparison.",
        discussion: """
            Runs a bus in this process on 127.0.0.1 with a journal in a temporary folder (deleted after), \
            and clients on their own threads. Build with -c release for meaningful figures:
              swift run -c release loyalty bench
            """
    )

    @Option(help: "Events for the throughput run.") var events = 200_000
    @Option(help: "Concurrent clients for the throughput run.") var clients = 4
    @Option(help: "Events in flight per client.") var window = 2000
    @Option(help: "Offered rate (events/s) for the latency run.") var rate: Double = 10_000
    @Option(help: "Seconds of the latency run.") var seconds: Double = 5
    @Option(help: "Folder for the temporary journal (default: the system's temporary folder).") var directory: String?
    @Flag(help: "Also time the bus's parts alone on one thread: decode, journal append, ack and publish framing.") var breakdown = false
    @Option(name: .customLong("checkpoint-every"), help: ArgumentHelp("Checkpoint the journal once this many events arrived since the last (the bus's checkpoint.maximumEvents).", valueName: "events"))
    var checkpointEvery = BusConfiguration.CheckpointPolicy().maximumEvents
    @Option(name: .customLong("request-cpus"), help: ArgumentHelp("CPUs for the bus's router and I/O threads (performance.requestCPUs): auto (the engine's default: the last CPU, given two or more), none, or numbers like 1.",
                                                               valueName: "cpus"))
    var requestCPUs: RequestCPUs = .auto

    func run() throws {
        try requestCPUs.validate()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        print("preparing \(events) purchases …")
        let prepared = Self.purchases(count: events + Int(rate * seconds), tag: "bench")
        let averageBytes = prepared.prefix(1000).map(\.envelope.count).reduce(0, +) / max(1, min(1000, prepared.count))
        let base = (directory ?? NSTemporaryDirectory()) + "/loyalty-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }

        if breakdown { try Self.breakdown(prepared.prefix(events), directory: base) }

        // 1. Raw libzmq: the same clients and window, a ROUTER that answers each message with an
        //    ack-sized reply and stores nothing.
        let raw = try Self.rawRoundTrips(messages: Array(prepared.prefix(events)), clients: clients, window: window)

        // 2. The bus, durably.
        let ports = (freeLoopbackPort(), freeLoopbackPort(), freeLoopbackPort())
        var configuration = BusConfiguration(
            ingestEndpoint: "tcp://127.0.0.1:\(ports.0)", publishEndpoint: "tcp://127.0.0.1:\(ports.1)",
            replayEndpoint: "tcp://127.0.0.1:\(ports.2)", journalPath: base + "/journal.sqlite")
        configuration.requestCPUs = requestCPUs.resolved(allowed: CPUAffinity.allowedCPUs())
        configuration.checkpoint.maximumEvents = checkpointEvery
        print(requestCPUs.report.replacingOccurrences(of: "engine's request path", with: "bus's router and I/O threads"))
        let bus = try Bus(configuration: configuration, logger: Logger(label: "bench.bus"))
        try bus.start()
        defer { bus.stop() }
        let throughput = try Self.throughput(events: Array(prepared.prefix(events)), endpoint: configuration.ingestEndpoint,
                                             clients: clients, window: window)
        let commits = bus.statistics.commits
        // The burst above left its WAL to checkpoint; do it now, so that the latency run measures
        // steady traffic rather than the copy of 100 MB (a checkpoint overlapping traffic costs
        // tens of milliseconds at p99: see the README).
        try bus.journal.checkpoint()
        let latencyEvents = Array(prepared.dropFirst(events))
        let latency = try Self.latency(events: latencyEvents, endpoint: configuration.ingestEndpoint, rate: rate)

        print("")
        print("message size: \(averageBytes) bytes (synthetic purchases, 1–4 lines)")
        print(String(format: "libzmq raw round trips (%d clients, window %d): %10.0f msg/s", clients, window, raw))
        print(String(format: "bus durable acks     (%d clients, window %d): %10.0f events/s  (%.2f of raw; %d stored in %d commits, %.0f events per fsync)",
                     clients, window, throughput.rate, throughput.rate / raw, throughput.stored, commits,
                     Double(throughput.stored) / Double(max(commits, 1))))
        print(String(format: "ack latency at %.0f events/s offered over %.0f s: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d acks)",
                     rate, seconds, latency.p50, latency.p99, latency.max, latency.count))
    }

    /// The single-thread cost of each step the journal writer takes per event.
    static func breakdown(_ events: ArraySlice<OutgoingEvent>, directory: String) throws {
        func time(_ label: String, _ body: () throws -> Void) rethrows {
            let start = Monotonic.nanoseconds
            try body()
            let perEvent = Double(Monotonic.nanoseconds - start) / Double(events.count)
            print(String(format: "  %-34@ %7.2f µs/event  (%9.0f/s)", label as NSString, perEvent / 1000, 1e9 / perEvent))
        }
        print("per-event cost on one thread, \(events.count) events:")
        var entries: [Journal.Entry] = []
        entries.reserveCapacity(events.count)
        try time("decode + validate") {
            for event in events {
                let envelope = try EventCodec.decode(event.envelope)
                entries.append(Journal.Entry(eventId: envelope.eventId, type: envelope.type,
                                             occurredAtMilliseconds: envelope.occurredAt.epochMilliseconds,
                                             customerId: envelope.customerId, body: event.envelope))
            }
        }
        let journal = try Journal(path: directory + "/breakdown.sqlite")
        var results: [Journal.AppendResult] = []
        try time("journal append (batches of 4096)") {
            var index = 0
            while index < entries.count {
                let batch = Array(entries[index..<min(index + 4096, entries.count)])
                results += try journal.append(batch, receivedAtMilliseconds: 0)
                index += 4096
            }
        }
        var frames = 0
        time("ack + publish framing") {
            for (index, result) in results.enumerated() {
                guard case .stored(let seq) = result else { continue }
                frames += Ack(eventId: entries[index].eventId, status: .stored, seq: seq).frames.count
                frames += PublishedEvent(topic: entries[index].type, seq: seq,
                                         envelope: EnvelopeSeq.insert(seq: seq, into: entries[index].body)).frames.count
            }
        }
    }

    static func purchases(count: Int, tag: String) -> [OutgoingEvent] {
        var chain = ChainSimulator.Configuration()
        chain.seed = 7
        chain.anonymousShare = 0.2
        chain.returnShare = 0
        chain.surveyShare = 0
        chain.runTag = "\(tag)\(getpid())"
        return ChainSimulator(configuration: chain).prefix(count).map { OutgoingEvent(eventId: $0.eventId, envelope: EventCodec.encode($0)) }
    }

    /// Splits events over `clients` threads, each a pipelined publisher; returns acked events/s.
    static func throughput(events: [OutgoingEvent], endpoint: String, clients: Int, window: Int) throws -> (rate: Double, stored: Int) {
        let context = try ZMQContext()
        let stored = Counter()
        let start = Monotonic.nanoseconds
        let threads = (0..<clients).map { client in
            let share = stride(from: client, to: events.count, by: clients).map { events[$0] }
            return OwnedThread(name: "bench.client.\(client)") {
                do {
                    let publisher = try PipelinedPublisher(context: context, endpoint: endpoint, window: window, resendAfterMilliseconds: 10_000)
                    let summary = try publisher.publish(share)
                    stored.add(summary.stored + summary.duplicates)
                } catch {
                    printError("client \(client): \(error)")
                }
            }
        }
        for thread in threads { thread.join() }
        let elapsed = Double(Monotonic.nanoseconds - start) / 1e9
        return (Double(stored.value) / elapsed, stored.value)
    }

    static func latency(events: [OutgoingEvent], endpoint: String, rate: Double) throws -> (p50: Double, p99: Double, max: Double, count: Int) {
        let context = try ZMQContext()
        let publisher = try PipelinedPublisher(context: context, endpoint: endpoint, window: 100_000, resendAfterMilliseconds: 10_000)
        var samples: [UInt64] = []
        samples.reserveCapacity(events.count)
        _ = try publisher.publish(events, ratePerSecond: rate, onAck: { _, nanoseconds in samples.append(nanoseconds) })
        samples.sort()
        func percentile(_ p: Double) -> Double {
            guard !samples.isEmpty else { return .nan }
            return Double(samples[min(samples.count - 1, Int(Double(samples.count) * p))]) / 1e6
        }
        return (percentile(0.5), percentile(0.99), Double(samples.last ?? 0) / 1e6, samples.count)
    }

    /// libzmq alone: DEALER clients → ROUTER that replies with a 6-frame ack-like message.
    static func rawRoundTrips(messages: [OutgoingEvent], clients: Int, window: Int) throws -> Double {
        let context = try ZMQContext()
        let endpoint = "tcp://127.0.0.1:\(freeLoopbackPort())"
        let stop = StopSignal()
        let gate = StartupGate()
        let server = OwnedThread(name: "bench.raw.server") {
            do {
                let router = try Socket(context: context, type: .router)
                try router.set([.sendHighWaterMark(0), .receiveHighWaterMark(0)])
                try router.bind(endpoint)
                gate.succeed()
                var poller = Poller()
                poller.add(router)
                while !stop.isSet {
                    guard try poller.poll(timeoutMilliseconds: 100)[0].contains(.readable) else { continue }
                    while let frames = try router.receive(dontWait: true) {
                        try router.send([frames[0]] + Ack(eventId: "x", status: .stored, seq: 1).frames)
                    }
                }
            } catch {
                gate.fail(error)
            }
        }
        try gate.wait()
        let done = Counter()
        let start = Monotonic.nanoseconds
        let threads = (0..<clients).map { client in
            let share = stride(from: client, to: messages.count, by: clients).map { messages[$0] }
            return OwnedThread(name: "bench.raw.client.\(client)") {
                do {
                    let dealer = try Socket(context: context, type: .dealer)
                    try dealer.set([.sendHighWaterMark(0), .receiveHighWaterMark(0)])
                    try dealer.connect(endpoint)
                    var sent = 0, received = 0
                    var poller = Poller()
                    poller.add(dealer)
                    while received < share.count {
                        while sent < share.count && sent - received < window {
                            try dealer.send([Frame(frame: WireCommand.event), share[sent].envelope])
                            sent += 1
                        }
                        _ = try poller.poll(timeoutMilliseconds: 100)
                        while let _ = try dealer.receive(dontWait: true) { received += 1 }
                    }
                    done.add(received)
                } catch {
                    printError("raw client \(client): \(error)")
                }
            }
        }
        for thread in threads { thread.join() }
        let elapsed = Double(Monotonic.nanoseconds - start) / 1e9
        stop.set()
        server.join()
        return Double(done.value) / elapsed
    }
}

/// A thread-safe counter for the benchmark's client threads.
final class Counter: Sendable {
    private let total = Mutex<Int>(0)
    func add(_ n: Int) { total.withLock { $0 += n } }
    var value: Int { total.withLock { $0 } }
}
