import Foundation
import TestSupport
import Testing

@testable import Engine

/// The bytes of a safetensors file with the given JSON header and data section; `headerLength`
/// overrides the 8-byte length field.
func safetensorsBytes(header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> Data {
    let headerBytes = Array(header.utf8)
    var bytes = Data()
    withUnsafeBytes(of: (headerLength ?? UInt64(headerBytes.count)).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: headerBytes)
    bytes.append(contentsOf: data)
    return bytes
}

/// The error `SafeTensors.decode` throws for `data`, or `nil` if it succeeds; an error of
/// another type is a test failure.
func decodingError(_ data: Data, sourceLocation: SourceLocation = #_sourceLocation) -> SafeTensorsError? {
    do {
        _ = try SafeTensors.decode(data)
        return nil
    } catch let error as SafeTensorsError {
        #expect(!error.description.isEmpty, sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("unexpected error type \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

@Suite("safetensors: round trips and PyTorch interop")
struct SafeTensorsRoundTripTests {
    @Test("a tensor, a list, a dictionary and metadata survive a round trip")
    func roundTrips() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let x = Tensor.arange(0, 4), y = Tensor([[1, 2], [3, -4.5]]), scalar = Tensor(scalar: 7)
        let empty = Tensor.zeros([0, 3])

        try SafeTensors.save(x, to: directory.appendingPathComponent("x-file"))
        #expect(try SafeTensors.loadTensor(from: directory.appendingPathComponent("x-file")).scalars == x.scalars)

        try SafeTensors.save([x, y, scalar, empty], to: directory.appendingPathComponent("x-files"))
        let list = try SafeTensors.loadTensors(from: directory.appendingPathComponent("x-files"))
        #expect(list.map(\.shape) == [[4], [2, 2], [], [0, 3]])
        #expect(list.map(\.scalars) == [x.scalars, y.scalars, [7], []])

        let url = directory.appendingPathComponent("mydict")
        try SafeTensors.save(["x": x, "y": y], metadata: ["format": "pt", "quote \"\\ ünï\n": "ok"], to: url)
        let contents = try SafeTensors.read(from: url)
        #expect(contents.metadata == ["format": "pt", "quote \"\\ ünï\n": "ok"])
        #expect(contents.dictionary["y"]?.scalars == y.scalars)
        #expect(throws: SafeTensorsError.self) { try SafeTensors.loadTensor(from: url) } // two tensors, not one

        // The header is padded to 8 bytes and the data follows without gaps.
        let bytes = try Data(contentsOf: url)
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        #expect(headerLength % 8 == 0)
        #expect(bytes.count == 8 + headerLength + (4 + 4) * 4)
    }

    @Test("Int64 tensors are exact integers in Float tensors; I64 entries reject fractions")
    func int64() throws {
        let entries = [SafeTensors.Entry(key: "count", tensor: Tensor([3, -16_777_216]), elementType: .int64)]
        let decoded = try SafeTensors.decode(SafeTensors.encode(entries))
        #expect(decoded.entries[0].elementType == .int64)
        #expect(decoded.entries[0].tensor.scalars == [3, -16_777_216])
        #expect(throws: SafeTensorsError.valueNotRepresentable(key: "bad", value: "0.5")) {
            try SafeTensors.encode([SafeTensors.Entry(key: "bad", tensor: Tensor([0.5]), elementType: .int64)])
        }
        // 2²⁴ + 1 has no exact Float32.
        var data = Data(safetensorsBytes(header: #"{"n":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#))
        withUnsafeBytes(of: Int64(16_777_217).littleEndian) { data.append(contentsOf: $0) }
        #expect(decodingError(data) == .valueNotRepresentable(key: "n", value: "16777217"))
        #expect(throws: SafeTensorsError.invalidKey("a")) {
            try SafeTensors.encode([SafeTensors.Entry(key: "a", tensor: x1), SafeTensors.Entry(key: "a", tensor: x1)])
        }
    }

    let x1 = Tensor([1])

    @Test("files written by PyTorch's safetensors load with their values, dtypes and metadata")
    func readsPyTorchFile() throws {
        let fixtures = try #require(layerFixtures)
        let contents = try SafeTensors.read(from: safetensorsFixture("torch_tensors.safetensors"))
        #expect(contents.metadata == ["format": "pt", "source": "generate_layer_fixtures.py"])
        #expect(Set(contents.entries.map(\.key)) == Set(fixtures.torchTensors.keys))
        for entry in contents.entries {
            let expected = try #require(fixtures.torchTensors[entry.key])
            #expect(entry.tensor.shape == expected.shape, "\(entry.key)")
            #expect(entry.tensor.scalars == expected.data, "\(entry.key)")
            #expect(entry.elementType == (entry.key == "counts" ? .int64 : .float32), "\(entry.key)")
        }
    }

    @Test("a PyTorch batch-norm network's state dict loads strictly and gives PyTorch's eval output")
    func loadsPyTorchStateDict() throws {
        let fixtures = try #require(layerFixtures)
        var generator = RandomGenerator(seed: 31)
        let net = Sequential {
            Linear(inputFeatures: 4, outputFeatures: 3, using: &generator)
            BatchNorm1D(featureCount: 3)
            ReLU()
            Linear(inputFeatures: 3, outputFeatures: 2, using: &generator)
        }
        try net.loadStateDict(from: safetensorsFixture("batchnorm_mlp.safetensors"))
        #expect((net[1] as! BatchNorm1D).batchesTracked.item == 3)
        net.eval()
        expectClose(net(fixtures.batchNormInput.tensor), fixtures.batchNormEvalOutput.tensor, "eval output")

        // Saved back, num_batches_tracked is I64 again and the keys are PyTorch's, in its order.
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("batchnorm_mlp.safetensors")
        try net.saveStateDict(to: url, metadata: ["format": "pt"])
        let entries = try SafeTensors.read(from: url).entries
        #expect(
            entries.map(\.key) == [
                "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                "1.num_batches_tracked", "3.weight", "3.bias",
            ])
        #expect(entries.filter { $0.elementType == .int64 }.map(\.key) == ["1.num_batches_tracked"])
        // For the manual check with Tools/Reference/check_swift_safetensors.py.
        if let exportPath = ProcessInfo.processInfo.environment["D2L_EXPORT_SAFETENSORS"] {
            try net.saveStateDict(to: URL(fileURLWithPath: exportPath), metadata: ["format": "pt"])
        }
    }
}

@Suite("safetensors: strict state-dict loading")
struct StateDictLoadingTests {
    func network() -> Sequential {
        var generator = RandomGenerator(seed: 41)
        return Sequential {
            Linear(inputFeatures: 2, outputFeatures: 3, using: &generator)
            BatchNorm1D(featureCount: 3)
        }
    }

    @Test("missing keys, unexpected keys and shape mismatches are typed errors that change nothing")
    func strictErrors() throws {
        let net = network(), source = network()
        var generator = RandomGenerator(seed: 42)
        source.initializeWeights(.constant(2), using: &generator)
        var state = source.stateDict()
        let before = net.stateDict().mapValues { $0.copy() }

        state["1.num_batches_tracked"] = nil
        #expect(throws: StateDictError.keyMismatch(missing: ["1.num_batches_tracked"], unexpected: [])) {
            try net.loadStateDict(state)
        }
        state["1.num_batches_tracked"] = Tensor(scalar: 1)
        state["2.weight"] = Tensor.zeros([1])
        #expect(throws: StateDictError.keyMismatch(missing: [], unexpected: ["2.weight"])) {
            try net.loadStateDict(state)
        }
        state["2.weight"] = nil
        state["0.weight"] = Tensor.zeros([2, 3])
        #expect(throws: StateDictError.shapeMismatch(key: "0.weight", expected: [3, 2], found: [2, 3])) {
            try net.loadStateDict(state)
        }
        for (key, tensor) in net.stateDict() { #expect(tensor.scalars == before[key]!.scalars, "\(key) changed") }

        // Non-strict: loads the common keys and reports the rest.
        state["0.weight"] = nil
        state["extra"] = Tensor.zeros([1])
        let report = try net.loadStateDict(state, strict: false)
        #expect(report.missing == ["0.weight"] && report.unexpected == ["extra"])
        #expect((net[0] as! Linear).bias!.scalars == (source[0] as! Linear).bias!.scalars)
        #expect(
            StateDictError.keyMismatch(missing: ["a"], unexpected: ["b"]).description.contains("missing keys [\"a\"]"))
    }
}

@Suite("safetensors: hostile input")
struct SafeTensorsHostileInputTests {
    let validHeader = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
    let eightBytes = [UInt8](repeating: 0, count: 8)

    @Test("a valid minimal file decodes")
    func minimal() throws {
        let contents = try SafeTensors.decode(safetensorsBytes(header: validHeader, data: eightBytes))
        #expect(contents.entries.map(\.key) == ["a"])
        #expect(try SafeTensors.decode(safetensorsBytes(header: "{}")).entries.isEmpty)
    }

    @Test("truncated files")
    func truncated() {
        for count in 0..<8 {
            #expect(decodingError(Data(repeating: 0, count: count)) == .truncated(byteCount: count))
        }
        let full = safetensorsBytes(header: validHeader, data: eightBytes)
        // Cut inside the data: the header's offsets no longer fit.
        #expect(
            decodingError(full.prefix(full.count - 3)) == .offsetsOutOfRange(key: "a", offsets: [0, 8], dataSize: 5))
        // Cut inside the header.
        #expect(
            decodingError(full.prefix(20))
                == .headerExceedsFile(headerLength: UInt64(validHeader.utf8.count), fileSize: 20))
    }

    @Test("header lengths larger than the file or absurd")
    func headerLength() {
        #expect(
            decodingError(safetensorsBytes(header: "{}", headerLength: 3))
                == .headerExceedsFile(headerLength: 3, fileSize: 10))
        #expect(
            decodingError(safetensorsBytes(header: "{}", headerLength: .max))
                == .headerTooLarge(headerLength: .max, limit: SafeTensors.maximumHeaderLength))
        #expect(
            decodingError(safetensorsBytes(header: "{}", headerLength: 1 << 40))
                == .headerTooLarge(headerLength: 1 << 40, limit: SafeTensors.maximumHeaderLength))
    }

    @Test(
        "malformed JSON and malformed entries",
        arguments: [
            #"{"a": "#,
            #"[1, 2]"#,
            #"{"a":{"dtype":"F32","shape":[2]}}"#,
            #"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#,
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}}"#,
            #"{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#,
            #"{"a":{"dtype":"F32","shape":[1e30],"data_offsets":[0,8]}}"#,
            #"{"__metadata__":{"n":1}}"#,
            "{\"a\":\u{FF}}",
            "",
            "{\"a\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}",
        ])
    func malformed(_ header: String) {
        guard case .malformedHeader = decodingError(safetensorsBytes(header: header, data: eightBytes)) else {
            Issue.record("expected malformedHeader for \(header.debugDescription)")
            return
        }
    }

    @Test("unknown dtypes")
    func unknownDType() {
        let data = safetensorsBytes(
            header: #"{"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}"#, data: eightBytes)
        #expect(decodingError(data) == .unsupportedDType(key: "a", dtype: "F16"))
        let other = safetensorsBytes(
            header: #"{"a":{"dtype":"X9","shape":[2],"data_offsets":[0,8]}}"#, data: eightBytes)
        #expect(decodingError(other) == .unsupportedDType(key: "a", dtype: "X9"))
    }

    @Test("out-of-range, reversed, overlapping and gapped offsets, and trailing bytes")
    func offsets() {
        func file(_ entries: String, _ dataCount: Int) -> Data {
            safetensorsBytes(header: "{" + entries + "}", data: [UInt8](repeating: 0, count: dataCount))
        }
        #expect(
            decodingError(file(#""a":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}"#, 8))
                == .offsetsOutOfRange(key: "a", offsets: [0, 400], dataSize: 8))
        #expect(
            decodingError(file(#""a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}"#, 8))
                == .offsetsOutOfRange(key: "a", offsets: [8, 4], dataSize: 8))
        #expect(
            decodingError(file(#""a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}"#, 8))
                == .offsetsOutOfRange(key: "a", offsets: [-4, 0], dataSize: 8))
        #expect(
            decodingError(file(#""a":{"dtype":"F32","shape":[0],"data_offsets":[0,9223372036854775807]}"#, 8))
                == .offsetsOutOfRange(key: "a", offsets: [0, Int.max], dataSize: 8))
        #expect(
            decodingError(
                file(
                    #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}"#,
                    12))
                == .overlappingOffsets(key: "b", otherKey: "a"))
        #expect(
            decodingError(
                file(
                    #""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}"#,
                    12))
                == .gapInData(key: "b", expectedOffset: 4, foundOffset: 8))
        #expect(
            decodingError(file(#""a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}"#, 8))
                == .gapInData(key: "a", expectedOffset: 0, foundOffset: 4))
        #expect(
            decodingError(file(#""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, 8))
                == .trailingData(usedByteCount: 4, dataSize: 8))
    }

    @Test("shapes that do not match their bytes, negative extents and absurd sizes")
    func shapes() {
        func file(_ shape: String, _ offsets: String = "[0,8]") -> Data {
            safetensorsBytes(
                header: #"{"a":{"dtype":"F32","shape":"# + shape + #","data_offsets":"# + offsets + "}}",
                data: [UInt8](repeating: 0, count: 8))
        }
        #expect(decodingError(file("[3]")) == .sizeMismatch(key: "a", dtype: "F32", shape: [3], byteCount: 8))
        #expect(decodingError(file("[2,-1]")) == .invalidShape(key: "a", shape: [2, -1]))
        #expect(
            decodingError(file("[1099511627776,1099511627776]"))
                == .sizeMismatch(key: "a", dtype: "F32", shape: [1 << 40, 1 << 40], byteCount: 8))
        #expect(
            decodingError(file("[9223372036854775807,2]"))
                == .sizeMismatch(key: "a", dtype: "F32", shape: [Int.max, 2], byteCount: 8))
        // An element count that overflows when multiplied by the element size.
        #expect(
            decodingError(file("[4611686018427387904]"))
                == .sizeMismatch(key: "a", dtype: "F32", shape: [1 << 62], byteCount: 8))
    }

    @Test("seeded random corruptions of a valid file throw SafeTensorsError or decode consistently")
    func fuzz() throws {
        let valid = try SafeTensors.encode(
            [
                SafeTensors.Entry(key: "0.weight", tensor: Tensor([[1, 2, 3], [4, 5, 6]])),
                SafeTensors.Entry(key: "0.bias", tensor: Tensor([0.5, -0.5])),
                SafeTensors.Entry(key: "1.num_batches_tracked", tensor: Tensor(scalar: 3), elementType: .int64),
            ], metadata: ["format": "pt"])
        var generator = RandomGenerator(seed: 20261128)
        var failures = 0, successes = 0
        for _ in 0..<400 {
            var bytes = [UInt8](valid)
            switch generator.nextInt(below: 5) {
            case 0: // flip a few random bytes anywhere
                for _ in 0...generator.nextInt(below: 4) {
                    bytes[generator.nextInt(below: bytes.count)] ^= UInt8(1 + generator.nextInt(below: 255))
                }
            case 1: // truncate
                bytes = Array(bytes.prefix(generator.nextInt(below: bytes.count)))
            case 2: // overwrite the header length
                let length = generator.next() >> UInt64(generator.nextInt(below: 64))
                withUnsafeBytes(of: length.littleEndian) { for i in 0..<8 { bytes[i] = $0[i] } }
            case 3: // replace a digit of the header (shapes, offsets)
                let digits = bytes.indices.filter { $0 >= 8 && $0 < valid.count - 40 && (48...57).contains(bytes[$0]) }
                if let index = digits.randomElement(using: &generator) {
                    bytes[index] = UInt8(48 + generator.nextInt(below: 10))
                }
            default: // insert random bytes
                let position = 8 + generator.nextInt(below: bytes.count - 8)
                bytes.insert(
                    contentsOf: (0..<(1 + generator.nextInt(below: 8))).map { _ in UInt8(generator.nextInt(below: 256))
                    }, at: position)
            }
            do {
                let contents = try SafeTensors.decode(Data(bytes))
                let dataBytes = contents.entries.reduce(0) { $0 + $1.tensor.count * $1.elementType.byteCount }
                #expect(dataBytes <= bytes.count)
                successes += 1
            } catch is SafeTensorsError {
                failures += 1
            }
        }
        #expect(failures > 200) // most corruptions are caught
        #expect(failures + successes == 400)
    }
}

@Suite("safetensors: atomic writes")
struct AtomicWriteTests {
    struct InjectedFailure: Error {}

    @Test("a write that fails before the rename leaves the old file intact and no temporary file")
    func failedWriteKeepsOldFile() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("model.safetensors")
        try SafeTensors.save(Tensor([1, 2, 3]), to: url)
        let old = try Data(contentsOf: url)

        #expect(throws: InjectedFailure.self) {
            try SafeTensors.writeAtomically(to: url, beforeRename: { throw InjectedFailure() }) { sink in
                try [UInt8](repeating: 7, count: 100).withUnsafeBytes { try sink($0) }
            }
        }
        #expect(try Data(contentsOf: url) == old)
        // Encoding errors happen before anything is written.
        #expect(throws: SafeTensorsError.invalidKey("")) {
            try SafeTensors.write([SafeTensors.Entry(key: "", tensor: Tensor([9]))], to: url)
        }
        #expect(try Data(contentsOf: url) == old)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.safetensors"])

        // A successful write replaces it.
        try SafeTensors.save(Tensor([4, 5]), to: url)
        #expect(try SafeTensors.loadTensor(from: url).scalars == [4, 5])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.safetensors"])
    }

    @Test("unreadable and unwritable paths are io errors")
    func ioErrors() {
        let missing = URL(fileURLWithPath: "/nonexistent-d2l-directory/model.safetensors")
        #expect(throws: SafeTensorsError.self) { try SafeTensors.save(Tensor([1]), to: missing) }
        #expect(throws: SafeTensorsError.self) { try SafeTensors.loadTensor(from: missing) }
    }
}
