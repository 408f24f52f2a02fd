import Foundation
import HTTPTypes
import Hummingbird
import Logging
import LoyaltyConfig
import LoyaltyMetrics
import LoyaltyMonitor
import LoyaltyWire
import NIOCore
import ServiceLifecycle
import Synchronization

/// Where the dashboard listens. Anything but loopback is refused unless the user opts in
/// explicitly (and then `DashboardAccessPolicy` requires an access token).
public struct DashboardAddress: Sendable, Equatable, CustomStringConvertible {
    public static let defaultText = "127.0.0.1:8080"
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// "127.0.0.1:8080", "localhost:8080", "[::1]:8080"; port 0 takes a free one.
    public static func parse(_ text: String, allowNonLoopback: Bool = false) throws(DashboardAddressError) -> DashboardAddress {
        let host: String
        let portText: String
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .malformed(text) }
            portText = String(rest.dropFirst())
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { throw .malformed(text) }
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { throw .malformed(text) }
        let address = DashboardAddress(host: host, port: port)
        if !allowNonLoopback && !address.isLoopback { throw .notLoopback(text) }
        return address
    }

    public var isLoopback: Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

public enum DashboardAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case notLoopback(String)

    public var description: String {
        switch self {
        case .malformed(let text):
            "dashboard address '\(text)' is not HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)"
        case .notLoopback(let text):
            "dashboard address '\(text)' is not a loopback address: anyone who reaches it would see customers and alerts. "
                + "Use 127.0.0.1 (and an SSH tunnel), or pass --dashboard-allow-remote with an access token "
                + "(`loyalty dashboard token` makes one; see docs/dashboard.md)"
        }
    }
}

/// Set once the HTTP server is bound and listening.
final class ListeningFlag: Sendable {
    let value = Atomic<Bool>(false)
}

public enum DashboardServerError: Error, Sendable, CustomStringConvertible {
    case cannotListen(address: String, reason: String)

    public var description: String {
        switch self {
        case .cannotListen(let address, let reason):
            "the dashboard cannot listen on \(address): \(reason); is another program (or another `loyalty up --dashboard`) using it? "
                + "Choose another port with --dashboard-address 127.0.0.1:PORT"
        }
    }
}

/// The web dashboard as a swift-service-lifecycle `Service`: a collector thread and a Hummingbird
/// HTTP server that renders its latest snapshot. `loyalty up --dashboard` adds it to its group.
public struct DashboardServer: Service {
    public let address: DashboardAddress
    public let refreshSeconds: Int
    let configuration: LoyaltyConfiguration
    let collector: DashboardCollector
    let logger: Logger
    let onRunning: @Sendable (Int) async -> Void
    /// The access token to require and the file it follows; nil: no token, ever (tests, embedding).
    let tokenGate: DashboardTokenGate?
    /// How often the token file is checked for a rotation.
    let tokenCheckInterval: Duration

    /// - Parameter tokenGate: the access token (see `DashboardAccessPolicy`); nil serves everyone.
    /// - Parameter onRunning: called with the port actually bound (useful with port 0).
    public init(configuration: LoyaltyConfiguration, address: DashboardAddress, settings: DashboardCollector.Settings = .init(),
                refreshSeconds: Int = 5, tokenGate: DashboardTokenGate? = nil, tokenCheckInterval: Duration = .seconds(2),
                logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.configuration = configuration
        self.address = address
        self.refreshSeconds = refreshSeconds
        self.tokenGate = tokenGate
        self.tokenCheckInterval = tokenCheckInterval
        self.logger = logger
        self.onRunning = onRunning
        collector = DashboardCollector(configuration: configuration, settings: settings, logger: logger)
    }

    public func run() async throws {
        collector.start()
        let listening = ListeningFlag()
        let app = makeApplication(listening: listening)
        do {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                if let tokenGate {
                    let interval = tokenCheckInterval
                    let logger = logger
                    tasks.addTask { await tokenGate.watch(every: interval, logger: logger) }
                }
                try await app.run()
                tasks.cancelAll()
            }
        } catch {
            await stopCollector()
            // Failing before it listened is nearly always the address (in use, or not this machine's).
            if !listening.value.load(ordering: .acquiring) { throw DashboardServerError.cannotListen(address: address.description, reason: "\(error)") }
            throw error
        }
        await stopCollector()
    }

    private func stopCollector() async {
        let collector = collector
        _ = try? await runOffPool { collector.stopAndJoin() }
    }

    func makeApplication(listening: ListeningFlag) -> some ApplicationProtocol {
        let router = Router()
        // Before any route: a middleware only wraps the routes added after it.
        if let tokenGate { router.add(middleware: DashboardAuthMiddleware(gate: tokenGate, logger: logger)) }
        let collector = collector
        let refresh = refreshSeconds
        let configuration = configuration
        // No script, no external asset: the policy lets the browser load nothing but the page.
        let headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8",
            .cacheControl: "no-store",
            .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
        ]
        router.get("/") { _, _ -> Response in
            let page = DashboardPage.render(collector.snapshot, refreshSeconds: refresh)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page)))
        }
        router.get("/healthz") { _, _ -> Response in
            let ready = collector.completedPasses > 0
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: ready ? "ok\n" : "starting\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            // collect() blocks on ZeroMQ requests (and the manifests are files): on a thread of its own, never the pool.
            let text = try await runOffPool {
                MetricsScrape(configuration: configuration, plugins: EngineStatus.plugins(configuration), timeout: .milliseconds(500)).collect()
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        let onRunning = onRunning
        return Application(router: router,
                           configuration: .init(address: .hostname(address.host, port: address.port), serverName: "loyalty-dashboard"),
                           onServerRunning: { channel in
                               listening.value.store(true, ordering: .releasing)
                               await onRunning(channel.localAddress?.port ?? 0)
                           },
                           logger: logger)
    }
}
