import Foundation

/// A deliberately simple model of the points rules the property tests use: 1 point per 10 NOK,
/// 7 days pending, 90 days to expiry, spent points taken back from a return are owed. Lots are
/// a list; every operation scans it.
public struct ReferenceLedger {
    public struct Lot {
        var id: String
        var customer: String
        var points: Int64
        var remaining: Int64
        var reversed: Int64 = 0
        var earnedAt: Int64
        var total: Int64
        var returned: Int64 = 0
        var expired = false
        var pendingUntil: Int64 { earnedAt + 7 * ReferenceLedger.day }
        var expiresAt: Int64
    }

    public static let day: Int64 = 86_400_000
    public var lots: [Lot] = []
    public var owed: [String: Int64] = [:]
    public var redemptions: [String: Int64] = [:]

    public init() {}

    public static let rules = """
        currency: NOK
        timezone: UTC
        earning:
          pending: 7d
          expiry: 90d
          returnShortfall: clawback
          rules:
            - id: base
              points: purchase.total / 10 NOK
        """

    public mutating func expire(at now: Int64) {
        for i in lots.indices where !lots[i].expired && lots[i].expiresAt <= now {
            lots[i].expired = true
            lots[i].remaining = 0
        }
    }

    public mutating func purchase(_ id: String, customer: String, amount: Int64, at now: Int64) {
        expire(at: now)
        let points = amount / 10_00
        let day = now >= 0 ? now / Self.day : (now - Self.day + 1) / Self.day
        let repaid = min(points, owed[customer, default: 0])
        owed[customer, default: 0] -= repaid
        lots.append(Lot(id: id, customer: customer, points: points, remaining: points - repaid, earnedAt: now, total: amount,
                        expiresAt: (day + 90) * Self.day))
    }

    /// Takes from the lot first, then the customer's other lots, oldest-expiring first.
    mutating func take(_ wanted: Int64, customer: String, first: Int?, spendable: Int64? = nil) -> Int64 {
        var left = wanted
        var order: [Int] = first.map { [$0] } ?? []
        order += lots.indices.filter { lots[$0].customer == customer && !lots[$0].expired && lots[$0].remaining > 0 }
            .filter { i in spendable.map { lots[i].pendingUntil <= $0 && lots[i].expiresAt > $0 } ?? true }
            .sorted { lots[$0].expiresAt != lots[$1].expiresAt ? lots[$0].expiresAt < lots[$1].expiresAt : $0 < $1 }
        for i in order where left > 0 && !lots[i].expired {
            let part = min(left, lots[i].remaining)
            lots[i].remaining -= part
            left -= part
        }
        return wanted - left
    }

    public mutating func refund(of original: String, customer: String, amount: Int64, at now: Int64) {
        expire(at: now)
        guard let i = lots.firstIndex(where: { $0.id == original }), lots[i].customer == customer else { return }
        lots[i].returned = min(lots[i].total, lots[i].returned + amount)
        let target = lots[i].returned >= lots[i].total ? lots[i].points
            : Int64((Double(lots[i].points) * Double(lots[i].returned) / Double(lots[i].total)).rounded(.down))
        let delta = target - lots[i].reversed
        guard delta > 0 else { return }
        lots[i].reversed += delta
        let taken = take(delta, customer: customer, first: i)
        owed[customer, default: 0] += delta - taken
    }

    public func available(_ customer: String, at now: Int64) -> Int64 {
        lots.filter { $0.customer == customer && !$0.expired && $0.pendingUntil <= now && $0.expiresAt > now }
            .reduce(0) { $0 + $1.remaining } - owed[customer, default: 0]
    }

    public func pending(_ customer: String, at now: Int64) -> Int64 {
        lots.filter { $0.customer == customer && !$0.expired && $0.pendingUntil > now && $0.expiresAt > now }.reduce(0) { $0 + $1.remaining }
    }

    /// - Returns: true when redeemed.
    public mutating func redeem(_ customer: String, _ points: Int64, key: String, at now: Int64) -> Bool {
        if redemptions["\(customer)/\(key)"] != nil { return true }
        guard available(customer, at: now) >= points else { return false }
        _ = take(points, customer: customer, first: nil, spendable: now)
        redemptions["\(customer)/\(key)"] = points
        return true
    }
}

/// A random mix of purchases, returns, redemptions (some retried) and the clock moving on.
public struct PointsOperation: CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case purchase(amount: Int64), refund(of: String, amount: Int64, claimant: String), redeem(points: Int64, key: String), advance(Int64) }
    public var kind: Kind
    public var customer: String
    public var id: String

    public var description: String { "\(id) \(customer) \(kind)" }

    public static func random(count: Int, seed: UInt64) -> [PointsOperation] {
        var generator = SplitMix(seed: seed)
        var operations: [PointsOperation] = []
        var purchases: [(id: String, customer: String)] = []
        let customers = ["C1", "C2", "C3"]
        for n in 0..<count {
            let customer = customers[Int(generator.next() % 3)]
            let roll = generator.next() % 100
            if roll < 45 || purchases.isEmpty {
                let amount = Int64(generator.next() % 50_000) + 1_00
                operations.append(PointsOperation(kind: .purchase(amount: amount), customer: customer, id: "p\(n)"))
                purchases.append(("p\(n)", customer))
            } else if roll < 60 {
                let original = purchases[Int(generator.next() % UInt64(purchases.count))]
                // Mostly the buyer; sometimes someone else's receipt.
                let claimant = generator.next() % 10 == 0 ? customers[Int(generator.next() % 3)] : original.customer
                operations.append(PointsOperation(kind: .refund(of: original.id, amount: Int64(generator.next() % 30_000) + 1, claimant: claimant),
                                            customer: original.customer, id: "r\(n)"))
            } else if roll < 80 {
                let key = generator.next() % 4 == 0 && n > 0 ? "k\(n - 1)" : "k\(n)"   // a retry reuses the last key
                operations.append(PointsOperation(kind: .redeem(points: Int64(generator.next() % 80) + 1, key: key), customer: customer, id: "q\(n)"))
            } else {
                operations.append(PointsOperation(kind: .advance(Int64(generator.next() % 20) * ReferenceLedger.day + Int64(generator.next() % 86_400_000)),
                                            customer: customer, id: "t\(n)"))
            }
        }
        return operations
    }
}

public struct SplitMix {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

