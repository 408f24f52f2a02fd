import GRDB

/// Answers counted over a span of time: promoters score 9-10, detractors 0-6.
public struct NPSCount: Sendable, Equatable {
    public var responses = 0
    public var promoters = 0
    public var detractors = 0

    public init(responses: Int = 0, promoters: Int = 0, detractors: Int = 0) {
        self.responses = responses
        self.promoters = promoters
        self.detractors = detractors
    }

    public var passives: Int { responses - promoters - detractors }

    /// % promoters minus % detractors, -100...100; nil without answers.
    public var nps: Double? {
        responses == 0 ? nil : 100 * Double(promoters - detractors) / Double(responses)
    }

    /// Share of detractors, 0...1; nil without answers.
    public var detractorShare: Double? {
        responses == 0 ? nil : Double(detractors) / Double(responses)
    }

    /// Answers with `from < at <= to`, for one store or (store nil) the chain.
    static func count(store: String?, from: Int64, to: Int64, in db: Database) throws -> NPSCount {
        let row: Row?
        if let store {
            row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT COUNT(*), COALESCE(SUM(nps >= 9), 0), COALESCE(SUM(nps <= 6), 0)
                FROM sat_responses WHERE storeId = ? AND at > ? AND at <= ?
                """), arguments: [store, from, to])
        } else {
            row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT COUNT(*), COALESCE(SUM(nps >= 9), 0), COALESCE(SUM(nps <= 6), 0)
                FROM sat_responses WHERE at > ? AND at <= ?
                """), arguments: [from, to])
        }
        guard let row else { return NPSCount() }
        return NPSCount(responses: row[0], promoters: row[1], detractors: row[2])
    }
}

/// The survey drivers, as named in events and shown to people.
enum Driver: String, CaseIterable {
    case expectations, valueForMoney, serviceLevel

    var label: String {
        switch self {
        case .expectations: "meeting expectations"
        case .valueForMoney: "value for money"
        case .serviceLevel: "service level"
        }
    }
}

/// Average driver scores among a store's detractors over a span.
struct DriverAverages {
    var detractors = 0
    /// driver → (average, answers); drivers nobody answered are absent.
    var averages: [Driver: (average: Double, answers: Int)] = [:]

    /// The driver with the lowest average: the one that weighs most on detractors. Ties go to
    /// the first in `Driver.allCases`, so the result never depends on row order.
    var top: (driver: Driver, average: Double, answers: Int)? {
        var best: (Driver, Double, Int)?
        for driver in Driver.allCases {
            guard let (average, answers) = averages[driver] else { continue }
            if best == nil || average < best!.1 { best = (driver, average, answers) }
        }
        return best.map { (driver: $0.0, average: $0.1, answers: $0.2) }
    }

    static func of(store: String, from: Int64, to: Int64, in db: Database) throws -> DriverAverages {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT COUNT(*), AVG(expectations), COUNT(expectations), AVG(valueForMoney), COUNT(valueForMoney),
                   AVG(serviceLevel), COUNT(serviceLevel)
            FROM sat_responses WHERE storeId = ? AND at > ? AND at <= ? AND nps <= 6
            """), arguments: [store, from, to]) else { return DriverAverages() }
        var result = DriverAverages(detractors: row[0])
        for (index, driver) in Driver.allCases.enumerated() {
            let answers: Int = row[2 + 2 * index]
            if answers > 0, let average = row[1 + 2 * index] as Double? { result.averages[driver] = (average, answers) }
        }
        return result
    }
}

/// One decimal, for NPS figures in messages.
func oneDecimal(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}

/// "7d", "36h": a window as people write it in the rule files.
func durationText(_ seconds: Double) -> String {
    if seconds >= 86_400, seconds.truncatingRemainder(dividingBy: 86_400) == 0 { return "\(Int(seconds / 86_400))d" }
    if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
    return "\(Int(seconds / 60))min"
}
