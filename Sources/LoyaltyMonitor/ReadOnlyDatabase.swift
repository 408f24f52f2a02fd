import GRDB

/// The engine's SQLite files as the monitoring side opens them: read-only (a reader never takes
/// a writer's lock, and cannot change what a running process owns), waiting for a writer's lock
/// rather than failing at once.
public enum ReadOnlyDatabase {
    public static func open(_ path: String, busyTimeoutSeconds: Double = 5) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeoutSeconds)
        return try DatabaseQueue(path: path, configuration: configuration)
    }
}
