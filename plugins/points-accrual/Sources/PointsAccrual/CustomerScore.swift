import LoyaltyEvents

/// The figures of a `customer.scored` event that earning rules can read. Another plugin's
/// output, so it is checked like any input: a malformed event is refused with the field named.
struct CustomerScore {
    var customerId: String
    var clv: Double
    var clvPercentile: Double
    var pAlive: Double

    struct Invalid: Error, CustomStringConvertible {
        var message: String
        var description: String { "customer.scored refused: \(message)" }
    }

    init(_ payload: JSONObject) throws {
        guard case .string(let id)? = payload["customerId"], !id.isEmpty, id.utf8.count <= 128 else {
            throw Invalid(message: "customerId must be a text of 1 to 128 bytes")
        }
        func number(_ key: String, in range: ClosedRange<Double>) throws -> Double {
            let value: Double
            switch payload[key] {
            case .int(let n)?: value = Double(n)
            case .double(let d)?: value = d
            default: throw Invalid(message: "\(key) must be a number (customer \(id))")
            }
            guard value.isFinite, range.contains(value) else {
                throw Invalid(message: "\(key) is \(value), outside \(range.lowerBound)…\(range.upperBound) (customer \(id))")
            }
            return value
        }
        customerId = id
        clv = try number("clv", in: 0...Double(Int64.max))
        clvPercentile = try number("clvPercentile", in: 0...100)
        pAlive = try number("pAlive", in: 0...1)
    }
}
