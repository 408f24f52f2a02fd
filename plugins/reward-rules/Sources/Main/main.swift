import PluginRuntime
import RewardRules

await PluginLauncher.run(RewardRulesPlugin())
