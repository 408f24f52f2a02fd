import Foundation
import Synchronization

/// The rules a running plugin evaluates: one `RuleBook`, swapped whole when the files change.
/// Readers take the current book once per batch of events; a swap never tears a batch.
public final class LiveRules: Sendable {
    private let book = Mutex<RuleBook?>(nil)

    public init() {}

    /// The book in force; `RuleBook.empty` before any was installed.
    public var current: RuleBook { book.withLock { $0 } ?? .empty }

    public var isInstalled: Bool { book.withLock { $0 != nil } }

    public func install(_ newBook: RuleBook) {
        book.withLock { $0 = newBook }
    }
}

/// Notices changed rule files by polling: names, sizes and modification times of the folder's
/// `*.yaml` files. A change is loaded once the files have stayed the same for one poll, so an
/// editor's half-written save is not mistaken for the new rules.
public struct RuleWatcher {
    public enum Change {
        /// The files changed and load cleanly.
        case loaded(RuleBook, sources: [(name: String, text: String)])
        /// The files changed but have errors; the running rules stay.
        case rejected(version: String, diagnostics: [RuleDiagnostic])
    }

    public let directory: String
    private var seen: [String: String] = [:]
    private var pending: [String: String]?
    /// The content hash last loaded or rejected, so one bad save is reported once.
    private var lastVersion: String?

    public init(directory: String, currentVersion: String?) {
        self.directory = directory
        lastVersion = currentVersion
        seen = fingerprint()
    }

    /// name → "size:mtime:inode", for each rule file.
    private func fingerprint() -> [String: String] {
        guard let files = try? RuleLoader.files(at: [directory]) else { return [:] }
        var result: [String: String] = [:]
        for file in files {
            var info = stat()
            guard stat(file, &info) == 0 else { continue }
            result[file] = "\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec):\(info.st_ino)"
        }
        return result
    }

    /// Call every ~250 ms. Returns a change once the files have changed and settled.
    public mutating func poll() -> Change? {
        let now = fingerprint()
        if now != seen {
            seen = now
            pending = now
            return nil
        }
        guard pending != nil else { return nil }
        pending = nil
        return loadIfChanged()
    }

    /// Reads the files now; nil if their content is what was last loaded or rejected.
    public mutating func loadIfChanged() -> Change? {
        let sources = Self.read(directory)
        let version = RuleBook.hash(sources.files)
        guard version != lastVersion else { return nil }
        lastVersion = version
        if let problem = sources.problem { return .rejected(version: version, diagnostics: [problem]) }
        let result = RuleLoader.load(sources: sources.files)
        if let book = result.book { return .loaded(book, sources: sources.files) }
        return .rejected(version: version, diagnostics: result.diagnostics)
    }

    /// The rule files' names and texts, or the first file that cannot be read.
    public static func read(_ directory: String) -> (files: [(name: String, text: String)], problem: RuleDiagnostic?) {
        let files: [String]
        do {
            files = try RuleLoader.files(at: [directory])
        } catch {
            return ([], error.diagnostics.first)
        }
        var sources: [(name: String, text: String)] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                return (sources, RuleDiagnostic(file: file, message: "cannot read the file as UTF-8 text"))
            }
            sources.append((file, text))
        }
        return (sources, nil)
    }
}
