import Engine
import Foundation

/// The element types of the IDX format (the third byte of the magic number).
public enum IDXElementType: UInt8, Sendable, CaseIterable {
    /// Unsigned byte (`0x08`): the pixels and labels of MNIST and Fashion-MNIST.
    case uint8 = 0x08
    /// Signed byte (`0x09`).
    case int8 = 0x09
    /// Big-endian signed 16-bit integer (`0x0B`).
    case int16 = 0x0B
    /// Big-endian signed 32-bit integer (`0x0C`).
    case int32 = 0x0C
    /// Big-endian IEEE 754 single precision (`0x0D`).
    case float32 = 0x0D
    /// Big-endian IEEE 754 double precision (`0x0E`).
    case float64 = 0x0E

    /// The size of one element in bytes.
    public var byteWidth: Int {
        switch self {
        case .uint8, .int8: return 1
        case .int16: return 2
        case .int32, .float32: return 4
        case .float64: return 8
        }
    }
}

/// An array read from an IDX file (the format of the MNIST and Fashion-MNIST files,
/// http://yann.lecun.com/exdb/mnist/): its element type, shape, and the data bytes exactly as
/// stored (row-major, big-endian for multi-byte types). Keeping the raw bytes lets 60 000
/// 28×28 images stay in 47 MB of memory instead of 188 MB of `Float`s.
public struct IDXArray: Sendable, Equatable {
    /// The type of the elements.
    public let elementType: IDXElementType
    /// The extents, outermost first (`[N, 28, 28]` for an image file, `[N]` for a label file).
    public let shape: [Int]
    /// The data bytes: `shape.product · elementType.byteWidth` of them.
    public let bytes: [UInt8]

    /// An array of `elementType` and `shape` over `bytes` (row-major, big-endian); the number of
    /// bytes must match.
    public init(elementType: IDXElementType, shape: [Int], bytes: [UInt8]) {
        precondition(
            shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) * elementType.byteWidth == bytes.count,
            "IDXArray: \(bytes.count) bytes do not hold shape \(shape) of \(elementType)")
        self.elementType = elementType
        self.shape = shape
        self.bytes = bytes
    }

    /// The number of elements (the product of `shape`).
    public var count: Int { bytes.count / elementType.byteWidth }

    /// The element at flat (row-major) index `index`, converted to `Double` (exact for every type).
    public func value(at index: Int) -> Double {
        precondition(index >= 0 && index < count, "IDXArray.value(at:): index \(index) out of range 0..<\(count)")
        let width = elementType.byteWidth
        var bits: UInt64 = 0
        for byte in bytes[(index * width)..<(index * width + width)] { bits = bits << 8 | UInt64(byte) }
        switch elementType {
        case .uint8: return Double(bits)
        case .int8: return Double(Int8(truncatingIfNeeded: bits))
        case .int16: return Double(Int16(truncatingIfNeeded: bits))
        case .int32: return Double(Int32(truncatingIfNeeded: bits))
        case .float32: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case .float64: return Double(bitPattern: bits)
        }
    }

    /// All elements as `Float`, row-major (float64 and int32 values are rounded to nearest).
    public var floats: [Float] { (0..<count).map { Float(value(at: $0)) } }

    /// All elements as `Int`, for the integer types; `nil` for float32/float64 arrays.
    public var integers: [Int]? {
        switch elementType {
        case .uint8: return bytes.map { Int($0) }
        case .float32, .float64: return nil
        default: return (0..<count).map { Int(value(at: $0)) }
        }
    }

    /// The file contents that encode this array: magic `00 00 type rank`, the big-endian `UInt32`
    /// extents, then the data bytes (uncompressed).
    public var encoded: [UInt8] {
        var result: [UInt8] = [0, 0, elementType.rawValue, UInt8(shape.count)]
        for extent in shape {
            let value = UInt32(extent)
            result += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        return result + bytes
    }
}

/// Reading IDX files, raw or gzip-compressed.
public enum IDX {
    /// Reads and validates the IDX file at `url`, decompressing it first when it starts with the
    /// gzip magic `1f 8b` (whatever its name).
    ///
    /// - Parameters:
    ///   - url: the file to read.
    ///   - maximumSize: the largest (decompressed) file size accepted, in bytes.
    ///   - missingHint: what to tell the user when the file does not exist (how to install it).
    /// - Throws: `DataSetError.missingFile` (with `missingHint` as the hint) when there is no such
    ///   file, `.unreadable`, `.tooLarge`, or `.corrupt` for a damaged file (see `parse`).
    public static func read(
        contentsOf url: URL, maximumSize: Int = Gzip.defaultMaximumSize,
        missingHint: String = ""
    ) throws -> IDXArray {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataSetError.missingFile(path: path, hint: missingHint)
        }
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = attributes[.size] as? NSNumber, size.intValue > maximumSize
        {
            throw DataSetError.tooLarge(path: path, limit: maximumSize)
        }
        let contents: [UInt8]
        do {
            contents = [UInt8](try Data(contentsOf: url))
        } catch {
            throw DataSetError.unreadable(path: path, reason: error.localizedDescription)
        }
        let bytes =
            Gzip.hasMagic(contents) ? try Gzip.decompress(contents, name: path, maximumSize: maximumSize) : contents
        return try parse(bytes, name: path)
    }

    /// Parses the (uncompressed) contents of an IDX file: two zero bytes, the element-type byte,
    /// the number of dimensions (1 to 255), that many big-endian `UInt32` extents, then exactly
    /// `∏ extents · byteWidth` data bytes.
    ///
    /// - Parameters:
    ///   - bytes: the whole file, decompressed.
    ///   - name: the file name for error messages.
    /// - Throws: `DataSetError.corrupt` naming `name` for a bad magic number, an unknown element
    ///   type, no dimensions, a header or data shorter than announced, or bytes after the data.
    public static func parse(_ bytes: [UInt8], name: String) throws -> IDXArray {
        func corrupt(_ reason: String) -> DataSetError { .corrupt(path: name, reason: reason) }
        guard bytes.count >= 4 else {
            throw corrupt("only \(bytes.count) bytes, shorter than the 4-byte IDX magic number")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            let hint = Gzip.hasMagic(bytes) ? " (it looks gzip-compressed)" : ""
            throw corrupt(
                String(
                    format: "bad IDX magic number %02x %02x %02x %02x: the first two bytes must be 0%@",
                    bytes[0], bytes[1], bytes[2], bytes[3], hint))
        }
        guard let elementType = IDXElementType(rawValue: bytes[2]) else {
            throw corrupt(
                String(
                    format: "unsupported IDX element type 0x%02x (expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)",
                    bytes[2]))
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else { throw corrupt("IDX header declares 0 dimensions") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw corrupt("truncated header: \(rank) dimensions need \(headerSize) bytes, the file has \(bytes.count)")
        }
        var shape: [Int] = []
        var elementCount = 1, overflow = false
        for axis in 0..<rank {
            let offset = 4 + 4 * axis
            let extent =
                Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8
                | Int(bytes[offset + 3])
            shape.append(extent)
            let product = elementCount.multipliedReportingOverflow(by: extent)
            overflow = overflow || product.overflow
            elementCount = product.partialValue
        }
        let dataSize = elementCount.multipliedReportingOverflow(by: elementType.byteWidth)
        let available = bytes.count - headerSize
        guard !overflow, !dataSize.overflow, dataSize.partialValue <= available else {
            throw corrupt(
                "truncated data: shape \(shape) of \(elementType) needs \(overflow || dataSize.overflow ? "more than Int.max" : String(dataSize.partialValue)) bytes, the file has \(available) after the header"
            )
        }
        guard dataSize.partialValue == available else {
            throw corrupt(
                "\(available - dataSize.partialValue) bytes of trailing garbage after the data of shape \(shape)")
        }
        return IDXArray(elementType: elementType, shape: shape, bytes: Array(bytes[headerSize...]))
    }
}
