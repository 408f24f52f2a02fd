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
            // Room for a month of a regular's visit days from the first: grown from one entry by
            // doubling, a customer's history was reallocated three or four times in their first
            // weeks (a third of the simulation's allocations over 200,000 events).
            if entries.capacity == 0 { entries.reserveCapacity(8) }
            entries.append(VisitDay(day: day, visits: 1, spend: spend))
        }
        // Forget days older than the longest window asked about.
        while start < entries.count && entries[start].day <= day - window { start += 1 }
        if start > 0 && start * 2 >= entries.count {
            entries.removeFirst(start)
            start = 0
        }
    }

    /// Where the storage's first and last entries are now, as prefetch hints (see
    /// `CustomerState.historyHints`); (0, 0) when there are none.
    var storageHints: (first: UInt, last: UInt) {
        entries.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress, buffer.count > 0 else { return (0, 0) }
            return (UInt(bitPattern: base), UInt(bitPattern: base + (buffer.count - 1)))
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
/// history of the customer whose event is being evaluated, read in place in the simulation's
/// table of customers. One per simulation; `state` is pointed at the customer before each
/// evaluation. Copying the history in and out instead cost a retain, a release and a
/// uniqueness check per event.
final class HistoryView: CustomerHistory {
    /// Only read while `RuleSimulation.run` holds the table it points into (see there); never
    /// dereferenced before it is first set. Opted out of the runtime exclusivity check (a call
    /// per read and write, per event): the view is used by the one thread running the
    /// simulation, and no access to it overlaps another.
    @exclusivity(unchecked) private(set) var state: UnsafePointer<CustomerState>
    /// The last two `visits(days:today:)` asked since `look(at:)`, and their answers: several
    /// rules ask the same (`customer.visits(days: 30)`, between them `days: 7`) of one event, and
    /// each walked the history again.
    @exclusivity(unchecked) private var lastVisits = (days: -1, today: 0, visits: 0)
    @exclusivity(unchecked) private var otherVisits = (days: -1, today: 0, visits: 0)

    init(_ state: UnsafePointer<CustomerState>) {
        self.state = state
    }

    /// Points the view at the customer about to be evaluated. Their history must not change
    /// until the next call (the simulation records the visit before).
    @inline(__always) func look(at state: UnsafePointer<CustomerState>) {
        self.state = state
        lastVisits.days = -1
        otherVisits.days = -1
    }

    func visits(days count: Int, today: Int) -> Int {
        if lastVisits.days == count && lastVisits.today == today { return lastVisits.visits }
        if otherVisits.days == count && otherVisits.today == today { return otherVisits.visits }
        let visits = state.pointee.history.visits(days: count, today: today)
        otherVisits = lastVisits
        lastVisits = (count, today, visits)
        return visits
    }
    func spend(days count: Int, today: Int) -> Double { state.pointee.history.spend(days: count, today: today) }
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
    var lastNps = Double.nan
    var earnedToday = 0.0
    var earnedDay = Int.min
    /// The earliest release instant of the pending lots; `.max` when none is pending. Kept here
    /// so that an event checks it without touching `pending`'s storage (a cache miss per event).
    var nextRelease = Int64.max
    /// Position of the tier in the tier levels; -1 when there are none (the tier is "").
    var tier = -1
    /// Points still in their pending period: (release instant, points), oldest first.
    var pending: [(releaseAt: Int64, points: Double)] = []
    /// Kept only when the rules ask about history (`customer.visits(days:)`...).
    var history = DailyHistory()
    /// Addresses of `history`'s first and last entries and of `pending`'s first lot, as of their
    /// last change: prefetch hints for this customer's next event, never dereferenced (a stale
    /// hint only prefetches the wrong memory). 0 for none.
    var historyHints: (first: UInt, last: UInt) = (0, 0)
    var pendingHint: UInt = 0

    mutating func updatePendingHint() {
        pendingHint = pending.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
    }
}
