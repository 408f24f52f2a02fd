/// Payloads of events that one plugin derives and others read. Another plugin's output is
/// checked like any input: a malformed one is refused with the field named, never trusted.

/// A derived event whose payload does not have what its readers need.
public struct DerivedPayloadError: Error, CustomStringConvertible {
    public var type: String
    public var message: String
    public var description: String { "\(type) refused: \(message)" }
}

/// The figures of a `customer.scored` event that rules read (customer-scoring plugin).
public struct CustomerScored: Sendable {
    public var customerId: String
    public var clv: Double
    public var clvPercentile: Double
    public var pAlive: Double

    public init(_ payload: JSONObject) throws(DerivedPayloadError) {
        func invalid(_ message: String) -> DerivedPayloadError { DerivedPayloadError(type: "customer.scored", message: message) }
        guard case .string(let id)? = payload["customerId"], !id.isEmpty, id.utf8.count <= 128 else {
            throw invalid("customerId must be a text of 1 to 128 bytes")
        }
        func number(_ key: String, in range: ClosedRange<Double>) throws(DerivedPayloadError) -> Double {
            let value: Double
            switch payload[key] {
            case .int(let n)?: value = Double(n)
            case .double(let d)?: value = d
            default: throw invalid("\(key) must be a number (customer \(id))")
            }
            guard value.isFinite, range.contains(value) else {
                throw invalid("\(key) is \(value), outside \(range.lowerBound)…\(range.upperBound) (customer \(id))")
            }
            return value
        }
        customerId = id
        clv = try number("clv", in: 0...9.2e18)
        clvPercentile = try number("clvPercentile", in: 0...100)
        pAlive = try number("pAlive", in: 0...1)
    }
}

/// The new level of a `tier.changed` event (reward-rules plugin, which owns tiers).
public struct TierChanged: Sendable {
    public var customerId: String
    public var tier: String

    public init(_ payload: JSONObject) throws(DerivedPayloadError) {
        guard case .string(let id)? = payload["customerId"], !id.isEmpty, id.utf8.count <= 128,
              case .string(let tier)? = payload["to"], !tier.isEmpty, tier.utf8.count <= 64 else {
            throw DerivedPayloadError(type: "tier.changed",
                                      message: "it needs customerId (1 to 128 bytes) and to (a tier id of 1 to 64 bytes)")
        }
        customerId = id
        self.tier = tier
    }
}
