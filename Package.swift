// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "loyalty",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "loyalty", targets: ["LoyaltyCLI"]),
        .executable(name: "store-counter", targets: ["StoreCounterPlugin"]),
        .executable(name: "points-accrual", targets: ["PointsAccrualPlugin"]),
        .executable(name: "customer-scoring", targets: ["CustomerScoringPlugin"]),
        .executable(name: "satisfaction", targets: ["SatisfactionPlugin"]),
        .executable(name: "discount-campaigns", targets: ["DiscountCampaignsPlugin"]),
        .executable(name: "reward-rules", targets: ["RewardRulesPlugin"]),
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "LoyaltyEvents", targets: ["LoyaltyEvents"]),
        .library(name: "PluginRuntime", targets: ["PluginRuntime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // The C library, seen through pkg-config. Nothing else imports it.
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        // All unsafe libzmq interop lives here, and only here.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"], swiftSettings: strict),
        // Event envelope, payloads, validation and the JSON codec.
        .target(name: "LoyaltyEvents", swiftSettings: strict),
        // A deterministic synthetic store chain: customers who return, drift away, complain.
        .target(name: "LoyaltySimulation", dependencies: ["LoyaltyEvents"], swiftSettings: strict),
        // Customer scoring models: transaction summaries, BG/NBD, Gamma-Gamma, CLV and RFM. Pure Swift.
        .target(name: "LoyaltyScoring", swiftSettings: strict),
        // Rule files: the expression language, its type checker and compiler, loading, hot reload.
        .target(name: "LoyaltyRules", dependencies: [
            "LoyaltyEvents",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // `loyalty rules simulate`: rules run over past events in memory, with no side effects.
        .target(name: "RuleSimulation", dependencies: ["LoyaltyRules", "LoyaltyEvents", "CPrefetch"], swiftSettings: strict),
        // A cache prefetch hint (C, header only) for the simulation's per-customer state.
        .target(name: "CPrefetch"),
        .target(name: "CLinux"),
        // The frames spoken between POS / plugins and the bus, and a client for them.
        .target(name: "LoyaltyWire", dependencies: [
            "ZeroMQ", "LoyaltyEvents", "CLinux",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // The durable journal, ingest, publish, replay and service routing.
        .target(name: "LoyaltyBus", dependencies: [
            "ZeroMQ", "LoyaltyEvents", "LoyaltyWire",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: strict),
        // The library every plugin is built on.
        .target(name: "PluginRuntime", dependencies: [
            "ZeroMQ", "LoyaltyEvents", "LoyaltyWire", "LoyaltyConfig", "LoyaltyRules",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: strict),
        // One Prometheus exposition for the whole engine: asks the bus and each plugin through the bus, merges.
        .target(name: "LoyaltyMetrics", dependencies: [
            "ZeroMQ", "LoyaltyWire", "LoyaltyConfig", "LoyaltySupervisor",
        ], swiftSettings: strict),
        // config/loyalty.yaml and plugins/*/plugin.yaml.
        .target(name: "LoyaltyConfig", dependencies: [
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: strict),
        // `loyalty up`: runs the bus and the plugins as child processes.
        .target(name: "LoyaltySupervisor", dependencies: [
            "LoyaltyConfig",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),
        // Read-only views of a running engine shared by the CLI and the dashboard: lag and events/s
        // per component, alert history through the replay endpoint, the customer scores.
        .target(name: "LoyaltyMonitor", dependencies: [
            "ZeroMQ", "LoyaltyEvents", "LoyaltyWire", "LoyaltyConfig", "LoyaltySupervisor",
            .product(name: "GRDB", package: "GRDB.swift"),
        ], swiftSettings: strict),
        // The web dashboard (`loyalty up --dashboard`): a collector thread, server-rendered HTML.
        .target(name: "LoyaltyDashboard", dependencies: [
            "ZeroMQ", "LoyaltyEvents", "LoyaltyWire", "LoyaltyConfig", "LoyaltyMonitor", "LoyaltyMetrics",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),
        .executableTarget(name: "LoyaltyCLI", dependencies: [
            "ZeroMQ", "LoyaltyEvents", "LoyaltyWire", "LoyaltyBus", "LoyaltyConfig", "LoyaltySupervisor", "LoyaltySimulation",
            "LoyaltyScoring", "LoyaltyRules", "RuleSimulation", "DiscountCampaigns", "LoyaltyMonitor", "LoyaltyDashboard", "CLinux",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ], swiftSettings: strict),
        .executableTarget(
            name: "StoreCounterPlugin",
            dependencies: [
                "PluginRuntime", "LoyaltyEvents",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "plugins/store-counter/Sources",
            swiftSettings: strict
        ),
        // The points plugin: its logic as a library (tested directly), and a thin executable.
        .target(
            name: "PointsAccrual",
            dependencies: [
                "PluginRuntime", "LoyaltyEvents", "LoyaltyRules",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            path: "plugins/points-accrual/Sources/PointsAccrual",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "PointsAccrualPlugin",
            dependencies: ["PointsAccrual", "PluginRuntime"],
            path: "plugins/points-accrual/Sources/Main",
            swiftSettings: strict
        ),
        // The customer-scoring plugin: its logic as a library (tested directly), and a thin executable.
        .target(
            name: "CustomerScoring",
            dependencies: [
                "PluginRuntime", "LoyaltyEvents", "LoyaltyScoring",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "plugins/customer-scoring/Sources/CustomerScoring",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "CustomerScoringPlugin",
            dependencies: ["CustomerScoring", "PluginRuntime", "LoyaltyConfig"],
            path: "plugins/customer-scoring/Sources/CustomerScoringPlugin",
            swiftSettings: strict
        ),
        // The satisfaction monitor: NPS windows and alerts as a library (tested directly), and a thin executable.
        .target(
            name: "Satisfaction",
            dependencies: [
                "PluginRuntime", "LoyaltyEvents", "LoyaltyRules",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "plugins/satisfaction/Sources/Satisfaction",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SatisfactionPlugin",
            dependencies: ["Satisfaction", "PluginRuntime"],
            path: "plugins/satisfaction/Sources/Main",
            swiftSettings: strict
        ),
        // The reward-rules plugin: rewards, tiers, limits and budgets as a library (tested directly), and a thin executable.
        .target(
            name: "RewardRules",
            dependencies: [
                "PluginRuntime", "LoyaltyEvents", "LoyaltyRules",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "plugins/reward-rules/Sources/RewardRules",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "RewardRulesPlugin",
            dependencies: ["RewardRules", "PluginRuntime"],
            path: "plugins/reward-rules/Sources/Main",
            swiftSettings: strict
        ),
        // The discount-campaigns plugin: quotes and committed discounts as a library (tested directly), and a thin executable.
        .target(
            name: "DiscountCampaigns",
            dependencies: [
                "PluginRuntime", "LoyaltyEvents", "LoyaltyRules",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "plugins/discount-campaigns/Sources/DiscountCampaigns",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "DiscountCampaignsPlugin",
            dependencies: ["DiscountCampaigns", "PluginRuntime"],
            path: "plugins/discount-campaigns/Sources/Main",
            swiftSettings: strict
        ),
        // Helpers shared by the test targets: temporary folders, free ports, sample events.
        .target(name: "LoyaltyTestSupport", dependencies: [
            "LoyaltyEvents", "ZeroMQ", "LoyaltyBus", "LoyaltyWire", .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/Support",
                swiftSettings: strict),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "LoyaltyEventsTests", dependencies: ["LoyaltyEvents"]),
        .testTarget(name: "LoyaltyBusTests", dependencies: [
            "LoyaltyBus", "LoyaltyTestSupport", "LoyaltyWire", "LoyaltyEvents", "ZeroMQ",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "PluginRuntimeTests", dependencies: [
            "PluginRuntime", "LoyaltyTestSupport", "LoyaltyBus", "LoyaltyWire", "LoyaltyEvents",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "LoyaltyConfigTests", dependencies: ["LoyaltyConfig"]),
        .testTarget(name: "LoyaltyMetricsTests", dependencies: ["LoyaltyMetrics"]),
        .testTarget(name: "LoyaltySupervisorTests", dependencies: [
            "LoyaltySupervisor", "LoyaltyConfig",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "LoyaltySimulationTests", dependencies: ["LoyaltySimulation", "LoyaltyEvents"]),
        .testTarget(name: "LoyaltyScoringTests", dependencies: ["LoyaltyScoring", "LoyaltySimulation"]),
        .testTarget(name: "LoyaltyRulesTests", dependencies: ["LoyaltyRules", "LoyaltyEvents"]),
        .testTarget(name: "RuleSimulationTests", dependencies: ["RuleSimulation", "LoyaltyRules", "LoyaltyEvents", "LoyaltySimulation"]),
        .testTarget(name: "PointsAccrualTests", dependencies: [
            "PointsAccrual", "PluginRuntime", "LoyaltyRules", "LoyaltyEvents", "LoyaltyTestSupport",
            .product(name: "GRDB", package: "GRDB.swift"),
        ], path: "plugins/points-accrual/Tests"),
        .testTarget(name: "CustomerScoringTests", dependencies: [
            "CustomerScoring", "PluginRuntime", "LoyaltyScoring", "LoyaltyEvents", "LoyaltySimulation", "LoyaltyTestSupport",
            .product(name: "GRDB", package: "GRDB.swift"),
        ], path: "plugins/customer-scoring/Tests"),
        .testTarget(name: "SatisfactionTests", dependencies: [
            "Satisfaction", "PluginRuntime", "LoyaltyRules", "LoyaltyEvents",
            .product(name: "GRDB", package: "GRDB.swift"),
        ], path: "plugins/satisfaction/Tests"),
        .testTarget(name: "DiscountCampaignsTests", dependencies: [
            "DiscountCampaigns", "PluginRuntime", "LoyaltyRules", "LoyaltyEvents", "LoyaltyTestSupport",
            .product(name: "GRDB", package: "GRDB.swift"),
        ], path: "plugins/discount-campaigns/Tests"),
        .testTarget(name: "RewardRulesTests", dependencies: [
            "RewardRules", "PluginRuntime", "LoyaltyRules", "LoyaltyEvents",
            .product(name: "GRDB", package: "GRDB.swift"),
        ], path: "plugins/reward-rules/Tests"),
        .testTarget(name: "LoyaltyDashboardTests", dependencies: [
            "LoyaltyDashboard", "LoyaltyMonitor", "LoyaltyConfig", "LoyaltyWire", "LoyaltyEvents", "LoyaltyTestSupport", "LoyaltyBus", "ZeroMQ",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The CLI's own tests (help texts), on the executable target through @testable import.
        .testTarget(name: "LoyaltyCLITests", dependencies: [
            "LoyaltyCLI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "LoyaltyWire", "LoyaltyTestSupport", "LoyaltyEvents", "LoyaltySimulation", "ZeroMQ", "LoyaltyRules",
            "LoyaltyMetrics", "LoyaltyConfig",
            .product(name: "GRDB", package: "GRDB.swift"),
        ], exclude: ["python"]),
    ],
    swiftLanguageModes: [.v6]
)
