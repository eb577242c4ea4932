import Engine
import Foundation
import Testing

/// A tensor as the reference generators write it: shape and row-major values.
struct TensorFixture: Codable, Sendable {
    var shape: [Int]
    var data: [Float]

    var tensor: Tensor { Tensor(data, shape: shape) }
}

/// The directory of the committed fixture files (found from this source file, so tests run from
/// any working directory and never need Python).
let fixturesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// Decodes the fixture file `name` of type `T`; a missing or malformed file is a test failure
/// naming the file.
func loadFixture<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
    let url = fixturesDirectory.appendingPathComponent(name)
    return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
}
