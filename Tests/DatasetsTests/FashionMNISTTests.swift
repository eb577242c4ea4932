import Datasets
import Engine
import Foundation
import TestSupport
import Testing

@Suite("Fashion-MNIST files")
struct FashionMNISTTests {
    @Test("reads IDX sets of any size from a directory, gzip or raw, argument or environment")
    func smallSet() throws {
        let directory = try makeTemporaryDirectory("mnist")
        defer { try? FileManager.default.removeItem(at: directory) }
        try makeImageFiles(count: 12, height: 3, width: 4, in: directory, stem: "train", gzip: true)
        try makeImageFiles(count: 5, height: 3, width: 4, in: directory, stem: "t10k", gzip: false)

        let data = try FashionMNIST(directory: directory.path, environment: [:])
        #expect(data.train.count == 12 && data.test.count == 5)
        #expect(data.train.height == 3 && data.train.width == 4)
        #expect(data.train.labels == (0..<12).map { $0 % 10 })
        #expect(data.train.pixels[12 * 2 + 5] == UInt8((2 * 7 + 5) % 256))

        let fromEnvironment = try FashionMNIST(environment: [FashionMNIST.directoryEnvironmentVariable: directory.path])
        #expect(fromEnvironment.test == data.test)
        #expect(FashionMNIST.resolveDirectory(nil, environment: [:]) == FashionMNIST.defaultDirectory)
        #expect(
            FashionMNIST.resolveDirectory("/x", environment: [FashionMNIST.directoryEnvironmentVariable: "/y"]) == "/x")
        #expect(FashionMNIST.textLabels(for: [9, 0, 3]) == ["ankle boot", "t-shirt", "dress"])
    }

    @Test("missing directory or file and mislabelled sets give errors naming the file")
    func errors() throws {
        let directory = try makeTemporaryDirectory("mnist-bad")
        defer { try? FileManager.default.removeItem(at: directory) }
        let nowhere = directory.appendingPathComponent("absent").path
        let missingDirectory = #expect(throws: DataSetError.self) {
            try FashionMNIST(directory: nowhere, environment: [:])
        }
        #expect(missingDirectory?.description.contains(nowhere) == true)
        #expect(missingDirectory?.description.contains("apt-get install dataset-fashion-mnist") == true)

        try makeImageFiles(count: 4, height: 2, width: 2, in: directory, stem: "train")
        let missingFile = #expect(throws: DataSetError.self) {
            try FashionMNIST(directory: directory.path, environment: [:])
        }
        #expect(
            missingFile
                == .missingFile(
                    path: directory.appendingPathComponent("t10k-images-idx3-ubyte.gz").path,
                    hint: FashionMNIST.installHint))

        func expectCorrupt(labels: [UInt8], mentioning phrase: String) throws {
            try makeImageFiles(count: 4, height: 2, width: 2, in: directory, stem: "t10k", labels: labels)
            let error = #expect(throws: DataSetError.self) { try FashionMNIST.load(.test, directory: directory.path) }
            guard case .corrupt(let path, let reason)? = error else {
                Issue.record("not .corrupt: \(String(describing: error))")
                return
            }
            #expect(path.hasSuffix("t10k-labels-idx1-ubyte.gz"))
            #expect(reason.contains(phrase), "\(reason)")
        }
        try expectCorrupt(labels: [1, 2, 3], mentioning: "3 labels for the 4 images")
        try expectCorrupt(labels: [1, 2, 10, 3], mentioning: "label 10 at index 2 is outside 0..<10")
        try makeImageFiles(count: 4, height: 2, width: 2, in: directory, stem: "t10k", labels: [1, 2, 3, 4])
        #expect(try FashionMNIST.load(.test, directory: directory.path).labels == [1, 2, 3, 4])

        // Images that are not [N, H, W]:
        try writeFile(
            IDXArray(elementType: .uint8, shape: [16], bytes: Array(0..<16)).encoded,
            named: "t10k-images-idx3-ubyte.gz", in: directory, gzip: true)
        let wrongShape = #expect(throws: DataSetError.self) { try FashionMNIST.load(.test, directory: directory.path) }
        #expect(
            wrongShape?.description.contains(
                "t10k-images-idx3-ubyte.gz: expected unsigned-byte images of shape [N, H, W]") == true)
    }

    // Needs Debian's dataset-fashion-mnist package; skipped (and reported as skipped) without it.
    @Test(
        "the real Fashion-MNIST files: 60000 + 10000 images of 28×28, labels in 0..<10",
        .enabled(
            if: fashionMNISTInstalled, "dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
    )
    func realFiles() throws {
        let data = try FashionMNIST(directory: FashionMNIST.defaultDirectory)
        #expect(data.train.count == 60000 && data.test.count == 10000)
        #expect(data.train.height == 28 && data.train.width == 28 && data.test.height == 28 && data.test.width == 28)
        #expect(data.train.pixels.count == 60000 * 784)
        #expect(data.train.labels.allSatisfy { (0..<10).contains($0) })
        #expect(data.train.labels[0] == 9) // the first training image is an ankle boot
        #expect(FashionMNIST.textLabels(for: [data.train.labels[0]]) == ["ankle boot"])
        #expect(data.test.labels[0] == 9)
        // Pixel sums of the first images, computed independently with Python's gzip module.
        #expect(data.train.pixels.prefix(784).reduce(0) { $0 + Int($1) } == 76247)
        #expect(data.test.pixels.prefix(784).reduce(0) { $0 + Int($1) } == 33456)
        // Balanced classes: 6000 training and 1000 test images per class.
        for label in 0..<10 {
            #expect(data.train.labels.filter { $0 == label }.count == 6000)
            #expect(data.test.labels.filter { $0 == label }.count == 1000)
        }
        let (train, test) = data.loaders(batchSize: 256, seed: 0)
        #expect(train.batchCount == 235 && test.batchCount == 40)
        let first = Array(test.batches(epoch: 0).prefix(1))[0]
        #expect(first.images.shape == [256, 1, 28, 28])
        #expect(first.labels == Array(data.test.labels.prefix(256)))
        let pixels = first.images.scalars
        #expect(abs(pixels.prefix(784).reduce(0, +) * 255 - 33456) < 0.05)
        #expect(pixels.allSatisfy { $0 >= 0 && $0 <= 1 } && pixels.contains(1) && pixels.contains(0))
        let alexNet = data.loaders(batchSize: 2, seed: 0, testLimit: 3, resize: ImageSize(224, 224)).test
        #expect(alexNet.batchCount == 2)
        #expect(Array(alexNet.batches(epoch: 0)).map(\.images.shape) == [[2, 1, 224, 224], [1, 1, 224, 224]])
    }
}
