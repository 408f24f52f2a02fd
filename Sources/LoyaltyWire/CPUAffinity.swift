import CLinux
import Foundation

/// Keeping the request path's threads on chosen CPUs (`performance.requestCPUs`).
///
/// A service request wakes about a dozen threads in turn: each process's libzmq I/O thread, the
/// bus's router, the plugin's service thread. When the next one sleeps on another CPU, waking it
/// takes an inter-processor interrupt, which in a virtual machine is an exit to the hypervisor;
/// bound to one CPU, each thread runs as the one before it blocks. Measured on a 2-vCPU VM
/// (`loyalty bench campaigns --request-cpus 1`): the quote's median from 8 tills fell from
/// 0.37–0.40 to 0.31–0.35 ms.
public enum CPUAffinity {
    /// The CPUs this process may run on, ascending.
    public static func allowedCPUs() -> [Int] {
        var buffer = [Int32](repeating: 0, count: 1024)
        let count = loyalty_allowed_cpus(&buffer, Int32(buffer.count))
        return count < 0 ? [] : buffer.prefix(Int(count)).map(Int.init)
    }

    /// Binds the calling thread to `cpus`; does nothing when `cpus` is empty.
    /// - Throws: when the kernel refuses (none of them is a CPU this process may use).
    public static func bindCurrentThread(to cpus: [Int]) throws(CPUAffinityError) {
        guard !cpus.isEmpty else { return }
        let ids = cpus.map(Int32.init)
        guard loyalty_bind_current_thread(ids, Int32(ids.count)) == 0 else {
            throw CPUAffinityError(cpus: cpus, reason: String(cString: strerror(errno)), allowed: allowedCPUs())
        }
    }
}

/// A thread could not be bound to the configured CPUs.
public struct CPUAffinityError: Error, Sendable, CustomStringConvertible {
    public var cpus: [Int]
    public var reason: String
    public var allowed: [Int]

    public var description: String {
        "cannot run on CPU \(cpus.map(String.init).joined(separator: ", ")): \(reason); this process may use CPU "
            + allowed.map(String.init).joined(separator: ", ") + " (performance.requestCPUs in config/loyalty.yaml)"
    }
}
