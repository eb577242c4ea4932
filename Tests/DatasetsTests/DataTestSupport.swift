import Datasets
import Engine
import Foundation
import TestSupport

/// Writes `bytes` to `directory/name`, gzip-compressed when `gzip` is set; returns the URL.
@discardableResult
func writeFile(_ bytes: [UInt8], named name: String, in directory: URL, gzip: Bool = false) throws -> URL {
    let url = directory.appendingPathComponent(name)
    try Data(gzip ? Gzip.compress(bytes) : bytes).write(to: url)
    return url
}

/// A small IDX image set made up by the tests: image `i` has pixel `j` = `(7 i + j) mod 256`,
/// label `i mod 10`.
func makeImageFiles(
    count: Int, height: Int, width: Int, in directory: URL, stem: String = "train",
    gzip: Bool = true, labels: [UInt8]? = nil
) throws {
    let pixels = (0..<(count * height * width)).map {
        UInt8(((($0 / (height * width)) * 7) + $0 % (height * width)) % 256)
    }
    let images = IDXArray(elementType: .uint8, shape: [count, height, width], bytes: pixels)
    let labelArray = IDXArray(
        elementType: .uint8, shape: [labels?.count ?? count],
        bytes: labels ?? (0..<count).map { UInt8($0 % 10) })
    let suffix = gzip ? ".gz" : ""
    try writeFile(images.encoded, named: "\(stem)-images-idx3-ubyte\(suffix)", in: directory, gzip: gzip)
    try writeFile(labelArray.encoded, named: "\(stem)-labels-idx1-ubyte\(suffix)", in: directory, gzip: gzip)
}

/// Whether Debian's `dataset-fashion-mnist` package is installed (its training images exist).
let fashionMNISTInstalled = FileManager.default.fileExists(
    atPath: FashionMNIST.defaultDirectory + "/" + FashionMNIST.Split.train.imagesFileName)
