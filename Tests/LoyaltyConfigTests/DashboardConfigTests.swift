import Foundation
import Testing
@testable import LoyaltyConfig

@Suite struct DashboardConfigTests {
    @Test func theTokenFileIsConfigDashboardTokenByDefault() throws {
        #expect(LoyaltyConfiguration.embeddedDefaults(root: "/x").dashboard.tokenFile == "/x/config/dashboard.token")
        let project = try TempProject()
        let path = try project.write("config/loyalty.yaml", "bus:\n  ingest: tcp://127.0.0.1:5601\n")
        #expect(try LoyaltyConfiguration.load(path: path).dashboard.tokenFile == project.root + "/config/dashboard.token")
    }

    @Test func aRelativeTokenFileResolvesAgainstTheProjectRootAndAnAbsoluteOneIsKept() throws {
        let project = try TempProject()
        let relative = try project.write("config/loyalty.yaml", "dashboard:\n  tokenFile: secrets/dash.token\n")
        #expect(try LoyaltyConfiguration.load(path: relative).dashboard.tokenFile == project.root + "/secrets/dash.token")
        let absolute = try project.write("config/other.yaml", "dashboard: {tokenFile: /etc/loyalty/dashboard.token}\n")
        #expect(try LoyaltyConfiguration.load(path: absolute).dashboard.tokenFile == "/etc/loyalty/dashboard.token")
    }

    @Test func aMistakeInTheDashboardSectionNamesFileLineAndFix() throws {
        let project = try TempProject()
        let typo = try project.write("config/loyalty.yaml", "bus:\n  ingest: tcp://127.0.0.1:5601\ndashboard:\n  tokenfile: x.token\n")
        let error = try #require(expectConfigError { _ = try LoyaltyConfiguration.load(path: typo) })
        #expect(error.line == 4 && error.column == 3)
        #expect(error.message == "unknown key 'tokenfile'")
        #expect(error.suggestion == "did you mean 'tokenFile'?")
        let empty = try project.write("config/empty.yaml", "dashboard:\n  tokenFile: ''\n")
        let emptyError = try #require(expectConfigError { _ = try LoyaltyConfiguration.load(path: empty) })
        #expect(emptyError.line == 2)
        #expect(emptyError.message == "'tokenFile' must not be empty")
        let folder = try project.write("config/folder.yaml", "dashboard:\n  tokenFile: config/\n")
        let folderError = try #require(expectConfigError { _ = try LoyaltyConfiguration.load(path: folder) })
        #expect(folderError.message.contains("must name a file"))
    }
}
