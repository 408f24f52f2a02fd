import Logging
import Synchronization

/// Every line logged, as `<level> <message> <metadata> <error>`: to check what is logged, and how loudly.
public final class CapturedLog: Sendable {
    public init() {}

    let lines = Mutex<[String]>([])

    public var all: [String] { lines.withLock { $0 } }

    public func logger(_ label: String) -> Logger {
        Logger(label: label) { _ in Handler(log: self) }
    }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            log.lines.withLock { $0.append("\(event.level) \(event.message) \(all) \(event.error.map { "\($0)" } ?? "")") }
        }
    }
}
