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
    /// one (about 0.5 KB each), whichever comes first.
    public struct CheckpointPolicy: Sendable {
        public var idleMilliseconds = 1000
        public var maximumEvents = 250_000
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
