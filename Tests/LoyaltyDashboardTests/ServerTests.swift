import Foundation
import Logging
import LoyaltyConfig
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
import ServiceLifecycle
import Testing
import ZeroMQ
@testable import LoyaltyDashboard

/// One blocking HTTP/1.1 GET over a plain socket, with extra header lines (`Name: value`); run it off the pool.
func httpGet(port: Int, path: String, headers extraHeaders: [String] = []) throws -> (status: Int, headers: String, body: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HTTPTestError(message: "socket: \(errno)") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw HTTPTestError(message: "connect to \(port): \(errno)") }
    let extra = extraHeaders.map { $0 + "\r\n" }.joined()
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(extra)Connection: close\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        response += buffer[0..<count]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { throw HTTPTestError(message: "no HTTP response: \(text.prefix(200))") }
    let head = String(text[..<split.lowerBound])
    let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
    return (status, head, String(text[split.upperBound...]))
}

struct HTTPTestError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

@Suite(.serialized) struct DashboardServerTests {
    @Test(.timeLimit(.minutes(1))) func servesTheLatestSnapshotFromARealBusWithThePluginsDown() async throws {
        let fixture = try BusFixture()
        defer {
            fixture.bus.stop()
            fixture.directory.remove()
        }
        // An alert as the satisfaction plugin emits it, with markup in the message: data from the network.
        let endpoint = fixture.configuration.ingestEndpoint
        let ack = try await runOffPool {
            let context = try ZMQContext()
            let client = try BusClient(context: context, endpoint: endpoint)
            let envelope = EventEnvelope(eventId: "test/alert/1", type: "alert.raised", occurredAt: Timestamp.now(), source: "plugin/satisfaction",
                                         payload: .derived(["kind": .string("nps-below"), "rule": .string("store-nps-low"),
                                                            "severity": .string("high"), "storeId": .string("S<script>1"),
                                                            "message": .string("NPS 12 <script>alert(1)</script> below 30"),
                                                            "action": .string("call the store manager")]))
            return try client.publish(EventCodec.encode(envelope), eventId: envelope.eventId).status
        }
        #expect(ack == .stored)

        var configuration = LoyaltyConfiguration.embeddedDefaults(root: fixture.directory.path)
        configuration.bus = BusEndpoints(ingest: fixture.configuration.ingestEndpoint, publish: fixture.configuration.publishEndpoint,
                                         replay: fixture.configuration.replayEndpoint)
        configuration.dataDirectory = fixture.directory.path
        var settings = DashboardCollector.Settings()
        settings.interval = 0.3
        settings.requestTimeoutMilliseconds = 500
        let ports = AsyncStream.makeStream(of: Int.self)
        let server = DashboardServer(configuration: configuration, address: DashboardAddress(host: "127.0.0.1", port: 0), settings: settings,
                                     refreshSeconds: 3, logger: Logger(label: "test.dashboard"),
                                     onRunning: { port in ports.continuation.yield(port) })
        let group = ServiceGroup(configuration: .init(services: [server], logger: Logger(label: "test.group")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.stream.makeAsyncIterator()
            let port = try #require(await iterator.next())
            #expect(port > 0)
            // Ready once the collector finished a pass.
            var health = ""
            for _ in 0..<100 {
                health = try await runOffPool { try httpGet(port: port, path: "/healthz").body }
                if health == "ok\n" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(health == "ok\n")
            // The alert arrives through the replay endpoint (history) or the live feed; wait for it.
            var page = (status: 0, headers: "", body: "")
            for _ in 0..<50 {
                page = try await runOffPool { try httpGet(port: port, path: "/") }
                if page.body.contains("store-nps-low") { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(page.status == 200)
            #expect(page.headers.lowercased().contains("content-type: text/html; charset=utf-8"))
            #expect(page.headers.contains("default-src 'none'"))
            #expect(page.body.contains("store-nps-low"))
            #expect(page.body.contains("NPS 12 &lt;script&gt;alert(1)&lt;/script&gt; below 30"))
            #expect(page.body.contains("S&lt;script&gt;1"))
            #expect(!page.body.contains("<script"))
            // No plugin runs: each panel says so instead of failing.
            #expect(page.body.contains("The satisfaction plugin is not answering"))
            #expect(page.body.contains("The discount-campaigns plugin is not answering"))
            #expect(page.body.contains("No customer data yet"))
            #expect(page.body.contains("The supervisor is not running"))
            // A live alert, published after the page is up, shows within a few passes.
            try await runOffPool {
                let context = try ZMQContext()
                let client = try BusClient(context: context, endpoint: endpoint)
                let envelope = EventEnvelope(eventId: "test/alert/2", type: "alert.raised", occurredAt: Timestamp.now(), source: "plugin/satisfaction",
                                             payload: .derived(["kind": .string("churn-risk"), "rule": .string("valuable-gone-quiet"),
                                                                "severity": .string("warning"), "customerId": .string("C000042"),
                                                                "message": .string("a valuable customer has gone quiet")]))
                _ = try client.publish(EventCodec.encode(envelope), eventId: envelope.eventId)
            }
            var live = false
            for _ in 0..<50 where !live {
                live = try await runOffPool { try httpGet(port: port, path: "/").body.contains("valuable-gone-quiet") }
                if !live { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(live)
            // The engine's Prometheus exposition: the plugins (none here) show as down, the scrape still answers.
            let metrics = try await runOffPool { try httpGet(port: port, path: "/metrics") }
            #expect(metrics.status == 200)
            #expect(metrics.headers.lowercased().contains("content-type: text/plain; version=0.0.4"))
            #expect(metrics.body.contains(#"loyalty_process_up{component="satisfaction"} 0"#), "\(metrics.body.prefix(2000))")
            let missing = try await runOffPool { try httpGet(port: port, path: "/nothing") }
            #expect(missing.status == 404)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test(.timeLimit(.minutes(1))) func aBusyPortIsRefusedWithWhatToDo() async throws {
        // Hold a loopback port, then ask the dashboard to listen on it.
        let (fd, port) = boundLoopbackSocket()
        defer { close(fd) }
        #expect(listen(fd, 1) == 0)
        let root = try TemporaryDirectory("dashboard-busy")
        defer { root.remove() }
        let configuration = configurationWithoutBus(in: root)
        var settings = DashboardCollector.Settings()
        settings.requestTimeoutMilliseconds = 200
        let server = DashboardServer(configuration: configuration, address: DashboardAddress(host: "127.0.0.1", port: port), settings: settings,
                                     logger: Logger(label: "test.dashboard"))
        await #expect {
            try await server.run()
        } throws: { error in
            guard case .cannotListen(let where_, _)? = error as? DashboardServerError else { return false }
            return where_ == "127.0.0.1:\(port)" && "\(error)".contains("--dashboard-address")
        }
    }
}
