import Testing
@testable import LoyaltyEvents

@Suite struct TimestampTests {
    @Test func valid() throws {
        #expect(try Timestamp(rfc3339: "1970-01-01T00:00:00Z").epochMilliseconds == 0)
        #expect(try Timestamp(rfc3339: "1970-01-01T00:00:00.001Z").epochMilliseconds == 1)
        #expect(try Timestamp(rfc3339: "2026-11-23T10:00:00.000Z").rfc3339 == "2026-11-23T10:00:00.000Z")
        #expect(try Timestamp(rfc3339: "2026-11-23t10:00:00z").rfc3339 == "2026-11-23T10:00:00.000Z")
        #expect(try Timestamp(rfc3339: "2026-11-23T11:30:00+01:30").rfc3339 == "2026-11-23T10:00:00.000Z")
        #expect(try Timestamp(rfc3339: "2026-11-23T05:00:00-05:00").rfc3339 == "2026-11-23T10:00:00.000Z")
        #expect(try Timestamp(rfc3339: "2026-11-23T10:00:00.5Z").epochMilliseconds % 1000 == 500)
        #expect(try Timestamp(rfc3339: "2026-11-23T10:00:00.12Z").epochMilliseconds % 1000 == 120)
        #expect(try Timestamp(rfc3339: "2026-11-23T10:00:00.123999999Z").epochMilliseconds % 1000 == 123)
        #expect(try Timestamp(rfc3339: "1969-12-31T23:59:59.999Z").epochMilliseconds == -1)
        #expect(Timestamp(epochMilliseconds: -1).rfc3339 == "1969-12-31T23:59:59.999Z")
        #expect(try Timestamp(rfc3339: "2000-03-01T00:00:00Z").epochMilliseconds == 951_868_800_000)
        #expect(Timestamp.parse("0000-01-01T00:00:00Z") == Timestamp.minimum)
        #expect(Timestamp.parse("9999-12-31T23:59:59.999Z") == Timestamp.maximum)
        // Leap second counts as the next minute's first instant.
        #expect(Timestamp.parse("2016-12-31T23:59:60Z") == Timestamp.parse("2017-01-01T00:00:00Z"))
    }

    @Test func februaryTwentyNinth() {
        #expect(Timestamp.parse("2024-02-29T12:00:00Z") != nil)
        #expect(Timestamp.parse("2000-02-29T12:00:00Z") != nil)
        #expect(Timestamp.parse("2026-02-29T12:00:00Z") == nil)
        #expect(Timestamp.parse("1900-02-29T12:00:00Z") == nil)
        #expect(Timestamp.parse("2024-02-30T12:00:00Z") == nil)
        #expect(Timestamp.parse("2024-02-29T12:00:00Z")?.rfc3339 == "2024-02-29T12:00:00.000Z")
    }

    @Test(arguments: [
        "", "2026-11-23", "2026-11-23T10:00:00", "2026-11-23 10:00:00Z", "2026-11-23T10:00Z",
        "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-00T00:00:00Z",
        "2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z", "2026-01-01T23:59:61Z", "2026-01-01T10:00:00.Z",
        "2026-01-01T10:00:00+0100", "2026-01-01T10:00:00+24:00", "2026-01-01T10:00:00+01:60",
        "2026-01-01T10:00:00ZZ", "2026-1-01T10:00:00Z", "26-01-01T10:00:00Z", "+2026-01-01T10:00:00Z",
        "2026-01-01T10:00:00.000+01", "0000-01-01T00:00:00+01:00", "2026-01-01T10:00:00 Z",
    ])
    func invalid(text: String) {
        #expect(Timestamp.parse(text) == nil, "\(text) should be rejected")
    }

    @Test func formattingRoundTrips() {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2000 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let span = UInt64(Timestamp.maximum.epochMilliseconds - Timestamp.minimum.epochMilliseconds)
            let t = Timestamp(epochMilliseconds: Timestamp.minimum.epochMilliseconds + Int64(x % span))
            #expect(Timestamp.parse(t.rfc3339) == t)
        }
    }

    @Test func nowIsRecent() {
        let now = Timestamp.now()
        #expect(now > Timestamp.parse("2024-01-01T00:00:00Z")!)
        #expect(now < Timestamp.parse("2100-01-01T00:00:00Z")!)
    }

    @Test func errorMessage() {
        do {
            _ = try Timestamp(rfc3339: "2026-02-29T00:00:00Z")
            Issue.record("accepted")
        } catch {
            #expect(error.message.contains("day 29 out of range for 2026-02"))
        }
    }
}
