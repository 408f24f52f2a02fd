import CFuzzDriver
import Foundation
import LoyaltyEvents

/// libFuzzer entry point: any bytes as an event envelope. The decoder must never crash; what it
/// accepts must encode and decode back to the same event, and pass or fail admission cleanly.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEvent(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let bytes = count == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: count))
    guard let envelope = try? EventCodec.decode(bytes) else { return 0 }
    let encoded = EventCodec.encode(envelope)
    guard let again = try? EventCodec.decode(encoded) else {
        fatalError("accepted event does not decode after encoding: \(String(decoding: encoded, as: UTF8.self))")
    }
    precondition(again == envelope, "round trip changed the event: \(String(decoding: encoded, as: UTF8.self))")
    _ = EventLimits.default.admissionProblem(envelope, now: Timestamp(epochMilliseconds: 1_790_000_000_000))
    return 0
}

@main struct FuzzEventsMain {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzEvent(data, size) })
    }
}
