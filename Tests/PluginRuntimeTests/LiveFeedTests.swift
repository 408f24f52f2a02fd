import Foundation
import Logging
import Testing
import ZeroMQ
@testable import PluginRuntime

/// `LiveFeed` on a real PUB/SUB pair: off beyond the window (what the SUB held is dropped, nothing
/// more arrives), still off at the window, on again within half of it, and counted each time.
@Suite struct LiveFeedTests {
    @Test func switchesOffBeyondTheWindowAndBackOnWithinHalfOfIt() throws {
        let context = try ZMQContext()
        let endpoint = "inproc://live-feed-\(UUID().uuidString)"
        let publisher = try Socket(context: context, type: .pub)
        try publisher.bind(endpoint)
        let subscriber = try Socket(context: context, type: .sub)
        try subscriber.set([.receiveHighWaterMark(0), .subscribe([])])
        try subscriber.connect(endpoint)
        let metrics = PluginMetrics(pluginName: "live")
        var feed = LiveFeed(socket: subscriber, window: 300, metrics: metrics, logger: Logger(label: "test.live"))

        func publish(_ count: Int) throws {
            for seq in 0..<count { try publisher.send([Frame(frame: "purchase"), Frame(frame: String(seq)), Frame(frame: "{}")]) }
        }
        func received(waitingMilliseconds: Int) throws -> Int {
            var count = 0
            var poller = Poller()
            poller.add(subscriber)
            var wait = waitingMilliseconds
            while try poller.poll(timeoutMilliseconds: wait)[0].contains(.readable) {
                while try subscriber.receive(dontWait: true) != nil { count += 1 }
                wait = 50
            }
            return count
        }
        func pauses() -> String {
            let text = String(decoding: metrics.registry.emitToBuffer(), as: UTF8.self)
            return text.split(separator: "\n").first { $0.hasPrefix("loyalty_plugin_live_feed_pauses_total") }.map(String.init) ?? ""
        }

        usleep(100_000)   // the inproc subscription reaches the PUB
        try publish(5)
        usleep(50_000)    // queued, unread, as during a replay
        try feed.follow(remaining: 301)
        #expect(!feed.isOn)
        #expect(try received(waitingMilliseconds: 50) == 0)          // what it held was dropped
        try publish(5)
        #expect(try received(waitingMilliseconds: 200) == 0)         // and nothing more arrives
        try feed.follow(remaining: 300)
        try feed.follow(remaining: 151)
        #expect(!feed.isOn)
        try feed.follow(remaining: 150)
        #expect(feed.isOn)
        usleep(100_000)
        try publish(7)
        #expect(try received(waitingMilliseconds: 2000) == 7)
        #expect(pauses().hasSuffix(" 1"), "\(pauses())")
        try feed.follow(remaining: 1000)
        #expect(!feed.isOn)
        #expect(pauses().hasSuffix(" 2"), "\(pauses())")
    }
}
