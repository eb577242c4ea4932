import Datasets
import Engine
import Foundation
import TestSupport
import Testing

@Suite("gzip and IDX files")
struct IDXTests {
    @Test("gzip round trip, concatenated members, truncation, trailing garbage, size limit")
    func gzip() throws {
        let bytes = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 31 + $0 / 7) }
        let compressed = Gzip.compress(bytes)
        #expect(Gzip.hasMagic(compressed))
        #expect(try Gzip.decompress(compressed, name: "a.gz") == bytes)
        #expect(try Gzip.decompress(compressed + Gzip.compress([1, 2, 3]), name: "a.gz") == bytes + [1, 2, 3])
        #expect(try Gzip.decompress(Gzip.compress([]), name: "empty.gz") == [])

        #expect(throws: DataSetError.corrupt(path: "a.gz", reason: "gzip stream is truncated")) {
            try Gzip.decompress(Array(compressed.dropLast(20)), name: "a.gz")
        }
        #expect(throws: DataSetError.corrupt(path: "a.gz", reason: "3 bytes of trailing garbage after the gzip stream"))
        {
            try Gzip.decompress(compressed + [9, 9, 9], name: "a.gz")
        }
        #expect(throws: DataSetError.tooLarge(path: "a.gz", limit: 4096)) {
            try Gzip.decompress(compressed, name: "a.gz", maximumSize: 4096)
        }
        var damaged = compressed
        damaged[damaged.count - 6] ^= 0xFF // the CRC-32 trailer
        let error = #expect(throws: DataSetError.self) { try Gzip.decompress(damaged, name: "crc.gz") }
        #expect(error?.description.contains("crc.gz") == true)
    }

    @Test("every element type parses to the values written", arguments: IDXElementType.allCases)
    func elementTypes(_ type: IDXElementType) throws {
        let values: [Double] = [0, 1, 100, 7, 3, 42]
        var data: [UInt8] = []
        for value in values {
            let bits: UInt64
            switch type {
            case .uint8, .int8: bits = UInt64(value)
            case .int16, .int32: bits = UInt64(bitPattern: Int64(value) - 3) & (type == .int16 ? 0xFFFF : 0xFFFF_FFFF)
            case .float32: bits = UInt64(Float(value / 8).bitPattern)
            case .float64: bits = (value / 8).bitPattern
            }
            for shift in stride(from: 8 * (type.byteWidth - 1), through: 0, by: -8) {
                data.append(UInt8(bits >> UInt64(shift) & 0xFF))
            }
        }
        let parsed = try IDX.parse(IDXArray(elementType: type, shape: [2, 3], bytes: data).encoded, name: "x.idx")
        #expect(parsed.elementType == type && parsed.shape == [2, 3] && parsed.count == 6)
        let expected = values.map { value -> Double in
            switch type {
            case .uint8, .int8: return value
            case .int16, .int32: return value - 3 // includes a negative value
            case .float32, .float64: return value / 8
            }
        }
        #expect((0..<6).map { parsed.value(at: $0) } == expected)
    }

    @Test("valid raw and gzip files read the same; corrupt ones throw errors naming the file")
    func readFiles() throws {
        let directory = try makeTemporaryDirectory("idx")
        defer { try? FileManager.default.removeItem(at: directory) }
        let array = IDXArray(elementType: .uint8, shape: [3, 2, 2], bytes: Array(0..<12))
        let raw = try writeFile(array.encoded, named: "a-idx3-ubyte", in: directory)
        let gz = try writeFile(array.encoded, named: "a-idx3-ubyte.gz", in: directory, gzip: true)
        #expect(try IDX.read(contentsOf: raw) == array)
        #expect(try IDX.read(contentsOf: gz) == array)
        #expect(array.integers == Array(0..<12))

        func expectCorrupt(_ bytes: [UInt8], gzip: Bool, mentioning phrase: String) throws {
            let url = try writeFile(bytes, named: "bad\(gzip ? ".gz" : "")", in: directory, gzip: gzip)
            let error = #expect(throws: DataSetError.self) { try IDX.read(contentsOf: url) }
            guard case .corrupt(let path, let reason)? = error else {
                Issue.record("not .corrupt: \(String(describing: error))")
                return
            }
            #expect(path == url.path)
            #expect(reason.contains(phrase), "\(reason)")
            #expect(error!.description.contains(url.path))
        }
        for gzip in [false, true] {
            try expectCorrupt(Array(array.encoded.dropLast()), gzip: gzip, mentioning: "truncated data")
            try expectCorrupt(array.encoded + [0], gzip: gzip, mentioning: "trailing garbage")
            try expectCorrupt([1, 0, 8, 1, 0, 0, 0, 0], gzip: gzip, mentioning: "bad IDX magic")
            try expectCorrupt([0, 0, 0x0A, 1, 0, 0, 0, 0], gzip: gzip, mentioning: "unsupported IDX element type 0x0a")
            try expectCorrupt([0, 0, 8, 3, 0, 0, 0, 1], gzip: gzip, mentioning: "truncated header")
            try expectCorrupt([0, 0, 8, 0], gzip: gzip, mentioning: "0 dimensions")
            try expectCorrupt([0, 0], gzip: gzip, mentioning: "shorter than the 4-byte")
        }
        // A huge declared shape must not overflow or allocate.
        try expectCorrupt(
            [0, 0, 0x0E, 3] + [UInt8](repeating: 0xFF, count: 12), gzip: false, mentioning: "truncated data")

        let missing = directory.appendingPathComponent("nope.gz")
        #expect(throws: DataSetError.missingFile(path: missing.path, hint: "get it")) {
            try IDX.read(contentsOf: missing, missingHint: "get it")
        }
        #expect(throws: DataSetError.tooLarge(path: raw.path, limit: 10)) {
            try IDX.read(contentsOf: raw, maximumSize: 10)
        }
    }
}
