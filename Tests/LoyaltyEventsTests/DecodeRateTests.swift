import Testing
@testable import LoyaltyEvents

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Prints the decode rate. Not a pass/fail check: run it in release mode to get a real figure:
///   swift test -c release --scratch-path .build-events --filter LoyaltyEventsTests.DecodeRate
@Suite struct DecodeRate {
    /// A typical POS purchase: 3 lines, about 360 bytes.
    static let typical = """
        {"v":1,"eventId":"S001-T01-000123","type":"purchase","occurredAt":"2026-11-23T10:00:00.000Z",\
        "source":"pos/S001/T01","payload":{"storeId":"S001","terminalId":"T01","receiptId":"000123",\
        "customerId":"C-0042","currency":"NOK","lines":[\
        {"sku":"1001","category":"dairy","quantity":2,"unitPrice":2490},\
        {"sku":"2002","category":"bakery","quantity":1,"unitPrice":3990},\
        {"sku":"3003","category":"fruit","quantity":3,"unitPrice":1290}],"total":12840}}
        """

    @Test(arguments: [typical, Fixtures.purchase])
    func printDecodeRate(json: String) throws {
        let bytes = Array(json.utf8)
        let iterations = 200_000
        var sink = 0
        for _ in 0..<1000 { sink &+= try EventCodec.decode(bytes).eventId.utf8.count }
        var t0 = timespec()
        var t1 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t0)
        try bytes.withUnsafeBytes { raw in
            for _ in 0..<iterations { sink &+= try EventCodec.decode(raw).eventId.utf8.count }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1)
        let seconds = Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) / 1e9
        let rate = Double(iterations) / seconds
        print("EventCodec.decode: \(bytes.count)-byte purchase with 3 lines: \(Int(rate)) decodes/s (\(Int(seconds * 1e9 / Double(iterations))) ns each)")
        #expect(sink > 0)
    }
}
