import ArgumentParser
import Foundation
import LoyaltyConfig
import LoyaltyWire
import Testing
@testable import LoyaltyCLI

/// `performance.requestCPUs` as `loyalty up` checks it, and the benchmarks' `--request-cpus`.
@Suite struct RequestCPUsOptionTests {
    @Test func upRefusesACPUTheEngineMayNotUseBeforeStartingAnything() throws {
        var configuration = LoyaltyConfiguration.embeddedDefaults(root: NSTemporaryDirectory() + "loyalty-request-cpus-\(getpid())")
        configuration.enabledPlugins = []
        configuration.performance.requestCPUs = .cpus([1023])
        let error = #expect(throws: EngineError.self) { _ = try EngineProcesses(configuration: configuration, logLevel: "info") }
        let allowed = CPUAffinity.allowedCPUs().map(String.init).joined(separator: ", ")
        #expect(error?.description == "performance.requestCPUs names CPU 1023, which this machine does not let the engine use (it may use CPU \(allowed))")
        configuration.performance.requestCPUs = .cpus([CPUAffinity.allowedCPUs().last!])
        #expect(throws: Never.self) { _ = try EngineProcesses(configuration: configuration, logLevel: "info") }
    }

    @Test func theBenchOptionReadsAutoNoneOrCPUNumbersAndWritesTheConfigLine() throws {
        #expect(RequestCPUs(argument: "none") == RequestCPUs.none)
        #expect(RequestCPUs(argument: "auto") == .auto)
        #expect(RequestCPUs(argument: "1")?.configLine == "performance: {requestCPUs: [1]}")
        #expect(RequestCPUs(argument: "2,3") == .cpus([2, 3]))
        #expect(RequestCPUs.auto.configLine == "performance: {requestCPUs: auto}")
        for bad in ["", "one", "-1", "1,,2", "1024"] { #expect(RequestCPUs(argument: bad) == nil, "\(bad)") }
        #expect(throws: ValidationError.self) { try RequestCPUs.cpus([1023]).validate() }
        #expect(try CampaignsBenchCommand.parse(["--request-cpus", "0"]).requestCPUs == .cpus([0]))
        #expect(try CampaignsBenchCommand.parse([]).requestCPUs == .auto)
        #expect(try PointsBenchCommand.parse(["--request-cpus", "none"]).requestCPUs == RequestCPUs.none)
        #expect(try BusBenchCommand.parse([]).requestCPUs == .auto)
    }
}
