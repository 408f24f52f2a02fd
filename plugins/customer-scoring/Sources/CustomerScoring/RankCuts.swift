import Foundation
import LoyaltyScoring

/// Rank boundaries of the population at a fit. Ranking one customer between refits used to count
/// everyone else's stored scores (several `COUNT(*)` scans per purchase, O(customers)); the boundaries
/// give the same answer for the population as it was at the fit, with no query at all.
///
/// For values sorted ascending v₀ … vₙ₋₁ and `buckets` b, boundary k (1 ≤ k < b) is v[⌈k·n/b⌉ − 1].
/// A value x then has rank #{k : x > boundary k}, which equals min(b − 1, ⌊b · #{vᵢ < x} / n⌋): exactly
/// the CLV percentile (b = 100) and the RFM quintile − 1 (b = 5) that the refit computes from the full
/// sorted list (`countBelow`, `RFM.quintiles`).
struct RankCuts: Equatable {
    var clv: [Double]
    var recency: [Double]
    var frequency: [Double]
    var monetary: [Double]

    /// Boundaries from the population's summaries and CLVs, with the orientation of `RFM.score`:
    /// recency is −(periods since the last purchase), frequency counts every purchase period.
    init(clvValues: [Double], summaries: [CustomerSummary]) {
        clv = Self.boundaries(clvValues, buckets: 100)
        recency = Self.boundaries(summaries.map { -($0.T - $0.recency) }, buckets: 5)
        frequency = Self.boundaries(summaries.map { $0.frequency + 1 }, buckets: 5)
        monetary = Self.boundaries(summaries.map(\.monetaryValue), buckets: 5)
    }

    init(clv: [Double], recency: [Double], frequency: [Double], monetary: [Double]) {
        self.clv = clv; self.recency = recency; self.frequency = frequency; self.monetary = monetary
    }

    static func boundaries(_ values: [Double], buckets: Int) -> [Double] {
        let sorted = values.sorted()
        let n = sorted.count
        guard n > 0 else { return [] }
        return (1..<buckets).map { k in sorted[(k * n + buckets - 1) / buckets - 1] }
    }

    /// Number of boundaries strictly below `value`.
    static func rank(_ value: Double, in boundaries: [Double]) -> Int {
        var lo = 0, hi = boundaries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if boundaries[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    func clvPercentile(_ clvValue: Double) -> Int { Self.rank(clvValue, in: clv) }

    /// (r, f, m) quintile scores 1–5 of one summary.
    func rfm(_ c: CustomerSummary) -> (r: Int, f: Int, m: Int) {
        (1 + Self.rank(-(c.T - c.recency), in: recency),
         1 + Self.rank(c.frequency + 1, in: frequency),
         1 + Self.rank(c.monetaryValue, in: monetary))
    }

    // MARK: - Storage: little-endian IEEE 754 doubles, one BLOB per dimension.

    static func encode(_ values: [Double]) -> Data {
        var data = Data(capacity: values.count * 8)
        for v in values {
            withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    static func decode(_ data: Data, column: String) throws -> [Double] {
        guard data.count % 8 == 0 else {
            throw ScoringStateError(message: "scoring_fits.\(column): \(data.count) bytes is not a whole number of 8-byte doubles")
        }
        let bytes = [UInt8](data)
        return stride(from: 0, to: bytes.count, by: 8).map { start in
            var bits: UInt64 = 0
            for i in 0..<8 { bits |= UInt64(bytes[start + i]) << (8 * UInt64(i)) }
            return Double(bitPattern: bits)
        }
    }
}

/// The plugin's own database holds something it never writes (a damaged or foreign file).
public struct ScoringStateError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
