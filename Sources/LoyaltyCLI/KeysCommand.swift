import ArgumentParser
import Foundation
import LoyaltyConfig
import LoyaltyWire
import ZeroMQ

/// `loyalty keys`: CURVE key pairs and the bus's allow-list under `security.keysDir`
/// (default `config/keys/`).
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage CURVE keys and the allow-list of terminals, plugins and readers the bus accepts.",
        discussion: "Keys live under security.keysDir (default config/keys/): bus.key / bus.key_secret, "
            + "terminals/<name>.key[_secret], plugins/<name>.key[_secret], readers/<name>.key[_secret], and allowed.txt, "
            + "the allow-list the bus re-reads when it changes. A terminal (a till) publishes sales and asks services but "
            + "reads the event stream and history only if added with --read; a reader (dashboard, a manager's `loyalty alerts`) "
            + "reads and asks services but publishes nothing; a plugin does what a plugin needs. Secret files are mode 0600 "
            + "and are never printed unless you ask (`list --show-secrets`). Then set `security: {curve: true}` in "
            + "config/loyalty.yaml. See config/keys/README.md.",
        subcommands: [Init.self, AddTerminal.self, AddReader.self, AddPlugin.self, GrantRead.self, DenyRead.self, List.self, Revoke.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the bus key pair, a 'cli' terminal key that may read for the command-line tools, and a key per enabled plugin.",
            discussion: "Run again, it keeps every existing key and adds what is missing; a command-line key registered by an "
                + "older version without read rights gets them (+read), so `loyalty alerts` and `report` work.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Replace an existing bus key (every client must then get the new bus.key).") var force = false

        func run() throws {
            let configuration = try options.loadConfiguration()
            let store = KeyStore(configuration: configuration)
            let busExisted = FileManager.default.fileExists(atPath: store.layout.busBase + ".key_secret")
            if busExisted && !force {
                print("bus key exists: \(store.layout.busBase).key (use --force to replace it)")
            } else {
                let pair = try CurveKeyPair.generate()
                try CurveKeyFile.write(pair, base: store.layout.busBase, comment: "loyalty bus")
                print("bus key: \(pair.publicKey)  (\(store.layout.busBase).key; secret in bus.key_secret, mode 0600)")
            }
            // The command-line tools both send (`pos`, `request`) and read (`alerts`, `report`).
            let cli = configuration.security.clientKey
            if try store.setRead(true, terminal: cli) {
                print("terminal \(cli): may now subscribe and replay (+read)")
            }
            var names: [(AllowedKey.Kind, String)] = [(.terminal, cli)]
            names += configuration.enabledPlugins.map { (.plugin, $0) }
            for (kind, name) in names {
                if try store.allowed().contains(where: { $0.kind == kind && $0.name == name }) { continue }
                if kind == .terminal, try store.allowed().contains(where: { $0.kind == .reader && $0.name == name }) { continue }
                let key = try store.add(kind: kind, name: name, publicKey: nil, read: kind == .terminal)
                print("\(kind.rawValue) \(name): \(key.publicKey)" + (key.read ? " (+read)" : ""))
            }
            print("allow-list: \(store.layout.allowListPath)")
            if !configuration.security.curve {
                print("next: set `security: {curve: true}` in \(configuration.sourceFile ?? "config/loyalty.yaml") to turn CURVE on")
            }
        }
    }

    struct AddTerminal: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-terminal",
            abstract: "Allow a POS terminal: generate its key pair here, or register a public key it made itself.",
            discussion: "A terminal publishes purchases, returns and surveys and asks services. It may not subscribe to the "
                + "event stream nor replay the history (a till's key sits in a shop) unless added with --read, meant for an "
                + "operator's command-line tools, which both send and read. For a host that only reads, use add-reader.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The terminal's name, e.g. store-17-till-2.") var name: String
        @Option(help: "The terminal's public key (Z85, 40 characters) if it made its own pair.") var publicKey: String?
        @Option(help: ArgumentHelp("An event source this terminal may publish under, exact or a prefix ending in *; repeat for several. Without any, it may use any source but a plugin's.",
                                   valueName: "pos/S017/T02"))
        var source: [String] = []
        @Flag(help: "Also let it subscribe to the publish endpoint and replay history (for an operator's command-line tools, not a till).")
        var read = false

        func run() throws { try add(.terminal, name: name, publicKey: publicKey, sources: source, read: read, options: options) }
    }

    struct AddReader: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-reader",
            abstract: "Allow a reader (a dashboard, a store manager's `loyalty alerts`, a report host): it subscribes, replays and asks services, and publishes nothing.",
            discussion: "Its events are refused (not_permitted) and it cannot register as a service worker. On its host, "
                + "put readers/<name>.key_secret and bus.key under the keys folder and set `security.clientKey: <name>` so "
                + "the command-line tools use it.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The reader's name, e.g. store-17-manager.") var name: String
        @Option(help: "The reader's public key (Z85, 40 characters) if it made its own pair.") var publicKey: String?

        func run() throws { try add(.reader, name: name, publicKey: publicKey, options: options) }
    }

    struct AddPlugin: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-plugin",
            abstract: "Allow a plugin: generate its key pair here, or register a public key it made itself.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The plugin's name, as in plugins/<name>/plugin.yaml.") var name: String
        @Option(help: "The plugin's public key (Z85, 40 characters) if it made its own pair.") var publicKey: String?

        func run() throws { try add(.plugin, name: name, publicKey: publicKey, options: options) }
    }

    struct GrantRead: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grant-read",
            abstract: "Let an allowed terminal key also subscribe and replay (+read), e.g. an operator's command-line tools.",
            discussion: "The running bus applies it from that key's next connection; connections already open keep what they had.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The terminal's name, as in `loyalty keys list`.") var name: String

        func run() throws { try KeysCommand.setRead(true, terminal: name, options: options) }
    }

    struct DenyRead: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "deny-read",
            abstract: "Take a terminal key's read rights away: it may publish and ask services, not subscribe or replay.",
            discussion: "The running bus applies it from that key's next connection; restart the bus to cut an open subscription at once.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The terminal's name, as in `loyalty keys list`.") var name: String

        func run() throws { try KeysCommand.setRead(false, terminal: name, options: options) }
    }

    static func setRead(_ read: Bool, terminal name: String, options: GlobalOptions) throws {
        let store = KeyStore(configuration: try options.loadConfiguration())
        let keys = try store.allowed()
        guard keys.contains(where: { $0.kind == .terminal && $0.name == name }) else {
            let other = keys.first { $0.name == name }.map { " ('\(name)' is a \($0.kind.rawValue) key: readers always read, plugins read what they need)" } ?? ""
            throw ValidationError("no allowed terminal named '\(name)'\(other); see `loyalty keys list`")
        }
        if try store.setRead(read, terminal: name) {
            print(read ? "terminal \(name): may now subscribe and replay (+read)" : "terminal \(name): may no longer subscribe or replay")
        } else {
            print(read ? "terminal \(name) may already read; nothing changed" : "terminal \(name) already may not read; nothing changed")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List allowed and revoked keys.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Also print the secret keys held in this folder.") var showSecrets = false

        func run() throws {
            let configuration = try options.loadConfiguration()
            let store = KeyStore(configuration: configuration)
            if let bus = try? CurveKeyFile.read(store.layout.busBase + (showSecrets ? ".key_secret" : ".key")) {
                print("bus      \(bus.publicKey)" + (showSecrets ? "  secret \(bus.secretKey ?? "-")" : ""))
            } else {
                print("bus      (no key: run `loyalty keys init`)")
            }
            for key in try store.allowed() {
                var line = "\(key.kind.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(key.publicKey)  \(key.name)  allowed"
                if key.read { line += "  +read" }
                if !key.sources.isEmpty { line += "  sources \(key.sources.joined(separator: " "))" }
                if showSecrets, let secret = try? CurveKeyFile.read(store.layout.base(kind: key.kind, name: key.name) + ".key_secret").secretKey {
                    line += "  secret \(secret)"
                }
                print(line)
            }
            for line in store.revokedLines() { print(line) }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a key from the allow-list; the running bus refuses it from its next connection.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The terminal, reader or plugin name, or its public key.") var nameOrKey: String

        func run() throws {
            let store = KeyStore(configuration: try options.loadConfiguration())
            let removed = try store.revoke(nameOrKey)
            guard !removed.isEmpty else { throw ValidationError("no allowed key named '\(nameOrKey)' (see `loyalty keys list`)") }
            for key in removed { print("revoked \(key.kind.rawValue) \(key.name) \(key.publicKey)") }
        }
    }

    static func add(_ kind: AllowedKey.Kind, name: String, publicKey: String?, sources: [String] = [], read: Bool = false,
                    options: GlobalOptions) throws {
        let store = KeyStore(configuration: try options.loadConfiguration())
        let key = try store.add(kind: kind, name: name, publicKey: publicKey, sources: sources, read: read)
        print("\(kind.rawValue) \(name): \(key.publicKey)" + (read ? " (+read)" : "")
              + (sources.isEmpty ? "" : " (sources: \(sources.joined(separator: ", ")))"))
        if publicKey == nil {
            print("secret key in \(store.layout.base(kind: kind, name: name)).key_secret (mode 0600): copy it to that \(kind.rawValue)'s host only, with \(store.layout.busBase).key")
        }
    }
}

/// The key folder: key files and the allow-list.
struct KeyStore {
    let layout: KeyStoreLayout

    init(configuration: LoyaltyConfiguration) {
        layout = KeyStoreLayout(directory: configuration.security.keysDirectory)
    }

    func allowed() throws -> [AllowedKey] {
        FileManager.default.fileExists(atPath: layout.allowListPath) ? try AllowList.read(layout.allowListPath) : []
    }

    /// Generates a pair (publicKey nil) or records a given public key, and allows it.
    func add(kind: AllowedKey.Kind, name: String, publicKey: String?, sources: [String] = [], read: Bool = false) throws -> AllowedKey {
        guard AllowedKey.isValidName(name) else {
            throw ValidationError("'\(name)' is not a valid name: use 1–64 letters, digits, '-', '_' or '.'")
        }
        if let bad = sources.first(where: { !AllowedKey.isValidSourcePattern($0) }) {
            throw ValidationError("--source '\(bad)' is not a source pattern: use a source like pos/S017/T02, or a prefix ending in * like pos/S017/*")
        }
        var keys = try allowed()
        if let existing = keys.first(where: { $0.kind == kind && $0.name == name }) {
            throw ValidationError("\(kind.rawValue) '\(name)' is already allowed (\(existing.publicKey)); revoke it first to replace its key")
        }
        let entry: AllowedKey
        if let publicKey {
            guard Z85.isKey(publicKey) else { throw ValidationError("--public-key must be 40 Z85 characters, got \(publicKey.utf8.count)") }
            entry = AllowedKey(kind: kind, name: name, publicKey: publicKey, sources: sources, read: read)
            try CurveKeyFile.writeFile(layout.base(kind: kind, name: name) + ".key",
                                       "#   \(kind.rawValue) \(name)\n\nmetadata\ncurve\n    public-key = \"\(publicKey)\"\n", mode: 0o644)
        } else {
            let pair = try CurveKeyPair.generate()
            try CurveKeyFile.write(pair, base: layout.base(kind: kind, name: name), comment: "\(kind.rawValue) \(name)")
            entry = AllowedKey(kind: kind, name: name, publicKey: pair.publicKey, sources: sources, read: read)
        }
        keys.append(entry)
        try AllowList.write(keys, to: layout.allowListPath)
        return entry
    }

    /// Gives the terminal `name` read rights (+read), or takes them away. Returns whether the
    /// allow-list changed.
    func setRead(_ read: Bool, terminal name: String) throws -> Bool {
        var keys = try allowed()
        guard let index = keys.firstIndex(where: { $0.kind == .terminal && $0.name == name && $0.read != read }) else { return false }
        keys[index].read = read
        try AllowList.write(keys, to: layout.allowListPath)
        return true
    }

    /// Removes every entry with this name or public key; records them in revoked.txt and
    /// deletes their secret files, so the pair cannot be re-allowed by mistake.
    func revoke(_ nameOrKey: String) throws -> [AllowedKey] {
        let keys = try allowed()
        let removed = keys.filter { $0.name == nameOrKey || $0.publicKey == nameOrKey }
        guard !removed.isEmpty else { return [] }
        try AllowList.write(keys.filter { key in !removed.contains(key) }, to: layout.allowListPath)
        let stamp = ISO8601DateFormatter().string(from: Date())
        let record = removed.map { "\($0.line) revoked \(stamp)\n" }.joined()
        let previous = FileManager.default.contents(atPath: layout.revokedPath).map { String(decoding: $0, as: UTF8.self) } ?? ""
        try CurveKeyFile.writeFile(layout.revokedPath, previous + record, mode: 0o644)
        for key in removed { unlink(layout.base(kind: key.kind, name: key.name) + ".key_secret") }
        return removed
    }

    func revokedLines() -> [String] {
        guard let data = FileManager.default.contents(atPath: layout.revokedPath) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            // kind name key [sources…] revoked stamp
            guard fields.count >= 5, let revoked = fields.lastIndex(of: "revoked"), revoked + 1 < fields.count else { return nil }
            return "\(fields[0].padding(toLength: 8, withPad: " ", startingAt: 0)) \(fields[2])  \(fields[1])  revoked \(fields[revoked + 1])"
        }
    }
}

extension LoyaltyConfiguration {
    /// CURVE client options for the command-line tools: the `security.clientKey` terminal key
    /// (or a reader key of that name, on a host that only reads) and the bus's public key; none
    /// when CURVE is off.
    func clientSocketOptions() throws -> [SocketOption] {
        guard security.curve else { return [] }
        let layout = KeyStoreLayout(directory: security.keysDirectory)
        do {
            return try CurveClientKeys.load(keysDirectory: layout.directory,
                                            clientBase: layout.clientBase(name: security.clientKey)).socketOptions
        } catch {
            throw ValidationError("CURVE is on, but the command-line key cannot be used: \(error) (run `loyalty keys init`)")
        }
    }
}
