import Foundation

/// A named RFM segment.
public enum RFMSegment: String, Sendable, Hashable, CaseIterable, Codable {
    /// Bought recently, often, and spend a lot (R ≥ 4, F ≥ 4, M ≥ 4).
    case champions
    /// Buy often (F ≥ 4) and not long ago (R ≥ 3).
    case loyal
    /// Bought recently (R ≥ 4) but only once or twice so far (F ≤ 2).
    case newCustomers = "new_customers"
    /// Used to buy often (F ≥ 3) but not for a while (R ≤ 2).
    case atRisk = "at_risk"
    /// Long ago and rarely (R ≤ 2, F ≤ 2).
    case lost
    /// Everyone else.
    case needsAttention = "needs_attention"
}

/// Quintile scores 1–5 (5 best) and a segment for one customer.
public struct RFMScore: Sendable, Hashable {
    public var customerId: String
    public var recency: Int
    public var frequency: Int
    public var monetary: Int
    public var segment: RFMSegment

    /// "R F M" as one code, e.g. "545".
    public var code: String { "\(recency)\(frequency)\(monetary)" }
}

/// RFM scoring from customer summaries.
///
/// Recency here is the classic RFM one: periods since the last purchase (T − recency), fewer is better.
/// Frequency counts every purchase period (repeat frequency + 1); monetary is the mean spend of repeat
/// periods. Each is scored by quintile of rank: score = 1 + ⌊5 · (number of customers strictly worse) / n⌋,
/// so equal values always get the same score.
public enum RFM {
    public static func score(_ customers: [CustomerSummary]) -> [RFMScore] {
        let recency = quintiles(customers.map { -($0.T - $0.recency) })
        let frequency = quintiles(customers.map { $0.frequency + 1 })
        let monetary = quintiles(customers.map(\.monetaryValue))
        return customers.indices.map { i in
            RFMScore(customerId: customers[i].customerId, recency: recency[i], frequency: frequency[i],
                     monetary: monetary[i], segment: segment(r: recency[i], f: frequency[i], m: monetary[i]))
        }
    }

    /// Scores 1–5 where larger values score higher; ties share a score.
    public static func quintiles(_ values: [Double]) -> [Int] {
        let n = values.count
        guard n > 0 else { return [] }
        let sorted = values.sorted()
        return values.map { v in
            // number of values strictly below v
            var lo = 0, hi = n
            while lo < hi {
                let mid = (lo + hi) / 2
                if sorted[mid] < v { lo = mid + 1 } else { hi = mid }
            }
            return 1 + Swift.min(4, (5 * lo) / n)
        }
    }

    public static func segment(r: Int, f: Int, m: Int) -> RFMSegment {
        if r >= 4 && f >= 4 && m >= 4 { return .champions }
        if f >= 4 && r >= 3 { return .loyal }
        if r >= 4 && f <= 2 { return .newCustomers }
        if r <= 2 && f >= 3 { return .atRisk }
        if r <= 2 && f <= 2 { return .lost }
        return .needsAttention
    }
}
