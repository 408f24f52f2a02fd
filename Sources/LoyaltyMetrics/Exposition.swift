/// Prometheus text exposition (format 0.0.4), read into families and written back out.
///
/// Each process of the engine (the bus, every plugin) emits its own text; a scrape must hold
/// each family's `# HELP` and `# TYPE` once, with every process's series under it: Prometheus
/// refuses a second `TYPE` line for a family, and a sample line that comes after another
/// family's lines.
public struct Exposition: Sendable, Equatable {
    public struct Family: Sendable, Equatable {
        public var name: String
        /// counter, gauge, histogram, summary or untyped.
        public var type: String
        public var help: String?
        /// Sample lines as written, e.g. `loyalty_bus_commits_total 12`.
        public var samples: [String]

        public init(name: String, type: String, help: String? = nil, samples: [String] = []) {
            self.name = name
            self.type = type
            self.help = help
            self.samples = samples
        }
    }

    /// In order of first appearance.
    public private(set) var families: [Family] = []
    private var index: [String: Int] = [:]
    /// Series already present (name and labels as written), so two sources cannot repeat one.
    private var seriesSeen: Set<String> = []
    /// Lines that could not be kept, with why; written as comments so a reader of the scrape sees them.
    public private(set) var dropped: [String] = []

    public init() {}

    public subscript(name: String) -> Family? { index[name].map { families[$0] } }

    /// Reads one process's text and adds its families and series.
    public mutating func merge(_ text: String, source: String) {
        // TYPE and HELP lines of this text; a family keeps the first TYPE it was declared with.
        var declared: [String: String] = [:]
        var helps: [String: String] = [:]
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
                guard parts.count >= 3, parts[0] == "#" else { continue }
                let name = String(parts[2])
                if parts[1] == "TYPE", parts.count == 4 {
                    declared[name] = String(parts[3]).trimmingSpaces
                    declare(name: name, type: declared[name]!, source: source)
                } else if parts[1] == "HELP" {
                    helps[name] = parts.count == 4 ? String(parts[3]) : ""
                }
                continue
            }
            guard let series = Self.seriesPart(of: line) else {
                dropped.append("\(source): unreadable line '\(line.prefix(80))'")
                continue
            }
            let sampleName = Self.metricName(of: series)
            let family = familyName(of: sampleName, declared: declared)
            guard let position = index[family] ?? declareUntyped(family, declaredHere: declared[family], source: source) else {
                continue
            }
            if let localType = declared[family], localType != families[position].type { continue }
            guard seriesSeen.insert(String(series)).inserted else {
                dropped.append("\(source): repeats series \(series)")
                continue
            }
            families[position].samples.append(String(line))
        }
        for (name, help) in helps {
            if let position = index[name], families[position].help == nil { families[position].help = help }
        }
    }

    /// Adds a sample line to a family declared here if it is not yet (for series the
    /// aggregator makes itself, such as `loyalty_process_up`).
    public mutating func add(family name: String, type: String, help: String?, samples: [String]) {
        declare(name: name, type: type, source: "scrape")
        guard let position = index[name], families[position].type == type else { return }
        if families[position].help == nil { families[position].help = help }
        for sample in samples {
            guard let series = Self.seriesPart(of: Substring(sample)), seriesSeen.insert(String(series)).inserted else { continue }
            families[position].samples.append(sample)
        }
    }

    /// Fills in the help of families whose source gave none.
    public mutating func describe(_ catalog: [String: String]) {
        for position in families.indices where families[position].help == nil {
            families[position].help = catalog[families[position].name]
        }
    }

    /// The text: every family once, HELP then TYPE then its samples.
    public var text: String {
        var out = ""
        for family in families {
            if let help = family.help, !help.isEmpty { out += "# HELP \(family.name) \(help)\n" }
            out += "# TYPE \(family.name) \(family.type)\n"
            for sample in family.samples { out += sample + "\n" }
        }
        for note in dropped { out += "# dropped: \(note.replacingNewlines)\n" }
        return out
    }

    private mutating func declare(name: String, type: String, source: String) {
        if let position = index[name] {
            if families[position].type != type {
                dropped.append("\(source): declares \(name) as \(type), already \(families[position].type); its series are left out")
            }
            return
        }
        index[name] = families.count
        families.append(Family(name: name, type: type))
    }

    private mutating func declareUntyped(_ name: String, declaredHere: String?, source: String) -> Int? {
        declare(name: name, type: declaredHere ?? "untyped", source: source)
        return index[name]
    }

    /// The family a sample belongs to: its own name, or for `_bucket`, `_sum`, `_count` the
    /// histogram or summary it is part of.
    private func familyName(of sample: Substring, declared: [String: String]) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where sample.hasSuffix(suffix) {
            let base = String(sample.dropLast(suffix.count))
            let type = declared[base] ?? index[base].map { families[$0].type }
            if type == "histogram" || (type == "summary" && suffix != "_bucket") { return base }
        }
        return String(sample)
    }

    /// `name{labels}` of a sample line, without its value and timestamp; nil if not a sample.
    static func seriesPart(of line: Substring) -> Substring? {
        var inQuotes = false, escaped = false, inBraces = false
        var position = line.startIndex
        while position < line.endIndex {
            let character = line[position]
            if inQuotes {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { inQuotes = false }
            } else if character == "\"" && inBraces {
                inQuotes = true
            } else if character == "{" {
                inBraces = true
            } else if character == "}" {
                inBraces = false
            } else if character == " " && !inBraces {
                let series = line[line.startIndex..<position]
                let value = line[line.index(after: position)...].split(separator: " ").first
                guard !series.isEmpty, let value, Double(value) != nil || ["+Inf", "-Inf", "NaN"].contains(value) else { return nil }
                return series
            }
            position = line.index(after: position)
        }
        return nil
    }

    static func metricName(of series: Substring) -> Substring {
        series.prefix { $0 != "{" }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }

    fileprivate var replacingNewlines: String {
        String(map { $0.isNewline ? " " : $0 })
    }
}
