/// A problem found while reading `config/loyalty.yaml` or a `plugin.yaml`.
///
/// Its description reads like a compiler diagnostic, so editors and terminals can jump to it:
/// `config/loyalty.yaml:3:3: unknown key 'ingset' — did you mean 'ingest'?`
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the problem is in (as given to the loader).
    public var file: String
    /// 1-based line, when known.
    public var line: Int?
    /// 1-based column, when known.
    public var column: Int?
    /// What is wrong.
    public var message: String
    /// A likely fix, e.g. the key the user probably meant.
    public var suggestion: String?

    public init(file: String, line: Int? = nil, column: Int? = nil, message: String, suggestion: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.suggestion = suggestion
    }

    public var description: String {
        var location = file
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        var text = "\(location): \(message)"
        if let suggestion { text += " — \(suggestion)" }
        return text
    }
}

/// Levenshtein distance, used for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// The closest allowed key within edit distance 2, if any.
func closestKey(to key: String, in allowed: [String]) -> String? {
    let scored = allowed.map { ($0, editDistance(key.lowercased(), $0.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2 else { return nil }
    return best.0
}
