import Testing
@testable import LoyaltyEvents

@Suite struct ValidationTests {
    let P = Fixtures.purchase

    @Test func negativeQuantity() {
        let b = Fixtures.mutateLine(P, 0) { $0["quantity"] = -1 }
        expectRejected(b, .invalidValue, "payload.lines[0].quantity")
        #expect(rejection(b)?.description == "payload.lines[0].quantity: must be a positive integer, got -1")
    }

    @Test func zeroAndFractionalQuantity() {
        expectRejected(Fixtures.mutateLine(P, 2) { $0["quantity"] = 0 }, .invalidValue, "payload.lines[2].quantity")
        expectRejected(Fixtures.mutateLine(P, 1) { $0["quantity"] = 1.5 }, .invalidValue, "payload.lines[1].quantity")
        expectRejected(Fixtures.mutateLine(P, 1) { $0["quantity"] = "2" }, .invalidValue, "payload.lines[1].quantity")
    }

    @Test func negativeUnitPriceAndMarginAboveUnitPrice() {
        expectRejected(Fixtures.mutateLine(P, 0) { $0["unitPrice"] = -5 }, .invalidValue, "payload.lines[0].unitPrice")
        expectRejected(Fixtures.mutateLine(P, 0) { $0["margin"] = 2491 }, .invalidValue, "payload.lines[0].margin")
        // A negative margin (sold below cost) is allowed, but then the total must still match.
        #expect(rejection(Fixtures.mutateLine(P, 0) { $0["margin"] = -100 }) == nil)
    }

    @Test func unknownFieldWithSuggestion() {
        let b = Fixtures.mutateLine(P, 1) { $0["qty"] = 1 }
        expectRejected(b, .unknownField, "payload.lines[1].qty")
        #expect(rejection(b)?.message == "unknown field — did you mean 'quantity'?")

        let c = Fixtures.mutatePayload(P) { $0["custmerId"] = "x" }
        expectRejected(c, .unknownField, "payload.custmerId")
        #expect(rejection(c)?.description == "payload.custmerId: unknown field — did you mean 'customerId'?")

        let d = Fixtures.mutate(P) { $0["evntId"] = "x" }
        expectRejected(d, .unknownField, "evntId")
        #expect(rejection(d)?.message.contains("did you mean 'eventId'") == true)
    }

    @Test func unknownFieldWithoutSuggestionListsAllowed() {
        let b = Fixtures.mutatePayload(P) { $0["loyaltyTier"] = "gold" }
        expectRejected(b, .unknownField, "payload.loyaltyTier")
        #expect(rejection(b)?.message.contains("allowed fields here are storeId, terminalId") == true)
    }

    @Test func unknownFieldsAllowedInDerivedPayloads() throws {
        _ = try EventCodec.decode(Fixtures.mutatePayload(Fixtures.derived) { $0["anything"] = [1, 2] })
    }

    @Test func missingFields() {
        expectRejected(Fixtures.mutate(P) { $0["eventId"] = nil }, .missingField, "eventId")
        expectRejected(Fixtures.mutate(P) { $0["v"] = nil }, .missingField, "v")
        expectRejected(Fixtures.mutate(P) { $0["type"] = nil }, .missingField, "type")
        expectRejected(Fixtures.mutate(P) { $0["occurredAt"] = nil }, .missingField, "occurredAt")
        expectRejected(Fixtures.mutate(P) { $0["source"] = nil }, .missingField, "source")
        expectRejected(Fixtures.mutate(P) { $0["payload"] = nil }, .missingField, "payload")
        expectRejected(Fixtures.mutate(P) { $0["eventId"] = .null }, .missingField, "eventId")
        expectRejected(Fixtures.mutatePayload(P) { $0["storeId"] = nil }, .missingField, "payload.storeId")
        expectRejected(Fixtures.mutatePayload(P) { $0["total"] = nil }, .missingField, "payload.total")
        expectRejected(Fixtures.mutatePayload(P) { $0["lines"] = nil }, .missingField, "payload.lines")
        expectRejected(Fixtures.mutateLine(P, 2) { $0["sku"] = nil }, .missingField, "payload.lines[2].sku")
        expectRejected(
            Fixtures.mutatePayload(Fixtures.returnEvent) { $0["originalEventId"] = nil }, .missingField,
            "payload.originalEventId")
        expectRejected(Fixtures.mutatePayload(Fixtures.survey) { $0["nps"] = nil }, .missingField, "payload.nps")
    }

    @Test func versions() {
        expectRejected(Fixtures.mutate(P) { $0["v"] = 2 }, .unsupportedVersion, "v")
        expectRejected(Fixtures.mutate(P) { $0["v"] = "1" }, .invalidValue, "v")
    }

    @Test func ids() {
        expectRejected(Fixtures.mutate(P) { $0["eventId"] = "" }, .invalidValue, "eventId")
        expectRejected(Fixtures.mutate(P) { $0["eventId"] = "has space" }, .invalidValue, "eventId")
        expectRejected(Fixtures.mutate(P) { $0["eventId"] = .string(String(repeating: "a", count: 129)) }, .invalidValue, "eventId")
        #expect(rejection(Fixtures.mutate(P) { $0["eventId"] = .string(String(repeating: "a", count: 128)) }) == nil)
        #expect(rejection(Fixtures.mutate(P) { $0["eventId"] = "a.b_c:d/e@f#g-h" }) == nil)
        expectRejected(Fixtures.mutate(P) { $0["eventId"] = 123 }, .invalidValue, "eventId")
        expectRejected(Fixtures.mutatePayload(P) { $0["customerId"] = "æøå" }, .invalidValue, "payload.customerId")
        expectRejected(Fixtures.mutateLine(P, 0) { $0["sku"] = "SKU 1" }, .invalidValue, "payload.lines[0].sku")
        let e = rejection(Fixtures.mutate(P) { $0["eventId"] = "ab cd" })
        #expect(e?.message.contains("a space at position 3") == true)
    }

    @Test func categoryAndSource() {
        expectRejected(Fixtures.mutateLine(P, 0) { $0["category"] = "" }, .invalidValue, "payload.lines[0].category")
        expectRejected(
            Fixtures.mutateLine(P, 0) { $0["category"] = .string(String(repeating: "x", count: 65)) }, .invalidValue,
            "payload.lines[0].category")
        expectRejected(Fixtures.mutateLine(P, 0) { $0["category"] = "a\u{7}b" }, .invalidValue, "payload.lines[0].category")
        #expect(rejection(Fixtures.mutateLine(P, 0) { $0["category"] = "Frukt & grønt" }) == nil)
        expectRejected(Fixtures.mutate(P) { $0["source"] = "pos\nS001" }, .invalidValue, "source")
        expectRejected(Fixtures.mutate(P) { $0["source"] = .string(String(repeating: "s", count: 129)) }, .invalidValue, "source")
    }

    @Test func eventTypes() throws {
        expectRejected(Fixtures.mutate(P) { $0["type"] = "Purchase" }, .invalidValue, "type")
        #expect(rejection(Fixtures.mutate(P) { $0["type"] = "purchse" })?.message.contains("did you mean 'purchase'") == true)
        for bad in ["points", "points.", ".points", "Points.accrued", "points..accrued", "1x.y", "a.b c",
                    "a." + String(repeating: "b", count: 63)] {
            expectRejected(Fixtures.mutate(Fixtures.derived) { $0["type"] = .string(bad) }, .invalidValue, "type")
        }
        for good in ["points.accrued", "reward.granted", "alert.config", "a.b.c", "x-y_1.z9"] {
            let e = try EventCodec.decode(Fixtures.mutate(Fixtures.derived) { $0["type"] = .string(good) })
            #expect(e.type == good)
        }
        // A purchase type with a derived-looking payload is checked as a purchase.
        expectRejected(Fixtures.mutate(Fixtures.derived) { $0["type"] = "purchase" }, .unknownField, "payload.points")
    }

    @Test func occurredAt() {
        expectRejected(Fixtures.mutate(P) { $0["occurredAt"] = "2026-02-29T10:00:00Z" }, .invalidValue, "occurredAt")
        expectRejected(Fixtures.mutate(P) { $0["occurredAt"] = "yesterday" }, .invalidValue, "occurredAt")
        expectRejected(Fixtures.mutate(P) { $0["occurredAt"] = 1_700_000_000 }, .invalidValue, "occurredAt")
    }

    @Test func seq() {
        expectRejected(Fixtures.mutate(P) { $0["seq"] = 0 }, .invalidValue, "seq")
        expectRejected(Fixtures.mutate(P) { $0["seq"] = -4 }, .invalidValue, "seq")
        expectRejected(Fixtures.mutate(P) { $0["seq"] = 1.0 }, .invalidValue, "seq")
        #expect(rejection(Fixtures.mutate(P) { $0["seq"] = 1 }) == nil)
    }

    @Test func payloadMustBeObject() {
        expectRejected(Fixtures.mutate(P) { $0["payload"] = [1] }, .invalidValue, "payload")
        expectRejected(Fixtures.mutate(Fixtures.derived) { $0["payload"] = "x" }, .invalidValue, "payload")
        expectRejected(Array("[1,2]".utf8), .invalidValue, "")
    }

    @Test func totalMismatch() {
        let b = Fixtures.mutatePayload(P) { $0["total"] = 12339 }
        expectRejected(b, .invalidValue, "payload.total")
        #expect(rejection(b)?.message.contains("12840 − 500 = 12340") == true)
        expectRejected(Fixtures.mutatePayload(P) { $0["total"] = -1 }, .invalidValue, "payload.total")
        expectRejected(Fixtures.mutatePayload(P) { $0["total"] = 113.40 }, .invalidValue, "payload.total")
        // Without the discount the total must be the plain sum.
        #expect(rejection(Fixtures.mutatePayload(P) { $0["discount"] = nil; $0["total"] = 12840 }) == nil)
        expectRejected(
            Fixtures.mutatePayload(Fixtures.returnEvent) { $0["total"] = 2000 }, .invalidValue, "payload.total")
    }

    @Test func discountRules() {
        expectRejected(Fixtures.mutatePayload(P) { $0["discount"] = -1 }, .invalidValue, "payload.discount")
        expectRejected(
            Fixtures.mutatePayload(P) { $0["discount"] = 20000; $0["total"] = 0 }, .invalidValue, "payload.discount")
        #expect(rejection(Fixtures.mutatePayload(P) { $0["discount"] = 12840; $0["total"] = 0 }) == nil)
    }

    @Test func unknownCurrency() {
        expectRejected(Fixtures.mutatePayload(P) { $0["currency"] = "XYZ" }, .invalidValue, "payload.currency")
        expectRejected(Fixtures.mutatePayload(P) { $0["currency"] = "HRK" }, .invalidValue, "payload.currency")
        let lower = rejection(Fixtures.mutatePayload(P) { $0["currency"] = "nok" })
        #expect(lower?.code == .invalidValue)
        #expect(lower?.message.contains("did you mean \"NOK\"") == true)
        expectRejected(Fixtures.mutatePayload(P) { $0["currency"] = "NOKK" }, .invalidValue, "payload.currency")
    }

    @Test func overflowIsAValidationError() {
        let big = Fixtures.mutateLine(P, 0) { $0["quantity"] = .int(Int64.max / 2); $0["unitPrice"] = 3; $0["margin"] = nil }
        expectRejected(big, .invalidValue, "payload.lines[0]")
        // Each line fits, the sum does not.
        let sum = Fixtures.mutatePayload(P) { p in
            let line: JSONValue = .object(["sku": "A", "category": "c", "quantity": 1, "unitPrice": .int(Int64.max)])
            p["lines"] = [line, line]
        }
        expectRejected(sum, .invalidValue, "payload.lines")
        // Larger than Int64 parses as a double and is rejected as not an integer.
        let huge = Array(Fixtures.purchase.replacingOccurrences("\"quantity\":2", "\"quantity\":99999999999999999999").utf8)
        expectRejected(huge, .invalidValue, "payload.lines[0].quantity")
        expectRejected(
            Fixtures.mutateLine(Fixtures.returnEvent, 0) { $0["quantity"] = .int(Int64.max) }, .invalidValue,
            "payload.lines[0]")
    }

    @Test func lines() {
        expectRejected(Fixtures.mutatePayload(P) { $0["lines"] = [] }, .invalidValue, "payload.lines")
        expectRejected(Fixtures.mutatePayload(P) { $0["lines"] = [1] }, .invalidValue, "payload.lines[0]")
        expectRejected(Fixtures.mutatePayload(P) { $0["lines"] = "x" }, .invalidValue, "payload.lines")
        expectRejected(Array(P.utf8), .tooLarge, "payload.lines", limits: EventLimits(maxLines: 2))
        expectRejected(Fixtures.mutateLine(Fixtures.returnEvent, 0) { $0["category"] = "x" }, .unknownField, "payload.lines[0].category")
    }

    @Test func tooLargeIsCheckedFirst() {
        let e = rejection(Array("{not json at all".utf8), limits: EventLimits(maxBytes: 10))
        #expect(e?.code == .tooLarge)
        #expect(e?.field == "")
        expectRejected(Array(P.utf8), .tooLarge, "", limits: EventLimits(maxBytes: 100))
        #expect(rejection(Array(P.utf8), limits: EventLimits(maxBytes: P.utf8.count)) == nil)
    }

    @Test func malformedJSON() {
        let e = rejection(#"{"v":1 "eventId":"x"}"#)
        #expect(e?.code == .malformedJSON)
        #expect(e?.field == "")
        #expect(e?.description == "malformed JSON at byte 7: expected ',' or '}', got '\"'")
        expectRejected(Array((P + "x").utf8), .malformedJSON, "")
        expectRejected([], .malformedJSON, "")
        // Duplicate keys are a JSON error in strict mode.
        expectRejected(Array(P.replacingOccurrences(#""v":1,"#, #""v":1,"v":1,"#).utf8), .malformedJSON, "")
    }

    @Test func survey() {
        let S = Fixtures.survey
        expectRejected(Fixtures.mutatePayload(S) { $0["nps"] = 11 }, .invalidValue, "payload.nps")
        expectRejected(Fixtures.mutatePayload(S) { $0["nps"] = -1 }, .invalidValue, "payload.nps")
        expectRejected(Fixtures.mutatePayload(S) { $0["drivers"] = ["speed": 3] }, .unknownField, "payload.drivers.speed")
        let e = rejection(Fixtures.mutatePayload(S) { $0["drivers"] = ["valueForMony": 3] })
        #expect(e?.field == "payload.drivers.valueForMony")
        #expect(e?.message.contains("did you mean 'valueForMoney'") == true)
        expectRejected(Fixtures.mutatePayload(S) { $0["drivers"] = ["serviceLevel": 12] }, .invalidValue, "payload.drivers.serviceLevel")
        expectRejected(Fixtures.mutatePayload(S) { $0["drivers"] = [1] }, .invalidValue, "payload.drivers")
        expectRejected(
            Fixtures.mutatePayload(S) { $0["comment"] = .string(String(repeating: "ø", count: 2001)) }, .invalidValue,
            "payload.comment")
        #expect(rejection(Fixtures.mutatePayload(S) { $0["comment"] = .string(String(repeating: "ø", count: 2000)) }) == nil)
        expectRejected(Fixtures.mutatePayload(S) { $0["relatedEventId"] = "a b" }, .invalidValue, "payload.relatedEventId")
        expectRejected(Fixtures.mutatePayload(S) { $0["comments"] = "x" }, .unknownField, "payload.comments")
    }

    @Test func currencyCodes() {
        #expect(CurrencyCode("NOK")?.description == "NOK")
        #expect(CurrencyCode("EUR") != nil)
        #expect(CurrencyCode("JPY") != nil)
        #expect(CurrencyCode("nok") == nil)
        #expect(CurrencyCode("NO") == nil)
        #expect(CurrencyCode("ÆØÅ") == nil)
        #expect(CurrencyCode("ABC") == nil)
        #expect(CurrencyCode.allActive.count > 150)
    }

    @Test func suggestions() {
        #expect(EventCodec.suggestion(for: "qty", among: EventCodec.purchaseLineFields) == "quantity")
        #expect(EventCodec.suggestion(for: "unitprice", among: EventCodec.purchaseLineFields) == "unitPrice")
        #expect(EventCodec.suggestion(for: "price", among: EventCodec.purchaseLineFields) == nil)
        #expect(EventCodec.suggestion(for: "zzzz", among: EventCodec.purchaseLineFields) == nil)
    }
}

extension String {
    func replacingOccurrences(_ a: String, _ b: String) -> String {
        var out = ""
        var rest = self[...]
        while let r = rest.firstRange(of: a) {
            out += rest[..<r.lowerBound]
            out += b
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
