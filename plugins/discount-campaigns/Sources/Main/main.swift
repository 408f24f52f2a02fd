import DiscountCampaigns
import PluginRuntime

await PluginLauncher.run(DiscountCampaignsPlugin())
