// swift-tools-version:6.0
//
// A program that uses d2l-swift the way an adopting project would: as a package dependency, by
// path. It links only the core product, `Engine` (tensors, autodiff, layers, optimizers,
// safetensors), so neither zlib nor the training loop ends up in the binary (CI checks that).
import PackageDescription

let package = Package(
    name: "CSVRegression",
    dependencies: [
        // An adopting project would write `.package(url: "https://…/d2l-swift", from: "…")`.
        .package(name: "d2l-swift", path: "../..")
    ],
    targets: [
        .executableTarget(
            name: "csv-regression",
            dependencies: [.product(name: "Engine", package: "d2l-swift")],
            path: "Sources/CSVRegression"
        )
    ]
)
