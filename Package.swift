// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-selectors",
    products: [
        .library(name: "Selectors", targets: ["Selectors"])
    ],
    targets: [
        .target(name: "CSelectors"),
        .target(name: "Selectors", dependencies: ["CSelectors"]),
        .testTarget(name: "SelectorsTests", dependencies: ["Selectors", "CSelectors"]),
    ]
)
