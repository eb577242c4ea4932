import Engine
import Foundation

/// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017, https://github.com/zalandoresearch/fashion-mnist):
/// 60 000 training and 10 000 test grey-scale images of 28×28 pixels in 10 classes, read from
/// the original IDX files that Debian's `dataset-fashion-mnist` package installs in
/// `/usr/share/datasets/fashion-mnist/`. Nothing is downloaded.
///
/// Any directory holding IDX files with the same names works (the original MNIST, for one):
/// `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`,
/// `t10k-labels-idx1-ubyte.gz`, each gzip-compressed or not (the name without `.gz` is tried too).
public struct FashionMNIST: Sendable {
    /// Where Debian's `dataset-fashion-mnist` package puts the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    /// The environment variable that overrides `defaultDirectory` (an explicit argument wins).
    public static let directoryEnvironmentVariable = "D2L_FASHION_MNIST_DIR"
    /// What to do when the files are missing.
    public static let installHint =
        "Install Fashion-MNIST with `apt-get install dataset-fashion-mnist`, "
        + "or point --data or \(directoryEnvironmentVariable) at a directory holding the four IDX files"
    /// The largest decompressed IDX file accepted: 64 MiB (the training images are 47 040 016 bytes).
    static let maximumFileSize = 64 << 20

    /// The class names, indexed by label (the book's `get_fashion_mnist_labels`).
    public static let textLabels = [
        "t-shirt", "trouser", "pullover", "dress", "coat",
        "sandal", "shirt", "sneaker", "bag", "ankle boot",
    ]

    /// The class names of `labels` (each in `0..<10`).
    public static func textLabels(for labels: [Int]) -> [String] {
        labels.map { label in
            precondition(
                label >= 0 && label < textLabels.count, "FashionMNIST.textLabels(for:): label \(label) is not in 0..<10"
            )
            return textLabels[label]
        }
    }

    /// The two halves of the data set and their file-name stems.
    public enum Split: String, Sendable, CaseIterable {
        /// The 60 000 training images (`train-…`).
        case train
        /// The 10 000 test images (`t10k-…`).
        case test

        /// The stem of the file names: `train` or `t10k`.
        var fileStem: String { self == .train ? "train" : "t10k" }
        /// The images file name, gzip-compressed.
        public var imagesFileName: String { "\(fileStem)-images-idx3-ubyte.gz" }
        /// The labels file name, gzip-compressed.
        var labelsFileName: String { "\(fileStem)-labels-idx1-ubyte.gz" }
    }

    /// The directory to read: `explicit` if given, else `$D2L_FASHION_MNIST_DIR` if set and
    /// non-empty, else `defaultDirectory`.
    public static func resolveDirectory(_ explicit: String?, environment: [String: String]) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnvironment = environment[directoryEnvironmentVariable], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return defaultDirectory
    }

    /// The directory the files were read from.
    public let directory: String
    /// The 60 000 training images and labels.
    public let train: LabeledImageSet
    /// The 10 000 test images and labels.
    public let test: LabeledImageSet

    /// Reads both splits from `directory` (see `resolveDirectory` for the default), checking that
    /// images are `[N, H, W]` unsigned bytes, labels `[N]` unsigned bytes with the same N, and every
    /// label in `0..<classCount`.
    ///
    /// - Throws: `DataSetError` naming the file: `.missingFile` (with `installHint`) for a missing
    ///   directory or file, `.corrupt` for a damaged or mismatched one.
    public init(
        directory: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
        classCount: Int = 10
    ) throws {
        let resolved = FashionMNIST.resolveDirectory(directory, environment: environment)
        self.directory = resolved
        train = try FashionMNIST.load(.train, directory: resolved, classCount: classCount)
        test = try FashionMNIST.load(.test, directory: resolved, classCount: classCount)
    }

    /// Reads one split from `directory`, validated as in `init`.
    public static func load(_ split: Split, directory: String, classCount: Int = 10) throws -> LabeledImageSet {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataSetError.missingFile(
                path: directory, hint: "The Fashion-MNIST directory does not exist. " + installHint)
        }
        let imagesURL = locate(split.imagesFileName, in: directory)
        let labelsURL = locate(split.labelsFileName, in: directory)
        let images = try IDX.read(contentsOf: imagesURL, maximumSize: maximumFileSize, missingHint: installHint)
        let labels = try IDX.read(contentsOf: labelsURL, maximumSize: maximumFileSize, missingHint: installHint)

        guard images.elementType == .uint8, images.shape.count == 3, images.shape[1] >= 1, images.shape[2] >= 1 else {
            throw DataSetError.corrupt(
                path: imagesURL.path,
                reason:
                    "expected unsigned-byte images of shape [N, H, W], got \(images.elementType) of shape \(images.shape)"
            )
        }
        guard labels.elementType == .uint8, labels.shape.count == 1 else {
            throw DataSetError.corrupt(
                path: labelsURL.path,
                reason: "expected unsigned-byte labels of shape [N], got \(labels.elementType) of shape \(labels.shape)"
            )
        }
        guard images.shape[0] == labels.shape[0] else {
            throw DataSetError.corrupt(
                path: labelsURL.path,
                reason: "\(labels.shape[0]) labels for the \(images.shape[0]) images of \(imagesURL.lastPathComponent)")
        }
        if let bad = labels.bytes.firstIndex(where: { Int($0) >= classCount }) {
            throw DataSetError.corrupt(
                path: labelsURL.path,
                reason: "label \(labels.bytes[bad]) at index \(bad) is outside 0..<\(classCount)")
        }
        return LabeledImageSet(
            pixels: images.bytes, height: images.shape[1], width: images.shape[2],
            labels: labels.bytes.map { Int($0) })
    }

    /// `directory/name`, or `directory/name` without `.gz` if only that exists.
    private static func locate(_ name: String, in directory: String) -> URL {
        let base = URL(fileURLWithPath: directory, isDirectory: true)
        let compressed = base.appendingPathComponent(name)
        let plain = base.appendingPathComponent(String(name.dropLast(3)))
        if !FileManager.default.fileExists(atPath: compressed.path), FileManager.default.fileExists(atPath: plain.path)
        {
            return plain
        }
        return compressed
    }

    /// The book's `load_data_fashion_mnist(batch_size, resize)`: a shuffled training loader
    /// (order from `seed`) and an in-order test loader, optionally over only the first
    /// `trainLimit` / `testLimit` images, each batch resized to `resize` (the book's `resize=224`
    /// is `ImageSize(224, 224)`) and passed through `transform` when given. `dropLast` applies to
    /// the training loader only; the test loader always keeps every image.
    public func loaders(
        batchSize: Int, seed: UInt64, trainLimit: Int? = nil, testLimit: Int? = nil,
        dropLast: Bool = false, resize: ImageSize? = nil, transform: ImageTransform? = nil
    )
        -> (train: ImageBatchLoader, test: ImageBatchLoader)
    {
        (
            ImageBatchLoader(
                dataSet: train, batchSize: batchSize, shuffle: true, seed: seed, dropLast: dropLast,
                limit: trainLimit, resize: resize, transform: transform),
            ImageBatchLoader(
                dataSet: test, batchSize: batchSize, shuffle: false, dropLast: false,
                limit: testLimit, resize: resize, transform: transform)
        )
    }
}
