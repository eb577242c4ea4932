// swift-tools-version:6.0
//
// d2l-swift: a CPU deep-learning engine on OpenBLAS that reproduces the experiments of
// "Dive into Deep Learning" (d2l.ai). See README.md and ARCHITECTURE.md.
import PackageDescription

let package = Package(
    name: "d2l-swift",
    products: [
        /// The core: tensors, autodiff, ops, kernels, layers, losses, optimizers, initializers,
        /// safetensors. Links OpenBLAS/LAPACKE (and the CKernels C target) and nothing else.
        .library(name: "Engine", targets: ["Engine"]),
        /// Data sets and loaders (Fashion-MNIST/IDX/gzip, CSV, synthetic sets, k-fold); the only
        /// product that links zlib.
        .library(name: "Datasets", targets: ["Datasets"]),
        /// The book's training loop (`Trainer`), checkpoints, records, the SVG plot, and the
        /// executables' OpenBLAS restart policy.
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Models", targets: ["Models"]),
        .executable(name: "d2l", targets: ["d2l"]),
        .executable(name: "benchmarks", targets: ["benchmarks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation` (Tools/build-docs.sh); a plugin, linked into nothing.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
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
        /// zlib, for the gzip-compressed IDX files of Fashion-MNIST. Only Datasets imports it.
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
            dependencies: ["CBLAS", "CKernels"],
            path: "Sources/Engine"
        ),
        .target(
            name: "Datasets",
            dependencies: ["Engine", "CZlib"],
            path: "Sources/Datasets"
        ),
        .target(
            name: "Training",
            dependencies: ["Engine", "Datasets"],
            path: "Sources/Training"
        ),
        .target(
            name: "Models",
            dependencies: ["Engine"],
            path: "Sources/Models"
        ),
        /// Data-parallel training over MPI: Training's `ProcessGroup` implemented on Open MPI.
        .target(
            name: "MPI",
            dependencies: ["Engine", "Training", "CMPI"],
            path: "Sources/MPI"
        ),

        // MARK: Executables
        .executableTarget(
            name: "d2l",
            dependencies: [
                "Engine", "Datasets", "Training", "Models", "MPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/d2l"
        ),
        .executableTarget(
            name: "benchmarks",
            dependencies: ["Engine", "Datasets", "Training", "Models", "CKernels"],
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
            name: "DatasetsTests",
            dependencies: ["Datasets", "Engine", "TestSupport"],
            path: "Tests/DatasetsTests"
        ),
        .testTarget(
            name: "TrainingTests",
            dependencies: ["Training", "Datasets", "Engine", "TestSupport"],
            path: "Tests/TrainingTests"
        ),
        .testTarget(
            name: "ModelsTests",
            dependencies: ["Models", "Engine", "Datasets", "Training", "TestSupport"],
            path: "Tests/ModelsTests",
            exclude: ["Fixtures"]
        ),
        /// Runs the built `d2l` executable (built by `swift test` beside the test bundle) and
        /// checks its output, files and exit status; skipped when the binary is missing.
        .testTarget(
            name: "CLITests",
            dependencies: ["Models", "Engine", "Datasets"],
            path: "Tests/CLITests"
        ),
    ]
)
