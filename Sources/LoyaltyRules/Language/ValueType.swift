import LoyaltyEvents

/// The type of an expression, checked when a rule file is loaded.
public enum ValueType: Sendable, Hashable, CustomStringConvertible {
    case bool
    case number
    /// Money in one currency. Amounts are carried in minor units.
    case money(CurrencyCode)
    case string
    /// A length of time, carried in seconds.
    case duration
    /// A calendar date, carried as days since 1970-01-01.
    case date
    /// A time of day, carried as minutes since midnight.
    case timeOfDay
    /// A list literal, `["a", "b"]`; only on the right of `in`.
    indirect case list(ValueType)

    public var description: String {
        switch self {
        case .bool: "a condition (true/false)"
        case .number: "a number"
        case .money(let currency): "money in \(currency)"
        case .string: "text"
        case .duration: "a duration"
        case .date: "a date"
        case .timeOfDay: "a time of day"
        case .list(let element): "a list of \(element.plural)"
        }
    }

    var plural: String {
        switch self {
        case .bool: "conditions"
        case .number: "numbers"
        case .money(let currency): "amounts in \(currency)"
        case .string: "texts"
        case .duration: "durations"
        case .date: "dates"
        case .timeOfDay: "times of day"
        case .list: "lists"
        }
    }

    /// Types whose runtime value is a `Double`.
    var isNumeric: Bool {
        switch self {
        case .number, .money, .duration, .date, .timeOfDay: true
        default: false
        }
    }

    var isOrdered: Bool { isNumeric }
}

/// Minor-unit exponents of ISO 4217 currencies; 2 unless listed.
public enum CurrencyUnits {
    private static let zero: Set<String> = [
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
        "XAF", "XOF", "XPF",
    ]
    private static let three: Set<String> = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]
    private static let four: Set<String> = ["CLF", "UYW"]

    public static func exponent(of currency: CurrencyCode) -> Int {
        let code = currency.code
        if zero.contains(code) { return 0 }
        if three.contains(code) { return 3 }
        if four.contains(code) { return 4 }
        return 2
    }

    /// Minor units in one major unit: 100 for NOK, 1 for JPY.
    public static func scale(of currency: CurrencyCode) -> Double {
        var scale = 1.0
        for _ in 0..<exponent(of: currency) { scale *= 10 }
        return scale
    }

    /// `1234.5 NOK` for 123450 minor units.
    public static func format(minorUnits: Double, currency: CurrencyCode) -> String {
        let exponent = exponent(of: currency)
        let major = minorUnits / scale(of: currency)
        var text = exponent == 0 ? String(Int64(major.rounded())) : formatFixed(major, decimals: exponent)
        if text.hasSuffix(".00") { text.removeLast(3) }
        return "\(text) \(currency)"
    }

    static func formatFixed(_ value: Double, decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int64(scaled / scale)
        let fraction = Int64(scaled - Double(whole) * scale)
        var fractionText = String(fraction)
        while fractionText.count < decimals { fractionText = "0" + fractionText }
        return (value < 0 && scaled != 0 ? "-" : "") + "\(whole).\(fractionText)"
    }
}
