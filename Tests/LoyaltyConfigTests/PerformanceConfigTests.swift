import Foundation
import Testing
@testable import LoyaltyConfig

@Suite struct PerformanceConfigTests {
    @Test func theRequestPathIsNotBoundByDefault() throws {
        #expect(LoyaltyConfiguration.embeddedDefaults(root: "/x").performance.requestCPUs == [])
        let project = try TempProject()
        let path = try project.write("config/loyalty.yaml", "bus:\n  ingest: tcp://127.0.0.1:5601\n")
        #expect(try LoyaltyConfiguration.load(path: path).performance.requestCPUs == [])
    }

    @Test func requestCPUsAreReadInOrder() throws {
        let project = try TempProject()
        let one = try project.write("config/loyalty.yaml", "performance:\n  requestCPUs: [1]\n")
        #expect(try LoyaltyConfiguration.load(path: one).performance.requestCPUs == [1])
        let two = try project.write("config/two.yaml", "performance: {requestCPUs: [3, 2]}\n")
        #expect(try LoyaltyConfiguration.load(path: two).performance.requestCPUs == [3, 2])
        let none = try project.write("config/none.yaml", "performance: {requestCPUs: []}\n")
        #expect(try LoyaltyConfiguration.load(path: none).performance.requestCPUs == [])
    }

    @Test func aBadCPUListNamesLineAndWhatIsExpected() throws {
        let project = try TempProject()
        for (text, message) in [
            ("performance:\n  requestCPUs: [one]\n", "'requestCPUs' lists CPU numbers like [1] or [2, 3] (0 is the first CPU), not 'one'"),
            ("performance:\n  requestCPUs: [-1]\n", "'requestCPUs' lists CPU numbers like [1] or [2, 3] (0 is the first CPU), not '-1'"),
            ("performance:\n  requestCPUs: [1, 1]\n", "'requestCPUs' names CPU 1 twice"),
            ("performance:\n  requestCPUs: 1\n", "'requestCPUs' must be a list like [a, b], found the number 1"),
        ] {
            let path = try project.write("config/loyalty.yaml", text)
            let error = try #require(expectConfigError { _ = try LoyaltyConfiguration.load(path: path) })
            #expect(error.line == 2, "\(text)")
            #expect(error.message == message)
        }
        let typo = try project.write("config/typo.yaml", "performance:\n  requestCpus: [1]\n")
        let error = try #require(expectConfigError { _ = try LoyaltyConfiguration.load(path: typo) })
        #expect(error.message == "unknown key 'requestCpus'" && error.suggestion == "did you mean 'requestCPUs'?")
    }
}
