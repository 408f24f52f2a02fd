import CustomerScoring
import Foundation
import LoyaltyConfig
import PluginRuntime

// Settings come from <plugins directory>/customer-scoring/scoring.yaml (missing file: defaults),
// found through the same configuration the launcher uses (--config PATH, LOYALTY_CONFIG, ./config/loyalty.yaml).
var configPath = ProcessInfo.processInfo.environment["LOYALTY_CONFIG"]
if let index = CommandLine.arguments.firstIndex(of: "--config"), index + 1 < CommandLine.arguments.count {
    configPath = CommandLine.arguments[index + 1]
}
var settings = ScoringSettings()
if !CommandLine.arguments.contains("--help") && !CommandLine.arguments.contains("-h"),
   let configuration = try? LoyaltyConfiguration.locate(explicitPath: configPath, workingDirectory: FileManager.default.currentDirectoryPath) {
    let path = configuration.pluginsDirectory + "/customer-scoring/" + ScoringSettings.fileName
    do {
        settings = try ScoringSettings.load(path: path)
    } catch {
        FileHandle.standardError.write(Data("customer-scoring cannot start: \(error)\n".utf8))
        exit(78)
    }
}
await PluginLauncher.run(CustomerScoringPlugin(settings: settings))
