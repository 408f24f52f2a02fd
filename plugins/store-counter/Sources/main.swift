import PluginRuntime

await PluginLauncher.run(StoreCounter())
