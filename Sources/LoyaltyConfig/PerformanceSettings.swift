import Yams

/// `performance:` in config/loyalty.yaml: where the request path runs.
public struct PerformanceSettings: Sendable, Equatable {
    /// CPUs for the request path: the bus's router thread and each plugin's service thread, with
    /// their processes' ZeroMQ I/O threads. Empty (the default): wherever the kernel puts them.
    /// Kept on one CPU, a request's dozen thread wake-ups need no interrupt between CPUs
    /// (docs/architecture.md, "A request's time is thread wake-ups").
    public var requestCPUs: [Int] = []

    public init(requestCPUs: [Int] = []) { self.requestCPUs = requestCPUs }
}

extension LoyaltyConfiguration {
    static func readPerformance(_ node: Node, into settings: inout PerformanceSettings, _ reader: YAMLReader) throws(ConfigError) {
        let keys = try reader.mapping(node, allowed: ["requestCPUs"], what: "'performance'")
        guard let list = keys["requestCPUs"]?.value else { return }
        var cpus: [Int] = []
        for text in try reader.stringList(list, key: "requestCPUs") {
            guard let cpu = Int(text), (0..<1024).contains(cpu) else {
                throw reader.error("'requestCPUs' lists CPU numbers like [1] or [2, 3] (0 is the first CPU), not '\(text)'", at: list)
            }
            guard !cpus.contains(cpu) else { throw reader.error("'requestCPUs' names CPU \(cpu) twice", at: list) }
            cpus.append(cpu)
        }
        settings.requestCPUs = cpus
    }
}
