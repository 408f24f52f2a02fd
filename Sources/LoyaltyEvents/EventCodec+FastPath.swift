// The single-pass fast path of `EventCodec.decode`.
//
// Why: the tree-based decoder allocates for every object, array and string and then walks the
// tree again; on the bus's hot path that cost dominated. This decoder reads the envelope and the
// purchase / return / survey payloads straight from the bytes: keys are compared byte-wise with the
// known field names (no String is built for a key), Strings are built only for values that are
// kept, and every rule is checked while scanning.
//
// Contract: it never throws and never decides an error. It returns nil as soon as anything is off
// or unusual (a syntax error, an unknown or duplicate or escaped key, a value of the wrong kind, a
// rule broken), and `EventCodec.decode` then runs the tree-based `decodeTree`, which produces the
// exact error. So the fast path only has to be right for valid input, and must never accept what
// `decodeTree` rejects; when in doubt it returns nil. `DifferentialTests` checks both directions.
//
// What it reuses from the tree parser (`_Parser`, whose position it shares): whitespace rules,
// strings with escapes or non-ASCII (validation + unescaping), and whole values of derived payloads.

private let quote: UInt8 = 0x22  // "
private let backslash: UInt8 = 0x5C  // \
private let comma: UInt8 = 0x2C
private let colon: UInt8 = 0x3A
private let openBrace: UInt8 = 0x7B, closeBrace: UInt8 = 0x7D
private let openBracket: UInt8 = 0x5B, closeBracket: UInt8 = 0x5D

struct _FastEventDecoder {
    /// Position, bounds and the shared helpers of the strict tree parser.
    var p: _Parser
    let limits: EventLimits

    /// The decoded event, or nil when `decodeTree` must decide (see the file comment).
    static func decode(_ bytes: UnsafeRawBufferPointer, limits: EventLimits) -> EventEnvelope? {
        guard bytes.count > 0, bytes.count <= limits.maxBytes else { return nil }
        var d = _FastEventDecoder(p: _Parser(bytes), limits: limits)
        return d.envelope()
    }

    @inline(__always) var b: UnsafePointer<UInt8> { p.base.unsafelyUnwrapped }

    // MARK: - Tokens

    /// Skips whitespace, then consumes `c` if it is next.
    @inline(__always) mutating func eat(_ c: UInt8) -> Bool {
        p.skipWhitespace()
        if p.i < p.end && b[p.i] == c {
            p.i += 1
            return true
        }
        return false
    }

    /// After a member value: true for ',', false for `close`; nil for anything else.
    @inline(__always) mutating func next(_ close: UInt8) -> Bool? {
        p.skipWhitespace()
        guard p.i < p.end else { return nil }
        let c = b[p.i]
        p.i += 1
        if c == comma { return true }
        if c == close { return false }
        return nil
    }

    /// Reads `"key":` and returns the index of the key in `names`. nil for an unknown key, and for
    /// any key with escapes or non-ASCII bytes (the tree path unescapes those; we don't bother).
    @inline(__always) mutating func key(_ names: FieldNames) -> Int? {
        p.skipWhitespace()
        guard p.i < p.end, b[p.i] == quote else { return nil }
        let start = p.i + 1
        var j = start
        while j < p.end {
            let c = b[j]
            if c == quote { break }
            if c == backslash || c < 0x20 || c >= 0x80 { return nil }
            j += 1
        }
        guard j < p.end else { return nil }
        p.i = j + 1
        guard eat(colon) else { return nil }
        p.skipWhitespace()
        let n = j - start
        guard n <= 16 else { return nil }  // longer than every field name
        var lo: UInt64 = 0, hi: UInt64 = 0
        if start + 16 <= p.end {
            // Two unaligned loads, then zero the bytes past the key.
            let raw = UnsafeRawPointer(b + start)
            lo = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
            hi = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            if n < 8 {
                lo &= (1 << (8 * UInt64(n))) &- 1
                hi = 0
            } else if n < 16 {
                hi &= (1 << (8 * UInt64(n - 8))) &- 1
            }
        } else {
            for k in 0..<n { FieldNames.add(b[start + k], at: k, &lo, &hi) }
        }
        return names.index(lo, hi)
    }

    /// Consumes the literal `null` if it is next (explicit null means absent for optional fields).
    @inline(__always) mutating func null() -> Bool {
        guard p.i + 4 <= p.end, b[p.i] == 0x6E, b[p.i + 1] == 0x75, b[p.i + 2] == 0x6C, b[p.i + 3] == 0x6C
        else { return false }
        p.i += 4
        return true
    }

    /// An integer literal that the tree parser would read as `.int`. Fractions, exponents and
    /// overflow (which it reads as `.double`, rejected by every integer field) give nil, as do
    /// syntax errors such as leading zeros.
    mutating func int() -> Int64? {
        var i = p.i
        let end = p.end
        guard i < end else { return nil }
        let negative = b[i] == 0x2D
        if negative { i += 1 }
        guard i < end, b[i] &- 0x30 < 10 else { return nil }
        var acc: Int64 = 0  // accumulated negatively, like the tree parser, so Int64.min fits
        if b[i] == 0x30 {
            i += 1
            if i < end && b[i] &- 0x30 < 10 { return nil }
        } else {
            while i < end {
                let d = b[i] &- 0x30
                guard d < 10 else { break }
                let (m, o1) = acc.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.subtractingReportingOverflow(Int64(d))
                if o1 || o2 { return nil }
                acc = s
                i += 1
            }
        }
        if i < end && (b[i] == 0x2E || b[i] == 0x65 || b[i] == 0x45) { return nil }
        if !negative && acc == Int64.min { return nil }
        p.i = i
        return negative ? acc : -acc
    }

    /// The bytes of a plain string (ASCII, no escapes, no control characters) starting at the
    /// opening quote, which it consumes. nil, without moving, for any other string.
    @inline(__always) mutating func plainString() -> UnsafeRawBufferPointer? {
        guard p.i < p.end, b[p.i] == quote else { return nil }
        let start = p.i + 1
        var j = start
        while j < p.end {
            let c = b[j]
            if c == quote {
                p.i = j + 1
                return UnsafeRawBufferPointer(start: b + start, count: j - start)
            }
            if c == backslash || c < 0x20 || c >= 0x80 { return nil }
            j += 1
        }
        return nil
    }

    /// Any string value: plain ones directly, others through the tree parser's string reader.
    mutating func string() -> String? {
        guard p.i < p.end, b[p.i] == quote else { return nil }
        if let raw = plainString() { return String(decoding: raw, as: UTF8.self) }
        do { return try p.parseString() } catch { return nil }
    }

    /// A valid id (see `EventCodec.checkId`).
    mutating func id() -> String? {
        guard p.i < p.end, b[p.i] == quote else { return nil }
        // Common case: the raw bytes are all id bytes (which excludes quotes, escapes, non-ASCII).
        let start = p.i + 1
        var j = start
        while j < p.end && EventCodec.isIdByte(b[j]) { j += 1 }
        if j < p.end && b[j] == quote && j > start && j - start <= 128 {
            p.i = j + 1
            return String(decoding: UnsafeRawBufferPointer(start: b + start, count: j - start), as: UTF8.self)
        }
        guard let s = string() else { return nil }
        return try? EventCodec.checkId(.string(s), "")
    }

    /// An optional id: null means absent. `.some(nil)` is "absent", nil is "invalid".
    mutating func optionalId() -> String?? {
        if null() { return .some(nil) }
        guard let s = id() else { return nil }
        return .some(s)
    }

    /// 1...maxLength printable characters (see `EventCodec.requirePrintable`).
    mutating func printable(maxLength: Int) -> String? {
        if let raw = plainString() {
            // Plain strings are ASCII, so one byte is one character; only DEL is left to reject.
            guard raw.count > 0 && raw.count <= maxLength else { return nil }
            for c in raw where c == 0x7F { return nil }
            return String(decoding: raw, as: UTF8.self)
        }
        guard let s = string() else { return nil }
        return try? EventCodec.requirePrintable(.string(s), "", maxLength: maxLength)
    }

    mutating func currency() -> CurrencyCode? {
        guard let s = string() else { return nil }
        return CurrencyCode(s)
    }

    /// An integer 0...10 (NPS and driver scores).
    mutating func score() -> Int? {
        guard let n = int(), n >= 0, n <= 10 else { return nil }
        return Int(n)
    }

    // MARK: - Envelope

    static let envelopeKeys = FieldNames(EventCodec.envelopeFields)

    mutating func envelope() -> EventEnvelope? {
        guard eat(openBrace) else { return nil }
        var seen: UInt32 = 0
        var hasVersion = false
        var eventId: String?, type: String?, occurredAt: Timestamp?, source: String?, seq: Int64?
        var payload: EventPayload?
        var earlyPayload: JSONObject?  // a payload that came before `type`
        if !eat(closeBrace) {
            while true {
                guard let k = key(Self.envelopeKeys) else { return nil }
                guard seen & (1 << k) == 0 else { return nil }  // duplicate key
                seen |= 1 << k
                switch k {  // indices in EventCodec.envelopeFields
                case 0:
                    guard int() == 1 else { return nil }
                    hasVersion = true
                case 1:
                    guard let s = id() else { return nil }
                    eventId = s
                case 2:
                    guard let s = string() else { return nil }
                    guard s == EventType.purchase || s == EventType.return || s == EventType.survey
                        || EventCodec.isDottedEventName(s)
                    else { return nil }
                    type = s
                case 3:
                    if let raw = plainString() {
                        guard case .success(let t) = Timestamp._parse(raw) else { return nil }
                        occurredAt = t
                    } else {
                        guard let s = string(), let t = try? Timestamp(rfc3339: s) else { return nil }
                        occurredAt = t
                    }
                case 4:
                    guard let s = printable(maxLength: 128) else { return nil }
                    source = s
                case 5:
                    if !null() {
                        guard let n = int(), n > 0 else { return nil }
                        seq = n
                    }
                default:
                    guard p.i < p.end, b[p.i] == openBrace else { return nil }
                    if let type {
                        guard let body = self.payload(type: type) else { return nil }
                        payload = body
                    } else {
                        guard let o = genericObject() else { return nil }
                        earlyPayload = o
                    }
                }
                guard let more = next(closeBrace) else { return nil }
                if !more { break }
            }
        }
        p.skipWhitespace()
        guard p.i == p.end else { return nil }
        guard hasVersion, let eventId, let type, let occurredAt, let source else { return nil }
        if payload == nil, let o = earlyPayload {
            // Rare field order: decode the already-parsed payload object with the tree decoders.
            switch type {
            case EventType.purchase: payload = (try? EventCodec.decodePurchase(o, limits: limits)).map { .purchase($0) }
            case EventType.return: payload = (try? EventCodec.decodeReturn(o, limits: limits)).map { .return($0) }
            case EventType.survey: payload = (try? EventCodec.decodeSurvey(o)).map { .survey($0) }
            default: payload = .derived(o)
            }
        }
        guard let payload else { return nil }
        return EventEnvelope(
            version: 1, eventId: eventId, type: type, occurredAt: occurredAt, source: source, seq: seq,
            payload: payload)
    }

    mutating func payload(type: String) -> EventPayload? {
        switch type {
        case EventType.purchase: return purchase().map { .purchase($0) }
        case EventType.return: return returnPayload().map { .return($0) }
        case EventType.survey: return survey().map { .survey($0) }
        default: return genericObject().map { .derived($0) }
        }
    }

    /// A derived payload is kept as a `JSONObject`, so it is parsed by the tree parser. Depth 1
    /// is the envelope, exactly as when the whole message is parsed as a tree.
    mutating func genericObject() -> JSONObject? {
        guard case .object(let o)? = try? p.parseValue(depth: 1) else { return nil }
        return o
    }

    // MARK: - Purchase

    static let purchaseKeys = FieldNames(EventCodec.purchaseFields)
    static let purchaseLineKeys = FieldNames(EventCodec.purchaseLineFields)

    mutating func purchase() -> Purchase? {
        guard eat(openBrace), !eat(closeBrace) else { return nil }
        var seen: UInt32 = 0
        var storeId: String?, terminalId: String?, receiptId: String?, customerId: String?
        var currency: CurrencyCode?, lines: [PurchaseLine]?, sum: Int64 = 0, discount: Int64 = 0, total: Int64?
        var quoteId: String?
        while true {
            guard let k = key(Self.purchaseKeys) else { return nil }
            guard seen & (1 << k) == 0 else { return nil }
            seen |= 1 << k
            switch k {  // indices in EventCodec.purchaseFields
            case 0: guard let s = id() else { return nil }; storeId = s
            case 1: guard let s = id() else { return nil }; terminalId = s
            case 2: guard let s = id() else { return nil }; receiptId = s
            case 3: guard let s = optionalId() else { return nil }; customerId = s
            case 4: guard let c = self.currency() else { return nil }; currency = c
            case 5: guard let (l, s) = purchaseLines() else { return nil }; lines = l; sum = s
            case 6:
                if !null() {
                    guard let n = int(), n >= 0 else { return nil }
                    discount = n
                }
            case 7: guard let n = int() else { return nil }; total = n
            case 8: guard let s = optionalId() else { return nil }; quoteId = s
            default: return nil  // couponCodes: rare, left to the tree decoder
            }
            guard let more = next(closeBrace) else { return nil }
            if !more { break }
        }
        guard let storeId, let terminalId, let receiptId, let currency, let lines, let total else { return nil }
        // discount ≤ sum, total ≥ 0 and total == sum − discount, as in `EventCodec.decodePurchase`.
        guard discount <= sum, total >= 0, total == sum - discount else { return nil }
        return Purchase(
            storeId: storeId, terminalId: terminalId, receiptId: receiptId, customerId: customerId,
            currency: currency, lines: lines, discount: discount, total: total, quoteId: quoteId)
    }

    /// The non-empty `lines` array (at most `limits.maxLines`) and the sum of its line amounts.
    mutating func purchaseLines() -> ([PurchaseLine], Int64)? {
        lineArray(reserving: 8, { $0.purchaseLine() }, quantity: \.quantity, unitPrice: \.unitPrice)
    }

    /// A non-empty array of lines of either kind, and the overflow-checked sum of quantity × unitPrice.
    @inline(__always)
    mutating func lineArray<Line>(
        reserving capacity: Int, _ parseLine: (inout Self) -> Line?,
        quantity: KeyPath<Line, Int64>, unitPrice: KeyPath<Line, Int64>
    ) -> ([Line], Int64)? {
        guard eat(openBracket), !eat(closeBracket) else { return nil }
        var lines: [Line] = []
        lines.reserveCapacity(capacity)
        var sum: Int64 = 0
        while true {
            guard lines.count < limits.maxLines, let line = parseLine(&self) else { return nil }
            let (amount, o1) = line[keyPath: quantity].multipliedReportingOverflow(by: line[keyPath: unitPrice])
            let (s, o2) = sum.addingReportingOverflow(amount)
            guard !o1, !o2 else { return nil }
            sum = s
            lines.append(line)
            guard let more = next(closeBracket) else { return nil }
            if !more { break }
        }
        return (lines, sum)
    }

    mutating func purchaseLine() -> PurchaseLine? {
        guard eat(openBrace), !eat(closeBrace) else { return nil }
        var seen: UInt32 = 0
        var sku: String?, category: String?, quantity: Int64?, unitPrice: Int64?, margin: Int64?
        while true {
            guard let k = key(Self.purchaseLineKeys) else { return nil }
            guard seen & (1 << k) == 0 else { return nil }
            seen |= 1 << k
            switch k {  // indices in EventCodec.purchaseLineFields
            case 0: guard let s = id() else { return nil }; sku = s
            case 1: guard let s = printable(maxLength: 64) else { return nil }; category = s
            case 2: guard let n = int(), n > 0 else { return nil }; quantity = n
            case 3: guard let n = int(), n >= 0 else { return nil }; unitPrice = n
            default:
                if !null() {
                    guard let n = int() else { return nil }
                    margin = n
                }
            }
            guard let more = next(closeBrace) else { return nil }
            if !more { break }
        }
        guard let sku, let category, let quantity, let unitPrice else { return nil }
        if let margin, margin > unitPrice { return nil }
        return PurchaseLine(sku: sku, category: category, quantity: quantity, unitPrice: unitPrice, margin: margin)
    }

    // MARK: - Return

    static let returnKeys = FieldNames(EventCodec.returnFields)
    static let returnLineKeys = FieldNames(EventCodec.returnLineFields)

    mutating func returnPayload() -> Return? {
        guard eat(openBrace), !eat(closeBrace) else { return nil }
        var seen: UInt32 = 0
        var storeId: String?, terminalId: String?, receiptId: String?, customerId: String?
        var originalEventId: String?, currency: CurrencyCode?, lines: [ReturnLine]?, sum: Int64 = 0
        var total: Int64?
        while true {
            guard let k = key(Self.returnKeys) else { return nil }
            guard seen & (1 << k) == 0 else { return nil }
            seen |= 1 << k
            switch k {  // indices in EventCodec.returnFields
            case 0: guard let s = id() else { return nil }; storeId = s
            case 1: guard let s = id() else { return nil }; terminalId = s
            case 2: guard let s = id() else { return nil }; receiptId = s
            case 3: guard let s = optionalId() else { return nil }; customerId = s
            case 4: guard let s = id() else { return nil }; originalEventId = s
            case 5: guard let c = self.currency() else { return nil }; currency = c
            case 6: guard let (l, s) = returnLines() else { return nil }; lines = l; sum = s
            default: guard let n = int() else { return nil }; total = n
            }
            guard let more = next(closeBrace) else { return nil }
            if !more { break }
        }
        guard let storeId, let terminalId, let receiptId, let originalEventId, let currency, let lines, let total
        else { return nil }
        guard total == sum else { return nil }
        return Return(
            storeId: storeId, terminalId: terminalId, receiptId: receiptId, customerId: customerId,
            originalEventId: originalEventId, currency: currency, lines: lines, total: total)
    }

    mutating func returnLines() -> ([ReturnLine], Int64)? {
        lineArray(reserving: 4, { $0.returnLine() }, quantity: \.quantity, unitPrice: \.unitPrice)
    }

    mutating func returnLine() -> ReturnLine? {
        guard eat(openBrace), !eat(closeBrace) else { return nil }
        var seen: UInt32 = 0
        var sku: String?, quantity: Int64?, unitPrice: Int64?
        while true {
            guard let k = key(Self.returnLineKeys) else { return nil }
            guard seen & (1 << k) == 0 else { return nil }
            seen |= 1 << k
            switch k {  // indices in EventCodec.returnLineFields
            case 0: guard let s = id() else { return nil }; sku = s
            case 1: guard let n = int(), n > 0 else { return nil }; quantity = n
            default: guard let n = int(), n >= 0 else { return nil }; unitPrice = n
            }
            guard let more = next(closeBrace) else { return nil }
            if !more { break }
        }
        guard let sku, let quantity, let unitPrice else { return nil }
        return ReturnLine(sku: sku, quantity: quantity, unitPrice: unitPrice)
    }

    // MARK: - Survey

    static let surveyKeys = FieldNames(EventCodec.surveyFields)
    static let driverKeys = FieldNames(Survey.driverNames)

    mutating func survey() -> Survey? {
        guard eat(openBrace), !eat(closeBrace) else { return nil }
        var seen: UInt32 = 0
        var storeId: String?, customerId: String?, nps: Int?, drivers: [String: Int] = [:]
        var comment: String?, relatedEventId: String?
        while true {
            guard let k = key(Self.surveyKeys) else { return nil }
            guard seen & (1 << k) == 0 else { return nil }
            seen |= 1 << k
            switch k {  // indices in EventCodec.surveyFields
            case 0: guard let s = id() else { return nil }; storeId = s
            case 1: guard let s = optionalId() else { return nil }; customerId = s
            case 2: guard let n = score() else { return nil }; nps = n
            case 3:
                if !null() {
                    guard let d = driverScores() else { return nil }
                    drivers = d
                }
            case 4:
                if !null() {
                    guard let s = string(), s.unicodeScalars.count <= 2000 else { return nil }
                    comment = s
                }
            default: guard let s = optionalId() else { return nil }; relatedEventId = s
            }
            guard let more = next(closeBrace) else { return nil }
            if !more { break }
        }
        guard let storeId, let nps else { return nil }
        return Survey(
            storeId: storeId, customerId: customerId, nps: nps, drivers: drivers, comment: comment,
            relatedEventId: relatedEventId)
    }

    /// `{"serviceLevel": 2, ...}`: known driver names only, each a score 0...10.
    mutating func driverScores() -> [String: Int]? {
        guard eat(openBrace) else { return nil }
        var scores: [String: Int] = [:]
        if eat(closeBrace) { return scores }
        var seen: UInt32 = 0
        while true {
            guard let k = key(Self.driverKeys) else { return nil }
            guard seen & (1 << k) == 0 else { return nil }
            seen |= 1 << k
            guard let n = score() else { return nil }
            scores[Survey.driverNames[k]] = n
            guard let more = next(closeBrace) else { return nil }
            if !more { break }
        }
        return scores
    }
}

/// The field names allowed in one kind of object, each packed into two little-endian 64-bit words
/// (zero-padded; every name is at most 16 bytes, and keys with NUL bytes never get here), so that a
/// key is matched with two integer comparisons per candidate instead of a String comparison.
/// Indices follow the list given, e.g. `EventCodec.purchaseFields`, which the decoders switch on.
struct FieldNames: Sendable {
    let lo: [UInt64]
    let hi: [UInt64]

    init(_ names: [String]) {
        var lo: [UInt64] = [], hi: [UInt64] = []
        for name in names {
            precondition(name.utf8.count <= 16, "field names must fit in 16 bytes")
            var l: UInt64 = 0, h: UInt64 = 0
            for (k, c) in name.utf8.enumerated() { FieldNames.add(c, at: k, &l, &h) }
            lo.append(l)
            hi.append(h)
        }
        self.lo = lo
        self.hi = hi
    }

    @inline(__always) static func add(_ c: UInt8, at k: Int, _ lo: inout UInt64, _ hi: inout UInt64) {
        if k < 8 { lo |= UInt64(c) << (8 * UInt64(k)) } else { hi |= UInt64(c) << (8 * UInt64(k - 8)) }
    }

    @inline(__always) func index(_ l: UInt64, _ h: UInt64) -> Int? {
        for k in lo.indices where lo[k] == l && hi[k] == h { return k }
        return nil
    }
}
