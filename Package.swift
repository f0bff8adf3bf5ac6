// swift-tools-version:6.1
import PackageDescription

/// Strict settings for every target of ours: Swift 6 mode, explicit `any`.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "tillyard",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tillyard", targets: ["tillyard"]),
        .executable(name: "tillyard-bench", targets: ["TillyardBench"]),
        .library(name: "TillyardKit", targets: ["TillyardKit"]),
        .library(name: "TillyardStore", targets: ["TillyardStore"]),
        .library(name: "TillyardServer", targets: ["TillyardServer"]),
        .library(name: "TillyardAgent", targets: ["TillyardAgent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
    ],
    targets: [
        .target(
            name: "TillyardKit",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TillyardStore",
            dependencies: [
                "TillyardKit",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TillyardServer",
            dependencies: [
                "TillyardKit",
                "TillyardStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "MultipartKit", package: "multipart-kit"),
            ],
            resources: [.copy("Resources")],
            swiftSettings: strict
        ),
        .target(
            // The reference terminal agent: signed protocol client, state folder, offline queue in SQLite.
            name: "TillyardAgent",
            dependencies: [
                "TillyardKit",
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "tillyard",
            dependencies: [
                "TillyardKit",
                "TillyardAgent",
                "TillyardStore",
                "TillyardServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "TillyardBench",
            dependencies: [
                "TillyardKit",
                "TillyardStore",
                // The sales benchmark runs the real server in process (buildApplication).
                "TillyardServer",
                // LoopbackHTTPConnection, the load client shared with `tillyard terminal simulate`.
                "TillyardAgent",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TillyardTestSupport",
            dependencies: [
                "TillyardKit",
                "TillyardStore",
                "TillyardServer",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TillyardKitTests",
            dependencies: ["TillyardKit"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TillyardStoreTests",
            dependencies: ["TillyardStore", "TillyardTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TillyardAgentTests",
            dependencies: [
                "TillyardAgent", "TillyardServer", "TillyardTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TillyardServerTests",
            dependencies: [
                "TillyardServer", "TillyardTestSupport", "TillyardAgent",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
    ]
)
