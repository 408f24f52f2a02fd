import Foundation
import Testing
@testable import LoyaltyConfig

@Suite struct PerformanceConfigTests {
    @Test func theRequestPathIsOnTheLastCPUByDefault() throws {
        #expect(LoyaltyConfiguration.embeddedDefaults(root: "/x").performance.requestCPUs == .auto)
        let project = try TempProject()
        let path = try project.write("config/loyalty.yaml", "bus:\n  ingest: tcp://127.0.0.1:5601\n")
        #expect(try LoyaltyConfiguration.load(path: path).performance.requestCPUs == .auto)
        #expect(RequestCPUs.auto.resolved(allowed: [0, 1, 2, 3]) == [3])
        #expect(RequestCPUs.auto.resolved(allowed: [4, 6]) == [6])
        // One CPU: nothing to keep apart.
        #expect(RequestCPUs.auto.resolved(allowed: [0]) == [])
        #expect(RequestCPUs.none.resolved(allowed: [0, 1]) == [])
        #expect(RequestCPUs.cpus([2]).resolved(allowed: [0, 1]) == [2])
    }

    @Test func requestCPUsAreReadAsAutoNoneOrAList() throws {
        let project = try TempProject()
        for (text, expected) in [("performance:\n  requestCPUs: [1]\n", RequestCPUs.cpus([1])),
                                 ("performance: {requestCPUs: [3, 2]}\n", .cpus([3, 2])),
                                 ("performance: {requestCPUs: []}\n", .none),
                                 ("performance: {requestCPUs: none}\n", .none),
                                 ("performance: {requestCPUs: auto}\n", .auto)] {
            let path = try project.write("config/loyalty.yaml", text)
            #expect(try LoyaltyConfiguration.load(path: path).performance.requestCPUs == expected, "\(text)")
        }
    }

    @Test func aBadCPUListNamesLineAndWhatIsExpected() throws {
        let project = try TempProject()
        let expected = "'requestCPUs' is auto, none, or a list of CPU numbers like [1] or [2, 3] (0 is the first CPU)"
        for (text, message) in [
            ("performance:\n  requestCPUs: [one]\n", "\(expected), not 'one'"),
            ("performance:\n  requestCPUs: [-1]\n", "\(expected), not '-1'"),
            ("performance:\n  requestCPUs: 1\n", "\(expected), not '1'"),
            ("performance:\n  requestCPUs: always\n", "\(expected), not 'always'"),
            ("performance:\n  requestCPUs: [1, 1]\n", "'requestCPUs' names CPU 1 twice"),
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
