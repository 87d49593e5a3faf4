// swift-tools-version:5.9
// portal-state for iOS: the uniffi-generated Swift over the static library in
// PortalStateFFI.xcframework. Both are made by build-xcframework.sh (see README.md).
import PackageDescription

let package = Package(
    name: "PortalState",
    platforms: [.iOS(.v13)],
    products: [
        .library(name: "PortalState", targets: ["PortalState"]),
    ],
    targets: [
        // The static library and the C module `portal_stateFFI` the Swift code imports.
        .binaryTarget(name: "portal_stateFFI", path: "PortalStateFFI.xcframework"),
        // bindings/swift/portal_state.swift, copied here by build-xcframework.sh.
        .target(
            name: "PortalState",
            dependencies: ["portal_stateFFI"],
            path: "Sources/PortalState",
            // SQLite is compiled into the library. getrandom 0.2 (a dependency's) reads
            // randomness with SecRandomCopyBytes, from Security.framework.
            linkerSettings: [.linkedFramework("Security")]
        ),
    ]
)
