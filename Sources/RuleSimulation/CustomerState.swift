import LoyaltyRules

/// A customer's visits by store-local day, for `customer.visits(days:)` and
/// `customer.spend(days:)`. Keeps only as many days as the rules ask about.
final class DailyHistory: CustomerHistory {
    private var days: [Int] = []
    private var visitCounts: [Int] = []
    private var spends: [Double] = []
    private let window: Int

    init(window: Int) {
        self.window = window
    }

    func record(day: Int, spend: Double) {
        if let last = days.last, last == day {
            visitCounts[visitCounts.count - 1] += 1
            spends[spends.count - 1] += spend
        } else {
            days.append(day)
            visitCounts.append(1)
            spends.append(spend)
        }
        // Forget days older than the longest window asked about.
        var drop = 0
        while drop < days.count && days[drop] <= day - window { drop += 1 }
        if drop > 0 {
            days.removeFirst(drop)
            visitCounts.removeFirst(drop)
            spends.removeFirst(drop)
        }
    }

    func visits(days count: Int, today: Int) -> Int {
        var total = 0
        var i = days.count - 1
        while i >= 0 && days[i] > today - count {
            if days[i] <= today { total += visitCounts[i] }
            i -= 1
        }
        return total
    }

    func spend(days count: Int, today: Int) -> Double {
        var total = 0.0
        var i = days.count - 1
        while i >= 0 && days[i] > today - count {
            if days[i] <= today { total += spends[i] }
            i -= 1
        }
        return total
    }
}

/// What a simulation knows of one customer.
struct CustomerState {
    var visits = 0.0
    var spend = 0.0
    var firstVisit: Int64 = 0
    var lastVisit: Int64 = 0
    /// Spendable points.
    var points = 0.0
    var qualifyingPoints = 0.0
    /// Points still in their pending period: (release instant, points), oldest first.
    var pending: [(releaseAt: Int64, points: Double)] = []
    var tier = ""
    var lastNps = Double.nan
    var earnedDay = Int.min
    var earnedToday = 0.0
    var history: DailyHistory?
}
