import LoyaltyEvents
import PluginRuntime
import Testing

/// Derived event ids stay within what the bus accepts, whatever the input's id.
@Suite struct DerivedEventIdTests {
    static func input(id: String) -> EventEnvelope {
        EventEnvelope(version: 1, eventId: id, type: "purchase", occurredAt: Timestamp(epochMilliseconds: 1_767_225_600_000),
                      source: "pos/S001/T1", seq: nil, payload: .derived(["x": .int(1)]))
    }

    @Test func aShortIdIsKeptReadable() throws {
        var emitter = Emitter(pluginName: "points-accrual", input: Self.input(id: "S001-T1-000042"))
        emitter.emit(type: "points.accrued", key: "accrued", payload: [:])
        #expect(emitter.pending.first?.eventId == "S001-T1-000042/points-accrual/accrued")
    }

    @Test func aLongIdIsShortenedDeterministicallyAndStaysValid() throws {
        let long = String(repeating: "S001-T1-", count: 16)   // 128 characters, the most a till may send
        func derived(_ key: String) -> (id: String, body: [UInt8]) {
            var emitter = Emitter(pluginName: "reward-rules", input: Self.input(id: long))
            emitter.emit(type: "reward.granted", key: key, payload: [:])
            return (emitter.pending[0].eventId, emitter.pending[0].body)
        }
        let first = derived("granted/coffee-card/C000042")
        #expect(first.id.utf8.count <= 128)
        #expect(first.id.hasPrefix(String(long.prefix(48))))
        #expect(first.id == derived("granted/coffee-card/C000042").id, "the same input and key give the same id after a crash")
        #expect(first.id != derived("granted/coffee-card/C000043").id)
        // The bus's own check of the envelope accepts it.
        let decoded = try EventCodec.decode(first.body)
        #expect(decoded.eventId == first.id)
    }
}
