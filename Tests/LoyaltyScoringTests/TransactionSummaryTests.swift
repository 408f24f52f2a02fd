import Foundation
import Testing
import LoyaltyScoring

@Suite struct TransactionSummaryTests {
    static func day(_ s: String) -> Date {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(secondsFromGMT: 0)
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return f.date(from: s.count == 10 ? s + " 00:00" : s)!
    }

    /// 2024-01-01 is a Monday. Expected values were checked against
    /// lifetimes.utils.summary_data_from_transaction_data(..., observation_period_end="2024-01-17").
    static let transactions: [ScoringTransaction] = [
        .init(customerId: "A", date: day("2024-01-01 09:00"), amountMinor: 1000),
        .init(customerId: "A", date: day("2024-01-01 18:30"), amountMinor: 500),  // same day: merged
        .init(customerId: "A", date: day("2024-01-03"), amountMinor: 300),        // same week as the first
        .init(customerId: "A", date: day("2024-01-10"), amountMinor: 700),
        .init(customerId: "B", date: day("2024-01-05"), amountMinor: 999),
        .init(customerId: "C", date: day("2024-01-02"), amountMinor: 250),
        .init(customerId: "C", date: day("2024-01-14"), amountMinor: 750),        // Sunday
        .init(customerId: "D", date: day("2024-01-20"), amountMinor: 100),        // after the end (Wed 17th)
    ]

    @Test func daily() {
        let s = TransactionSummary.summarize(Self.transactions, observationEnd: Self.day("2024-01-17"), period: .day)
        #expect(s == [
            CustomerSummary(customerId: "A", frequency: 2, recency: 9, T: 16, monetaryValue: 500),  // (300 + 700) / 2
            CustomerSummary(customerId: "B", frequency: 0, recency: 0, T: 12, monetaryValue: 0),
            CustomerSummary(customerId: "C", frequency: 1, recency: 12, T: 15, monetaryValue: 750),
        ])
    }

    @Test func weekly() {
        let s = TransactionSummary.summarize(Self.transactions, observationEnd: Self.day("2024-01-17"), period: .week)
        #expect(s == [
            CustomerSummary(customerId: "A", frequency: 1, recency: 1, T: 2, monetaryValue: 700),
            CustomerSummary(customerId: "B", frequency: 0, recency: 0, T: 2, monetaryValue: 0),
            CustomerSummary(customerId: "C", frequency: 1, recency: 1, T: 2, monetaryValue: 750),
            // lifetimes keeps a purchase in the observation end's own week, even after the end date.
            CustomerSummary(customerId: "D", frequency: 0, recency: 0, T: 0, monetaryValue: 0),
        ])
    }

    @Test func defaultEndIsTheLastPurchase() {
        let s = TransactionSummary.summarize(Self.transactions, period: .day)
        #expect(s.map(\.customerId) == ["A", "B", "C", "D"])
        #expect(s.first { $0.customerId == "A" }?.T == 19)
        #expect(s.first { $0.customerId == "D" }?.T == 0)
        #expect(TransactionSummary.summarize([ScoringTransaction](), period: .week).isEmpty)
    }
}
