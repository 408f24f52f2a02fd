/// The JSON wire codec for `EventEnvelope`. Strict: unknown fields are rejected everywhere except
/// inside derived payloads.
public enum EventCodec {
    public static let envelopeFields = ["v", "eventId", "type", "occurredAt", "source", "seq", "payload"]
    public static let purchaseFields = [
        "storeId", "terminalId", "receiptId", "customerId", "currency", "lines", "discount", "total",
        "quoteId", "couponCodes",
    ]
    /// At most this many coupon codes on one purchase.
    public static let maxCouponCodes = 10
    public static let purchaseLineFields = ["sku", "category", "quantity", "unitPrice", "margin"]
    public static let returnFields = [
        "storeId", "terminalId", "receiptId", "customerId", "originalEventId", "currency", "lines", "total",
    ]
    public static let returnLineFields = ["sku", "quantity", "unitPrice"]
    public static let surveyFields = ["storeId", "customerId", "nps", "drivers", "comment", "relatedEventId"]

    public static func decode(
        _ bytes: UnsafeRawBufferPointer, limits: EventLimits = .default
    ) throws(EventValidationError) -> EventEnvelope {
        // Valid purchases, returns and surveys are decoded in one pass without building a tree
        // (EventCodec+FastPath.swift). Anything the fast path is unsure about, including every
        // invalid message, goes through the tree-based decoder below, which alone defines the
        // accepted language and the error reported.
        if let e = _FastEventDecoder.decode(bytes, limits: limits) { return e }
        return try decodeTree(bytes, limits: limits)
    }

    /// The reference decoder: parse into a `JSONValue` tree, then validate the tree.
    static func decodeTree(
        _ bytes: UnsafeRawBufferPointer, limits: EventLimits = .default
    ) throws(EventValidationError) -> EventEnvelope {
        if bytes.count > limits.maxBytes {
            throw EventValidationError(
                code: .tooLarge, field: "",
                message: "message is \(bytes.count) bytes, larger than the limit of \(limits.maxBytes) bytes")
        }
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw EventValidationError(code: .malformedJSON, field: "", message: error.description)
        }
        guard case .object(let obj) = root else {
            throw EventValidationError(
                code: .invalidValue, field: "", message: "an event must be a JSON object, got \(describe(root))")
        }
        return try decodeEnvelope(obj, limits: limits)
    }

    public static func decode(
        _ bytes: [UInt8], limits: EventLimits = .default
    ) throws(EventValidationError) -> EventEnvelope {
        do {
            return try bytes.withUnsafeBytes { buf in try decode(buf, limits: limits) }
        } catch let e as EventValidationError {
            throw e
        } catch {
            fatalError("unreachable: \(error)")
        }
    }

    public static func decode(
        _ text: String, limits: EventLimits = .default
    ) throws(EventValidationError) -> EventEnvelope {
        try decode(Array(text.utf8), limits: limits)
    }

    /// Compact JSON. Includes `seq` when set; omits absent optionals, a zero discount and empty drivers.
    public static func encode(_ e: EventEnvelope) -> [UInt8] {
        var w = JSONWriter(reservingCapacity: 384)
        w.bytes.append(0x7B)
        w.key("v", first: true); w.writeInt(Int64(e.version))
        w.key("eventId"); w.writeString(e.eventId)
        w.key("type"); w.writeString(e.type)
        w.key("occurredAt"); w.writeString(e.occurredAt.rfc3339)
        w.key("source"); w.writeString(e.source)
        if let seq = e.seq { w.key("seq"); w.writeInt(seq) }
        w.key("payload")
        switch e.payload {
        case .purchase(let p): encodePurchase(p, into: &w)
        case .return(let r): encodeReturn(r, into: &w)
        case .survey(let s): encodeSurvey(s, into: &w)
        case .derived(let o): w.write(o)
        }
        w.bytes.append(0x7D)
        return w.bytes
    }

    public static func encodeToString(_ e: EventEnvelope) -> String {
        String(decoding: encode(e), as: UTF8.self)
    }

    // MARK: - Envelope

    static func decodeEnvelope(_ obj: JSONObject, limits: EventLimits) throws(EventValidationError) -> EventEnvelope {
        var v: JSONValue?, eventId: JSONValue?, type: JSONValue?, occurredAt: JSONValue?
        var source: JSONValue?, seq: JSONValue?, payload: JSONValue?
        for k in 0..<obj.keys.count {
            let val = obj.values[k]
            switch obj.keys[k] {
            case "v": v = val
            case "eventId": eventId = val
            case "type": type = val
            case "occurredAt": occurredAt = val
            case "source": source = val
            case "seq": seq = val
            case "payload": payload = val
            case let key: throw unknownField(key, path: key, allowed: envelopeFields)
            }
        }
        guard let v = present(v) else { throw missing("v") }
        guard case .int(let version) = v else {
            throw EventValidationError(
                code: .invalidValue, field: "v", message: "must be the integer protocol version 1, got \(describe(v))")
        }
        guard version == 1 else {
            throw EventValidationError(
                code: .unsupportedVersion, field: "v",
                message: "protocol version \(version) is not supported; this bus speaks version 1")
        }
        let id = try requireId(eventId, "eventId")
        let typeName = try requireType(type)
        guard let occ = present(occurredAt) else { throw missing("occurredAt") }
        guard case .string(let occText) = occ else {
            throw invalid("occurredAt", "must be an RFC 3339 date-time string such as 2026-11-23T10:00:00.000Z, got \(describe(occ))")
        }
        let ts: Timestamp
        do {
            ts = try Timestamp(rfc3339: occText)
        } catch {
            throw invalid("occurredAt", "\(error.message) (e.g. 2026-11-23T10:00:00.000Z), got \(quote(occText))")
        }
        let src = try requirePrintable(source, "source", maxLength: 128)
        var seqNumber: Int64?
        if let s = present(seq) {
            guard case .int(let n) = s, n > 0 else {
                throw invalid("seq", "must be a positive integer, got \(describe(s))")
            }
            seqNumber = n
        }
        guard let p = present(payload) else { throw missing("payload") }
        guard case .object(let po) = p else {
            throw invalid("payload", "must be a JSON object, got \(describe(p))")
        }
        let body: EventPayload
        switch typeName {
        case EventType.purchase: body = .purchase(try decodePurchase(po, limits: limits))
        case EventType.return: body = .return(try decodeReturn(po, limits: limits))
        case EventType.survey: body = .survey(try decodeSurvey(po))
        default: body = .derived(po)
        }
        return EventEnvelope(
            version: 1, eventId: id, type: typeName, occurredAt: ts, source: src, seq: seqNumber, payload: body)
    }

    static func requireType(_ value: JSONValue?) throws(EventValidationError) -> String {
        guard let value = present(value) else { throw missing("type") }
        guard case .string(let s) = value else { throw invalid("type", "must be a string, got \(describe(value))") }
        if s == EventType.purchase || s == EventType.return || s == EventType.survey { return s }
        if isDottedEventName(s) { return s }
        var msg = "must be 'purchase', 'return', 'survey' or a dotted lowercase name such as 'points.accrued' (at most 64 characters), got \(quote(s))"
        if let guess = suggestion(for: s, among: [EventType.purchase, EventType.return, EventType.survey]) {
            msg += " — did you mean '\(guess)'?"
        }
        throw invalid("type", msg)
    }

    /// `^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$`, at most 64 bytes.
    static func isDottedEventName(_ s: String) -> Bool {
        let u = s.utf8
        guard u.count <= 64 else { return false }
        var segments = 0
        var atSegmentStart = true
        for c in u {
            if atSegmentStart {
                guard c >= 0x61 && c <= 0x7A else { return false }
                atSegmentStart = false
                segments += 1
            } else if c == 0x2E {
                atSegmentStart = true
            } else {
                guard (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D else { return false }
            }
        }
        return !atSegmentStart && segments >= 2
    }

    // MARK: - Purchase

    static func decodePurchase(_ o: JSONObject, limits: EventLimits) throws(EventValidationError) -> Purchase {
        var storeId: JSONValue?, terminalId: JSONValue?, receiptId: JSONValue?, customerId: JSONValue?
        var currency: JSONValue?, lines: JSONValue?, discount: JSONValue?, total: JSONValue?
        var quoteId: JSONValue?, couponCodes: JSONValue?
        for k in 0..<o.keys.count {
            let val = o.values[k]
            switch o.keys[k] {
            case "storeId": storeId = val
            case "terminalId": terminalId = val
            case "receiptId": receiptId = val
            case "customerId": customerId = val
            case "currency": currency = val
            case "lines": lines = val
            case "discount": discount = val
            case "total": total = val
            case "quoteId": quoteId = val
            case "couponCodes": couponCodes = val
            case let key: throw unknownField(key, path: "payload." + key, allowed: purchaseFields)
            }
        }
        let store = try requireId(storeId, "payload.storeId")
        let terminal = try requireId(terminalId, "payload.terminalId")
        let receipt = try requireId(receiptId, "payload.receiptId")
        let customer = try optionalId(customerId, "payload.customerId")
        let quote = try optionalId(quoteId, "payload.quoteId")
        var codes: [String] = []
        if let c = present(couponCodes) {
            guard case .array(let items) = c, items.count <= maxCouponCodes else {
                throw invalid("payload.couponCodes", "must be an array of at most \(maxCouponCodes) codes, got \(describe(c))")
            }
            for (n, item) in items.enumerated() { codes.append(try checkId(item, "payload.couponCodes[\(n)]")) }
        }
        let cur = try requireCurrency(currency, "payload.currency")
        let items = try requireLines(lines, limits: limits)
        var parsed: [PurchaseLine] = []
        parsed.reserveCapacity(items.count)
        var sum: Int64 = 0
        for (n, item) in items.enumerated() {
            func path() -> String { "payload.lines[\(n)]" }
            guard case .object(let lo) = item else { throw invalid(path(), "must be a JSON object, got \(describe(item))") }
            let line = try decodePurchaseLine(lo, path: path())
            let (amount, o1) = line.quantity.multipliedReportingOverflow(by: line.unitPrice)
            if o1 {
                throw invalid(path(), "quantity × unitPrice (\(line.quantity) × \(line.unitPrice)) overflows a 64-bit integer")
            }
            let (s, o2) = sum.addingReportingOverflow(amount)
            if o2 { throw invalid("payload.lines", "the sum of the line amounts overflows a 64-bit integer") }
            sum = s
            parsed.append(line)
        }
        var disc: Int64 = 0
        if let d = present(discount) {
            guard case .int(let n) = d, n >= 0 else {
                throw invalid("payload.discount", "must be a non-negative integer in minor units, got \(describe(d))")
            }
            disc = n
        }
        guard let t = present(total) else { throw missing("payload.total") }
        guard case .int(let totalValue) = t else {
            throw invalid("payload.total", "must be an integer in minor units, got \(describe(t))")
        }
        if disc > sum {
            throw invalid("payload.discount", "must not exceed the sum of the lines (\(sum)), got \(disc)")
        }
        if totalValue < 0 { throw invalid("payload.total", "must not be negative, got \(totalValue)") }
        let expected = sum - disc  // cannot overflow: 0 <= disc <= sum
        if totalValue != expected {
            throw invalid(
                "payload.total",
                "must equal the sum of quantity × unitPrice over the lines minus discount (\(sum) − \(disc) = \(expected)), got \(totalValue)"
            )
        }
        return Purchase(
            storeId: store, terminalId: terminal, receiptId: receipt, customerId: customer, currency: cur,
            lines: parsed, discount: disc, total: totalValue, quoteId: quote, couponCodes: codes)
    }

    static func decodePurchaseLine(_ o: JSONObject, path: @autoclosure () -> String) throws(EventValidationError) -> PurchaseLine {
        var sku: JSONValue?, category: JSONValue?, quantity: JSONValue?, unitPrice: JSONValue?, margin: JSONValue?
        for k in 0..<o.keys.count {
            let val = o.values[k]
            switch o.keys[k] {
            case "sku": sku = val
            case "category": category = val
            case "quantity": quantity = val
            case "unitPrice": unitPrice = val
            case "margin": margin = val
            case let key: throw unknownField(key, path: path() + "." + key, allowed: purchaseLineFields)
            }
        }
        let s = try requireId(sku, path() + ".sku")
        let c = try requirePrintable(category, path() + ".category", maxLength: 64)
        let q = try requirePositive(quantity, path() + ".quantity")
        let p = try requireNonNegative(unitPrice, path() + ".unitPrice")
        var m: Int64?
        if let mv = present(margin) {
            guard case .int(let n) = mv else {
                throw invalid(path() + ".margin", "must be an integer in minor units per unit, got \(describe(mv))")
            }
            guard n <= p else {
                throw invalid(path() + ".margin", "must not exceed unitPrice (\(p)), got \(n)")
            }
            m = n
        }
        return PurchaseLine(sku: s, category: c, quantity: q, unitPrice: p, margin: m)
    }

    static func encodePurchase(_ p: Purchase, into w: inout JSONWriter) {
        w.bytes.append(0x7B)
        w.key("storeId", first: true); w.writeString(p.storeId)
        w.key("terminalId"); w.writeString(p.terminalId)
        w.key("receiptId"); w.writeString(p.receiptId)
        if let c = p.customerId { w.key("customerId"); w.writeString(c) }
        w.key("currency"); w.writeString(p.currency.code)
        w.key("lines")
        w.bytes.append(0x5B)
        for (n, l) in p.lines.enumerated() {
            if n > 0 { w.bytes.append(0x2C) }
            w.bytes.append(0x7B)
            w.key("sku", first: true); w.writeString(l.sku)
            w.key("category"); w.writeString(l.category)
            w.key("quantity"); w.writeInt(l.quantity)
            w.key("unitPrice"); w.writeInt(l.unitPrice)
            if let m = l.margin { w.key("margin"); w.writeInt(m) }
            w.bytes.append(0x7D)
        }
        w.bytes.append(0x5D)
        if p.discount != 0 { w.key("discount"); w.writeInt(p.discount) }
        w.key("total"); w.writeInt(p.total)
        if let q = p.quoteId { w.key("quoteId"); w.writeString(q) }
        if !p.couponCodes.isEmpty {
            w.key("couponCodes")
            w.bytes.append(0x5B)
            for (n, code) in p.couponCodes.enumerated() {
                if n > 0 { w.bytes.append(0x2C) }
                w.writeString(code)
            }
            w.bytes.append(0x5D)
        }
        w.bytes.append(0x7D)
    }

    // MARK: - Return

    static func decodeReturn(_ o: JSONObject, limits: EventLimits) throws(EventValidationError) -> Return {
        var storeId: JSONValue?, terminalId: JSONValue?, receiptId: JSONValue?, customerId: JSONValue?
        var originalEventId: JSONValue?, currency: JSONValue?, lines: JSONValue?, total: JSONValue?
        for k in 0..<o.keys.count {
            let val = o.values[k]
            switch o.keys[k] {
            case "storeId": storeId = val
            case "terminalId": terminalId = val
            case "receiptId": receiptId = val
            case "customerId": customerId = val
            case "originalEventId": originalEventId = val
            case "currency": currency = val
            case "lines": lines = val
            case "total": total = val
            case let key: throw unknownField(key, path: "payload." + key, allowed: returnFields)
            }
        }
        let store = try requireId(storeId, "payload.storeId")
        let terminal = try requireId(terminalId, "payload.terminalId")
        let receipt = try requireId(receiptId, "payload.receiptId")
        let customer = try optionalId(customerId, "payload.customerId")
        let original = try requireId(originalEventId, "payload.originalEventId")
        let cur = try requireCurrency(currency, "payload.currency")
        let items = try requireLines(lines, limits: limits)
        var parsed: [ReturnLine] = []
        parsed.reserveCapacity(items.count)
        var sum: Int64 = 0
        for (n, item) in items.enumerated() {
            func path() -> String { "payload.lines[\(n)]" }
            guard case .object(let lo) = item else { throw invalid(path(), "must be a JSON object, got \(describe(item))") }
            var sku: JSONValue?, quantity: JSONValue?, unitPrice: JSONValue?
            for k in 0..<lo.keys.count {
                let val = lo.values[k]
                switch lo.keys[k] {
                case "sku": sku = val
                case "quantity": quantity = val
                case "unitPrice": unitPrice = val
                case let key: throw unknownField(key, path: path() + "." + key, allowed: returnLineFields)
                }
            }
            let s = try requireId(sku, path() + ".sku")
            let q = try requirePositive(quantity, path() + ".quantity")
            let p = try requireNonNegative(unitPrice, path() + ".unitPrice")
            let (amount, o1) = q.multipliedReportingOverflow(by: p)
            if o1 { throw invalid(path(), "quantity × unitPrice (\(q) × \(p)) overflows a 64-bit integer") }
            let (s2, o2) = sum.addingReportingOverflow(amount)
            if o2 { throw invalid("payload.lines", "the sum of the line amounts overflows a 64-bit integer") }
            sum = s2
            parsed.append(ReturnLine(sku: s, quantity: q, unitPrice: p))
        }
        guard let t = present(total) else { throw missing("payload.total") }
        guard case .int(let totalValue) = t else {
            throw invalid("payload.total", "must be an integer in minor units, got \(describe(t))")
        }
        if totalValue != sum {
            throw invalid("payload.total", "must equal the sum of quantity × unitPrice over the lines (\(sum)), got \(totalValue)")
        }
        return Return(
            storeId: store, terminalId: terminal, receiptId: receipt, customerId: customer,
            originalEventId: original, currency: cur, lines: parsed, total: totalValue)
    }

    static func encodeReturn(_ r: Return, into w: inout JSONWriter) {
        w.bytes.append(0x7B)
        w.key("storeId", first: true); w.writeString(r.storeId)
        w.key("terminalId"); w.writeString(r.terminalId)
        w.key("receiptId"); w.writeString(r.receiptId)
        if let c = r.customerId { w.key("customerId"); w.writeString(c) }
        w.key("originalEventId"); w.writeString(r.originalEventId)
        w.key("currency"); w.writeString(r.currency.code)
        w.key("lines")
        w.bytes.append(0x5B)
        for (n, l) in r.lines.enumerated() {
            if n > 0 { w.bytes.append(0x2C) }
            w.bytes.append(0x7B)
            w.key("sku", first: true); w.writeString(l.sku)
            w.key("quantity"); w.writeInt(l.quantity)
            w.key("unitPrice"); w.writeInt(l.unitPrice)
            w.bytes.append(0x7D)
        }
        w.bytes.append(0x5D)
        w.key("total"); w.writeInt(r.total)
        w.bytes.append(0x7D)
    }

    // MARK: - Survey

    static func decodeSurvey(_ o: JSONObject) throws(EventValidationError) -> Survey {
        var storeId: JSONValue?, customerId: JSONValue?, nps: JSONValue?, drivers: JSONValue?
        var comment: JSONValue?, relatedEventId: JSONValue?
        for k in 0..<o.keys.count {
            let val = o.values[k]
            switch o.keys[k] {
            case "storeId": storeId = val
            case "customerId": customerId = val
            case "nps": nps = val
            case "drivers": drivers = val
            case "comment": comment = val
            case "relatedEventId": relatedEventId = val
            case let key: throw unknownField(key, path: "payload." + key, allowed: surveyFields)
            }
        }
        let store = try requireId(storeId, "payload.storeId")
        let customer = try optionalId(customerId, "payload.customerId")
        let score = try requireScore(nps, "payload.nps")
        var driverScores: [String: Int] = [:]
        if let d = present(drivers) {
            guard case .object(let dobj) = d else {
                throw invalid("payload.drivers", "must be a JSON object of scores 0-10, got \(describe(d))")
            }
            for k in 0..<dobj.keys.count {
                let key = dobj.keys[k]
                let path = "payload.drivers." + key
                guard Survey.driverNames.contains(key) else {
                    throw unknownField(key, path: path, allowed: Survey.driverNames)
                }
                driverScores[key] = try requireScore(dobj.values[k], path)
            }
        }
        var text: String?
        if let c = present(comment) {
            guard case .string(let s) = c else { throw invalid("payload.comment", "must be a string, got \(describe(c))") }
            let n = s.unicodeScalars.count
            guard n <= 2000 else {
                throw invalid("payload.comment", "must be at most 2000 characters, got \(n)")
            }
            text = s
        }
        let related = try optionalId(relatedEventId, "payload.relatedEventId")
        return Survey(
            storeId: store, customerId: customer, nps: score, drivers: driverScores, comment: text,
            relatedEventId: related)
    }

    static func encodeSurvey(_ s: Survey, into w: inout JSONWriter) {
        w.bytes.append(0x7B)
        w.key("storeId", first: true); w.writeString(s.storeId)
        if let c = s.customerId { w.key("customerId"); w.writeString(c) }
        w.key("nps"); w.writeInt(Int64(s.nps))
        if !s.drivers.isEmpty {
            w.key("drivers")
            w.bytes.append(0x7B)
            for (n, k) in s.drivers.keys.sorted().enumerated() {
                w.key(k, first: n == 0)
                w.writeInt(Int64(s.drivers[k]!))
            }
            w.bytes.append(0x7D)
        }
        if let c = s.comment { w.key("comment"); w.writeString(c) }
        if let r = s.relatedEventId { w.key("relatedEventId"); w.writeString(r) }
        w.bytes.append(0x7D)
    }

    // MARK: - Field helpers

    /// An explicit JSON null counts as absent.
    @inline(__always) static func present(_ v: JSONValue?) -> JSONValue? {
        guard let v else { return nil }
        if case .null = v { return nil }
        return v
    }

    static func missing(_ path: @autoclosure () -> String) -> EventValidationError {
        EventValidationError(code: .missingField, field: path(), message: "required field is missing")
    }

    static func invalid(_ path: @autoclosure () -> String, _ message: String) -> EventValidationError {
        EventValidationError(code: .invalidValue, field: path(), message: message)
    }

    static func unknownField(_ key: String, path: String, allowed: [String]) -> EventValidationError {
        let msg: String
        if let guess = suggestion(for: key, among: allowed) {
            msg = "unknown field — did you mean '\(guess)'?"
        } else {
            msg = "unknown field; allowed fields here are " + allowed.joined(separator: ", ")
        }
        return EventValidationError(code: .unknownField, field: path, message: msg)
    }

    static func requireId(_ value: JSONValue?, _ path: @autoclosure () -> String) throws(EventValidationError) -> String {
        guard let v = present(value) else { throw missing(path()) }
        return try checkId(v, path())
    }

    static func optionalId(_ value: JSONValue?, _ path: @autoclosure () -> String) throws(EventValidationError) -> String? {
        guard let v = present(value) else { return nil }
        return try checkId(v, path())
    }

    static func checkId(_ v: JSONValue, _ path: @autoclosure () -> String) throws(EventValidationError) -> String {
        guard case .string(let s) = v else {
            throw invalid(path(), "must be a string id (1-128 characters of A-Z a-z 0-9 . _ : / @ # -), got \(describe(v))")
        }
        let u = s.utf8
        if u.isEmpty { throw invalid(path(), "must not be empty (1-128 characters of A-Z a-z 0-9 . _ : / @ # -)") }
        var position = 0
        for c in u {
            if !isIdByte(c) {
                let scalar = String(decoding: u.prefix(position), as: UTF8.self).unicodeScalars.count
                let ch = s.unicodeScalars.dropFirst(scalar).first.map { describeScalar($0) } ?? "?"
                throw invalid(
                    path(),
                    "contains \(ch) at position \(scalar + 1); ids may only use A-Z a-z 0-9 . _ : / @ # -, got \(quote(s))")
            }
            position += 1
        }
        if position > 128 { throw invalid(path(), "must be at most 128 characters, got \(position)") }
        return s
    }

    @inline(__always) static func isIdByte(_ c: UInt8) -> Bool {
        switch c {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39: return true
        case 0x2E, 0x5F, 0x3A, 0x2F, 0x40, 0x23, 0x2D: return true  // . _ : / @ # -
        default: return false
        }
    }

    /// 1...maxLength characters (Unicode scalars) with no control characters.
    static func requirePrintable(_ value: JSONValue?, _ path: @autoclosure () -> String, maxLength: Int) throws(EventValidationError) -> String {
        guard let v = present(value) else { throw missing(path()) }
        guard case .string(let s) = v else {
            throw invalid(path(), "must be a string of 1-\(maxLength) printable characters, got \(describe(v))")
        }
        var count = 0
        var prev: UInt8 = 0
        for c in s.utf8 {
            if c < 0x20 || c == 0x7F || (prev == 0xC2 && c >= 0x80 && c <= 0x9F) {
                throw invalid(path(), "must not contain control characters, got \(quote(s))")
            }
            if c & 0xC0 != 0x80 { count += 1 }
            prev = c
        }
        if count == 0 { throw invalid(path(), "must not be empty") }
        if count > maxLength { throw invalid(path(), "must be at most \(maxLength) characters, got \(count)") }
        return s
    }

    static func requirePositive(_ value: JSONValue?, _ path: @autoclosure () -> String) throws(EventValidationError) -> Int64 {
        guard let v = present(value) else { throw missing(path()) }
        guard case .int(let n) = v, n > 0 else { throw invalid(path(), "must be a positive integer, got \(describe(v))") }
        return n
    }

    static func requireNonNegative(_ value: JSONValue?, _ path: @autoclosure () -> String) throws(EventValidationError) -> Int64 {
        guard let v = present(value) else { throw missing(path()) }
        guard case .int(let n) = v, n >= 0 else {
            throw invalid(path(), "must be a non-negative integer in minor units, got \(describe(v))")
        }
        return n
    }

    static func requireScore(_ value: JSONValue?, _ path: @autoclosure () -> String) throws(EventValidationError) -> Int {
        guard let v = present(value) else { throw missing(path()) }
        guard case .int(let n) = v, n >= 0, n <= 10 else {
            throw invalid(path(), "must be an integer from 0 to 10, got \(describe(v))")
        }
        return Int(n)
    }

    static func requireCurrency(_ value: JSONValue?, _ path: @autoclosure () -> String) throws(EventValidationError) -> CurrencyCode {
        guard let v = present(value) else { throw missing(path()) }
        guard case .string(let s) = v else {
            throw invalid(path(), "must be an ISO 4217 currency code such as \"NOK\", got \(describe(v))")
        }
        guard let c = CurrencyCode(s) else {
            if let up = CurrencyCode(s.uppercased()) {
                throw invalid(path(), "must be an uppercase ISO 4217 currency code — did you mean \"\(up.code)\"? got \(quote(s))")
            }
            throw invalid(path(), "must be an active ISO 4217 currency code (three uppercase letters, e.g. \"NOK\", \"EUR\"), got \(quote(s))")
        }
        return c
    }

    static func requireLines(_ value: JSONValue?, limits: EventLimits) throws(EventValidationError) -> [JSONValue] {
        guard let v = present(value) else { throw missing("payload.lines") }
        guard case .array(let items) = v else {
            throw invalid("payload.lines", "must be an array of line objects, got \(describe(v))")
        }
        if items.isEmpty { throw invalid("payload.lines", "must contain at least one line") }
        if items.count > limits.maxLines {
            throw EventValidationError(
                code: .tooLarge, field: "payload.lines",
                message: "has \(items.count) lines, more than the limit of \(limits.maxLines)")
        }
        return items
    }

    // MARK: - Messages

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let n): return String(n)
        case .double(let d): return d.description
        case .string(let s): return "the string " + quote(s)
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    static func quote(_ s: String) -> String {
        var t = s
        if t.unicodeScalars.count > 60 {
            t = String(String.UnicodeScalarView(t.unicodeScalars.prefix(57))) + "..."
        }
        return JSONWriter.serializeToString(.string(t))
    }

    static func describeScalar(_ u: Unicode.Scalar) -> String {
        if u.value >= 0x21 && u.value < 0x7F { return "'\(Character(u))'" }
        if u == " " { return "a space" }
        return "U+" + String(u.value, radix: 16, uppercase: true)
    }

    /// The closest allowed name: edit distance ≤ 2 (ignoring case), or an abbreviation
    /// (same first letter, letters in order, e.g. `qty` → `quantity`).
    public static func suggestion(for key: String, among allowed: [String]) -> String? {
        let k = Array(key.lowercased().utf8)
        guard !k.isEmpty else { return nil }
        var best: (String, Int)? = nil
        for name in allowed {
            let n = Array(name.lowercased().utf8)
            let d = editDistance(k, n)
            if d <= 2 && d < k.count + (k.count == n.count ? 1 : 0), best == nil || d < best!.1 { best = (name, d) }
        }
        if let best { return best.0 }
        if k.count >= 2 {
            for name in allowed {
                let n = Array(name.lowercased().utf8)
                if n.first == k.first && isSubsequence(k, of: n) { return name }
            }
        }
        return nil
    }

    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }

    static func isSubsequence(_ a: [UInt8], of b: [UInt8]) -> Bool {
        var i = 0
        for c in b where i < a.count && a[i] == c { i += 1 }
        return i == a.count
    }
}

extension JSONWriter {
    @inline(__always) mutating func key(_ k: String, first: Bool = false) {
        if !first { bytes.append(0x2C) }
        writeString(k)
        bytes.append(0x3A)
    }
}
