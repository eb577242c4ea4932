// swift-tools-version:6.0
//
// d2l-swift: a CPU deep-learning engine on OpenBLAS that reproduces the experiments of
// "Dive into Deep Learning" (d2l.ai). See README.md and ARCHITECTURE.md.
import PackageDescription

let package = Package(
    name: "d2l-swift",
    products: [
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Models", targets: ["Models"]),
        .executable(name: "d2l", targets: ["d2l"]),
        .executable(name: "benchmarks", targets: ["benchmarks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: C libraries
        /// OpenBLAS (CBLAS) and LAPACKE. Only Engine imports it, through thin wrappers.
        .systemLibrary(
            name: "CBLAS",
            path: "Sources/CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        /// zlib, for the gzip-compressed IDX files of Fashion-MNIST. Only Engine imports it.
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),

        /// Open MPI (`mpi.h`) with static inline wrappers for the handles Swift cannot import
        /// (`MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`, …). Only the MPI target imports it.
        .systemLibrary(
            name: "CMPI",
            path: "Sources/CMPI",
            pkgConfig: "ompi",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
        ),

        /// The engine's hot loops compiled for AVX2 + FMA (per-function `target` attributes,
        /// chosen at run time from cpuid); Engine keeps a portable Swift twin of each.
        .target(
            name: "CKernels",
            path: "Sources/CKernels"
        ),

        // MARK: Libraries
        .target(
            name: "Engine",
            dependencies: ["CBLAS", "CZlib", "CKernels"],
            path: "Sources/Engine"
        ),
        .target(
            name: "Models",
            dependencies: ["Engine"],
            path: "Sources/Models"
        ),
        /// Data-parallel training over MPI: Engine's `ProcessGroup` implemented on Open MPI.
        .target(
            name: "MPI",
            dependencies: ["Engine", "CMPI"],
            path: "Sources/MPI"
        ),

        // MARK: Executables
        .executableTarget(
            name: "d2l",
            dependencies: [
                "Engine", "Models", "MPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/d2l"
        ),
        .executableTarget(
            name: "benchmarks",
            dependencies: ["Engine", "Models"],
            path: "Benchmarks",
            exclude: ["Reference"]
        ),

        // MARK: Tests
        /// Expectations shared by the test targets (`expectClose`).
        .target(
            name: "TestSupport",
            dependencies: ["Engine"],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: ["Engine", "TestSupport"],
            path: "Tests/EngineTests",
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ModelsTests",
            dependencies: ["Models", "Engine", "TestSupport"],
            path: "Tests/ModelsTests",
            exclude: ["Fixtures"]
        ),
        /// Runs the built `d2l` executable (built by `swift test` beside the test bundle) and
        /// checks its output, files and exit status; skipped when the binary is missing.
        .testTarget(
            name: "CLITests",
            dependencies: ["Models", "Engine"],
            path: "Tests/CLITests"
        ),
    ]
)
