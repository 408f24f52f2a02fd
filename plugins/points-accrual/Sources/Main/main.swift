import PluginRuntime

await PluginLauncher.run(PointsAccrual())
