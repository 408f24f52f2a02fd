/// Ids of events a plugin derives. Made from the input's id so that deriving again after a
/// crash gives the same id and the bus stores the event once; but an input id may itself be
/// up to 128 characters, the most the bus accepts. A derived id that would be longer keeps a
/// readable start and replaces the rest by a 128-bit hash of the whole, still deterministic.
enum DerivedEventId {
    static let maximumLength = 128

    static func make(_ full: String) -> String {
        guard full.utf8.count > maximumLength else { return full }
        // 48 + 1 + 1 + 32 characters: well inside the limit, and still says what it came from.
        let readable = String(decoding: full.utf8.prefix(48), as: UTF8.self)
        return "\(readable)/#\(hex(fnv1a(full)))\(hex(multiplyRotate(full)))"
    }

    private static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// A second, unrelated 64-bit hash, so that the two together make 128 bits.
    private static func multiplyRotate(_ text: String) -> UInt64 {
        var hash: UInt64 = 0x243F_6A88_85A3_08D3
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x9E37_79B9_7F4A_7C15
            hash = (hash << 27) | (hash >> 37)
        }
        hash ^= hash >> 31
        hash &*= 0xBF58_476D_1CE4_E5B9
        return hash ^ (hash >> 29)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
