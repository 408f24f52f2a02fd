/// Ids on the bus are 1 to 128 characters of `A-Z a-z 0-9 . _ : / @ # -` (docs/protocol.md 5.1).
/// Customer ids and idempotency keys from payloads and requests are checked against that, and
/// the keys of derived events are shortened to a hash when the whole event id would pass 128.
enum Ids {
    static func isValid(_ id: String) -> Bool {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= 128 else { return false }
        return bytes.allSatisfy { c in
            (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39)
                || c == 0x2E || c == 0x5F || c == 0x3A || c == 0x2F || c == 0x40 || c == 0x23 || c == 0x2D
        }
    }

    /// `prefix/detail`, or `prefix/<hash of detail>` when `fixed` characters (the input's id and
    /// the plugin's part) plus the key would pass the bus's 128-character limit.
    static func key(_ prefix: String, _ detail: String, fixed: Int) -> String {
        let plain = "\(prefix)/\(detail)"
        if fixed + plain.utf8.count <= 128 { return plain }
        return "\(prefix)/\(hash(detail))"
    }

    /// FNV-1a, 64 bits, in hex: a stable short name, not a security measure.
    static func hash(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
