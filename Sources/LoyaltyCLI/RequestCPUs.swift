import ArgumentParser
import LoyaltyConfig
import LoyaltyWire

/// `--request-cpus` of the latency benchmarks: the engine's `performance.requestCPUs` in the
/// project they make: `auto` (the engine's default), `none`, or CPU numbers like `1` or `2,3`.
extension RequestCPUs: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "auto": self = .auto
        case "none": self = .none
        default:
            let cpus = argument.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard cpus.allSatisfy({ $0 != nil && $0! >= 0 && $0! < 1024 }) else { return nil }
            self = .cpus(cpus.map { $0! })
        }
    }

    public var defaultValueDescription: String { description }

    /// The line for the project's config/loyalty.yaml.
    var configLine: String { "performance: {requestCPUs: \(self)}" }

    /// What the engine will bind to on this machine, as a sentence for the benchmark's report.
    var report: String {
        let cpus = resolved(allowed: CPUAffinity.allowedCPUs())
        return cpus.isEmpty ? "engine's request path: on any CPU (performance.requestCPUs: \(self))"
                            : "engine's request path: on CPU \(cpus.map(String.init).joined(separator: ", ")) (performance.requestCPUs: \(self))"
    }

    /// Refuses CPUs this process may not use, before anything starts.
    func validate() throws {
        let allowed = CPUAffinity.allowedCPUs()
        if let missing = resolved(allowed: allowed).first(where: { !allowed.contains($0) }) {
            throw ValidationError("--request-cpus: CPU \(missing) is not one this process may use (\(allowed.map(String.init).joined(separator: ", ")))")
        }
    }
}
