import LoyaltyRules

/// One store-local day of a customer's visits.
struct VisitDay {
    var day: Int
    var visits: Int
    /// Minor units.
    var spend: Double
}

/// A customer's visits by store-local day, for `customer.visits(days:)` and
/// `customer.spend(days:)`. Keeps only as many days as the rules ask about.
///
/// A value in the customer's state (one allocation, next to the rest of the state), so that
/// recording a purchase touches little memory: with tens of thousands of customers visited in
/// random order, cache misses are most of the cost of keeping history.
struct DailyHistory {
    /// Days with visits, oldest first, from `start` on; entries before `start` are forgotten
    /// and dropped in bulk, so recording a visit does not shift the array each time.
    private(set) var entries: [VisitDay] = []
    private(set) var start = 0

    mutating func record(day: Int, spend: Double, window: Int) {
        if entries.count > start, entries[entries.count - 1].day == day {
            entries[entries.count - 1].visits += 1
            entries[entries.count - 1].spend += spend
        } else {
            entries.append(VisitDay(day: day, visits: 1, spend: spend))
        }
        // Forget days older than the longest window asked about.
        while start < entries.count && entries[start].day <= day - window { start += 1 }
        if start > 0 && start * 2 >= entries.count {
            entries.removeFirst(start)
            start = 0
        }
    }

    func visits(days count: Int, today: Int) -> Int {
        var total = 0
        var i = entries.count - 1
        while i >= start && entries[i].day > today - count {
            if entries[i].day <= today { total += entries[i].visits }
            i -= 1
        }
        return total
    }

    func spend(days count: Int, today: Int) -> Double {
        var total = 0.0
        var i = entries.count - 1
        while i >= start && entries[i].day > today - count {
            if entries[i].day <= today { total += entries[i].spend }
            i -= 1
        }
        return total
    }
}

/// What `customer.visits(days:)` and `customer.spend(days:)` read during a simulation: the
/// history of the customer whose event is being evaluated. One per simulation; `history` is
/// set before each evaluation and emptied after, so the customer's own copy stays uniquely
/// referenced (and is not copied when the next visit is recorded).
final class HistoryView: CustomerHistory {
    var history = DailyHistory()

    func visits(days count: Int, today: Int) -> Int { history.visits(days: count, today: today) }
    func spend(days count: Int, today: Int) -> Double { history.spend(days: count, today: today) }
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
    /// Kept only when the rules ask about history (`customer.visits(days:)`...).
    var history = DailyHistory()
}
