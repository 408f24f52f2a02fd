import Testing
@testable import LoyaltyEvents

enum Fixtures {
    static let purchase = """
        {"v":1,"eventId":"S001-T01-000123","type":"purchase","occurredAt":"2026-11-23T10:00:00.000Z",\
        "source":"pos/S001/T01","payload":{"storeId":"S001","terminalId":"T01","receiptId":"000123",\
        "customerId":"C-0042","currency":"NOK","lines":[\
        {"sku":"SKU-1001","category":"dairy","quantity":2,"unitPrice":2490,"margin":600},\
        {"sku":"SKU-2002","category":"bakery","quantity":1,"unitPrice":3990,"margin":1500},\
        {"sku":"SKU-3003","category":"produce","quantity":3,"unitPrice":1290}],\
        "discount":500,"total":12340}}
        """

    static let returnEvent = """
        {"v":1,"eventId":"S001-T02-000200","type":"return","occurredAt":"2026-11-24T09:30:00+01:00",\
        "source":"pos/S001/T02","seq":77,"payload":{"storeId":"S001","terminalId":"T02","receiptId":"000200",\
        "customerId":"C-0042","originalEventId":"S001-T01-000123","currency":"NOK",\
        "lines":[{"sku":"SKU-1001","quantity":1,"unitPrice":2490}],"total":2490}}
        """

    static let survey = """
        {"v":1,"eventId":"survey-9","type":"survey","occurredAt":"2026-11-25T12:00:00Z","source":"web/survey",\
        "payload":{"storeId":"S001","customerId":"C-0042","nps":3,"drivers":{"serviceLevel":2,"expectations":5},\
        "comment":"Køen var lang \\"igjen\\"\\n😞","relatedEventId":"S001-T01-000123"}}
        """

    static let derived = """
        {"v":1,"eventId":"pts:S001-T01-000123","type":"points.accrued","occurredAt":"2026-11-23T10:00:01.250Z",\
        "source":"plugin/points-accrual","seq":9,"payload":{"customerId":"C-0042","points":113,\
        "ruleIds":["base","dairy-x2"],"ratio":1.5,"extra":{"nested":[null,true,false]}}}
        """

    static func object(_ json: String) -> JSONObject {
        guard case .object(let o) = try! JSONParser.parse(json) else { fatalError("not an object") }
        return o
    }

    /// Parses `json`, applies `change` to the envelope object and serialises it again.
    static func mutate(_ json: String, _ change: (inout JSONObject) -> Void) -> [UInt8] {
        var o = object(json)
        change(&o)
        return JSONWriter.serialize(.object(o))
    }

    /// Same, applied to the payload object.
    static func mutatePayload(_ json: String, _ change: (inout JSONObject) -> Void) -> [UInt8] {
        mutate(json) { env in
            guard case .object(var p)? = env["payload"] else { fatalError() }
            change(&p)
            env["payload"] = .object(p)
        }
    }

    /// Same, applied to line `index` of the payload.
    static func mutateLine(_ json: String, _ index: Int, _ change: (inout JSONObject) -> Void) -> [UInt8] {
        mutatePayload(json) { p in
            guard case .array(var lines)? = p["lines"], case .object(var line) = lines[index] else { fatalError() }
            change(&line)
            lines[index] = .object(line)
            p["lines"] = .array(lines)
        }
    }
}

/// Decodes and returns the validation error, or nil when the event was accepted.
func rejection(_ bytes: [UInt8], limits: EventLimits = .default) -> EventValidationError? {
    do {
        _ = try EventCodec.decode(bytes, limits: limits)
        return nil
    } catch {
        return error
    }
}

func rejection(_ text: String, limits: EventLimits = .default) -> EventValidationError? {
    rejection(Array(text.utf8), limits: limits)
}

func expectRejected(
    _ bytes: [UInt8], _ code: EventValidationError.Code, _ field: String, limits: EventLimits = .default,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let e = rejection(bytes, limits: limits)
    #expect(e != nil, "expected rejection \(code.rawValue) at \(field)", sourceLocation: sourceLocation)
    guard let e else { return }
    #expect(e.code == code, "\(e)", sourceLocation: sourceLocation)
    #expect(e.field == field, "\(e)", sourceLocation: sourceLocation)
}
