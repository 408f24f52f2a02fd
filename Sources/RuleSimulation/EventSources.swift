import Foundation
import LoyaltyEvents
import LoyaltyRules

/// A problem reading past events: the file, the line, what is wrong.
public struct EventSourceError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// Reads past events from files: JSON lines (one event envelope per line, as on the bus) or a
/// CSV of transactions.
public enum EventSources {
    /// Calls `body` for each event in a JSON-lines file, in file order. A line that is not a
    /// valid event stops the read with its line number.
    public static func readJSONLines(path: String, _ body: (EventEnvelope) -> Void) throws(EventSourceError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EventSourceError(file: path, message: "cannot read the file")
        }
        let bytes = [UInt8](data)
        var lineNumber = 0
        var position = 0
        while position < bytes.count {
            var end = position
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            lineNumber += 1
            var last = end
            if last > position && bytes[last - 1] == 0x0D { last -= 1 }
            if bytes[position..<last].contains(where: { $0 != 0x20 && $0 != 0x09 }) {
                let decoded: Result<EventEnvelope, EventValidationError> = bytes[position..<last].withUnsafeBytes { raw in
                    Result { () throws(EventValidationError) in try EventCodec.decode(raw) }
                }
                switch decoded {
                case .success(let envelope): body(envelope)
                case .failure(let error): throw EventSourceError(file: path, line: lineNumber, message: "not a valid event: \(error)")
                }
            }
            position = end + 1
        }
    }

    /// The columns a transactions CSV may have. `customerId`, a time (`occurredAt` as RFC 3339,
    /// or `date` as YYYY-MM-DD or YYYYMMDD) and `total` (major units, e.g. 123.45) are required.
    public static let csvColumns = ["eventId", "customerId", "occurredAt", "date", "total", "currency", "storeId", "sku", "category", "quantity"]

    /// Calls `body` for a purchase per CSV row (one line each, with `sku`/`category` if given).
    /// The first row names the columns. Rows need not be sorted; they are read in file order.
    public static func readCSV(path: String, defaultCurrency: CurrencyCode, _ body: (EventEnvelope) -> Void) throws(EventSourceError) {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw EventSourceError(file: path, message: "cannot read the file as UTF-8 text")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).makeIterator()
        guard let headerLine = lines.next() else { throw EventSourceError(file: path, message: "the file is empty") }
        let header = split(headerLine)
        var column: [String: Int] = [:]
        for (i, name) in header.enumerated() {
            guard csvColumns.contains(name) else {
                throw EventSourceError(file: path, line: 1, message: "unknown column '\(name)'; columns are \(csvColumns.joined(separator: ", "))")
            }
            column[name] = i
        }
        guard column["customerId"] != nil, column["total"] != nil, column["occurredAt"] != nil || column["date"] != nil else {
            throw EventSourceError(file: path, line: 1, message: "the header needs customerId, total, and occurredAt or date")
        }
        var lineNumber = 1
        while let line = lines.next() {
            lineNumber += 1
            let fields = split(line)
            if fields.count == 1 && fields[0].isEmpty { continue }
            func field(_ name: String) -> String? {
                guard let i = column[name], i < fields.count, !fields[i].isEmpty else { return nil }
                return fields[i]
            }
            func fail(_ message: String) -> EventSourceError { EventSourceError(file: path, line: lineNumber, message: message) }
            guard let customer = field("customerId") else { throw fail("customerId is empty") }
            let occurredAt: Timestamp
            if let text = field("occurredAt") {
                guard let t = Timestamp.parse(text) else { throw fail("occurredAt '\(text)' is not an RFC 3339 time") }
                occurredAt = t
            } else if let text = field("date") {
                guard let t = parseDate(text) else { throw fail("date '\(text)' is not YYYY-MM-DD or YYYYMMDD") }
                occurredAt = t
            } else {
                throw fail("the time is empty")
            }
            let currency: CurrencyCode
            if let code = field("currency") {
                guard let c = CurrencyCode(code) else { throw fail("'\(code)' is not an ISO 4217 currency") }
                currency = c
            } else {
                currency = defaultCurrency
            }
            guard let totalText = field("total"), let major = Double(totalText), major.isFinite, major >= 0, major < 1e12 else {
                throw fail("total must be an amount such as 123.45")
            }
            let scale = CurrencyUnits.scale(of: currency)
            let minor = Int64((major * scale).rounded())
            let quantity = Int64(field("quantity") ?? "1") ?? 0
            guard quantity > 0 else { throw fail("quantity must be a whole number above 0") }
            let unit = minor / quantity
            let line = PurchaseLine(sku: field("sku") ?? "unknown", category: field("category") ?? "unknown",
                                    quantity: quantity, unitPrice: unit)
            let store = field("storeId") ?? "csv"
            let purchase = Purchase(storeId: store, terminalId: "csv", receiptId: "\(lineNumber)", customerId: customer,
                                    currency: currency, lines: [line], discount: 0, total: unit * quantity)
            body(EventEnvelope(eventId: field("eventId") ?? "csv/\(lineNumber)", occurredAt: occurredAt, source: "csv",
                               payload: .purchase(purchase)))
        }
    }

    private static func split(_ line: Substring) -> [String] {
        var line = line
        if line.hasSuffix("\r") { line = line.dropLast() }
        return line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Noon UTC on the date, so the local day is the same in every European time zone.
    private static func parseDate(_ text: String) -> Timestamp? {
        let digits = text.filter { $0 != "-" }
        guard digits.count == 8, let n = Int(digits) else { return nil }
        let (year, month, day) = (n / 10000, n / 100 % 100, n % 100)
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        let padded = String(format: "%04d-%02d-%02dT12:00:00Z", year, month, day)
        return Timestamp.parse(padded)
    }
}
