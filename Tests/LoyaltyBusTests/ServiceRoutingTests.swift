import Foundation
import LoyaltyBus
import LoyaltyTestSupport
import LoyaltyWire
import Testing
import ZeroMQ

@Suite(.serialized) struct ServiceRoutingTests {
    func request(_ client: Socket, service: String, id: String, timeout: Int? = nil) throws -> Reply? {
        var frames = [Frame(frame: WireCommand.request), Frame(frame: service), Frame(frame: id), Frame(frame: "{\"q\":1}")]
        if let timeout { frames.append(Frame(frame: String(timeout))) }
        try client.send(frames)
        return try receive(client, within: 10_000).flatMap(Reply.init(frames:))
    }

    @Test func requestIsRoutedToTheRegisteredWorkerAndBack() throws {
        let fixture = try BusFixture()
        let worker = try fixture.dealer()
        try worker.send([Frame(frame: WireCommand.ready), Frame(frame: "test.echo")])
        let client = try fixture.dealer()
        // Registration and request travel on different connections: retry until registered.
        var routed: [Frame]?
        for attempt in 0..<50 where routed == nil {
            try client.send([Frame(frame: WireCommand.request), Frame(frame: "test.echo"), Frame(frame: "r\(attempt)"), Frame(frame: "ping")])
            if let frames = try receive(worker, within: 200), frames.first?.frameText == WireCommand.request {
                routed = frames
            } else {
                _ = try receive(client, within: 100)   // the "unavailable" answer to an early attempt
            }
        }
        let frames = try #require(routed)
        #expect(frames.count == 4)
        #expect(frames[2].frameText == "test.echo")
        #expect(frames[3].frameText == "ping")
        try worker.send([Frame(frame: WireCommand.reply), frames[1], Frame(frame: "ok"), Frame(frame: "pong")])
        var reply: Reply?
        while reply == nil || reply?.status != .ok, let received = try receive(client, within: 5000) {
            reply = Reply(frames: received)
        }
        #expect(reply?.status == .ok)
        #expect(reply?.bodyText == "pong")
    }

    @Test func unknownServiceIsUnavailableWithAReason() throws {
        let fixture = try BusFixture()
        let client = try fixture.dealer()
        let reply = try #require(try request(client, service: "points.balance", id: "1"))
        #expect(reply.status == .unavailable)
        #expect(reply.bodyText.contains("points.balance"))
    }

    @Test func workerThatDoesNotAnswerTimesOut() throws {
        let fixture = try BusFixture()
        let worker = try fixture.dealer()
        try worker.send([Frame(frame: WireCommand.ready), Frame(frame: "test.slow")])
        let client = try fixture.dealer()
        #expect(waitUntil(seconds: 10) {
            (try? request(client, service: "test.slow", id: "probe", timeout: 200))?.status == .timeout
        })
    }

    @Test func silentWorkerIsNoticedAsDead() throws {
        let fixture = try BusFixture { configuration in
            configuration.heartbeatIntervalMilliseconds = 100
            configuration.workerExpiryMilliseconds = 400
        }
        let worker = try fixture.dealer()
        try worker.send([Frame(frame: WireCommand.ready), Frame(frame: "test.dead")])
        let client = try fixture.dealer()
        // The worker never heartbeats or answers: first requests time out, then it is dropped.
        #expect(waitUntil(seconds: 10) {
            let reply = try? request(client, service: "test.dead", id: UUID().uuidString, timeout: 100)
            return reply?.status == .unavailable && reply?.bodyText.contains("no plugin offering") == true
        })
    }

    @Test func unknownCommandIsRefusedWithAReason() throws {
        let fixture = try BusFixture()
        let client = try fixture.dealer()
        try client.send([Frame(frame: "publish"), Frame(frame: "{}")])
        let frames = try #require(try receive(client, within: 5000))
        #expect(frames.map(\.frameText) == ["error", "unknown_command",
                                            "unknown command 'publish'; expected event, request, ready, heartbeat, reply or disconnect"])
    }
}
