/// An ISO 4217 currency code: three uppercase ASCII letters that name a currently active currency.
public struct CurrencyCode: Sendable, Hashable, CustomStringConvertible {
    public let code: String

    /// Returns nil unless `code` is exactly three uppercase ASCII letters in the ISO 4217 active list.
    public init?(_ code: String) {
        guard CurrencyCode.isActive(code) else { return nil }
        self.code = code
    }

    public var description: String { code }

    /// True when `code` is a currently active ISO 4217 code.
    public static func isActive(_ code: String) -> Bool {
        let u = code.utf8
        guard u.count == 3 else { return false }
        var key: UInt32 = 0
        for c in u {
            guard c >= 0x41 && c <= 0x5A else { return false }
            key = key << 8 | UInt32(c)
        }
        return activeSet.contains(key)
    }

    /// All active codes, sorted.
    public static var allActive: [String] { activeCodes.split(separator: " ").map(String.init) }

    public static let NOK = CurrencyCode(uncheckedCode: "NOK")
    public static let SEK = CurrencyCode(uncheckedCode: "SEK")
    public static let DKK = CurrencyCode(uncheckedCode: "DKK")
    public static let EUR = CurrencyCode(uncheckedCode: "EUR")
    public static let USD = CurrencyCode(uncheckedCode: "USD")
    public static let GBP = CurrencyCode(uncheckedCode: "GBP")

    private init(uncheckedCode: String) { code = uncheckedCode }

    // ISO 4217 list one (active codes), including funds codes and the X-codes, as of 2025:
    // ANG and XCG both listed (Caribbean guilder transition), ZWG replaces ZWL, SLE replaces SLL,
    // HRK withdrawn.
    private static let activeCodes = """
        AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN \
        BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN \
        ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD \
        JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT \
        MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG \
        QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT \
        TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA \
        XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG
        """

    private static let activeSet: Set<UInt32> = {
        var s = Set<UInt32>()
        for word in activeCodes.split(separator: " ") {
            var key: UInt32 = 0
            for c in word.utf8 { key = key << 8 | UInt32(c) }
            s.insert(key)
        }
        return s
    }()
}

/// An amount of money in integer minor units (øre, cents) of a currency. Never floating point.
public struct Money: Sendable, Hashable, CustomStringConvertible {
    public var minorUnits: Int64
    public var currency: CurrencyCode

    public init(minorUnits: Int64, currency: CurrencyCode) {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    public var description: String { "\(minorUnits) \(currency) minor units" }
}
