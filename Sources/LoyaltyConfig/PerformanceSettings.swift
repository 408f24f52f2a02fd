import Yams

/// `performance:` in config/loyalty.yaml: where the request path runs.
public struct PerformanceSettings: Sendable, Equatable {
    /// CPUs for the request path: the bus's router thread and each plugin's service thread, with
    /// their processes' ZeroMQ I/O threads. Kept on one CPU, a request's dozen thread wake-ups
    /// need no interrupt between CPUs (docs/architecture.md, "A request's time is thread wake-ups").
    public var requestCPUs: RequestCPUs = .auto

    public init(requestCPUs: RequestCPUs = .auto) { self.requestCPUs = requestCPUs }
}

/// `requestCPUs:` — `auto` (the default), `none`, or a list such as `[1]`.
public enum RequestCPUs: Sendable, Equatable, CustomStringConvertible {
    /// The last CPU the engine may use, when it may use two or more; else none.
    case auto
    /// Wherever the kernel puts the threads.
    case none
    /// These CPUs.
    case cpus([Int])

    /// The CPUs to bind to, given the ones the process may use (`CPUAffinity.allowedCPUs()`).
    public func resolved(allowed: [Int]) -> [Int] {
        switch self {
        case .auto: allowed.count >= 2 ? [allowed.last!] : []
        case .none: []
        case .cpus(let cpus): cpus
        }
    }

    public var description: String {
        switch self {
        case .auto: "auto"
        case .none: "none"
        case .cpus(let cpus): "[" + cpus.map(String.init).joined(separator: ", ") + "]"
        }
    }
}

extension LoyaltyConfiguration {
    static func readPerformance(_ node: Node, into settings: inout PerformanceSettings, _ reader: YAMLReader) throws(ConfigError) {
        let keys = try reader.mapping(node, allowed: ["requestCPUs"], what: "'performance'")
        guard let value = keys["requestCPUs"]?.value else { return }
        let expected = "'requestCPUs' is auto, none, or a list of CPU numbers like [1] or [2, 3] (0 is the first CPU)"
        if case .scalar = value, !YAMLReader.isNull(value) {
            switch try reader.string(value, key: "requestCPUs") {
            case "auto": settings.requestCPUs = .auto
            case "none": settings.requestCPUs = .none
            case let text: throw reader.error("\(expected), not '\(text)'", at: value)
            }
            return
        }
        var cpus: [Int] = []
        for text in try reader.stringList(value, key: "requestCPUs") {
            guard let cpu = Int(text), (0..<1024).contains(cpu) else { throw reader.error("\(expected), not '\(text)'", at: value) }
            guard !cpus.contains(cpu) else { throw reader.error("'requestCPUs' names CPU \(cpu) twice", at: value) }
            cpus.append(cpu)
        }
        settings.requestCPUs = cpus.isEmpty ? .none : .cpus(cpus)
    }
}
