import Foundation
import Testing
import ZeroMQ

@Suite struct SocketPatternTests {
    static let megabyte: Frame = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    static let binary: Frame = Array(0...255) + [0, 0, 0xFF, 0x00]

    @Test func dealerRouterMultipartRoundTripOverTCP() throws {
        let context = try ZMQContext()
        let router = try Socket(context: context, type: .router)
        let endpoint = try bindLoopback(router)
        let dealer = try Socket(context: context, type: .dealer)
        try dealer.set(.routingId(Frame(frame: "dealer-1")))
        try dealer.connect(endpoint)

        let message: [Frame] = [Frame(frame: "hello"), [], Self.binary, Self.megabyte, Frame(frame: "tail")]
        #expect(try dealer.send(message))

        let received = try #require(try receive(router))
        #expect(received.count == message.count + 1)
        #expect(received.first == Frame(frame: "dealer-1"))
        #expect(Array(received.dropFirst()) == message)
        #expect(received[2].isEmpty)
        #expect(received[4].count == 1 << 20)

        // And back: the ROUTER addresses the DEALER by the routing id it received.
        let reply: [Frame] = [Frame(frame: "reply"), [], Self.megabyte, Self.binary]
        #expect(try router.send([received[0]] + reply))
        let answer = try #require(try receive(dealer))
        #expect(answer == reply)
        #expect(answer[0].frameText == "reply")
    }

    @Test func routerPrependsAGeneratedRoutingIdWhenNoneIsSet() throws {
        let context = try ZMQContext()
        let router = try Socket(context: context, type: .router)
        let endpoint = inprocEndpoint("router-id")
        try router.bind(endpoint)
        let first = try Socket(context: context, type: .dealer)
        let second = try Socket(context: context, type: .dealer)
        try first.connect(endpoint)
        try second.connect(endpoint)
        try first.send([Frame(frame: "from-first")])
        try second.send([Frame(frame: "from-second")])

        var ids: [String: Frame] = [:]
        for _ in 0..<2 {
            let frames = try #require(try receive(router))
            #expect(frames.count == 2)
            #expect(!frames[0].isEmpty, "ROUTER must prepend the peer's routing id")
            ids[frames[1].frameText] = frames[0]
        }
        let firstId = try #require(ids["from-first"])
        let secondId = try #require(ids["from-second"])
        #expect(firstId != secondId)

        // Each id reaches exactly its own peer.
        try router.send([secondId, Frame(frame: "to-second")])
        try router.send([firstId, Frame(frame: "to-first")])
        #expect(try receive(first)?.first?.frameText == "to-first")
        #expect(try receive(second)?.first?.frameText == "to-second")
    }

    @Test func routingIdOptionIsHonoured() throws {
        let context = try ZMQContext()
        let router = try Socket(context: context, type: .router)
        let endpoint = try bindLoopback(router)
        let binaryId: Frame = [0x01, 0x00, 0xFE, 0x42]  // ids need not be text (but must not start with 0)
        let dealer = try Socket(context: context, type: .dealer)
        try dealer.set(.routingId(binaryId))
        try dealer.connect(endpoint)
        try dealer.send([Frame(frame: "ping")])
        let frames = try #require(try receive(router))
        #expect(frames == [binaryId, Frame(frame: "ping")])
        try router.send([binaryId, Frame(frame: "pong")])
        #expect(try receive(dealer) == [Frame(frame: "pong")])
    }

    @Test func pubSubDeliversOnlySubscribedPrefixesOverTCP() throws {
        let context = try ZMQContext()
        let publisher = try Socket(context: context, type: .pub)
        let endpoint = try bindLoopback(publisher)
        let subscriber = try Socket(context: context, type: .sub)
        try subscriber.set(.subscribe(Frame(frame: "orders.")))
        try subscriber.connect(endpoint)

        // The subscription travels to the publisher asynchronously: publish until one arrives.
        var received: [[Frame]] = []
        let deadline = Date().addingTimeInterval(patience)
        while received.isEmpty && Date() < deadline {
            try publisher.send([Frame(frame: "audit.log"), Frame(frame: "not for you")])
            try publisher.send([Frame(frame: "orders.new"), Frame(frame: "warm-up")])
            if let frames = try receive(subscriber, within: 0.1) { received.append(frames) }
        }
        #expect(!received.isEmpty, "the subscription never took effect")

        // Now an ordered batch; the marker is last on the same connection, so once it has
        // arrived every matching message before it has too.
        try publisher.send([Frame(frame: "audit.log"), Frame(frame: "secret")])
        try publisher.send([Frame(frame: "orders.paid"), Frame(frame: "42")])
        try publisher.send([Frame(frame: "order"), Frame(frame: "prefix of the prefix")])
        try publisher.send([Frame(frame: "ORDERS.x"), Frame(frame: "case differs")])
        try publisher.send([Frame(frame: "orders.marker"), Frame(frame: "end")])
        while received.last?.first != Frame(frame: "orders.marker") {
            guard let frames = try receive(subscriber) else { break }
            received.append(frames)
        }
        #expect(received.last?.first?.frameText == "orders.marker")
        #expect(received.contains([Frame(frame: "orders.paid"), Frame(frame: "42")]))
        for frames in received {
            #expect(frames.count == 2)
            #expect(frames[0].frameText.hasPrefix("orders."), "received an unsubscribed topic: \(frames[0].frameText)")
        }
    }

    @Test func pushPullDeliversInOrder() throws {
        let context = try ZMQContext()
        let pull = try Socket(context: context, type: .pull)
        let endpoint = try bindLoopback(pull)
        let push = try Socket(context: context, type: .push)
        try push.connect(endpoint)
        for index in 0..<200 {
            try push.send([Frame(frame: "job"), Frame(frame: String(index))])
        }
        for index in 0..<200 {
            let frames = try #require(try receive(pull))
            #expect(frames == [Frame(frame: "job"), Frame(frame: String(index))])
        }
        #expect(try pull.receive(dontWait: true) == nil)
    }

    @Test func requestReply() throws {
        let context = try ZMQContext()
        let rep = try Socket(context: context, type: .rep)
        let endpoint = try bindLoopback(rep)
        let req = try Socket(context: context, type: .req)
        try req.connect(endpoint)
        for round in 0..<5 {
            try req.send([Frame(frame: "question"), Frame(frame: String(round))])
            // REP strips the envelope: the application sees only the request's own frames.
            let request = try #require(try receive(rep))
            #expect(request == [Frame(frame: "question"), Frame(frame: String(round))])
            try rep.send([Frame(frame: "answer \(round)")])
            #expect(try receive(req) == [Frame(frame: "answer \(round)")])
        }
    }

    @Test func pairOverInproc() throws {
        let context = try ZMQContext()
        let endpoint = inprocEndpoint("pair")
        let left = try Socket(context: context, type: .pair)
        try left.bind(endpoint)
        let right = try Socket(context: context, type: .pair)
        try right.connect(endpoint)
        try left.send([Frame(frame: "to right"), []])
        #expect(try receive(right) == [Frame(frame: "to right"), []])
        try right.send([Frame(frame: "to left")])
        #expect(try receive(left) == [Frame(frame: "to left")])
    }
}
