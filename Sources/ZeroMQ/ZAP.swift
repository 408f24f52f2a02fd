import CZeroMQ

/// Z85, ZeroMQ's printable encoding of binary keys (RFC 32/Z85): 32 bytes ⇄ 40 characters.
public enum Z85 {
    /// Encodes bytes whose count is a multiple of 4; nil otherwise.
    public static func encode(_ bytes: [UInt8]) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        var text = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        let ok = bytes.withUnsafeBufferPointer { zmq_z85_encode(&text, $0.baseAddress, $0.count) != nil }
        guard ok else { return nil }
        return String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Decodes text whose length is a multiple of 5 and that uses only Z85 characters; nil otherwise.
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 5 == 0, utf8.allSatisfy({ alphabet.contains($0) }) else { return nil }
        var bytes = [UInt8](repeating: 0, count: utf8.count * 4 / 5)
        let ok = text.withCString { zmq_z85_decode(&bytes, $0) != nil }
        return ok ? bytes : nil
    }

    /// Whether `text` is a Z85-encoded CURVE key: 40 characters of the Z85 alphabet.
    public static func isKey(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { alphabet.contains($0) }
    }

    private static let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
}

/// The ZeroMQ Authentication Protocol (ZAP, RFC 27): libzmq asks a handler bound to
/// `ZAP.endpoint` in the same context whether to accept each new connection to a socket that
/// uses a security mechanism. Without a handler, a CURVE server accepts every client that knows
/// its public key: CURVE alone encrypts but authenticates nobody.
public enum ZAP {
    /// The inproc endpoint libzmq sends ZAP requests to.
    public static let endpoint = "inproc://zeromq.zap.01"

    /// One authentication request.
    public struct Request: Sendable, Equatable {
        public var requestId: Frame
        public var domain: String
        /// The peer's IP address, as libzmq reports it.
        public var address: String
        /// "NULL", "PLAIN" or "CURVE".
        public var mechanism: String
        /// CURVE: the client's long-term public key, Z85-encoded.
        public var clientPublicKey: String?

        /// Reads a request as libzmq sends it; nil for anything else.
        public init?(frames: [Frame]) {
            guard frames.count >= 6, frames[0].frameText == "1.0" else { return nil }
            requestId = frames[1]
            domain = frames[2].frameText
            address = frames[3].frameText
            mechanism = frames[5].frameText
            if mechanism == "CURVE" {
                guard frames.count == 7, frames[6].count == 32, let key = Z85.encode(frames[6]) else { return nil }
                clientPublicKey = key
            } else {
                clientPublicKey = nil
            }
        }

        /// The first frames of any request, enough to answer it even when it cannot be read.
        public static func requestId(of frames: [Frame]) -> Frame { frames.count > 1 ? frames[1] : [] }
    }

    /// The answer: 200 accepts the connection, 400 refuses it (libzmq then closes it).
    public static func reply(requestId: Frame, accepted: Bool, reason: String, userId: String = "") -> [Frame] {
        [Frame(frame: "1.0"), requestId, Frame(frame: accepted ? "200" : "400"), Frame(frame: reason),
         Frame(frame: accepted ? userId : ""), []]
    }
}
