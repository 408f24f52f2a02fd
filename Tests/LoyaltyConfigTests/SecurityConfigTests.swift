import Foundation
import Testing
@testable import LoyaltyConfig

@Suite struct SecurityConfigTests {
    @Test func securityAndLimitsAreOffOrGenerousByDefault() throws {
        let project = try TempProject()
        let path = try project.write("config/loyalty.yaml", "bus:\n  ingest: tcp://127.0.0.1:5601\n")
        let configuration = try LoyaltyConfiguration.load(path: path)
        #expect(configuration.security.curve == false)
        #expect(configuration.security.keysDirectory == project.root + "/config/keys")
        #expect(configuration.security.clientKey == "cli")
        #expect(configuration.limits == LimitSettings())
        #expect(configuration.limits.ratePerSource == nil)
    }

    @Test func securityAndLimitsAreRead() throws {
        let project = try TempProject()
        let path = try project.write("config/loyalty.yaml", """
            security:
              curve: true
              keysDir: /etc/loyalty/keys
              clientKey: back-office
            limits:
              maxLines: 200
              maxFutureDays: 1
              maxPastDays: off
              ratePerSource: 50
              burstPerSource: 200
            """)
        let configuration = try LoyaltyConfiguration.load(path: path)
        #expect(configuration.security.curve)
        #expect(configuration.security.keysDirectory == "/etc/loyalty/keys")
        #expect(configuration.security.clientKey == "back-office")
        #expect(configuration.limits.maxLines == 200)
        #expect(configuration.limits.maxFutureDays == 1)
        #expect(configuration.limits.maxPastDays == nil)
        #expect(configuration.limits.ratePerSource == 50)
        #expect(configuration.limits.burstPerSource == 200)
    }

    @Test func unknownOrBadSecurityKeysAreErrors() throws {
        let project = try TempProject()
        let typo = try project.write("config/loyalty.yaml", "security:\n  curv: true\n")
        let error = try #require(expectConfigError { _ = try LoyaltyConfiguration.load(path: typo) })
        #expect("\(error)".contains("curv"))
        let bad = try project.write("config/other.yaml", "security:\n  curve: maybe\n")
        let badError = try #require(expectConfigError { _ = try LoyaltyConfiguration.load(path: bad) })
        #expect("\(badError)".contains("'curve' must be true or false"))
        let rate = try project.write("config/rate.yaml", "limits:\n  ratePerSource: -3\n")
        let rateError = try #require(expectConfigError { _ = try LoyaltyConfiguration.load(path: rate) })
        #expect("\(rateError)".contains("ratePerSource"))
    }

    @Test func shippedConfigStillLoads() throws {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/loyalty.yaml").path
        let configuration = try LoyaltyConfiguration.load(path: shipped)
        #expect(configuration.security.curve == false)
    }
}
