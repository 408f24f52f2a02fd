import Foundation
import Synchronization
import Logging
import LoyaltyWire
import ServiceLifecycle
import ZeroMQ

/// The bus: journal, ingest, publish, replay, service routing. `start()` binds everything and
/// returns once the endpoints accept connections; `stop()` finishes the batch in progress,
/// closes the sockets and returns.
public final class Bus: Sendable {
    public let configuration: BusConfiguration
    public let journal: Journal
    public let statistics = BusStatistics()
    /// The bus's Prometheus registry, served as `bus.metrics`.
    public let metrics: BusMetrics
    private let context: ZMQContext
    private let stopSignal = StopSignal()
    private let logger: Logger
    private let threads = ThreadBox()

    public init(configuration: BusConfiguration, logger: Logger, metrics: BusMetrics = BusMetrics()) throws {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        journal = try Journal(path: configuration.journalPath)
        context = try ZMQContext(ioThreadCPUs: configuration.requestCPUs)
    }

    public func start() throws {
        try configuration.checkSecurity()
        if let curve = configuration.curve {
            // ZAP first: a CURVE socket bound before its handler would let every client in.
            let authenticator = Authenticator(context: context, allowListPath: curve.allowListPath, stop: stopSignal,
                                              statistics: statistics, logger: logger)
            let gate = StartupGate()
            threads.add(OwnedThread(name: "bus.zap") { authenticator.run(startup: gate) })
            do { try gate.wait() } catch { stop(); throw error }
        }
        let queue = IngestQueue()
        let replies = try ReplyQueue()
        let writer = JournalWriter(journal: journal, maxBatch: configuration.maxBatch, queue: queue, replies: replies,
                                   stop: stopSignal, statistics: statistics, logger: logger)
        let front = FrontRouter(configuration: configuration, context: context, initialHead: try journal.head(),
                                queue: queue, replies: replies, stop: stopSignal, statistics: statistics, metrics: metrics,
                                logger: logger)
        let replay = ReplayServer(configuration: configuration, journal: journal, context: context,
                                  stop: stopSignal, logger: logger)
        let gates = (StartupGate(), StartupGate())
        let requestCPUs = configuration.requestCPUs, frontLogger = logger
        threads.add(OwnedThread(name: "bus.front") {
            do {
                try CPUAffinity.bindCurrentThread(to: requestCPUs)
            } catch {
                frontLogger.error("the router thread runs on any CPU: \(error)")
            }
            front.run(startup: gates.0)
        })
        do { try gates.0.wait() } catch { stop(); throw error }
        threads.add(OwnedThread(name: "bus.writer") { writer.run() })
        threads.add(OwnedThread(name: "bus.replay") { replay.run(startup: gates.1) })
        do { try gates.1.wait() } catch { stop(); throw error }
        let journal = self.journal, stopSignal = self.stopSignal, logger = self.logger
        let statistics = self.statistics, policy = configuration.checkpoint
        threads.add(OwnedThread(name: "bus.checkpoint") {
            // A checkpoint copies the WAL into the database file and fsyncs it, which slows the
            // commits that run meanwhile. So: when ingest is idle, or when the WAL has grown
            // past a bound; never on the commit path.
            var checkpointedAt = statistics.stored + statistics.duplicates
            var lastSeen = checkpointedAt
            var idleSince = Monotonic.now
            while !stopSignal.isSet {
                usleep(100_000)
                let written = statistics.stored + statistics.duplicates
                let now = Monotonic.now
                if written != lastSeen { lastSeen = written; idleSince = now }
                let pending = written - checkpointedAt
                guard pending > 0, pending >= policy.maximumEvents || now - idleSince >= policy.idleMilliseconds else { continue }
                do {
                    try journal.checkpoint()
                    checkpointedAt = written
                } catch {
                    logger.warning("journal checkpoint failed: \(error)")
                }
            }
        })
        logger.info("bus listening", metadata: [
            "ingest": "\(configuration.ingestEndpoint)", "publish": "\(configuration.publishEndpoint)",
            "replay": "\(configuration.replayEndpoint)", "journal": "\(configuration.journalPath)",
            "curve": "\(configuration.curve == nil ? "off (loopback only)" : "on, ZAP allow-list")",
            "head": "\((try? journal.head()) ?? 0)",
        ])
    }

    /// Stops the threads (each finishes what it holds) and waits for them. Blocks.
    public func stop() {
        stopSignal.set()
        threads.joinAll()
    }
}

/// The bus's threads, joined once at stop.
private final class ThreadBox: Sendable {
    private let threads = Mutex<[OwnedThread]>([])
    func add(_ thread: OwnedThread) { threads.withLock { $0.append(thread) } }
    func joinAll() {
        for thread in threads.withLock({ $0 }) { thread.join() }
    }
}

/// The bus as a `Service`: runs until graceful shutdown (SIGTERM, SIGINT), then stops cleanly.
public struct BusService: Service {
    let bus: Bus

    public init(bus: Bus) { self.bus = bus }

    public func run() async throws {
        let bus = self.bus
        try await runOffPool { try bus.start() }
        try? await gracefulShutdown()
        // stop() joins the bus threads (up to one poll interval): off the pool too.
        _ = try? await runOffPool { bus.stop() }
    }
}
