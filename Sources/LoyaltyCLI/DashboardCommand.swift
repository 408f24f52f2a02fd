import ArgumentParser
import Foundation
import LoyaltyConfig
import LoyaltyDashboard

/// `loyalty dashboard`: the web dashboard's access token. The dashboard itself runs inside
/// `loyalty up --dashboard` and `loyalty demo --dashboard`.
struct DashboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Manage the web dashboard's access token (the dashboard runs with `loyalty up --dashboard`).",
        subcommands: [Token.self]
    )

    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "token",
            abstract: "Create the dashboard's access token (or show the one there is) and print the address to open with it.",
            discussion: """
                The token is 32 random bytes from the system's generator, base64url, kept in dashboard.tokenFile \
                (default config/dashboard.token, mode 0600, listed in .gitignore). While the file exists the dashboard \
                requires it on every page and on /metrics, also on loopback; --dashboard-allow-remote refuses to start \
                without it.

                Open the printed address once in each browser: the dashboard sets a cookie (HttpOnly, SameSite=Strict) \
                and sends the browser on to the same address without the token. Prometheus and scripts send the header \
                `Authorization: Bearer <token>`; Prometheus reads it from a copy of the file (authorization: \
                credentials_file, see docs/dashboard.md).

                With --rotate, a new token replaces the old one; a running dashboard requires the new one within a few \
                seconds, so every browser must open the new address and Prometheus needs the new file.

                Examples:
                  loyalty dashboard token
                  loyalty dashboard token --address 192.168.1.20:8080
                  loyalty dashboard token --rotate
                """
        )

        @OptionGroup var options: GlobalOptions

        @Flag(help: "Replace the token with a new one (browsers and Prometheus must then use the new one).")
        var rotate = false

        @Option(help: ArgumentHelp("The dashboard's address as browsers reach it, for the printed URL.", valueName: "host:port"))
        var address = DashboardAddress.defaultText

        func validate() throws {
            do {
                _ = try DashboardAddress.parse(address, allowNonLoopback: true)
            } catch {
                throw ValidationError("--address: \(error)")
            }
        }

        func run() throws {
            let configuration = try options.loadConfiguration()
            let outcome = try Self.ensureToken(path: configuration.dashboard.tokenFile, rotate: rotate)
            let path = configuration.dashboard.tokenFile
            switch outcome.change {
            case .created: print("created \(path) (mode 0600; keep it out of git)")
            case .rotated: print("replaced the token in \(path): the old one no longer opens the dashboard")
            case .kept: print("token in \(path) (use --rotate to replace it)")
            }
            let url = "http://\(try DashboardAddress.parse(address, allowNonLoopback: true))/?token=\(outcome.token.text)"
            print("""
                Open this once in each browser (it sets a cookie and drops the token from the address bar):
                  \(url)
                Prometheus and scripts: send `Authorization: Bearer <token>` with the file's content (docs/dashboard.md).
                """)
        }

        enum Change { case created, rotated, kept }

        /// The token in `path`, made first when there is none or when rotating.
        static func ensureToken(path: String, rotate: Bool) throws -> (token: DashboardToken, change: Change) {
            do {
                if !rotate, let existing = try DashboardTokenFile.read(path: path) {
                    return (existing, .kept)
                }
                let existed = FileManager.default.fileExists(atPath: path)
                let token = DashboardToken.generate()
                try DashboardTokenFile.write(token, path: path)
                return (token, existed ? .rotated : .created)
            } catch {
                throw ValidationError("\(error)")
            }
        }
    }
}
