import Foundation
import ZeroMQ

/// Whether an endpoint stays on this machine: tcp on 127.0.0.1 / ::1 / localhost, ipc:// or
/// inproc://. Only such endpoints may be bound or reached without CURVE.
public enum EndpointScope {
    public static func isLoopback(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        var host = endpoint.dropFirst("tcp://".count)
        // A connect endpoint may name a source address first ("tcp://src;dst"): judge the destination.
        if let semicolon = host.lastIndex(of: ";") { host = host[host.index(after: semicolon)...] }
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let address = host[host.index(after: host.startIndex)..<close]
            return address == "::1" || address == "0:0:0:0:0:0:0:1"
        }
        guard let colon = host.lastIndex(of: ":") else { return false }
        let address = host[..<colon]
        return address == "localhost" || address == "lo" || address.hasPrefix("127.")
            && address.split(separator: ".").count == 4 && address.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }
}

/// A key file in the ZeroMQ certificate format that CZMQ's `zcert` and pyzmq's
/// `zmq.auth.load_certificate` read: `name.key` holds the public key, `name.key_secret` both.
public enum CurveKeyFile {
    /// Reads `public-key` and, when present, `secret-key` from a certificate file.
    public static func read(_ path: String) throws(CurveKeyError) -> (publicKey: String, secretKey: String?) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CurveKeyError("\(path): cannot read the key file (missing, or not readable by this user)")
        }
        var publicKey: String?, secretKey: String?
        for raw in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { continue }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'"))
            switch name {
            case "public-key": publicKey = value
            case "secret-key": secretKey = value
            default: continue
            }
        }
        guard let publicKey, Z85.isKey(publicKey) else {
            throw CurveKeyError("\(path): no valid 'public-key = \"<40 Z85 characters>\"' line")
        }
        if let secretKey {
            guard Z85.isKey(secretKey), (try? CurveKeyPair.publicKey(forSecretKey: secretKey)) == publicKey else {
                throw CurveKeyError("\(path): the secret key is not valid or does not belong to the public key")
            }
        }
        return (publicKey, secretKey)
    }

    /// Reads a key pair from `<base>.key_secret`.
    public static func readPair(base: String) throws(CurveKeyError) -> CurveKeyPair {
        let path = base + ".key_secret"
        let read = try read(path)
        guard let secret = read.secretKey else { throw CurveKeyError("\(path): holds no 'secret-key' line") }
        return CurveKeyPair(publicKey: read.publicKey, secretKey: secret)
    }

    /// Writes `<base>.key` (public, mode 0644) and `<base>.key_secret` (mode 0600, created so that
    /// no other user can read it even for an instant).
    public static func write(_ pair: CurveKeyPair, base: String, comment: String) throws(CurveKeyError) {
        let directory = (base as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CurveKeyError("\(directory): cannot create the folder: \(error.localizedDescription)")
        }
        let header = "#   \(comment)\n#   ZeroMQ CURVE certificate, written by `loyalty keys`\n"
        let publicText = header + "#   Public: give it to whoever must recognise this key.\n\nmetadata\ncurve\n    public-key = \"\(pair.publicKey)\"\n"
        let secretText = header + "#   SECRET: do not copy it anywhere but the host that uses it; keep mode 0600.\n\nmetadata\ncurve\n    public-key = \"\(pair.publicKey)\"\n    secret-key = \"\(pair.secretKey)\"\n"
        try writeFile(base + ".key", publicText, mode: 0o644)
        try writeFile(base + ".key_secret", secretText, mode: 0o600)
    }

    /// Writes a file atomically (temporary file, fsync, rename) with `mode`.
    public static func writeFile(_ path: String, _ text: String, mode: mode_t) throws(CurveKeyError) {
        let temporary = path + ".tmp-\(getpid())"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw CurveKeyError("\(path): cannot create: \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        _ = fchmod(fd, mode)   // the umask may have taken bits away from a public file
        close(fd)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw CurveKeyError("\(path): cannot write: \(String(cString: strerror(errno)))")
        }
    }
}

public struct CurveKeyError: Error, Sendable, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One public key the bus accepts, and what it may do with it.
public struct AllowedKey: Sendable, Equatable {
    /// - terminal: a till or kiosk; publishes purchases, returns and surveys and asks services;
    ///   reads (subscribes, replays) only when registered with `+read`.
    /// - plugin: publishes under `plugin/<name>`, offers services, reads.
    /// - reader: a dashboard, a manager's `loyalty alerts`, a report host; reads and asks
    ///   services, publishes nothing.
    public enum Kind: String, Sendable, CaseIterable { case terminal, plugin, reader }
    public var kind: Kind
    public var name: String
    public var publicKey: String
    /// For a terminal: the event sources it may publish under, each exact (`pos/S017/T02`) or a
    /// prefix ending in `*` (`pos/S017/*`); empty, any source but a plugin's.
    public var sources: [String]
    /// For a terminal: registered with `+read` (an operator's command-line tools, which both send
    /// and read). Plugins and readers read anyway, and never carry the flag.
    public var read: Bool

    public init(kind: Kind, name: String, publicKey: String, sources: [String] = [], read: Bool = false) {
        self.kind = kind
        self.name = name
        self.publicKey = publicKey
        self.sources = sources
        self.read = read
    }

    /// Whether this key may subscribe to the publish endpoint and ask the replay endpoint.
    public var mayRead: Bool { kind != .terminal || read }

    /// The flag written after the public key for a terminal that may read.
    public static let readFlag = "+read"

    public var line: String {
        (["\(kind.rawValue) \(name) \(publicKey)"] + (read ? [Self.readFlag] : []) + sources).joined(separator: " ")
    }

    /// A source pattern: 1–128 printable ASCII characters without spaces, not starting with `+`
    /// (which marks a flag in allowed.txt), with `*` at most once, at the end.
    public static func isValidSourcePattern(_ pattern: String) -> Bool {
        let bytes = Array(pattern.utf8)
        guard !bytes.isEmpty, bytes.count <= 128, bytes[0] != UInt8(ascii: "+"), bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return false }
        guard let star = bytes.firstIndex(of: UInt8(ascii: "*")) else { return true }
        return star == bytes.count - 1 && bytes.count > 1
    }

    /// Whether `source` is one of `patterns` (exact, or the prefix of a pattern ending in `*`).
    public static func source(_ source: String, matches patterns: [String]) -> Bool {
        patterns.contains { pattern in
            pattern.hasSuffix("*") ? source.hasPrefix(pattern.dropLast()) : source == pattern
        }
    }

    /// Names of terminals, plugins and readers: letters, digits, '-', '_' and '.', 1–64 characters.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.first != "." && name.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" || $0 == ".")
        }
    }
}

/// The allow-list file: one `kind name public-key [+read] [sources…]` per line, `#` comments.
/// A line written before readers and `+read` existed (`terminal cli <key>`) still loads, as a
/// terminal that may publish but not read. Revoked keys are moved to `revoked.txt` beside it
/// (the line, then `revoked <time>`), for the record.
public enum AllowList {
    public static func parse(_ text: String, file: String) throws(CurveKeyError) -> [AllowedKey] {
        var keys: [AllowedKey] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let at = "\(file):\(number + 1)"
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count >= 3, let kind = AllowedKey.Kind(rawValue: fields[0]), AllowedKey.isValidName(fields[1]),
                  Z85.isKey(fields[2]) else {
                throw CurveKeyError("\(at): expected 'terminal|plugin|reader <name> <40-character Z85 public key> [+read] [sources…]', got '\(line.prefix(120))'")
            }
            let rest = fields.dropFirst(3)
            let flags = rest.filter { $0.hasPrefix("+") }
            let sources = rest.filter { !$0.hasPrefix("+") }
            if let unknown = flags.first(where: { $0 != AllowedKey.readFlag }) {
                throw CurveKeyError("\(at): unknown flag '\(unknown.prefix(40))': the only flag is +read (a terminal key that may also subscribe and replay)")
            }
            let read = !flags.isEmpty
            if read && kind != .terminal {
                throw CurveKeyError("\(at): +read is for terminal keys; a \(kind.rawValue) key always may subscribe and replay")
            }
            if let bad = sources.first(where: { !AllowedKey.isValidSourcePattern($0) }) {
                throw CurveKeyError("\(at): '\(bad.prefix(130))' is not a source pattern: use a source like pos/S017/T02, or a prefix ending in * like pos/S017/*")
            }
            if kind == .plugin && !sources.isEmpty {
                throw CurveKeyError("\(at): a plugin key takes no sources (a plugin publishes under plugin/\(fields[1]) only)")
            }
            if kind == .reader && !sources.isEmpty {
                throw CurveKeyError("\(at): a reader key takes no sources (a reader publishes nothing)")
            }
            keys.append(AllowedKey(kind: kind, name: fields[1], publicKey: fields[2], sources: sources, read: read))
        }
        return keys
    }

    public static func read(_ path: String) throws(CurveKeyError) -> [AllowedKey] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CurveKeyError("\(path): cannot read the allow-list (run `loyalty keys init`)")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    public static func write(_ keys: [AllowedKey], to path: String) throws(CurveKeyError) {
        let text = """
            # Public keys the bus accepts (CURVE + ZAP). Managed by `loyalty keys`; the bus re-reads
            # this file when it changes, so a removed key is refused from its next connection.
            # kind name public-key [+read] [sources]
            #   terminal: publishes purchases, returns, surveys; +read: may also subscribe and replay;
            #             sources: what it may publish under (pos/S017/T02, or pos/S017/*)
            #   plugin:   publishes under plugin/<name>, offers services, subscribes and replays
            #   reader:   subscribes, replays and asks services; publishes nothing

            """ + keys.map { $0.line + "\n" }.joined()
        try CurveKeyFile.writeFile(path, text, mode: 0o644)
    }
}

/// A cached view of the allow-list for the ZAP handler: re-read whenever the file changes
/// (inode, size or modification time), so an edit takes effect from the next connection.
/// Fails closed: an unreadable or invalid file accepts nobody. Used by one thread.
public final class AllowListWatcher {
    public let path: String
    private var signature: [Int] = []
    private var keys: [String: AllowedKey] = [:]
    public private(set) var lastError: CurveKeyError?

    public init(path: String) { self.path = path }

    /// The entry for `publicKey`, or nil if it is not (or no longer) allowed.
    public func lookup(_ publicKey: String) -> AllowedKey? {
        refresh()
        return keys[publicKey]
    }

    /// Re-reads the file if it changed. Returns true if it was (re)loaded.
    @discardableResult
    public func refresh() -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if signature != [-1] {
                signature = [-1]
                keys = [:]
                lastError = CurveKeyError("\(path): allow-list missing: every connection is refused")
            }
            return false
        }
        let now = [Int(info.st_ino), Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec)]
        guard now != signature else { return false }
        signature = now
        do {
            keys = Dictionary(try AllowList.read(path).map { ($0.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
            lastError = nil
        } catch {
            keys = [:]
            lastError = error
        }
        return true
    }

    public var count: Int { keys.count }
}

/// The keys a client socket needs to reach a CURVE bus: its own pair and the bus's public key.
public struct CurveClientKeys: Sendable, Equatable {
    public var pair: CurveKeyPair
    public var serverPublicKey: String

    public init(pair: CurveKeyPair, serverPublicKey: String) {
        self.pair = pair
        self.serverPublicKey = serverPublicKey
    }

    /// Options to set before `connect`. With a send timeout: when the bus refuses the key
    /// (ZAP), libzmq drops the connection's pipe, and a DEALER without a pipe would block in
    /// `send` forever; with the timeout the send gives up (returns false) and the caller's
    /// usual retry takes over.
    public var socketOptions: [SocketOption] {
        [.curveServerKey(serverPublicKey), .curvePublicKey(pair.publicKey), .curveSecretKey(pair.secretKey),
         .sendTimeout(milliseconds: 1000)]
    }

    /// Reads `<keysDirectory>/bus.key` and the client's own `<base>.key_secret`.
    public static func load(keysDirectory: String, clientBase: String) throws(CurveKeyError) -> CurveClientKeys {
        let server = try CurveKeyFile.read(KeyStoreLayout(directory: keysDirectory).busBase + ".key").publicKey
        return CurveClientKeys(pair: try CurveKeyFile.readPair(base: clientBase), serverPublicKey: server)
    }
}

/// Where `loyalty keys` keeps things under `config/keys/`.
public struct KeyStoreLayout: Sendable {
    public var directory: String
    public init(directory: String) { self.directory = directory }

    public var busBase: String { directory + "/bus" }
    public var allowListPath: String { directory + "/allowed.txt" }
    public var revokedPath: String { directory + "/revoked.txt" }
    public func base(kind: AllowedKey.Kind, name: String) -> String {
        directory + "/" + kind.rawValue + "s/" + name
    }

    /// The pair the command-line tools use for `security.clientKey`: the terminal of that name
    /// (`loyalty keys init` makes `cli`), or else a reader's (a host that only reads).
    public func clientBase(name: String) -> String {
        let terminal = base(kind: .terminal, name: name)
        let reader = base(kind: .reader, name: name)
        return !FileManager.default.fileExists(atPath: terminal + ".key_secret")
            && FileManager.default.fileExists(atPath: reader + ".key_secret") ? reader : terminal
    }
}
