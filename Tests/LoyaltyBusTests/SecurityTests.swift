import Foundation
@testable import LoyaltyBus
import Logging
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
import Testing
import ZeroMQ

/// CURVE + ZAP on real loopback TCP sockets: only allow-listed keys get in.
@Suite(.serialized) struct SecurityTests {
    /// A bus on 127.0.0.1 with CURVE on and an allow-list holding `allowed`.
    final class CurveBus {
        let directory: TemporaryDirectory
        let server: CurveKeyPair
        let allowListPath: String
        let bus: Bus
        let context: ZMQContext
        let configuration: BusConfiguration

        init(allowed: [AllowedKey]) throws {
            directory = try TemporaryDirectory("bus-curve")
            server = try CurveKeyPair.generate()
            allowListPath = directory.path + "/allowed.txt"
            try AllowList.write(allowed, to: allowListPath)
            var configuration = BusConfiguration(
                ingestEndpoint: "tcp://127.0.0.1:\(freeLoopbackPort())", publishEndpoint: "tcp://127.0.0.1:\(freeLoopbackPort())",
                replayEndpoint: "tcp://127.0.0.1:\(freeLoopbackPort())", journalPath: directory.path + "/journal.sqlite")
            configuration.curve = .init(serverSecretKey: server.secretKey, allowListPath: allowListPath)
            self.configuration = configuration
            bus = try Bus(configuration: configuration, logger: Logger(label: "test.bus"))
            try bus.start()
            context = try ZMQContext()
        }

        func client(_ pair: CurveKeyPair?) throws -> BusClient {
            try BusClient(context: context, endpoint: configuration.ingestEndpoint,
                          options: pair.map { CurveClientKeys(pair: $0, serverPublicKey: server.publicKey).socketOptions }
                              ?? [.sendTimeout(milliseconds: 1000)])
        }

        /// Publishes one purchase; nil when no ack came (the connection was refused).
        func publish(_ client: BusClient, receipt: Int) -> Ack? {
            let body = Sample.bytes(Sample.purchase(receipt: receipt))
            return try? client.publish(body, eventId: "S001-T1-\(receipt)", attemptTimeoutMilliseconds: 700, maxAttempts: 2)
        }

        /// Publishes an event of any type and source once; the bus's ack (throws when none came).
        func publish(_ client: BusClient, id: String, type: String = "purchase", source: String) throws -> Ack {
            try client.publish(SecurityTests.envelope(id: id, type: type, source: source), eventId: id,
                               attemptTimeoutMilliseconds: 2000, maxAttempts: 1)
        }

        deinit {
            bus.stop()
            directory.remove()
        }
    }

    /// An event as a peer would publish it, of any type and source.
    static func envelope(id: String, type: String, source: String) -> [UInt8] {
        if type == "purchase" {
            var purchase = Sample.purchase(receipt: 90)
            purchase = EventEnvelope(version: 1, eventId: id, type: type, occurredAt: purchase.occurredAt, source: source, seq: nil,
                                     payload: purchase.payload)
            return Sample.bytes(purchase)
        }
        return EventCodec.encode(EventEnvelope(version: 1, eventId: id, type: type, occurredAt: Timestamp(epochMilliseconds: 1_790_000_000_000),
                                               source: source, seq: nil, payload: .derived(["customerId": .string("C000001"), "points": .int(1000)])))
    }

    @Test func allowedKeyIsStoredAndUnknownKeyIsRefused() throws {
        let terminal = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()
        let fixture = try CurveBus(allowed: [AllowedKey(kind: .terminal, name: "till-1", publicKey: terminal.publicKey)])

        #expect(fixture.publish(try fixture.client(terminal), receipt: 1)?.status == .stored)
        #expect(fixture.publish(try fixture.client(stranger), receipt: 2) == nil)
        #expect(try fixture.bus.journal.count() == 1)
        #expect(fixture.bus.statistics.peersRefused >= 1)
        #expect(fixture.bus.statistics.peersAccepted >= 1)
    }

    @Test func revokedKeyIsRefusedFromItsNextConnectionWithoutRestart() throws {
        let terminal = try CurveKeyPair.generate()
        let newcomer = try CurveKeyPair.generate()
        let fixture = try CurveBus(allowed: [AllowedKey(kind: .terminal, name: "till-1", publicKey: terminal.publicKey)])
        #expect(fixture.publish(try fixture.client(terminal), receipt: 1)?.status == .stored)

        // Revoke till-1 and allow a new key, as `loyalty keys revoke` / `add-terminal` do: the
        // running bus sees both at the next connection.
        try AllowList.write([AllowedKey(kind: .terminal, name: "till-2", publicKey: newcomer.publicKey)], to: fixture.allowListPath)
        #expect(fixture.publish(try fixture.client(terminal), receipt: 2) == nil)
        #expect(fixture.publish(try fixture.client(newcomer), receipt: 3)?.status == .stored)
        #expect(try fixture.bus.journal.count() == 2)
    }

    @Test func plaintextClientCannotTalkToCurveBus() throws {
        let terminal = try CurveKeyPair.generate()
        let fixture = try CurveBus(allowed: [AllowedKey(kind: .terminal, name: "till-1", publicKey: terminal.publicKey)])
        #expect(fixture.publish(try fixture.client(nil), receipt: 1) == nil)
        // Nor read: a plaintext replay request gets no answer, a plaintext subscriber no event.
        let replay = try Socket(context: fixture.context, type: .dealer)
        try replay.set(.sendTimeout(milliseconds: 1000))
        try replay.connect(fixture.configuration.replayEndpoint)
        try replay.send(ReplayRequest(after: 0, limit: 10, topics: []).frames)
        let subscriber = try Socket(context: fixture.context, type: .sub)
        try subscriber.set(.subscribe([]))
        try subscriber.connect(fixture.configuration.publishEndpoint)
        #expect(fixture.publish(try fixture.client(terminal), receipt: 2)?.status == .stored)
        #expect(try receive(replay, within: 1500) == nil)
        #expect(try receive(subscriber, within: 1500) == nil)
        #expect(try fixture.bus.journal.count() == 1)
    }

    @Test func allowedPluginKeyReadsPublishAndReplay() throws {
        let plugin = try CurveKeyPair.generate()
        let terminal = try CurveKeyPair.generate()
        let fixture = try CurveBus(allowed: [AllowedKey(kind: .plugin, name: "points", publicKey: plugin.publicKey),
                                             AllowedKey(kind: .terminal, name: "till-1", publicKey: terminal.publicKey)])
        let options = CurveClientKeys(pair: plugin, serverPublicKey: fixture.server.publicKey).socketOptions
        let subscriber = try Socket(context: fixture.context, type: .sub)
        try subscriber.set(options)
        try subscriber.set(.subscribe(Array("purchase".utf8)))
        try subscriber.connect(fixture.configuration.publishEndpoint)
        Thread.sleep(forTimeInterval: 0.3)   // the subscription travels after the handshake
        #expect(fixture.publish(try fixture.client(terminal), receipt: 1)?.status == .stored)
        let live = try #require(try receive(subscriber, within: 5000))
        #expect(PublishedEvent(frames: live)?.seq == 1)

        let replay = try Socket(context: fixture.context, type: .dealer)
        try replay.set(options)
        try replay.connect(fixture.configuration.replayEndpoint)
        try replay.send(ReplayRequest(after: 0, limit: 10, topics: []).frames)
        let answer = try #require(try receive(replay, within: 5000))
        let batch = try #require(ReplayBatch(frames: answer))
        #expect(batch.events.map(\.seq) == [1])
    }

    @Test func aTerminalKeyPublishesWhatTillsProduceOnlyAndOffersNoService() throws {
        let terminal = try CurveKeyPair.generate()
        let fixture = try CurveBus(allowed: [AllowedKey(kind: .terminal, name: "till-1", publicKey: terminal.publicKey)])
        let client = try fixture.client(terminal)
        #expect(try fixture.publish(client, id: "S001-T1-1", type: "purchase", source: "pos/S001/T1").status == .stored)
        // Minting points, or a reward, with a till's key: refused, and said why.
        let minted = try fixture.publish(client, id: "forged-1", type: "points.accrued", source: "plugin/points-accrual")
        #expect(minted.status == .rejected)
        #expect(minted.code == "not_permitted")
        #expect(minted.message.contains("'till-1'") && minted.message.contains("points.accrued"))
        #expect(try fixture.publish(client, id: "forged-2", type: "reward.granted", source: "pos/S001/T1").code == "not_permitted")
        // Nor a till's event dressed as a plugin's.
        #expect(try fixture.publish(client, id: "S001-T1-2", type: "purchase", source: "plugin/points-accrual").code == "not_permitted")
        #expect(try fixture.bus.journal.count() == 1)

        // Registering as the worker behind a service.
        let dealer = try Socket(context: fixture.context, type: .dealer)
        try dealer.set(CurveClientKeys(pair: terminal, serverPublicKey: fixture.server.publicKey).socketOptions)
        try dealer.connect(fixture.configuration.ingestEndpoint)
        try dealer.send([Frame(frame: WireCommand.ready), Frame(frame: "points.balance")])
        let answer = try #require(try receive(dealer, within: 5000))
        #expect(answer.map(\.frameText).prefix(2) == [WireCommand.error, "not_permitted"])
        let reply = try client.request(service: "points.balance", body: Array(#"{"customerId":"C000001"}"#.utf8), timeoutMilliseconds: 500)
        #expect(reply.status == .unavailable, "no worker was registered")
    }

    @Test func aPluginKeyPublishesUnderItsOwnSourceOnly() throws {
        let plugin = try CurveKeyPair.generate()
        let fixture = try CurveBus(allowed: [AllowedKey(kind: .plugin, name: "points-accrual", publicKey: plugin.publicKey)])
        let client = try fixture.client(plugin)
        #expect(try fixture.publish(client, id: "p-1", type: "points.accrued", source: "plugin/points-accrual").status == .stored)
        let other = try fixture.publish(client, id: "p-2", type: "reward.granted", source: "plugin/reward-rules")
        #expect(other.code == "not_permitted")
        #expect(other.message.contains("plugin/points-accrual"))
        #expect(try fixture.publish(client, id: "S001-T1-3", type: "purchase", source: "pos/S001/T1").code == "not_permitted")
        #expect(try fixture.bus.journal.count() == 1)
    }

    @Test func aTerminalListedWithSourcesPublishesUnderThoseOnly() throws {
        let terminal = try CurveKeyPair.generate()
        let fixture = try CurveBus(allowed: [AllowedKey(kind: .terminal, name: "store-1-till-1", publicKey: terminal.publicKey,
                                                        sources: ["pos/S001/T1", "kiosk/S001/*"])])
        let client = try fixture.client(terminal)
        #expect(try fixture.publish(client, id: "S001-T1-1", source: "pos/S001/T1").status == .stored)
        #expect(try fixture.publish(client, id: "S001-K-1", source: "kiosk/S001/K7").status == .stored)
        // Another till's receipts, passed off from this one.
        let other = try fixture.publish(client, id: "S001-T2-1", source: "pos/S001/T2")
        #expect(other.code == "not_permitted")
        #expect(other.message == "the terminal key 'store-1-till-1' may publish under pos/S001/T1, kiosk/S001/* only, not 'pos/S001/T2'")
        #expect(try fixture.publish(client, id: "S001-T1x-1", source: "pos/S001/T1x").code == "not_permitted", "an exact source is not a prefix")
        #expect(try fixture.bus.journal.count() == 2)
    }

    @Test func allowListSourcesRoundTripAndBadOnesAreRefusedWithTheirLine() throws {
        let directory = try TemporaryDirectory("allow-list")
        defer { directory.remove() }
        let key = try CurveKeyPair.generate().publicKey
        let keys = [AllowedKey(kind: .terminal, name: "till-1", publicKey: key, sources: ["pos/S001/T1", "pos/S002/*"]),
                    AllowedKey(kind: .plugin, name: "points-accrual", publicKey: key)]
        try AllowList.write(keys, to: directory.path + "/allowed.txt")
        #expect(try AllowList.read(directory.path + "/allowed.txt") == keys)
        #expect(throws: CurveKeyError("a.txt:2: 'pos/*/T1' is not a source pattern: use a source like pos/S017/T02, or a prefix ending in * like pos/S017/*")) {
            try AllowList.parse("# x\nterminal t \(key) pos/*/T1\n", file: "a.txt")
        }
        #expect(throws: CurveKeyError("a.txt:1: a plugin key takes no sources (a plugin publishes under plugin/p only)")) {
            try AllowList.parse("plugin p \(key) pos/S001/T1\n", file: "a.txt")
        }
        #expect(!AllowedKey.isValidSourcePattern("*"))
        #expect(!AllowedKey.isValidSourcePattern("pos/S001/T1 x"))
        #expect(AllowedKey.source("pos/S002/T9", matches: ["pos/S002/*"]))
        #expect(!AllowedKey.source("pos/S0021/T9", matches: ["pos/S002/*"]))
    }

    @Test func senderFromTheZapUserId() {
        #expect(Sender(userId: "terminal:till-1 pos/S001/T1 pos/S002/*") == Sender(kind: .terminal, name: "till-1", sources: ["pos/S001/T1", "pos/S002/*"]))
        #expect(Sender(userId: "terminal:store-17-till-2") == Sender(kind: .terminal, name: "store-17-till-2"))
        #expect(Sender(userId: "plugin:points-accrual") == Sender(kind: .plugin, name: "points-accrual"))
        #expect(Sender(userId: "plugin:a:b")?.name == "a:b")
        #expect(Sender(userId: "admin:x") == nil)
        #expect(Sender(userId: "no-colon") == nil)
        #expect(Sender(kind: .terminal, name: "t").refusal(type: "survey", source: "survey/S001") == nil)
    }

    // MARK: read permissions

    /// A SUB on the publish endpoint with `pair`'s key, subscribed to purchases.
    func subscriber(_ fixture: CurveBus, _ pair: CurveKeyPair) throws -> Socket {
        let socket = try Socket(context: fixture.context, type: .sub)
        try socket.set(CurveClientKeys(pair: pair, serverPublicKey: fixture.server.publicKey).socketOptions)
        try socket.set([.subscribe(Array("purchase".utf8)), .linger(milliseconds: 0)])
        try socket.connect(fixture.configuration.publishEndpoint)
        return socket
    }

    /// Publishes purchases with `publisher`'s key until `subscriber` receives one (a subscription
    /// travels after the handshake, so an early event can miss it); the seqs stored, and whether
    /// one arrived.
    func publishUntilReceived(_ fixture: CurveBus, by publisher: CurveKeyPair, at subscriber: Socket) throws -> (stored: [Int64], received: Bool) {
        let client = try fixture.client(publisher)
        var stored: [Int64] = []
        for receipt in 1...10 {
            guard let ack = fixture.publish(client, receipt: receipt), ack.status == .stored else { continue }
            stored.append(ack.seq)
            if try receive(subscriber, within: 1000).flatMap(PublishedEvent.init(frames:)) != nil { return (stored, true) }
        }
        return (stored, false)
    }

    /// A DEALER with `pair`'s key connected to `endpoint`.
    func dealer(_ fixture: CurveBus, _ pair: CurveKeyPair, _ endpoint: String) throws -> Socket {
        let socket = try Socket(context: fixture.context, type: .dealer)
        try socket.set(CurveClientKeys(pair: pair, serverPublicKey: fixture.server.publicKey).socketOptions)
        try socket.set(.linger(milliseconds: 0))
        try socket.connect(endpoint)
        return socket
    }

    /// One replay request's answer (nil when none came within 5 s).
    func replay(_ fixture: CurveBus, _ pair: CurveKeyPair, command: [Frame] = ReplayRequest(after: 0, limit: 10, topics: []).frames) throws -> [Frame]? {
        let socket = try dealer(fixture, pair, fixture.configuration.replayEndpoint)
        try socket.send(command)
        return try receive(socket, within: 5000)
    }

    /// Asks `points.balance` through the bus as `client`, answered by a worker registered with a
    /// plugin key: the reply's body, or nil when none came.
    func askService(_ fixture: CurveBus, as client: CurveKeyPair, worker: Socket) throws -> String? {
        let asker = try dealer(fixture, client, fixture.configuration.ingestEndpoint)
        try asker.send([Frame(frame: WireCommand.request), Frame(frame: "points.balance"), Frame(frame: "r1"),
                        Frame(frame: #"{"customerId":"C000001"}"#), Frame(frame: "3000")])
        // The bus also sends the worker heartbeats: wait for the request itself.
        var request: [Frame] = []
        while request.first?.frameText != WireCommand.request {
            guard let next = try receive(worker, within: 5000) else { return nil }
            request = next
        }
        guard request.count == 4 else { return nil }
        try worker.send([Frame(frame: WireCommand.reply), request[1], Frame(frame: "ok"), Frame(frame: #"{"points":7}"#)])
        guard let reply = try receive(asker, within: 5000).flatMap(Reply.init(frames:)) else { return nil }
        return String(decoding: reply.body, as: UTF8.self)
    }

    /// A plugin's DEALER registered as the worker behind `points.balance`.
    func worker(_ fixture: CurveBus, _ plugin: CurveKeyPair) throws -> Socket {
        let socket = try dealer(fixture, plugin, fixture.configuration.ingestEndpoint)
        try socket.send([Frame(frame: WireCommand.ready), Frame(frame: "points.balance")])
        Thread.sleep(forTimeInterval: 0.3)   // registered before anyone asks
        return socket
    }

    @Test func aTerminalKeyWithoutReadRightsPublishesAndAsksButNeitherSubscribesNorReplays() throws {
        let till = try CurveKeyPair.generate()
        let plugin = try CurveKeyPair.generate()
        let fixture = try CurveBus(allowed: [AllowedKey(kind: .terminal, name: "till-1", publicKey: till.publicKey),
                                             AllowedKey(kind: .plugin, name: "points", publicKey: plugin.publicKey)])
        let refusedBefore = fixture.bus.statistics.peersRefused
        let tillSubscriber = try subscriber(fixture, till)
        let pluginSubscriber = try subscriber(fixture, plugin)
        Thread.sleep(forTimeInterval: 0.3)   // the subscriptions travel after the handshakes
        let published = try publishUntilReceived(fixture, by: till, at: pluginSubscriber)
        #expect(published.received, "the plugin's key reads the event stream")
        #expect(try receive(tillSubscriber, within: 1500) == nil, "a till's key must not read the event stream")
        #expect(fixture.bus.statistics.peersRefused > refusedBefore, "the ZAP handler refused the till's subscriber")

        // Replay and head are answered with the reason, not left hanging.
        for command in [ReplayRequest(after: 0, limit: 10, topics: []).frames, [Frame(frame: WireCommand.head)]] {
            let answer = try #require(try replay(fixture, till, command: command))
            #expect(answer.map(\.frameText).prefix(2) == [WireCommand.error, "not_permitted"])
            let message = answer.count == 3 ? answer[2].frameText : ""
            #expect(message.contains("terminal key 'till-1' may not replay"), "\(message)")
            #expect(message.contains("loyalty keys grant-read till-1") && message.contains("add-reader"), "\(message)")
        }
        // The plugin's key reads the same history.
        let batch = try #require(try replay(fixture, plugin).flatMap(ReplayBatch.init(frames:)))
        #expect(batch.events.map(\.seq) == published.stored)
        // And the till still asks services.
        #expect(try askService(fixture, as: till, worker: worker(fixture, plugin)) == #"{"points":7}"#)
    }

    @Test func aTerminalRegisteredWithReadSubscribesAndReplays() throws {
        let operatorKey = try CurveKeyPair.generate()
        let fixture = try CurveBus(allowed: [AllowedKey(kind: .terminal, name: "cli", publicKey: operatorKey.publicKey, read: true)])
        let live = try subscriber(fixture, operatorKey)
        Thread.sleep(forTimeInterval: 0.3)
        let published = try publishUntilReceived(fixture, by: operatorKey, at: live)
        #expect(published.received)
        let batch = try #require(try replay(fixture, operatorKey).flatMap(ReplayBatch.init(frames:)))
        #expect(!batch.events.isEmpty && batch.events.map(\.seq) == published.stored)
    }

    @Test func aReaderKeyReadsAndAsksButPublishesNothingAndOffersNoService() throws {
        let reader = try CurveKeyPair.generate()
        let till = try CurveKeyPair.generate()
        let plugin = try CurveKeyPair.generate()
        let fixture = try CurveBus(allowed: [AllowedKey(kind: .reader, name: "dashboard", publicKey: reader.publicKey),
                                             AllowedKey(kind: .terminal, name: "till-1", publicKey: till.publicKey),
                                             AllowedKey(kind: .plugin, name: "points", publicKey: plugin.publicKey)])
        let live = try subscriber(fixture, reader)
        Thread.sleep(forTimeInterval: 0.3)
        let published = try publishUntilReceived(fixture, by: till, at: live)
        #expect(published.received)
        let batch = try #require(try replay(fixture, reader).flatMap(ReplayBatch.init(frames:)))
        #expect(!batch.events.isEmpty && batch.events.map(\.seq) == published.stored)

        let client = try fixture.client(reader)
        let purchase = try fixture.publish(client, id: "S001-T1-50", source: "pos/S001/T1")
        #expect(purchase.status == .rejected)
        #expect(purchase.code == "not_permitted")
        #expect(purchase.message.contains("reader key 'dashboard' may not publish"), "\(purchase.message)")
        #expect(try fixture.publish(client, id: "r-2", type: "points.accrued", source: "plugin/points").code == "not_permitted")
        #expect(try fixture.bus.journal.count() == published.stored.count)

        let registering = try dealer(fixture, reader, fixture.configuration.ingestEndpoint)
        try registering.send([Frame(frame: WireCommand.ready), Frame(frame: "points.balance")])
        let answer = try #require(try receive(registering, within: 5000))
        #expect(answer.map(\.frameText).prefix(2) == [WireCommand.error, "not_permitted"])
        #expect(try askService(fixture, as: reader, worker: worker(fixture, plugin)) == #"{"points":7}"#)
    }

    @Test func allowListKindsAndReadFlagRoundTripAndOldFilesStillLoad() throws {
        let directory = try TemporaryDirectory("allow-list-read")
        defer { directory.remove() }
        let key = try CurveKeyPair.generate().publicKey
        let keys = [AllowedKey(kind: .terminal, name: "cli", publicKey: key, read: true),
                    AllowedKey(kind: .terminal, name: "till-1", publicKey: key, sources: ["pos/S001/T1", "pos/S002/*"], read: true),
                    AllowedKey(kind: .terminal, name: "till-2", publicKey: key, sources: ["pos/S001/T2"]),
                    AllowedKey(kind: .reader, name: "dashboard", publicKey: key),
                    AllowedKey(kind: .plugin, name: "points-accrual", publicKey: key)]
        try AllowList.write(keys, to: directory.path + "/allowed.txt")
        #expect(try AllowList.read(directory.path + "/allowed.txt") == keys)
        #expect(keys[1].line == "terminal till-1 \(key) +read pos/S001/T1 pos/S002/*")
        #expect(keys.map(\.mayRead) == [true, true, false, true, true])

        // A file written before readers and +read existed: terminals keep publishing, not reading.
        let old = "# Public keys the bus accepts (CURVE + ZAP).\n# kind name public-key [sources a terminal may publish under]\n"
            + "terminal cli \(key)\nterminal till-1 \(key) pos/S001/T1\nplugin points-accrual \(key)\n"
        #expect(try AllowList.parse(old, file: "old.txt") == [AllowedKey(kind: .terminal, name: "cli", publicKey: key),
                                                                AllowedKey(kind: .terminal, name: "till-1", publicKey: key, sources: ["pos/S001/T1"]),
                                                                AllowedKey(kind: .plugin, name: "points-accrual", publicKey: key)])
        #expect(try AllowList.parse(old, file: "old.txt").map(\.mayRead) == [false, false, true])

        #expect(throws: CurveKeyError("a.txt:2: unknown flag '+write': the only flag is +read (a terminal key that may also subscribe and replay)")) {
            try AllowList.parse("# x\nterminal t \(key) +write\n", file: "a.txt")
        }
        #expect(throws: CurveKeyError("a.txt:1: +read is for terminal keys; a reader key always may subscribe and replay")) {
            try AllowList.parse("reader r \(key) +read\n", file: "a.txt")
        }
        #expect(throws: CurveKeyError("a.txt:1: +read is for terminal keys; a plugin key always may subscribe and replay")) {
            try AllowList.parse("plugin p \(key) +read\n", file: "a.txt")
        }
        #expect(throws: CurveKeyError("a.txt:3: a reader key takes no sources (a reader publishes nothing)")) {
            try AllowList.parse("\n\nreader r \(key) pos/S001/T1\n", file: "a.txt")
        }
        #expect(throws: (any Error).self) { try AllowList.parse("admin a \(key)\n", file: "a.txt") }
        #expect(!AllowedKey.isValidSourcePattern("+read"), "a source would read back as a flag")
        #expect(KeyStoreLayout(directory: "/k").base(kind: .reader, name: "dashboard") == "/k/readers/dashboard")
        #expect(KeyStoreLayout(directory: "/k").base(kind: .terminal, name: "cli") == "/k/terminals/cli")
    }

    @Test func readRightsTravelInTheZapUserId() throws {
        let key = try CurveKeyPair.generate().publicKey
        for entry in [AllowedKey(kind: .terminal, name: "till-1", publicKey: key, sources: ["pos/S001/T1"], read: true),
                      AllowedKey(kind: .terminal, name: "till-2", publicKey: key, sources: ["pos/S001/*"]),
                      AllowedKey(kind: .terminal, name: "cli", publicKey: key, read: true),
                      AllowedKey(kind: .reader, name: "dashboard", publicKey: key),
                      AllowedKey(kind: .plugin, name: "points", publicKey: key)] {
            let sender = try #require(Sender(userId: Sender.userId(for: entry)))
            #expect(sender == Sender(entry))
            #expect(sender.mayRead == entry.mayRead)
            #expect(sender.sources == entry.sources)
        }
        #expect(Sender.userId(for: AllowedKey(kind: .terminal, name: "t", publicKey: key, sources: ["pos/1"], read: true)) == "terminal:t +read pos/1")
        #expect(Sender(userId: "terminal:till-1 pos/S001/T1")?.mayRead == false)
        #expect(Sender(userId: "reader:x")?.refusal(type: "survey", source: "survey/S001") != nil)
        #expect(ReplayServer.refusal(userId: nil, property: "User-Id") != nil, "no identity on a CURVE bus: refused")
        #expect(ReplayServer.refusal(userId: "reader:x", property: "User-Id") == nil)
        #expect(ReplayServer.refusal(userId: "terminal:x", property: "User-Id")?.contains("may not replay") == true)
    }

    @Test func refusalWarningsAreThrottledPerKey() {
        var throttle = WarningThrottle(intervalMilliseconds: 1000)
        let answers = [throttle.shouldWarn(about: "a", now: 0), throttle.shouldWarn(about: "a", now: 500),
                       throttle.shouldWarn(about: "b", now: 500), throttle.shouldWarn(about: "a", now: 1000)]
        #expect(answers == [true, false, true, true])
    }

    @Test func nonLoopbackBindWithoutCurveFailsClearly() throws {
        let directory = try TemporaryDirectory("bus-exposed")
        defer { directory.remove() }
        let port = freeLoopbackPort()
        let configuration = BusConfiguration(ingestEndpoint: "tcp://0.0.0.0:\(port)", publishEndpoint: directory.ipc("publish"),
                                             replayEndpoint: directory.ipc("replay"), journalPath: directory.path + "/journal.sqlite")
        let bus = try Bus(configuration: configuration, logger: Logger(label: "test.bus"))
        do {
            try bus.start()
            bus.stop()
            Issue.record("a bus bound to 0.0.0.0 without CURVE started")
        } catch let error as BusSecurityError {
            #expect(error.description.contains("ingest tcp://0.0.0.0:\(port)"))
            #expect(error.description.contains("without CURVE"))
            #expect(error.description.contains("loyalty keys init"))
        }
        // Nothing was bound.
        let probe = try Socket(context: try ZMQContext(), type: .router)
        try probe.bind("tcp://127.0.0.1:\(port)")
    }

    @Test func loopbackScopes() {
        for endpoint in ["tcp://127.0.0.1:5601", "tcp://[::1]:5601", "tcp://localhost:5601", "ipc:///tmp/x.sock", "inproc://bus",
                         "tcp://127.0.0.2:1"] {
            #expect(EndpointScope.isLoopback(endpoint), "\(endpoint)")
        }
        for endpoint in ["tcp://0.0.0.0:5601", "tcp://*:5601", "tcp://10.0.0.5:5601", "tcp://[::]:5601", "tcp://eth0:5601",
                         "tcp://127.0.0.1.evil.com:5601", "pgm://x", "tcp://[::1:5601"] {
            #expect(!EndpointScope.isLoopback(endpoint), "\(endpoint)")
        }
    }

    @Test func allowListReloadFailsClosedOnAnInvalidFile() throws {
        let directory = try TemporaryDirectory("allow")
        defer { directory.remove() }
        let key = try CurveKeyPair.generate()
        let path = directory.path + "/allowed.txt"
        try AllowList.write([AllowedKey(kind: .terminal, name: "a", publicKey: key.publicKey)], to: path)
        let watcher = AllowListWatcher(path: path)
        #expect(watcher.lookup(key.publicKey)?.name == "a")
        try CurveKeyFile.writeFile(path, "terminal a \(key.publicKey)\nnonsense line\n", mode: 0o644)
        #expect(watcher.lookup(key.publicKey) == nil)
        #expect(watcher.lastError?.description.contains("allowed.txt:2") == true)
        unlink(path)
        #expect(watcher.lookup(key.publicKey) == nil)
    }

    @Test func keyFilesRoundTripAndSecretIsPrivate() throws {
        let directory = try TemporaryDirectory("keys")
        defer { directory.remove() }
        let pair = try CurveKeyPair.generate()
        try CurveKeyFile.write(pair, base: directory.path + "/terminals/t1", comment: "t1")
        #expect(try CurveKeyFile.readPair(base: directory.path + "/terminals/t1") == pair)
        #expect(try CurveKeyFile.read(directory.path + "/terminals/t1.key").secretKey == nil)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.path + "/terminals/t1.key_secret")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let publicText = try String(contentsOfFile: directory.path + "/terminals/t1.key", encoding: .utf8)
        #expect(!publicText.contains(pair.secretKey))
    }
}
