import ZeroMQ

/// The frames spoken on the bus's endpoints. `docs/protocol.md` is the normative description;
/// this file is its single implementation on the Swift side.
public enum WireCommand {
    // Client (POS, plugin) → ingest ROUTER
    public static let event = "event"
    public static let request = "request"
    // Ingest ROUTER → client
    public static let ack = "ack"
    public static let reply = "reply"
    public static let error = "error"
    // Plugin worker ↔ ingest ROUTER (service routing)
    public static let ready = "ready"
    public static let heartbeat = "heartbeat"
    public static let disconnect = "disconnect"
    // Replay ROUTER
    public static let replay = "replay"
    public static let batch = "batch"
    public static let head = "head"
    /// Topic of the once-a-second beacon on PUB carrying the journal head.
    public static let headTopic = "$head"
}

/// What happened to a published event.
public enum AckStatus: String, Sendable, Equatable {
    /// Committed to the journal durably; `seq` is its place in the journal.
    case stored
    /// Its `eventId` was already stored; `seq` is the place of the first copy. Nothing changed.
    case duplicate
    /// Refused for a reason the producer must fix; retrying the same bytes will not help.
    case rejected
    /// The bus could not store it now (storage failure, shutting down); retry later.
    case unavailable
}

/// The bus's answer to one event: frames `ack, eventId, status, seq, code, message`.
public struct Ack: Sendable, Equatable, CustomStringConvertible {
    public var eventId: String
    public var status: AckStatus
    /// The journal sequence number (stored, duplicate), else 0.
    public var seq: Int64
    /// Machine-readable reason (`invalid_value`, `conflict`, `storage_failed` …), empty when stored.
    public var code: String
    /// A sentence for a person; empty when stored.
    public var message: String

    public init(eventId: String, status: AckStatus, seq: Int64 = 0, code: String = "", message: String = "") {
        self.eventId = eventId
        self.status = status
        self.seq = seq
        self.code = code
        self.message = message
    }

    public var frames: [Frame] {
        // The constant frames are made once: an ack is sent for every event.
        [Self.commandFrame, Frame(frame: eventId), Self.statusFrames[status]!,
         Frame(frame: String(seq)), code.isEmpty ? [] : Frame(frame: code), message.isEmpty ? [] : Frame(frame: message)]
    }

    private static let commandFrame = Frame(frame: WireCommand.ack)
    private static let statusFrames: [AckStatus: Frame] = [
        .stored: Frame(frame: AckStatus.stored.rawValue), .duplicate: Frame(frame: AckStatus.duplicate.rawValue),
        .rejected: Frame(frame: AckStatus.rejected.rawValue), .unavailable: Frame(frame: AckStatus.unavailable.rawValue),
    ]

    /// Parses the frames after the routing envelope; nil if they are not an ack.
    public init?(frames: [Frame]) {
        guard frames.count == 6, frames[0].frameText == WireCommand.ack,
              let status = AckStatus(rawValue: frames[2].frameText),
              let seq = Int64(frames[3].frameText) else { return nil }
        self.init(eventId: frames[1].frameText, status: status, seq: seq,
                  code: frames[4].frameText, message: frames[5].frameText)
    }

    public var description: String {
        switch status {
        case .stored, .duplicate: "\(eventId): \(status.rawValue) at seq \(seq)"
        case .rejected, .unavailable: "\(eventId.isEmpty ? "event" : eventId): \(status.rawValue) (\(code)): \(message)"
        }
    }
}

/// The outcome of a service request.
public enum ReplyStatus: String, Sendable, Equatable {
    case ok
    /// The service understood the request and refused it (body says why).
    case error
    /// No live plugin offers the service, or it stopped responding.
    case unavailable
    /// A plugin took the request but did not answer in time.
    case timeout
}

/// Frames `reply, requestId, status, body`.
public struct Reply: Sendable, Equatable {
    public var requestId: String
    public var status: ReplyStatus
    public var body: [UInt8]

    public init(requestId: String, status: ReplyStatus, body: [UInt8]) {
        self.requestId = requestId
        self.status = status
        self.body = body
    }

    public var frames: [Frame] {
        [Frame(frame: WireCommand.reply), Frame(frame: requestId), Frame(frame: status.rawValue), body]
    }

    public init?(frames: [Frame]) {
        guard frames.count == 4, frames[0].frameText == WireCommand.reply,
              let status = ReplyStatus(rawValue: frames[2].frameText) else { return nil }
        self.init(requestId: frames[1].frameText, status: status, body: frames[3])
    }

    public var bodyText: String { body.frameText }
}

/// Frames the PUB socket sends for one stored event: `topic, seq, envelope`.
public struct PublishedEvent: Sendable, Equatable {
    public var topic: String
    public var seq: Int64
    /// The envelope JSON with `seq` in it.
    public var envelope: [UInt8]

    public init(topic: String, seq: Int64, envelope: [UInt8]) {
        self.topic = topic
        self.seq = seq
        self.envelope = envelope
    }

    public var frames: [Frame] { [Frame(frame: topic), Frame(frame: String(seq)), envelope] }

    public init?(frames: [Frame]) {
        guard frames.count == 3, let seq = Int64(frames[1].frameText) else { return nil }
        self.init(topic: frames[0].frameText, seq: seq, envelope: frames[2])
    }
}

/// The replay endpoint's answer: `batch, scannedThrough, head, envelope…`.
/// Every event of the requested topics with `after < seq <= scannedThrough` is in `envelopes`.
public struct ReplayBatch: Sendable {
    public var scannedThrough: Int64
    public var head: Int64
    public var events: [PublishedEvent]

    public init(scannedThrough: Int64, head: Int64, events: [PublishedEvent]) {
        self.scannedThrough = scannedThrough
        self.head = head
        self.events = events
    }

    /// Each event travels as three frames, as on PUB: `topic, seq, envelope` (the seq is also
    /// inside the envelope; the frame spares a client parsing JSON to order events).
    public var frames: [Frame] {
        var frames: [Frame] = [Frame(frame: WireCommand.batch), Frame(frame: String(scannedThrough)), Frame(frame: String(head))]
        frames.reserveCapacity(3 + events.count * 3)
        for event in events { frames.append(contentsOf: event.frames) }
        return frames
    }

    public init?(frames: [Frame]) {
        guard frames.count >= 3, (frames.count - 3) % 3 == 0, frames[0].frameText == WireCommand.batch,
              let scanned = Int64(frames[1].frameText), let head = Int64(frames[2].frameText) else { return nil }
        var events: [PublishedEvent] = []
        events.reserveCapacity((frames.count - 3) / 3)
        var index = 3
        while index < frames.count {
            guard let event = PublishedEvent(frames: Array(frames[index..<index + 3])) else { return nil }
            events.append(event)
            index += 3
        }
        self.init(scannedThrough: scanned, head: head, events: events)
    }
}

/// A replay request: `replay, after, limit, topics` (topics comma-separated, empty for all).
public struct ReplayRequest: Sendable, Equatable {
    public var after: Int64
    public var limit: Int
    public var topics: [String]

    public init(after: Int64, limit: Int, topics: [String]) {
        self.after = after
        self.limit = limit
        self.topics = topics
    }

    public var frames: [Frame] {
        [Frame(frame: WireCommand.replay), Frame(frame: String(after)), Frame(frame: String(limit)),
         Frame(frame: topics.joined(separator: ","))]
    }
}
