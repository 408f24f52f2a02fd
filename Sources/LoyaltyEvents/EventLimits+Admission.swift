/// Checks the bus applies when it admits a new event, beyond what the codec requires of any
/// envelope: plausible amounts and a timestamp near the bus's clock. They are not part of
/// decoding, so events already stored stay readable when the limits are tightened.
extension EventLimits {
    /// Why `envelope` is refused at `now`, or nil when it is within the limits.
    public func admissionProblem(_ envelope: EventEnvelope, now: Timestamp) -> EventValidationError? {
        let occurred = envelope.occurredAt.epochMilliseconds
        if let future = maxFutureMilliseconds, occurred > now.epochMilliseconds + future {
            return EventValidationError(code: .invalidValue, field: "occurredAt",
                message: "\(envelope.occurredAt.rfc3339) is more than \(Self.describe(future)) ahead of the bus's clock (\(now.rfc3339)); check the terminal's clock")
        }
        if let past = maxAgeMilliseconds, occurred < now.epochMilliseconds - past {
            return EventValidationError(code: .invalidValue, field: "occurredAt",
                message: "\(envelope.occurredAt.rfc3339) is more than \(Self.describe(past)) before the bus's clock (\(now.rfc3339)); check the terminal's clock")
        }
        func amounts(_ lines: [(quantity: Int64, unitPrice: Int64)], total: Int64) -> EventValidationError? {
            for (n, line) in lines.enumerated() {
                if line.quantity > maxQuantity {
                    return EventValidationError(code: .invalidValue, field: "payload.lines[\(n)].quantity",
                                                message: "must be at most \(maxQuantity), got \(line.quantity)")
                }
                if line.unitPrice > maxAmountMinorUnits {
                    return EventValidationError(code: .invalidValue, field: "payload.lines[\(n)].unitPrice",
                                                message: "must be at most \(maxAmountMinorUnits) minor units, got \(line.unitPrice)")
                }
            }
            if total > maxAmountMinorUnits {
                return EventValidationError(code: .invalidValue, field: "payload.total",
                                            message: "must be at most \(maxAmountMinorUnits) minor units, got \(total)")
            }
            return nil
        }
        switch envelope.payload {
        case .purchase(let p): return amounts(p.lines.map { ($0.quantity, $0.unitPrice) }, total: p.total)
        case .return(let r): return amounts(r.lines.map { ($0.quantity, $0.unitPrice) }, total: r.total)
        case .survey, .derived: return nil
        }
    }

    static func describe(_ milliseconds: Int64) -> String {
        milliseconds % 86_400_000 == 0 ? "\(milliseconds / 86_400_000) days"
            : milliseconds % 3_600_000 == 0 ? "\(milliseconds / 3_600_000) hours" : "\(milliseconds / 1000) seconds"
    }
}
