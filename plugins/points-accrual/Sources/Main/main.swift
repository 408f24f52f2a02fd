import PluginRuntime
import PointsAccrual

await PluginLauncher.run(PointsAccrualPlugin())
