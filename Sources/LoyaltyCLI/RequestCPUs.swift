import ArgumentParser
import LoyaltyWire

/// `--request-cpus` of the latency benchmarks: the engine's `performance.requestCPUs` in the
/// project they make, `none` (the engine's default) or CPU numbers like `1` or `2,3`.
struct RequestCPUs: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var cpus: [Int]

    static let none = RequestCPUs(cpus: [])

    init(cpus: [Int]) { self.cpus = cpus }

    init?(argument: String) {
        if argument == "none" { self = .none; return }
        let cpus = argument.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !cpus.isEmpty, cpus.allSatisfy({ $0 != nil && $0! >= 0 && $0! < 1024 }) else { return nil }
        self.cpus = cpus.map { $0! }
    }

    var defaultValueDescription: String { description }
    var description: String { cpus.isEmpty ? "none" : cpus.map(String.init).joined(separator: ",") }

    /// The line for the project's config/loyalty.yaml (empty when none).
    var configLine: String { cpus.isEmpty ? "" : "performance: {requestCPUs: [\(cpus.map(String.init).joined(separator: ", "))]}" }

    /// Refuses CPUs this process may not use, before anything starts.
    func validate() throws {
        let allowed = CPUAffinity.allowedCPUs()
        if let missing = cpus.first(where: { !allowed.contains($0) }) {
            throw ValidationError("--request-cpus: CPU \(missing) is not one this process may use (\(allowed.map(String.init).joined(separator: ", ")))")
        }
    }
}
