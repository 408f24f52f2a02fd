import Foundation
import Logging
import LoyaltyConfig
import LoyaltyTestSupport
import LoyaltyWire
import ServiceLifecycle
import Synchronization
import Testing
@testable import LoyaltyDashboard

/// The defaults under `root`, with bus endpoints nothing listens on: the collector's requests
/// fail fast instead of reaching a real bus.
func configurationWithoutBus(in root: TemporaryDirectory) -> LoyaltyConfiguration {
    var configuration = LoyaltyConfiguration.embeddedDefaults(root: root.path)
    configuration.bus = BusEndpoints(ingest: root.ipc("ingest"), publish: root.ipc("publish"), replay: root.ipc("replay"))
    return configuration
}

/// The dashboard on a free loopback port with `gate`, its collector pointed at a bus that is not
/// there (every panel says so; the pages still answer). `body` gets the port.
func withDashboard(gate: DashboardTokenGate?, logger: Logger, tokenCheckInterval: Duration = .seconds(2),
                   _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    let root = try TemporaryDirectory("dashboard-auth")
    defer { root.remove() }
    let configuration = configurationWithoutBus(in: root)
    var settings = DashboardCollector.Settings()
    settings.interval = 0.3
    settings.requestTimeoutMilliseconds = 200
    let ports = AsyncStream.makeStream(of: Int.self)
    let server = DashboardServer(configuration: configuration, address: DashboardAddress(host: "127.0.0.1", port: 0), settings: settings,
                                 tokenGate: gate, tokenCheckInterval: tokenCheckInterval, logger: logger,
                                 onRunning: { port in ports.continuation.yield(port) })
    let group = ServiceGroup(configuration: .init(services: [server], logger: Logger(label: "test.group")))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.stream.makeAsyncIterator()
        let port = try #require(await iterator.next())
        do {
            try await body(port)
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

func get(_ port: Int, _ path: String, _ headers: [String] = []) async throws -> (status: Int, headers: String, body: String) {
    try await runOffPool { try httpGet(port: port, path: path, headers: headers) }
}

/// The value of a response header (names compared case-insensitively), or nil.
func header(_ name: String, in head: String) -> String? {
    for line in head.split(separator: "\r\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        if line[..<colon].lowercased() == name.lowercased() {
            return String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
        }
    }
    return nil
}

/// Polls `condition` every 100 ms for up to `seconds`.
func eventually(seconds: Double = 10, _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}

@Suite(.serialized) struct DashboardAuthTests {
    @Test(.timeLimit(.minutes(1))) func withATokenFileEveryRouteAsksForTheTokenAndTheHeaderOrTheCookieOpensIt() async throws {
        let folder = try TemporaryDirectory("dashboard-token")
        defer { folder.remove() }
        let tokenFile = folder.path + "/config/dashboard.token"
        try DashboardTokenFile.write(DashboardToken.generate(), path: tokenFile)
        let token = try #require(try DashboardAccessPolicy.tokenAtStart(tokenFile: tokenFile, allowRemote: false))
        let wrong = DashboardToken.generate().text
        let log = CapturedLog()
        try await withDashboard(gate: DashboardTokenGate(tokenFile: tokenFile, token: token), logger: log.logger("test.dashboard")) { port in
            // Nothing without the token: not the page, not the metrics, not the health check.
            for path in ["/", "/metrics", "/healthz"] {
                let refused = try await get(port, path)
                #expect(refused.status == 401, "\(path)")
                #expect(header("WWW-Authenticate", in: refused.headers) == #"Bearer realm="loyalty-dashboard""#, "\(path)")
                #expect(header("Content-Type", in: refused.headers) == "text/plain; charset=utf-8")
                #expect(refused.body.contains("loyalty dashboard token"), "\(refused.body)")
                #expect(refused.body.contains("Authorization: Bearer"))
                #expect(!refused.body.contains("<html") && !refused.body.contains("loyalty_process_up") && !refused.body.contains("NPS"))
            }
            // A wrong token, however it is sent, is refused as such.
            for headers in [["Authorization: Bearer \(wrong)"], ["Authorization: Bearer \(token.text)x"], ["Authorization: Basic \(token.text)"],
                            ["Cookie: loyalty_dashboard=\(wrong)"]] {
                let refused = try await get(port, "/", headers)
                #expect(refused.status == 401, "\(headers)")
                #expect(header("WWW-Authenticate", in: refused.headers) == #"Bearer realm="loyalty-dashboard", error="invalid_token""#)
                #expect(refused.body.contains("not this dashboard's"))
            }
            let wrongQuery = try await get(port, "/?token=\(wrong)")
            #expect(wrongQuery.status == 401)
            #expect(header("Set-Cookie", in: wrongQuery.headers) == nil)

            // The header opens every route (the scheme in any case, as Prometheus or curl send it).
            let page = try await get(port, "/", ["Authorization: Bearer \(token.text)"])
            #expect(page.status == 200)
            #expect(page.body.contains("<html"))
            let metrics = try await get(port, "/metrics", ["authorization: bearer \(token.text)"])
            #expect(metrics.status == 200)
            #expect(metrics.body.contains("loyalty_process_up"), "\(metrics.body.prefix(500))")

            // A browser's first visit: a cookie, and the same address without the token.
            let visit = try await get(port, "/?view=stores&token=\(token.text)")
            #expect(visit.status == 303)
            #expect(header("Location", in: visit.headers) == "/?view=stores")
            let cookie = try #require(header("Set-Cookie", in: visit.headers))
            #expect(cookie.hasPrefix("loyalty_dashboard=\(token.text);"))
            for attribute in ["Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=2592000"] {
                #expect(cookie.contains("; \(attribute)"), "\(cookie)")
            }
            #expect(!cookie.contains("Secure"), "plain HTTP: a Secure cookie would never come back")
            #expect(header("Cache-Control", in: visit.headers) == "no-store")
            #expect(!visit.body.contains("<html"))
            let metricsVisit = try await get(port, "/metrics?token=\(token.text)")
            #expect(metricsVisit.status == 303)
            #expect(header("Location", in: metricsVisit.headers) == "/metrics")
            // Then the cookie alone opens the page, beside other cookies.
            let nameValue = String(cookie.prefix(while: { $0 != ";" }))
            let withCookie = try await get(port, "/?view=stores", ["Cookie: theme=dark; \(nameValue)"])
            #expect(withCookie.status == 200)
            #expect(withCookie.body.contains("<html"))
        }
        let lines = log.all
        #expect(lines.contains { $0.contains("refused GET /metrics: no access token") }, "\(lines)")
        #expect(lines.contains { $0.contains("wrong access token") })
        #expect(!lines.contains { $0.contains(token.text) || $0.contains(wrong) }, "a token was logged")
    }

    @Test(.timeLimit(.minutes(1))) func withoutATokenFileTheLoopbackDashboardIsOpenUntilOneAppears() async throws {
        let folder = try TemporaryDirectory("dashboard-token")
        defer { folder.remove() }
        let tokenFile = folder.path + "/config/dashboard.token"
        let start = try DashboardAccessPolicy.tokenAtStart(tokenFile: tokenFile, allowRemote: false)
        #expect(start == nil)
        let log = CapturedLog()
        try await withDashboard(gate: DashboardTokenGate(tokenFile: tokenFile, token: start), logger: log.logger("test.dashboard"),
                                tokenCheckInterval: .milliseconds(100)) { port in
            let open = try await get(port, "/")
            #expect(open.status == 200)
            #expect(open.body.contains("<html"))
            #expect(try await get(port, "/metrics").status == 200)
            // `loyalty dashboard token` while it runs: from then on the token is required.
            let token = DashboardToken.generate()
            try DashboardTokenFile.write(token, path: tokenFile)
            #expect(try await eventually { try await get(port, "/").status == 401 })
            #expect(try await get(port, "/", ["Authorization: Bearer \(token.text)"]).status == 200)
        }
        #expect(log.all.contains { $0.contains("dashboard token file appeared") })
        #expect(!log.all.contains { $0.contains(try! #require(try DashboardTokenFile.read(path: tokenFile)).text) })
    }

    @Test(.timeLimit(.minutes(1))) func aRotatedTokenReplacesTheOldOneWhileItRunsAndADeletedFileDoesNotOpenIt() async throws {
        let folder = try TemporaryDirectory("dashboard-token")
        defer { folder.remove() }
        let tokenFile = folder.path + "/dashboard.token"
        let old = DashboardToken.generate()
        try DashboardTokenFile.write(old, path: tokenFile)
        let log = CapturedLog()
        try await withDashboard(gate: DashboardTokenGate(tokenFile: tokenFile, token: old), logger: log.logger("test.dashboard"),
                                tokenCheckInterval: .milliseconds(100)) { port in
            #expect(try await get(port, "/", ["Authorization: Bearer \(old.text)"]).status == 200)
            let new = DashboardToken.generate()
            try DashboardTokenFile.write(new, path: tokenFile)
            #expect(try await eventually { try await get(port, "/", ["Authorization: Bearer \(new.text)"]).status == 200 })
            #expect(try await get(port, "/", ["Authorization: Bearer \(old.text)"]).status == 401)
            #expect(try await get(port, "/", ["Cookie: loyalty_dashboard=\(old.text)"]).status == 401)
            // A spoiled file keeps the last good token; so does a deleted one: never open by accident.
            try "short".write(toFile: tokenFile, atomically: false, encoding: .utf8)
            #expect(try await eventually { log.all.contains { $0.contains("the last good token stays required") } })
            #expect(try await get(port, "/", ["Authorization: Bearer \(new.text)"]).status == 200)
            unlink(tokenFile)
            #expect(try await eventually { log.all.contains { $0.contains("is gone") } })
            #expect(try await get(port, "/").status == 401)
            #expect(try await get(port, "/", ["Authorization: Bearer \(new.text)"]).status == 200)
        }
        #expect(log.all.contains { $0.contains("dashboard token changed") })
    }

    @Test func allowRemoteWithoutATokenFileRefusesToStartAndSaysHowToMakeOne() throws {
        let folder = try TemporaryDirectory("dashboard-token")
        defer { folder.remove() }
        let tokenFile = folder.path + "/config/dashboard.token"
        #expect(throws: DashboardAccessError.tokenRequired(tokenFile: tokenFile)) {
            try DashboardAccessPolicy.tokenAtStart(tokenFile: tokenFile, allowRemote: true)
        }
        let message = DashboardAccessError.tokenRequired(tokenFile: tokenFile).description
        #expect(message.contains("--dashboard-allow-remote needs an access token"))
        #expect(message.contains("`loyalty dashboard token`"))
        #expect(message.contains(tokenFile))
        // On loopback without a file: open. With a file: required, remote or not.
        #expect(try DashboardAccessPolicy.tokenAtStart(tokenFile: tokenFile, allowRemote: false) == nil)
        let token = DashboardToken.generate()
        try DashboardTokenFile.write(token, path: tokenFile)
        #expect(try DashboardAccessPolicy.tokenAtStart(tokenFile: tokenFile, allowRemote: true) == token)
        #expect(try DashboardAccessPolicy.tokenAtStart(tokenFile: tokenFile, allowRemote: false) == token)
    }

    @Test func aTokenFileOthersMayReadOrThatHoldsNoTokenIsRefusedWithoutQuotingIt() throws {
        let folder = try TemporaryDirectory("dashboard-token")
        defer { folder.remove() }
        let tokenFile = folder.path + "/dashboard.token"
        let token = DashboardToken.generate()
        try DashboardTokenFile.write(token, path: tokenFile)
        chmod(tokenFile, 0o644)
        do {
            _ = try DashboardAccessPolicy.tokenAtStart(tokenFile: tokenFile, allowRemote: false)
            Issue.record("a 0644 token file was accepted")
        } catch {
            #expect("\(error)".contains("mode 0644"))
            #expect("\(error)".contains("chmod 600 \(tokenFile)"))
            #expect(!"\(error)".contains(token.text))
        }
        let secret = "not a token but a secret anyway!!"
        try secret.write(toFile: tokenFile, atomically: false, encoding: .utf8)
        chmod(tokenFile, 0o600)
        do {
            _ = try DashboardTokenFile.read(path: tokenFile)
            Issue.record("a file holding no token was accepted")
        } catch {
            #expect("\(error)".contains("loyalty dashboard token --rotate"))
            #expect(!"\(error)".contains(secret))
        }
        // Whitespace around the token (an editor's newline) is not part of it.
        try "\(token.text)\n".write(toFile: tokenFile, atomically: false, encoding: .utf8)
        #expect(try DashboardTokenFile.read(path: tokenFile) == token)
    }

    @Test func tokensAreRandomBase64URLWrittenWithMode0600AndComparedWhole() throws {
        let first = DashboardToken.generate()
        let second = DashboardToken.generate()
        #expect(first != second)
        #expect(first.text.count == 43)
        #expect(first.text.utf8.allSatisfy(DashboardToken.isTokenByte))
        #expect(!first.description.contains(first.text))
        let folder = try TemporaryDirectory("dashboard-token")
        defer { folder.remove() }
        let path = folder.path + "/new/dashboard.token"
        try DashboardTokenFile.write(first, path: path)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == first.text)

        #expect(first.matches(first.text))
        #expect(!first.matches(first.text.dropLast()))
        #expect(!first.matches(first.text + "A"))
        #expect(!first.matches(""))
        var last = Array(first.text.utf8)
        last[last.count - 1] = last[last.count - 1] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(!first.matches(String(decoding: last, as: UTF8.self)))
        #expect(throws: DashboardTokenError.self) { try DashboardToken(text: "short") }
        #expect(throws: DashboardTokenError.self) { try DashboardToken(text: String(repeating: "a", count: 40) + " b") }
    }

    @Test func theRedirectDropsOnlyTheTokenAndStaysOnThisHost() {
        #expect(DashboardAuth.location(path: "/", query: "token=abc") == "/")
        #expect(DashboardAuth.location(path: "/metrics", query: "a=1&token=abc&b=2") == "/metrics?a=1&b=2")
        #expect(DashboardAuth.location(path: "//evil.example/x", query: "token=abc") == "/evil.example/x")
        #expect(DashboardAuth.cookieValue(named: "loyalty_dashboard", in: ["a=1; loyalty_dashboard=xyz; b=2"]) == "xyz")
        #expect(DashboardAuth.cookieValue(named: "loyalty_dashboard", in: ["a=1", "loyalty_dashboard=xyz"]) == "xyz")
        #expect(DashboardAuth.cookieValue(named: "loyalty_dashboard", in: ["xloyalty_dashboard=xyz"]) == nil)
        #expect(DashboardAuth.bearer("Bearer abc") == "abc")
        #expect(DashboardAuth.bearer("Basic abc") == nil)
    }
}
