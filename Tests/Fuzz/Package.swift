// swift-tools-version:6.1
// Coverage-guided fuzzers (libFuzzer) for the event decoder and the rule files. A package of its
// own so that the main `swift build` / `swift test` never see the fuzzer entry points. The
// library sources are the main package's, through symlinks in Sources/. Build and run with
// `scripts/fuzz` (it passes -sanitize=fuzzer,address -parse-as-library).
import PackageDescription

let package = Package(
    name: "loyalty-fuzz",
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .target(name: "LoyaltyEvents", path: "Sources/LoyaltyEvents"),
        .target(name: "LoyaltyRules", dependencies: [
            "LoyaltyEvents",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Sources/LoyaltyRules"),
        .target(name: "CFuzzDriver"),
        .executableTarget(name: "FuzzEvents", dependencies: ["LoyaltyEvents", "CFuzzDriver"]),
        .executableTarget(name: "FuzzRules", dependencies: ["LoyaltyRules", "CFuzzDriver"]),
    ],
    swiftLanguageModes: [.v6]
)
