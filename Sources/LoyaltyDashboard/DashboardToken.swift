import Foundation
import Logging
import LoyaltyWire
import Synchronization

/// The dashboard's access token. Its `description` never shows the token, so interpolating one
/// into a log line or an error by mistake leaks nothing.
public struct DashboardToken: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    private let bytes: [UInt8]

    /// Tokens are 43 characters when made here; one written by hand must be at least this long.
    public static let minimumLength = 32
    static let maximumLength = 512

    /// Checks a token read from a file or given by hand: URL- and cookie-safe characters only
    /// (`A-Z a-z 0-9 - _ . ~`), so it travels unchanged in a header, a query and a cookie.
    public init(text: String) throws(DashboardTokenError) {
        guard text.utf8.count >= Self.minimumLength, text.utf8.count <= Self.maximumLength else {
            throw .malformed("it is \(text.utf8.count) characters; a token is \(Self.minimumLength) to \(Self.maximumLength)")
        }
        guard text.utf8.allSatisfy(Self.isTokenByte) else {
            throw .malformed("it holds a character other than A-Z, a-z, 0-9, '-', '_', '.' and '~'")
        }
        self.text = text
        bytes = Array(text.utf8)
    }

    /// 32 bytes from the system's cryptographic generator (getrandom(2) on Linux, through
    /// `SystemRandomNumberGenerator`), base64url without padding: 43 characters.
    public static func generate() -> DashboardToken {
        var generator = SystemRandomNumberGenerator()
        var random = [UInt8]()
        random.reserveCapacity(32)
        for _ in 0..<4 {
            withUnsafeBytes(of: generator.next() as UInt64) { random.append(contentsOf: $0) }
        }
        let text = Data(random).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        // A 43-character base64url string always passes the checks.
        return try! DashboardToken(text: text)
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// Whether `candidate` is this token, in time that depends only on the token's length: every
    /// byte is compared whatever the first difference, so response times do not tell an attacker
    /// how many leading characters of a guess were right.
    public func matches(_ candidate: some StringProtocol) -> Bool {
        let other = Array(candidate.utf8)
        var difference: UInt8 = other.count == bytes.count ? 0 : 1
        for index in bytes.indices {
            let theirs = index < other.count ? other[index] : 0
            difference |= bytes[index] ^ theirs
        }
        return difference == 0
    }

    public var description: String { "<dashboard token, \(text.count) characters>" }
}

public enum DashboardTokenError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file's content is not a token (the reason never quotes it).
    case malformed(String)
    /// Where a token is read from.
    case file(path: String, problem: String)

    public var description: String {
        switch self {
        case .malformed(let reason): "not a dashboard token: \(reason)"
        case .file(let path, let problem): "\(path): \(problem)"
        }
    }
}

/// The token file: the token alone on one line (no comment, so it can also serve as Prometheus'
/// `credentials_file`), mode 0600.
public enum DashboardTokenFile {
    /// The token in `path`, or nil when there is no such file.
    ///
    /// A file other users may read is refused, as ssh refuses a private key: the token is worth as
    /// much as the dashboard's data.
    public static func read(path: String) throws(DashboardTokenError) -> DashboardToken? {
        var info = stat()
        if stat(path, &info) != 0 {
            if errno == ENOENT { return nil }
            throw .file(path: path, problem: "cannot read the dashboard token file: \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw .file(path: path, problem: "the dashboard token file is not a regular file")
        }
        let permissions = info.st_mode & 0o777
        guard permissions & 0o077 == 0 else {
            throw .file(path: path, problem: "the dashboard token file may be read by other users (mode 0\(String(permissions, radix: 8))); "
                            + "run `chmod 600 \(path)`, or `loyalty dashboard token --rotate` if it may have been copied")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .file(path: path, problem: "cannot read the dashboard token file")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            return try DashboardToken(text: text)
        } catch {
            throw .file(path: path, problem: "\(error); make a new one with `loyalty dashboard token --rotate`")
        }
    }

    /// Writes the token atomically (a temporary file created with mode 0600, so no other user can
    /// read it even for an instant; fsync; rename), creating the folder if needed.
    public static func write(_ token: DashboardToken, path: String) throws(DashboardTokenError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw .file(path: directory, problem: "cannot create the folder: \(error.localizedDescription)")
            }
        }
        let temporary = path + ".tmp-\(getpid())"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .file(path: path, problem: "cannot create: \(String(cString: strerror(errno)))") }
        // No trailing newline: the file is the credential as is, whoever reads it.
        let bytes = Array(token.text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .file(path: path, problem: "cannot write: \(reason)")
        }
    }
}

/// What `loyalty up --dashboard` and `loyalty demo --dashboard` may start with.
public enum DashboardAccessPolicy {
    /// The token to require from the start, or nil for an open dashboard.
    ///
    /// A token file that exists is always used. Without one, the dashboard is open only when it is
    /// kept to loopback (like the bus's plaintext loopback rule); `--dashboard-allow-remote`
    /// without a token is refused.
    public static func tokenAtStart(tokenFile: String, allowRemote: Bool) throws(DashboardAccessError) -> DashboardToken? {
        let token: DashboardToken?
        do {
            token = try DashboardTokenFile.read(path: tokenFile)
        } catch {
            throw .unreadableToken(error)
        }
        if token == nil && allowRemote { throw .tokenRequired(tokenFile: tokenFile) }
        return token
    }
}

public enum DashboardAccessError: Error, Sendable, Equatable, CustomStringConvertible {
    case tokenRequired(tokenFile: String)
    case unreadableToken(DashboardTokenError)

    public var description: String {
        switch self {
        case .tokenRequired(let tokenFile):
            "--dashboard-allow-remote needs an access token, and there is none at \(tokenFile): create it with "
                + "`loyalty dashboard token` (it prints the address to open), then start again. Everyone on the network "
                + "could otherwise read customers, scores, alerts and budgets"
        case .unreadableToken(let error):
            "\(error)"
        }
    }
}

/// The token the dashboard requires right now. It follows the token file while the server runs:
/// `loyalty dashboard token --rotate` takes effect within seconds, and a token file created while
/// an open (loopback) dashboard runs closes it. It never opens by itself: if the file is deleted
/// or spoiled, the last good token stays required until a restart.
public final class DashboardTokenGate: Sendable {
    public let tokenFile: String
    private let state: Mutex<State>

    struct State {
        var token: DashboardToken?
        var signature: FileSignature?
        var lastProblem: String?
    }

    /// What identifies a version of the file without reading it: a rename gives a new inode.
    struct FileSignature: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modifiedSeconds: Int
        var modifiedNanoseconds: Int
    }

    /// - Parameter token: the token read at start (`DashboardAccessPolicy.tokenAtStart`), nil for open.
    public init(tokenFile: String, token: DashboardToken?) {
        self.tokenFile = tokenFile
        state = Mutex(State(token: token, signature: Self.signature(tokenFile)))
    }

    public var token: DashboardToken? { state.withLock { $0.token } }

    static func signature(_ path: String) -> FileSignature? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileSignature(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                             modifiedSeconds: Int(info.st_mtim.tv_sec), modifiedNanoseconds: Int(info.st_mtim.tv_nsec))
    }

    /// Re-reads the file if it changed. Blocking (file I/O): call it off the concurrency pool.
    func reload(logger: Logger) {
        let signature = Self.signature(tokenFile)
        let unchanged = state.withLock { $0.signature == signature }
        if unchanged { return }
        var problem: String?
        var newToken: DashboardToken?
        if signature == nil {
            problem = "the dashboard token file \(tokenFile) is gone; the last token stays required until the dashboard restarts"
        } else {
            do {
                newToken = try DashboardTokenFile.read(path: tokenFile)
            } catch {
                problem = "\(error); the last good token stays required"
            }
        }
        let (hadToken, report) = state.withLock { state -> (Bool, Bool) in
            let hadToken = state.token != nil
            state.signature = signature
            if let newToken { state.token = newToken }
            let report = problem != state.lastProblem
            state.lastProblem = problem
            return (hadToken, report)
        }
        if let problem {
            // Before any token, a missing file just means "open on loopback", as at start.
            if report && (hadToken || signature != nil) { logger.error("\(problem)") }
        } else if newToken != nil {
            logger.notice(hadToken ? "dashboard token changed (\(tokenFile)): the new one is required from now on"
                                   : "dashboard token file appeared (\(tokenFile)): the dashboard now requires it")
        }
    }

    /// Checks the file every `interval` until the task is cancelled; the stat and the read run on a
    /// thread of their own, never on the concurrency pool.
    func watch(every interval: Duration, logger: Logger) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            _ = try? await runOffPool { [self] in reload(logger: logger) }
        }
    }
}
