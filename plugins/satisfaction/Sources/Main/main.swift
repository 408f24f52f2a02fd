import PluginRuntime
import Satisfaction

await PluginLauncher.run(SatisfactionPlugin())
