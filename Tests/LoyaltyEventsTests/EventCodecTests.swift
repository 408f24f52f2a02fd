import Testing
@testable import LoyaltyEvents

@Suite struct RoundTripTests {
    @Test func purchaseDecodes() throws {
        let e = try EventCodec.decode(Fixtures.purchase)
        #expect(e.version == 1)
        #expect(e.eventId == "S001-T01-000123")
        #expect(e.type == "purchase")
        #expect(e.occurredAt.rfc3339 == "2026-11-23T10:00:00.000Z")
        #expect(e.source == "pos/S001/T01")
        #expect(e.seq == nil)
        #expect(e.customerId == "C-0042")
        #expect(e.storeId == "S001")
        guard case .purchase(let p) = e.payload else {
            Issue.record("not a purchase")
            return
        }
        #expect(p.lines.count == 3)
        #expect(p.lines[0] == PurchaseLine(sku: "SKU-1001", category: "dairy", quantity: 2, unitPrice: 2490, margin: 600))
        #expect(p.lines[2].margin == nil)
        #expect(p.discount == 500)
        #expect(p.total == 12340)
        #expect(p.totalMoney == Money(minorUnits: 12340, currency: CurrencyCode("NOK")!))
    }

    @Test(arguments: [Fixtures.purchase, Fixtures.returnEvent, Fixtures.survey, Fixtures.derived])
    func roundTrip(json: String) throws {
        let e = try EventCodec.decode(json)
        let bytes = EventCodec.encode(e)
        let again = try EventCodec.decode(bytes)
        #expect(again == e)
        // Encoding is deterministic.
        #expect(EventCodec.encode(again) == bytes)
    }

    @Test func purchaseEncodingIsCompactAndOmitsDefaults() throws {
        let p = Purchase(
            storeId: "S1", terminalId: "T1", receiptId: "R1", currency: .NOK,
            lines: [PurchaseLine(sku: "A", category: "x", quantity: 1, unitPrice: 100)])!
        let e = EventEnvelope(
            eventId: "S1-T1-R1", occurredAt: Timestamp(epochMilliseconds: 0), source: "pos/S1/T1",
            payload: .purchase(p))
        #expect(e.type == "purchase")
        let text = EventCodec.encodeToString(e)
        #expect(text == """
            {"v":1,"eventId":"S1-T1-R1","type":"purchase","occurredAt":"1970-01-01T00:00:00.000Z","source":"pos/S1/T1",\
            "payload":{"storeId":"S1","terminalId":"T1","receiptId":"R1","currency":"NOK",\
            "lines":[{"sku":"A","category":"x","quantity":1,"unitPrice":100}],"total":100}}
            """)
        #expect(try EventCodec.decode(text) == e)
        var withSeq = e
        withSeq.seq = 42
        #expect(EventCodec.encodeToString(withSeq).contains(#","seq":42,"payload""#))
        #expect(try EventCodec.decode(EventCodec.encode(withSeq)) == withSeq)
        try withSeq.validate()
    }

    @Test func returnDecodes() throws {
        let e = try EventCodec.decode(Fixtures.returnEvent)
        #expect(e.seq == 77)
        #expect(e.occurredAt == Timestamp.parse("2026-11-24T08:30:00Z"))
        guard case .return(let r) = e.payload else {
            Issue.record("not a return")
            return
        }
        #expect(r.originalEventId == "S001-T01-000123")
        #expect(r.lines == [ReturnLine(sku: "SKU-1001", quantity: 1, unitPrice: 2490)])
        #expect(r.totalMoney.minorUnits == 2490)
        #expect(e.customerId == "C-0042")
    }

    @Test func surveyDecodes() throws {
        let e = try EventCodec.decode(Fixtures.survey)
        guard case .survey(let s) = e.payload else {
            Issue.record("not a survey")
            return
        }
        #expect(s.nps == 3)
        #expect(s.drivers == ["serviceLevel": 2, "expectations": 5])
        #expect(s.comment == "Køen var lang \"igjen\"\n😞")
        #expect(s.relatedEventId == "S001-T01-000123")
        #expect(e.storeId == "S001")
    }

    @Test func derivedKeepsPayloadAsIs() throws {
        let e = try EventCodec.decode(Fixtures.derived)
        #expect(e.type == "points.accrued")
        #expect(e.customerId == nil)
        #expect(e.storeId == nil)
        guard case .derived(let o) = e.payload else {
            Issue.record("not derived")
            return
        }
        #expect(o.keys == ["customerId", "points", "ruleIds", "ratio", "extra"])
        #expect(o["points"] == .int(113))
        #expect(o["ratio"] == .double(1.5))
        #expect(o["extra"] == .object(["nested": [nil, true, false]]))
    }

    @Test func anonymousPurchaseAndNullOptionals() throws {
        let bytes = Fixtures.mutatePayload(Fixtures.purchase) { $0["customerId"] = .null }
        let e = try EventCodec.decode(bytes)
        #expect(e.customerId == nil)
        #expect(try EventCodec.decode(EventCodec.encode(e)) == e)
    }

    @Test func anonymousSurveyWithoutDrivers() throws {
        let s = Survey(storeId: "S9", nps: 10)
        let e = EventEnvelope(eventId: "sv-1", occurredAt: .now(), source: "kiosk", payload: .survey(s))
        let text = EventCodec.encodeToString(e)
        #expect(!text.contains("drivers"))
        #expect(try EventCodec.decode(text) == e)
    }

    @Test func derivedBuiltInCodeRoundTrips() throws {
        let e = EventEnvelope(
            eventId: "reward:1", type: "reward.granted", occurredAt: Timestamp(epochMilliseconds: 1_800_000_000_123),
            source: "plugin/reward-rules", seq: 5,
            payload: .derived(["customerId": "C1", "rewardId": "coffee", "note": "tab\there \u{1}", "n": -3]))
        #expect(try EventCodec.decode(EventCodec.encode(e)) == e)
    }
}
