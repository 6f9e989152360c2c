// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-selectors",
    // Synchronization (Mutex, Atomic) needs macOS 15 on Apple systems; Linux has no minimum.
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Selectors", targets: ["Selectors"]),
        .executable(name: "selector-bench", targets: ["selector-bench"]),
        .library(name: "EchoService", targets: ["EchoService"]),
        .executable(name: "echo-server", targets: ["echo-server"]),
    ],
    targets: [
        .target(name: "CSelectors"),
        .target(name: "Selectors", dependencies: ["CSelectors"]),
        .executableTarget(
            name: "selector-bench", dependencies: ["Selectors", "CSelectors", "EchoService"],
            path: "Benchmarks/selector-bench"),
        .testTarget(
            name: "SelectorsTests", dependencies: ["Selectors", "CSelectors", "SelectorsConformance"]),
        // Model-based fuzzing of the selector contract: used by SelectorsTests (a bounded run)
        // and by selector-fuzz (long runs). Not a product.
        .target(name: "SelectorsConformance", dependencies: ["Selectors", "CSelectors"]),
        // EchoService for the command-line helpers it shares with echo-server (`quoted`).
        .executableTarget(
            name: "selector-fuzz", dependencies: ["SelectorsConformance", "Selectors", "EchoService"]),
        .target(name: "EchoService", dependencies: ["Selectors", "CSelectors"]),
        .executableTarget(
            name: "echo-server", dependencies: ["EchoService"],
            exclude: ["link-order.txt"],
            // Release builds link statically: the Swift runtime mapped in from shared libraries
            // was most of the server's resident memory (BENCHMARKS.md, "Memory"). lld, because
            // GNU ld warns about glibc's dlopen, which only name lookups use (the server takes
            // numeric addresses). Debug builds (tests, ThreadSanitizer) stay dynamic.
            // link-order.txt lists the functions a serving echo-server runs, so lld puts them
            // side by side: the kernel faults code in 64 KiB at a time, and spread over the
            // binary they kept 1.5 MiB resident (BENCHMARKS.md section 16). Regenerate it with
            // Benchmarks/scale/link-order.sh; a name that no longer exists is skipped silently.
            linkerSettings: [
                .unsafeFlags(
                    [
                        "-static-executable", "-use-ld=lld",
                        "-Xlinker",
                        "--symbol-ordering-file=\(Context.packageDirectory)/Sources/echo-server/link-order.txt",
                        "-Xlinker", "--no-warn-symbol-ordering",
                    ], .when(platforms: [.linux], configuration: .release))
            ]),
        .testTarget(name: "EchoServiceTests", dependencies: ["EchoService", "Selectors", "CSelectors"]),
        // Examples/: the README's programs, each built as a user would write it (top-level
        // code in main.swift, Swift 6 mode); .ci/check-readme keeps the README in step.
        .executableTarget(
            name: "selector-basics", dependencies: ["Selectors"], path: "Examples/SelectorBasics"),
        .executableTarget(name: "callback-echo", dependencies: ["Selectors"], path: "Examples/CallbackEcho"),
        .executableTarget(name: "loop-basics", dependencies: ["Selectors"], path: "Examples/LoopBasics"),
        .executableTarget(
            name: "echo-service-basics", dependencies: ["EchoService"], path: "Examples/EchoServiceBasics"),
        .executableTarget(
            name: "virtual-loop-testing", dependencies: ["Selectors"], path: "Examples/VirtualLoopTesting"),
        .executableTarget(name: "edge-echo", dependencies: ["Selectors"], path: "Examples/EdgeTriggeredEcho"),
        .executableTarget(name: "loop-threads", dependencies: ["Selectors"], path: "Examples/LoopThreads"),
        // Sample programs: what a user builds first, each with a test that runs it.
        .executableTarget(name: "chat-relay", dependencies: ["Selectors"], path: "Examples/ChatRelay"),
        .executableTarget(
            name: "async-chat-relay", dependencies: ["Selectors"], path: "Examples/AsyncChatRelay"),
        .executableTarget(name: "pipe-watcher", dependencies: ["Selectors"], path: "Examples/PipeWatcher"),
        .executableTarget(name: "http-hello", dependencies: ["Selectors"], path: "Examples/HTTPHello"),
    ]
)
