// swift-tools-version:5.9
// portal-state for iOS: the uniffi-generated Swift over the static library in
// PortalStateFFI.xcframework. Both are made by build-xcframework.sh (see README.md).
//
// The same package on Linux is what the Swift binding tests build (scripts/test-swift.sh, in a
// Debian 13 chroot): the same PortalState target over the shared library instead of the
// xcframework, plus the tests. That script lays the package out in a scratch directory:
// Sources/PortalState/ and Sources/portal_stateFFI/ from bindings/swift/ (the header and, as
// SwiftPM wants it, module.modulemap) and Tests/PortalStateTests/ from tests/bindings/swift/.
import PackageDescription

#if os(Linux)
// The C module `portal_stateFFI` the Swift code imports: the header of libportal_state.so,
// whose folder the test script hands to the linker (-L and -rpath).
let ffiTarget: Target = .systemLibrary(name: "portal_stateFFI", path: "Sources/portal_stateFFI")
let linkerSettings: [LinkerSetting] = [.linkedLibrary("portal_state")]
let testTargets: [Target] = [
    .testTarget(name: "PortalStateTests", dependencies: ["PortalState"], path: "Tests/PortalStateTests"),
]
#else
// The static library and the C module `portal_stateFFI` the Swift code imports.
let ffiTarget: Target = .binaryTarget(name: "portal_stateFFI", path: "PortalStateFFI.xcframework")
// SQLite is compiled into the library. getrandom 0.2 (a dependency's) reads randomness with
// SecRandomCopyBytes, from Security.framework.
let linkerSettings: [LinkerSetting] = [.linkedFramework("Security")]
let testTargets: [Target] = []
#endif

let package = Package(
    name: "PortalState",
    platforms: [.iOS(.v13)],
    products: [
        .library(name: "PortalState", targets: ["PortalState"]),
    ],
    targets: [
        ffiTarget,
        // bindings/swift/portal_state.swift, copied here by build-xcframework.sh.
        .target(
            name: "PortalState",
            dependencies: ["portal_stateFFI"],
            path: "Sources/PortalState",
            linkerSettings: linkerSettings
        ),
    ] + testTargets
)
