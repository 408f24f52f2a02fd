import Foundation
import Testing
@testable import LoyaltyConfig

/// A fresh project folder under the temp dir, removed at deinit.
final class TempProject {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("loyalty-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/config", withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    @discardableResult
    func write(_ relative: String, _ text: String) throws -> String {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

func expectConfigError(_ body: () throws -> Void) -> ConfigError? {
    do {
        try body()
        Issue.record("expected a ConfigError")
        return nil
    } catch let error as ConfigError {
        return error
    } catch {
        Issue.record("expected a ConfigError, got \(error)")
        return nil
    }
}

@Suite struct LoyaltyConfigurationTests {
    @Test func embeddedDefaults() {
        let config = LoyaltyConfiguration.embeddedDefaults(root: "/x")
        #expect(config.bus == BusEndpoints(ingest: "tcp://127.0.0.1:5601", publish: "tcp://127.0.0.1:5602",
                                           replay: "tcp://127.0.0.1:5603"))
        #expect(config.dataDirectory == "/x/var")
        #expect(config.pluginsDirectory == "/x/plugins")
        #expect(config.enabledPlugins == ["store-counter", "points-accrual", "customer-scoring", "satisfaction", "discount-campaigns", "reward-rules"])
        #expect(config.rulesDirectory == "/x/config/rules")
        #expect(config.sourceFile == nil)
        #expect(config.journalPath == "/x/var/journal.sqlite")
        #expect(config.pluginDatabasePath(name: "store-counter") == "/x/var/plugins/store-counter.sqlite")
        #expect(config.supervisorStatePath == "/x/var/run/supervisor.json")
    }

    @Test func shippedConfigEqualsEmbeddedDefaults() throws {
        // The repository's own config/loyalty.yaml must say what the embedded defaults say.
        let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        let path = repoRoot + "/config/loyalty.yaml"
        try #require(FileManager.default.fileExists(atPath: path))
        var config = try LoyaltyConfiguration.load(path: path)
        #expect(config.sourceFile == path)
        config.sourceFile = nil
        #expect(config == LoyaltyConfiguration.embeddedDefaults(root: repoRoot))
    }

    @Test func emptyFileMeansDefaults() throws {
        let project = try TempProject()
        let path = try project.write("config/loyalty.yaml", "# nothing\n")
        let config = try LoyaltyConfiguration.load(path: path)
        #expect(config.dataDirectory == project.root + "/var")
        #expect(config.bus == .defaults)
    }

    @Test func relativePathsResolveAgainstProjectRoot() throws {
        let project = try TempProject()
        let path = try project.write("config/loyalty.yaml", """
            bus:
              publish: ipc:///tmp/loyalty-pub
            dataDir: state/../data
            plugins:
              directory: /opt/loyalty/plugins
              enabled: [a, b]
            """)
        let config = try LoyaltyConfiguration.load(path: path)
        #expect(config.dataDirectory == project.root + "/data")
        #expect(config.pluginsDirectory == "/opt/loyalty/plugins")
        #expect(config.enabledPlugins == ["a", "b"])
        #expect(config.bus.publish == "ipc:///tmp/loyalty-pub")
        #expect(config.bus.ingest == "tcp://127.0.0.1:5601")
        #expect(config.journalPath == project.root + "/data/journal.sqlite")
    }

    @Test func unknownKeyHasLocationAndSuggestion() throws {
        let project = try TempProject()
        let path = try project.write("config/loyalty.yaml", """
            bus:
              publish: tcp://127.0.0.1:5602
              ingset: tcp://127.0.0.1:5601
            """)
        let error = try #require(expectConfigError { _ = try LoyaltyConfiguration.load(path: path) })
        #expect(error.line == 3)
        #expect(error.column == 3)
        #expect(error.message == "unknown key 'ingset'")
        #expect(error.suggestion == "did you mean 'ingest'?")
        #expect(error.description == "\(path):3:3: unknown key 'ingset' — did you mean 'ingest'?")
    }

    @Test func unknownTopLevelKeyWithoutCloseMatchListsAllowedKeys() throws {
        let project = try TempProject()
        let path = try project.write("config/loyalty.yaml", "colour: blue\n")
        let error = try #require(expectConfigError { _ = try LoyaltyConfiguration.load(path: path) })
        #expect(error.line == 1 && error.column == 1)
        #expect(error.suggestion == "allowed keys here: bus, dataDir, rulesDir, plugins, security, limits, dashboard, performance")
    }

    @Test func wrongTypeHasLocation() throws {
        let project = try TempProject()
        let path = try project.write("config/loyalty.yaml", """
            plugins:
              enabled: 5
            """)
        let error = try #require(expectConfigError { _ = try LoyaltyConfiguration.load(path: path) })
        #expect(error.line == 2)
        #expect(error.column == 12)
        #expect(error.message.contains("'enabled' must be a list"))
        #expect(error.message.contains("the number 5"))
    }

    @Test func badEndpointScheme() throws {
        let project = try TempProject()
        let path = try project.write("config/loyalty.yaml", "bus:\n  replay: http://localhost:5603\n")
        let error = try #require(expectConfigError { _ = try LoyaltyConfiguration.load(path: path) })
        #expect(error.line == 2 && error.column == 11)
        #expect(error.message.contains("tcp://, ipc:// or inproc://"))
    }

    @Test func yamlSyntaxErrorHasLocation() throws {
        let project = try TempProject()
        let path = try project.write("config/loyalty.yaml", "bus:\n  ingest: [tcp://a\ndataDir: var\n")
        let error = try #require(expectConfigError { _ = try LoyaltyConfiguration.load(path: path) })
        #expect(error.line != nil)
        #expect(error.column != nil)
        #expect(error.message.hasPrefix("invalid YAML"))
    }

    @Test func locateOrder() throws {
        let project = try TempProject()
        // No config/loyalty.yaml yet: embedded defaults rooted at the working directory.
        let defaults = try LoyaltyConfiguration.locate(explicitPath: nil, workingDirectory: project.root)
        #expect(defaults == .embeddedDefaults(root: project.root))

        let conventional = try project.write("config/loyalty.yaml", "dataDir: d1\n")
        let found = try LoyaltyConfiguration.locate(explicitPath: nil, workingDirectory: project.root)
        #expect(found.dataDirectory == project.root + "/d1")
        #expect(found.sourceFile == conventional)

        let other = try project.write("elsewhere/conf/custom.yaml", "dataDir: d2\n")
        let explicit = try LoyaltyConfiguration.locate(explicitPath: other, workingDirectory: "/")
        #expect(explicit.dataDirectory == project.root + "/elsewhere/d2")

        let missing = expectConfigError {
            _ = try LoyaltyConfiguration.locate(explicitPath: project.root + "/nope.yaml", workingDirectory: project.root)
        }
        #expect(missing?.message == "config file not found")
    }
}

@Suite struct PluginManifestTests {
    static let storeCounter = """
        name: store-counter
        executable: store-counter
        description: Counts purchases
        topics: {in: [purchase, return], out: [store.milestone]}
        services: [store-counter.count]
        rules: []
        """

    @Test func loadsManifest() throws {
        let project = try TempProject()
        try project.write("plugins/store-counter/plugin.yaml", Self.storeCounter)
        let manifest = try PluginManifest.load(directory: project.root + "/plugins/store-counter")
        #expect(manifest == PluginManifest(
            name: "store-counter", executable: "store-counter", description: "Counts purchases",
            topicsIn: ["purchase", "return"], topicsOut: ["store.milestone"], services: ["store-counter.count"],
            rules: [], arguments: [], directory: project.root + "/plugins/store-counter"))
        #expect(manifest.executablePath == nil)
    }

    @Test func shippedStoreCounterManifest() throws {
        let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        let config = try LoyaltyConfiguration.load(path: repoRoot + "/config/loyalty.yaml")
        let manifests = try PluginManifest.loadEnabled(config)
        #expect(manifests.map(\.name) == ["store-counter", "points-accrual", "customer-scoring", "satisfaction", "discount-campaigns", "reward-rules"])
        let satisfaction = manifests.first { $0.name == "satisfaction" }
        #expect(satisfaction?.rules == ["alerts"])
        #expect(satisfaction?.topicsIn == ["survey", "purchase", "customer.scored"])
        let points = manifests.first { $0.name == "points-accrual" }
        #expect(points?.rules == ["earning", "tiers"])
        #expect(points?.services.contains("points.redeem") == true)
        let scoring = manifests.first { $0.name == "customer-scoring" }
        #expect(scoring?.topicsOut == ["customer.scored"])
        #expect(scoring?.services == ["customer.score"])
        #expect(manifests.first?.description == "Counts purchases and returns per store (the reference plugin)")
        #expect(manifests.first?.topicsIn == ["purchase", "return"])
        #expect(manifests.first?.topicsOut == ["store.milestone"])
        #expect(manifests.first?.services == ["store-counter.count"])
        #expect(manifests.first?.rules == [])
    }

    @Test func relativeExecutablePath() throws {
        let project = try TempProject()
        try project.write("plugins/p/plugin.yaml", "name: p\nexecutable: bin/run.sh\narguments: [--fast]\n")
        let manifest = try PluginManifest.load(directory: project.root + "/plugins/p")
        #expect(manifest.executablePath == project.root + "/plugins/p/bin/run.sh")
        #expect(manifest.arguments == ["--fast"])
    }

    @Test func nameMustMatchFolder() throws {
        let project = try TempProject()
        let file = try project.write("plugins/store-counter/plugin.yaml", "name: store-count\nexecutable: x\n")
        let error = try #require(expectConfigError {
            _ = try PluginManifest.load(directory: project.root + "/plugins/store-counter")
        })
        #expect(error.file == file)
        #expect(error.line == 1 && error.column == 7)
        #expect(error.message == "plugin name 'store-count' does not match its folder 'store-counter'")
    }

    @Test func unknownManifestKey() throws {
        let project = try TempProject()
        try project.write("plugins/p/plugin.yaml", "name: p\nexecutable: x\ntopics:\n  inn: [a]\n")
        let error = try #require(expectConfigError { _ = try PluginManifest.load(directory: project.root + "/plugins/p") })
        #expect(error.line == 4 && error.column == 3)
        #expect(error.suggestion == "did you mean 'in'?")
    }

    @Test func missingEnabledPluginIsNamed() throws {
        let project = try TempProject()
        try project.write("plugins/store-counter/plugin.yaml", Self.storeCounter)
        let path = try project.write("config/loyalty.yaml", "plugins:\n  enabled: [store-counter, ghost]\n")
        let config = try LoyaltyConfiguration.load(path: path)
        let error = try #require(expectConfigError { _ = try PluginManifest.loadEnabled(config) })
        #expect(error.message.contains("'ghost'"))

        // A folder without a manifest is also named.
        try FileManager.default.createDirectory(atPath: project.root + "/plugins/ghost", withIntermediateDirectories: true)
        let error2 = try #require(expectConfigError { _ = try PluginManifest.loadEnabled(config) })
        #expect(error2.message.contains("'ghost'"))
        #expect(error2.file.hasSuffix("plugins/ghost/plugin.yaml"))
    }

    @Test func editDistanceSuggestions() {
        #expect(editDistance("ingset", "ingest") == 2)
        #expect(closestKey(to: "enabeld", in: ["directory", "enabled"]) == "enabled")
        #expect(closestKey(to: "zzzzzz", in: ["directory", "enabled"]) == nil)
    }
}
