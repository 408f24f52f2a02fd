import Foundation
import Testing
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct PollingAndTimeoutTests {
    @Test func pollerReportsReadableOnlyWhenAMessageIsQueued() throws {
        let context = try ZMQContext()
        let endpoint = inprocEndpoint("poll")
        let pull = try Socket(context: context, type: .pull)
        try pull.bind(endpoint)
        let push = try Socket(context: context, type: .push)
        try push.connect(endpoint)

        var poller = Poller()
        let index = poller.add(pull)
        #expect(index == 0)

        // Nothing queued: poll waits out its timeout and reports nothing.
        let started = Date()
        let idle = try poller.poll(timeoutMilliseconds: 300)
        let waited = Date().timeIntervalSince(started)
        #expect(idle == [[]])
        #expect(waited >= 0.25, "poll returned after \(waited) s, before its 300 ms timeout")
        #expect(waited < patience)

        try push.send([Frame(frame: "wake")])
        let ready = try poller.poll(timeoutMilliseconds: Int(patience * 1000))
        #expect(ready[0].contains(.readable))
        #expect(try pull.receive(dontWait: true) == [Frame(frame: "wake")])

        // Drained again: not readable.
        #expect(try poller.poll(timeoutMilliseconds: 0) == [[]])
        #expect(try !pull.readiness().contains(.readable))
    }

    @Test func pollerTellsWhichOfSeveralSocketsIsReady() throws {
        let context = try ZMQContext()
        let a = inprocEndpoint("poll-a"), b = inprocEndpoint("poll-b")
        let pullA = try Socket(context: context, type: .pull)
        let pullB = try Socket(context: context, type: .pull)
        try pullA.bind(a)
        try pullB.bind(b)
        let pushB = try Socket(context: context, type: .push)
        try pushB.connect(b)
        var poller = Poller()
        poller.add(pullA)
        poller.add(pullB)
        try pushB.send([Frame(frame: "b")])
        let events = try poller.poll(timeoutMilliseconds: Int(patience * 1000))
        #expect(events.count == 2)
        #expect(!events[0].contains(.readable))
        #expect(events[1].contains(.readable))
    }

    @Test func receiveDontWaitReturnsNilWhenEmpty() throws {
        let context = try ZMQContext()
        let pull = try Socket(context: context, type: .pull)
        _ = try bindLoopback(pull)
        #expect(try pull.receive(dontWait: true) == nil)
        // A DEALER that is not even connected: still nil, not an error.
        let dealer = try Socket(context: context, type: .dealer)
        #expect(try dealer.receive(dontWait: true) == nil)
    }

    @Test func receiveTimeoutMakesBlockingReceiveReturnNil() throws {
        let context = try ZMQContext()
        let pull = try Socket(context: context, type: .pull)
        try pull.bind(inprocEndpoint("timeout"))
        try pull.set(.receiveTimeout(milliseconds: 200))
        let started = Date()
        let result = try pull.receive()
        let waited = Date().timeIntervalSince(started)
        #expect(result == nil)
        #expect(waited >= 0.15, "returned after \(waited) s, before the 200 ms timeout")
        #expect(waited < patience)
    }

    @Test func sendDontWaitReturnsFalseWhenNoPeerCanTakeIt() throws {
        let context = try ZMQContext()
        // A DEALER with no connection at all has nowhere to queue: EAGAIN, reported as false.
        let dealer = try Socket(context: context, type: .dealer)
        #expect(try dealer.send([Frame(frame: "nowhere")], dontWait: true) == false)
    }
}

@Suite struct ErrorTests {
    @Test func routerMandatoryRejectsUnknownRoutingId() throws {
        let context = try ZMQContext()
        let router = try Socket(context: context, type: .router)
        try router.set(.routerMandatory(true))
        _ = try bindLoopback(router)
        do {
            try router.send([Frame(frame: "nobody"), Frame(frame: "hello")])
            Issue.record("sending to an unknown routing id succeeded")
        } catch {
            #expect(error.isHostUnreachable)
            #expect(error.code == EHOSTUNREACH)
            #expect(!error.isWouldBlock)
            // libzmq's own text for the code (zmq_strerror maps EHOSTUNREACH itself), after the operation.
            #expect(error.message == "Host unreachable")
            #expect(error.description == "send: Host unreachable")
        }
    }

    @Test func routerWithoutMandatoryDropsSilently() throws {
        let context = try ZMQContext()
        let router = try Socket(context: context, type: .router)
        _ = try bindLoopback(router)
        #expect(try router.send([Frame(frame: "nobody"), Frame(frame: "hello")]))
    }

    @Test(arguments: ["tcp://127.0.0.1:notaport", "nosuchtransport://x", "tcp://", "inproc://"])
    func bindingAnInvalidEndpointNamesIt(endpoint: String) throws {
        let context = try ZMQContext()
        let socket = try Socket(context: context, type: .pull)
        do {
            try socket.bind(endpoint)
            Issue.record("binding \(endpoint) succeeded")
        } catch {
            #expect(error.description.contains(endpoint), "\(error.description)")
            #expect(error.operation == "bind \(endpoint)")
            #expect(!error.message.isEmpty)
        }
    }

    @Test func bindingTheSameTCPPortTwiceFails() throws {
        let context = try ZMQContext()
        let first = try Socket(context: context, type: .pull)
        let endpoint = try bindLoopback(first)
        let second = try Socket(context: context, type: .pull)
        do {
            try second.bind(endpoint)
            Issue.record("second bind to \(endpoint) succeeded")
        } catch {
            #expect(error.code == EADDRINUSE)
            #expect(error.description.contains("Address already in use"), "\(error.description)")
            #expect(error.description.contains(endpoint))
        }
    }

    @Test func usingAClosedSocketThrowsInsteadOfCrashing() throws {
        let context = try ZMQContext()
        let socket = try Socket(context: context, type: .pull)
        socket.close()
        socket.close()  // idempotent
        #expect(throws: ZMQError.self) { try socket.receive(dontWait: true) }
        #expect(throws: ZMQError.self) { try socket.bind(inprocEndpoint("closed")) }
        #expect(throws: ZMQError.self) { try socket.set(.linger(milliseconds: 0)) }
    }

    @Test func versionIsAtLeast4_3() {
        let version = ZMQContext.version
        #expect(version.major > 4 || (version.major == 4 && version.minor >= 3), "libzmq \(version)")
    }
}

@Suite struct LifecycleTests {
    @Test func closingWithUndeliverableMessagesAndTerminatingTheContextDoNotHang() throws {
        // A port that was just bound and released: nothing listens there now.
        let deadEndpoint: String = try {
            let context = try ZMQContext()
            let probe = try Socket(context: context, type: .pull)
            return try bindLoopback(probe)
        }()
        let outcome = Box<String?>(nil)
        let finished = runOnThread {
            do {
                let context = try ZMQContext()
                let push = try Socket(context: context, type: .push)
                try push.connect(deadEndpoint)
                let dealer = try Socket(context: context, type: .dealer)
                try dealer.connect(inprocEndpoint("never-bound"))
                var queued = 0
                for index in 0..<50 {
                    if try push.send([Frame(frame: "undeliverable \(index)")], dontWait: true) { queued += 1 }
                    if try dealer.send([Frame(frame: "undeliverable \(index)")], dontWait: true) { queued += 1 }
                }
                push.close()
                dealer.close()
                outcome.value = "queued \(queued)"
                // The context goes out of scope here: zmq_ctx_term must not wait for those messages.
            } catch {
                outcome.value = "error: \(error)"
            }
        }
        #expect(finished, "closing the sockets or terminating the context hung")
        #expect(outcome.value?.hasPrefix("queued") == true, "\(outcome.value ?? "nil")")
        #expect(outcome.value != "queued 0", "nothing was queued, so the test proved nothing")
    }

    @Test func shutdownWakesABlockingReceiveOnAnotherThread() throws {
        let context = try ZMQContext()
        let ready = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let outcome = Box<String>("nothing")
        let thread = Thread {
            defer { done.signal() }
            do {
                let pull = try Socket(context: context, type: .pull)
                try pull.bind(inprocEndpoint("shutdown"))
                ready.signal()
                let frames = try pull.receive()  // blocks: no timeout, nobody sends
                outcome.value = "received \(String(describing: frames))"
            } catch {
                outcome.value = (error as? ZMQError)?.isContextTerminated == true ? "terminated: \(error)" : "other error: \(error)"
            }
        }
        thread.start()
        #expect(ready.wait(timeout: .now() + patience) == .success)
        // Give the thread a moment to enter receive(); either way it must end with ETERM.
        usleep(50_000)
        context.shutdown()
        #expect(done.wait(timeout: .now() + patience) == .success, "receive() did not return after shutdown()")
        #expect(outcome.value.hasPrefix("terminated"), "\(outcome.value)")
    }

    @Test func newSocketsFailAfterShutdown() throws {
        let context = try ZMQContext()
        context.shutdown()
        do {
            _ = try Socket(context: context, type: .pull)
            Issue.record("made a socket on a shut-down context")
        } catch {
            #expect(error.isContextTerminated)
        }
    }
}

@Suite(.enabled(if: ZMQContext.has("curve"), "libzmq built without CURVE"))
struct CurveTests {
    @Test func generatedKeysAre40CharacterZ85AndConsistent() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.utf8.count == 40)
        #expect(pair.secretKey.utf8.count == 40)
        #expect(pair.publicKey != pair.secretKey)
        let z85 = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")
        #expect(pair.publicKey.allSatisfy { z85.contains($0) })
        #expect(pair.secretKey.allSatisfy { z85.contains($0) })
        #expect(try CurveKeyPair.publicKey(forSecretKey: pair.secretKey) == pair.publicKey)
        let other = try CurveKeyPair.generate()
        #expect(other != pair)
        #expect(try CurveKeyPair.publicKey(forSecretKey: other.secretKey) == other.publicKey)
    }

    @Test(arguments: ["", "short", String(repeating: "a", count: 39), String(repeating: "a", count: 45), String(repeating: "a", count: 80)])
    func publicKeyForASecretKeyOfWrongLengthIsRejected(secretKey: String) throws {
        // Lengths that are multiples of 5 but longer than 40 would make libzmq decode past its
        // 32-byte buffer, so the wrapper must refuse them before calling it.
        #expect(throws: ZMQError.self) { try CurveKeyPair.publicKey(forSecretKey: secretKey) }
    }

    @Test func curveClientAndServerExchangeMessages() throws {
        let server = try CurveKeyPair.generate(), client = try CurveKeyPair.generate()
        let context = try ZMQContext()
        let router = try Socket(context: context, type: .router)
        try router.set([.curveServer(true), .curveSecretKey(server.secretKey)])
        let endpoint = try bindLoopback(router)
        let dealer = try Socket(context: context, type: .dealer)
        try dealer.set([.curveServerKey(server.publicKey), .curvePublicKey(client.publicKey), .curveSecretKey(client.secretKey)])
        try dealer.connect(endpoint)

        try dealer.send([Frame(frame: "encrypted hello"), Array(0...255)])
        let request = try #require(try receive(router))
        #expect(request.count == 3)
        #expect(Array(request.dropFirst()) == [Frame(frame: "encrypted hello"), Array(0...255)])
        try router.send([request[0], Frame(frame: "encrypted reply")])
        #expect(try receive(dealer) == [Frame(frame: "encrypted reply")])
    }

    @Test func clientWithWrongServerKeyGetsNothingThrough() throws {
        let server = try CurveKeyPair.generate(), impostor = try CurveKeyPair.generate()
        let client = try CurveKeyPair.generate()
        let context = try ZMQContext()
        let router = try Socket(context: context, type: .router)
        try router.set([.curveServer(true), .curveSecretKey(server.secretKey)])
        let endpoint = try bindLoopback(router)

        let wrong = try Socket(context: context, type: .dealer)
        try wrong.set([.curveServerKey(impostor.publicKey), .curvePublicKey(client.publicKey), .curveSecretKey(client.secretKey)])
        try wrong.connect(endpoint)
        try wrong.send([Frame(frame: "from the wrong client")])
        #expect(try receive(router, within: 1.5) == nil, "a client with the wrong server key got a message through")
        #expect(try wrong.receive(dontWait: true) == nil)

        // Control: the same server does accept a client with the right key, and still has
        // nothing from the wrong one.
        let right = try Socket(context: context, type: .dealer)
        try right.set([.curveServerKey(server.publicKey), .curvePublicKey(client.publicKey), .curveSecretKey(client.secretKey)])
        try right.connect(endpoint)
        try right.send([Frame(frame: "from the right client")])
        let frames = try #require(try receive(router))
        #expect(frames.last == Frame(frame: "from the right client"))
        #expect(try receive(router, within: 0.5) == nil)
    }

    @Test(arguments: [
        SocketOption.curveServerKey("tooShort"),
        .curvePublicKey(String(repeating: "x", count: 41)),
        .curveSecretKey(""),
    ])
    func z85KeyOfWrongLengthIsRejectedClearly(option: SocketOption) throws {
        let context = try ZMQContext()
        let socket = try Socket(context: context, type: .dealer)
        do {
            try socket.set(option)
            Issue.record("accepted \(option)")
        } catch {
            #expect(error.code == EINVAL)
            #expect(error.description.contains("40 characters"), "\(error.description)")
            #expect(error.description.contains("got "), "\(error.description)")
        }
    }
}
