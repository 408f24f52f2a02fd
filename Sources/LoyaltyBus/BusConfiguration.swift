import LoyaltyEvents

/// Where the bus listens and keeps its journal, and the limits it enforces.
public struct BusConfiguration: Sendable {
    /// ROUTER: events and service requests in, acks and replies out; plugin workers register here.
    public var ingestEndpoint: String
    /// PUB: every stored event, as `topic, seq, envelope`.
    public var publishEndpoint: String
    /// ROUTER: "events after seq N".
    public var replayEndpoint: String
    public var journalPath: String
    /// At most this many events share one transaction (one fsync).
    public var maxBatch = 4096
    /// Events waiting for the journal writer beyond this are refused as `unavailable`.
    public var maxQueuedEvents = 200_000
    /// A replay batch holds at most this many events.
    public var maxReplayBatch = 5000
    public var limits: EventLimits = .default
    /// How often the bus and plugin workers exchange heartbeats, and after how long without
    /// one a worker is taken to be dead.
    public var heartbeatIntervalMilliseconds = 1000
    public var workerExpiryMilliseconds = 3500
    /// Service requests that name no timeout get this one.
    public var defaultRequestTimeoutMilliseconds = 3000

    /// When the journal's WAL is copied into the database file (a checkpoint): after
    /// `idleMilliseconds` without new events, or once `maximumEvents` arrived since the last
    /// one (about 0.5 KB each), whichever comes first. The checkpoint thread looks every 100 ms.
    ///
    /// Small and often: a checkpoint slows the commits that overlap it by about as long as it
    /// takes, so one of 250,000 events stalled acknowledgements for tens of milliseconds
    /// (`loyalty bench --events 1000 --seconds 40 --checkpoint-every N`, 10,000 events/s: p99
    /// 22.6–39.3 ms at 250,000; 11.4–15.8 ms at 10,000–20,000; 4.6–4.8 ms at 1,000, which at that
    /// rate is a checkpoint at every look), while the durable ingest rate stayed the same
    /// (125,000–143,000 events/s against 137,000–144,000).
    public struct CheckpointPolicy: Sendable {
        public var idleMilliseconds = 1000
        public var maximumEvents = 1_000
        public init() {}
    }
    public var checkpoint = CheckpointPolicy()

    /// CPUs for the router thread and the ZeroMQ I/O thread (`performance.requestCPUs`), the
    /// bus's part of every service request; empty: wherever the kernel puts them.
    public var requestCPUs: [Int] = []

    /// CURVE on every endpoint, with each connecting peer checked against an allow-list through
    /// ZAP. Required unless every endpoint is loopback (`EndpointScope.isLoopback`).
    public struct Curve: Sendable {
        /// The bus's own key pair (Z85).
        public var serverSecretKey: String
        /// The allow-list file (`config/keys/allowed.txt`), re-read when it changes.
        public var allowListPath: String
        public init(serverSecretKey: String, allowListPath: String) {
            self.serverSecretKey = serverSecretKey
            self.allowListPath = allowListPath
        }
    }
    public var curve: Curve?

    /// Events from one `source` (a terminal, a plugin) beyond this rate are refused with the ack
    /// status `unavailable`, code `rate_limited` (retry later), never dropped. nil: no limit.
    public var rateLimit: RateLimit?

    public init(ingestEndpoint: String, publishEndpoint: String, replayEndpoint: String, journalPath: String) {
        self.ingestEndpoint = ingestEndpoint
        self.publishEndpoint = publishEndpoint
        self.replayEndpoint = replayEndpoint
        self.journalPath = journalPath
    }
}
