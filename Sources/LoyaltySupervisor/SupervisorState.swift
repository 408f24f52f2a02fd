import Foundation

/// What the supervisor is running, as written to its state file (`var/run/supervisor.json`)
/// so that `loyalty status` can show it.
public struct SupervisorState: Codable, Sendable, Equatable {
    public struct Child: Codable, Sendable, Equatable {
        public var name: String
        /// The current (or last) process id; nil if it never started.
        public var pid: Int32?
        public var running: Bool
        /// How many times it was restarted after exiting.
        public var restarts: Int
        /// When the current (or last) process started, RFC 3339.
        public var startedAt: String?
        /// How the last process ended, e.g. `exit 3` or `signal 9 (SIGKILL)`; nil if it has not.
        public var lastExit: String?

        public init(name: String, pid: Int32? = nil, running: Bool = false, restarts: Int = 0,
                    startedAt: String? = nil, lastExit: String? = nil) {
            self.name = name
            self.pid = pid
            self.running = running
            self.restarts = restarts
            self.startedAt = startedAt
            self.lastExit = lastExit
        }
    }

    public var supervisorPid: Int32
    public var children: [Child]

    public init(supervisorPid: Int32, children: [Child]) {
        self.supervisorPid = supervisorPid
        self.children = children
    }

    /// Reads a state file written by a supervisor.
    public static func read(path: String) throws -> SupervisorState {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try JSONDecoder().decode(SupervisorState.self, from: data)
    }

    /// Whether the supervisor process that wrote this state still exists.
    public var supervisorIsAlive: Bool {
        supervisorPid > 0 && (kill(supervisorPid, 0) == 0 || errno == EPERM)
    }

    /// Writes the state atomically: a temporary file in the same folder, then rename.
    public func write(path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(self)
        let temporary = path + ".tmp-\(getpid())"
        try data.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [
                NSFilePathErrorKey: path,
                NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(code)),
            ])
        }
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
