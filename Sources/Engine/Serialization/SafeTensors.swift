import Foundation

/// Reading and writing the safetensors format (https://github.com/huggingface/safetensors):
///
///     [8 bytes: header length N, little-endian UInt64]
///     [N bytes: JSON object, UTF-8, padded with spaces]
///         { "__metadata__": {"key": "value", …},                       (optional)
///           "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, … }
///     [the data: each tensor's elements, row-major, little-endian, at data_offsets (relative to
///      the start of the data), the tensors laid out without gaps or overlap, to the end of file]
///
/// Engine tensors are `Float32`. `F32` and `I64` can be read and written; an `I64` tensor is
/// read into a `Float` tensor when each value is exactly representable (|v| ≤ 2²⁴, plenty for
/// counters like `num_batches_tracked`) and written back as `I64` when its entry says so.
///
/// Files from outside are untrusted: every malformed or inconsistent input throws a
/// `SafeTensorsError` naming the problem, and nothing larger than the file is allocated.
public enum SafeTensors {
    /// One tensor of a file, under its key, with the element type it has (or will have) on disk.
    public struct Entry {
        /// The tensor's name in the file (e.g. `0.weight`).
        public var key: String
        /// The values (always `Float32` in memory).
        public var tensor: Tensor
        /// The element type on disk.
        public var elementType: ElementType

        /// A named tensor stored as `elementType` (default `F32`).
        public init(key: String, tensor: Tensor, elementType: ElementType = .float32) {
            self.key = key
            self.tensor = tensor
            self.elementType = elementType
        }
    }

    /// The contents of a file: its tensors in the order of their data, and its metadata.
    public struct Contents {
        /// The tensors, ordered by their position in the data section.
        public var entries: [Entry]
        /// The `__metadata__` string map (empty if the file has none).
        public var metadata: [String: String]

        /// The tensors by key.
        public var dictionary: [String: Tensor] {
            Dictionary(entries.map { ($0.key, $0.tensor) }, uniquingKeysWith: { first, _ in first })
        }
    }

    /// The largest header accepted (as the reference implementation: 100 MB).
    public static let maximumHeaderLength = 100_000_000

    // MARK: Encoding

    /// The bytes of a safetensors file holding `entries` in the given order, with `metadata`.
    /// Throws `SafeTensorsError.invalidKey` for an empty, duplicate or reserved key, and
    /// `.valueNotRepresentable` for an `I64` entry holding a non-integer value.
    public static func encode(_ entries: [Entry], metadata: [String: String] = [:]) throws -> Data {
        var data = Data()
        try serialize(entries, metadata: metadata) { data.append(contentsOf: $0) }
        return data
    }

    /// Checks `entries` and passes the file's bytes to `sink` in order: the length field, the
    /// header, then each tensor's data straight from its memory (`F32`; `I64` values are converted
    /// one tensor at a time), so a large state dict is never copied whole. Every check happens
    /// before the first byte is passed on.
    static func serialize(
        _ entries: [Entry], metadata: [String: String],
        into sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var seen: Set<String> = []
        for entry in entries {
            guard !entry.key.isEmpty, entry.key != "__metadata__", seen.insert(entry.key).inserted else {
                throw SafeTensorsError.invalidKey(entry.key)
            }
            if entry.elementType == .int64 {
                for value in entry.tensor.buffer
                where !(value.isFinite && value.rounded() == value && abs(value) <= 0x1p24) {
                    throw SafeTensorsError.valueNotRepresentable(key: entry.key, value: String(describing: value))
                }
            }
        }
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            fields.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for entry in entries {
            let end = offset + entry.tensor.count * entry.elementType.byteCount
            fields.append(
                "\(jsonString(entry.key)):{\"dtype\":\"\(entry.elementType.rawValue)\",\"shape\":\(entry.tensor.shape),\"data_offsets\":[\(offset),\(end)]}"
            )
            offset = end
        }
        var header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
        // Pad with spaces so the data starts at a multiple of 8 bytes (as the reference writer does).
        while header.count % 8 != 0 { header.append(0x20) }

        try withUnsafeBytes(of: UInt64(header.count).littleEndian) { try sink($0) }
        try header.withUnsafeBytes { try sink($0) }
        for entry in entries {
            let tensor = entry.tensor
            switch entry.elementType {
            case .float32:
                #if _endian(little)
                try sink(UnsafeRawBufferPointer(start: tensor.pointer, count: tensor.count * 4))
                #else
                let values = tensor.scalars.map { $0.bitPattern.littleEndian }
                try values.withUnsafeBytes { try sink($0) }
                #endif
            case .int64:
                let values = tensor.scalars.map { Int64($0).littleEndian }
                try values.withUnsafeBytes { try sink($0) }
            }
        }
    }

    /// `value` as a JSON string literal (quotes, backslashes and control characters escaped).
    private static func jsonString(_ value: String) -> String {
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    result += String(format: "\\u%04x", scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    // MARK: Decoding

    /// One tensor's header entry as written in the JSON.
    private struct HeaderEntry: Decodable {
        var dtype: String
        var shape: [Int]
        var data_offsets: [Int]
    }

    /// The JSON header: tensor entries by key and the optional metadata.
    private struct Header: Decodable {
        var entries: [(key: String, entry: HeaderEntry)] = []
        var metadata: [String: String] = [:]

        private struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            for key in container.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try container.decode([String: String].self, forKey: key)
                } else {
                    entries.append((key.stringValue, try container.decode(HeaderEntry.self, forKey: key)))
                }
            }
        }
    }

    /// Parses and validates the bytes of a safetensors file. Every check happens before any
    /// tensor is allocated, and the tensors together are exactly as large as the data section.
    public static func decode(_ data: Data) throws -> Contents {
        guard data.count >= 8 else { throw SafeTensorsError.truncated(byteCount: data.count) }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) {
            $0 | UInt64($1.element) << (8 * UInt64($1.offset))
        }
        guard headerLength <= UInt64(maximumHeaderLength) else {
            throw SafeTensorsError.headerTooLarge(headerLength: headerLength, limit: maximumHeaderLength)
        }
        guard headerLength <= UInt64(data.count - 8) else {
            throw SafeTensorsError.headerExceedsFile(headerLength: headerLength, fileSize: data.count)
        }
        let headerEnd = data.startIndex + 8 + Int(headerLength)
        let headerBytes = data[(data.startIndex + 8)..<headerEnd]
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw SafeTensorsError.malformedHeader("the header does not start with '{'")
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(headerBytes))
        } catch {
            throw SafeTensorsError.malformedHeader(describe(error))
        }

        let dataSize = data.count - 8 - Int(headerLength)
        var layout: [(key: String, type: ElementType, shape: [Int], begin: Int, end: Int)] = []
        for (key, entry) in header.entries {
            guard let type = ElementType(rawValue: entry.dtype) else {
                throw SafeTensorsError.unsupportedDType(key: key, dtype: entry.dtype)
            }
            guard entry.data_offsets.count == 2 else {
                throw SafeTensorsError.malformedHeader(
                    "'\(key)': data_offsets must be [begin, end], got \(entry.data_offsets)")
            }
            let begin = entry.data_offsets[0], end = entry.data_offsets[1]
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw SafeTensorsError.offsetsOutOfRange(key: key, offsets: entry.data_offsets, dataSize: dataSize)
            }
            var count = 1
            for extent in entry.shape {
                guard extent >= 0 else { throw SafeTensorsError.invalidShape(key: key, shape: entry.shape) }
                let (product, overflow) = count.multipliedReportingOverflow(by: extent)
                guard !overflow, product <= dataSize else { // more elements than bytes: cannot fit
                    throw SafeTensorsError.sizeMismatch(
                        key: key, dtype: entry.dtype, shape: entry.shape, byteCount: end - begin)
                }
                count = product
            }
            guard count * type.byteCount == end - begin else {
                throw SafeTensorsError.sizeMismatch(
                    key: key, dtype: entry.dtype, shape: entry.shape, byteCount: end - begin)
            }
            layout.append((key, type, entry.shape, begin, end))
        }
        layout.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var position = 0
        for (index, item) in layout.enumerated() {
            if item.begin < position {
                throw SafeTensorsError.overlappingOffsets(key: item.key, otherKey: layout[index - 1].key)
            }
            if item.begin > position {
                throw SafeTensorsError.gapInData(key: item.key, expectedOffset: position, foundOffset: item.begin)
            }
            position = item.end
        }
        guard position == dataSize else {
            throw SafeTensorsError.trailingData(usedByteCount: position, dataSize: dataSize)
        }

        var entries: [Entry] = []
        entries.reserveCapacity(layout.count)
        let dataStart = headerEnd
        for item in layout {
            let tensor = Tensor(shape: item.shape, repeating: 0)
            let bytes = data[(dataStart + item.begin)..<(dataStart + item.end)]
            switch item.type {
            case .float32:
                bytes.withUnsafeBytes { raw in
                    #if _endian(little)
                    if let source = raw.baseAddress, raw.count > 0 {
                        UnsafeMutableRawPointer(tensor.pointer).copyMemory(from: source, byteCount: raw.count)
                    }
                    #else
                    for i in 0..<tensor.count {
                        tensor.pointer[i] = Float(
                            bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    }
                    #endif
                }
            case .int64:
                try bytes.withUnsafeBytes { raw in
                    for i in 0..<tensor.count {
                        let value = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                        guard value.magnitude <= 1 << 24 else {
                            throw SafeTensorsError.valueNotRepresentable(key: item.key, value: String(value))
                        }
                        tensor.pointer[i] = Float(value)
                    }
                }
            }
            entries.append(Entry(key: item.key, tensor: tensor, elementType: item.type))
        }
        return Contents(entries: entries, metadata: header.metadata)
    }

    /// A short description of a JSON decoding error.
    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context):
            return "invalid JSON (\(context.debugDescription))"
        case DecodingError.keyNotFound(let key, let context):
            return "missing field '\(key.stringValue)' at \(path(context))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "unexpected value at \(path(context)): \(context.debugDescription)"
        default:
            return String(describing: error)
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        context.codingPath.isEmpty ? "the top level" : context.codingPath.map(\.stringValue).joined(separator: ".")
    }

    // MARK: Files

    /// Writes `entries` (and `metadata`) to `url` atomically: the bytes go to a temporary file in
    /// the same directory, which is flushed to disk (`fsync`) and then renamed over `url`, so a
    /// reader sees the old file or the new one, never a partial one.
    public static func write(_ entries: [Entry], metadata: [String: String] = [:], to url: URL) throws {
        try writeAtomically(to: url) { sink in try serialize(entries, metadata: metadata, into: sink) }
    }

    /// Reads and validates the file at `url`.
    public static func read(from url: URL) throws -> Contents {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw SafeTensorsError.io(path: url.path, reason: error.localizedDescription)
        }
        return try decode(data)
    }

    /// Writes `data` to `url` atomically (temporary file in the same directory, `fsync`,
    /// `rename`), like `write`: afterwards `url` holds either its old content or all of `data`.
    /// Used for every file a training run rewrites (logs, curves, plots). Throws
    /// `SafeTensorsError.io` naming the path when a step fails.
    public static func writeAtomically(_ data: Data, to url: URL) throws {
        try writeAtomically(to: url) { write in try data.withUnsafeBytes { try write($0) } }
    }

    /// Writes the bytes `produce` passes to its sink to `url` through a temporary file in the
    /// same directory, `fsync` and `rename`. `beforeRename` (a hook for tests) runs after the
    /// temporary file is complete; if anything throws, the temporary file is removed and `url`
    /// is untouched.
    static func writeAtomically(
        to url: URL, beforeRename: () throws -> Void = {},
        _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else {
            throw SafeTensorsError.io(path: temporary.path, reason: String(cString: strerror(errno)))
        }
        var closed = false
        do {
            defer { if !closed { close(descriptor) } }
            try produce { raw in
                var written = 0
                while written < raw.count {
                    let result = Foundation.write(descriptor, raw.baseAddress! + written, raw.count - written)
                    if result < 0 {
                        if errno == EINTR { continue }
                        throw SafeTensorsError.io(path: temporary.path, reason: String(cString: strerror(errno)))
                    }
                    written += result
                }
            }
            guard fsync(descriptor) == 0 else {
                throw SafeTensorsError.io(path: temporary.path, reason: "fsync: " + String(cString: strerror(errno)))
            }
            closed = true
            guard close(descriptor) == 0 else {
                throw SafeTensorsError.io(path: temporary.path, reason: "close: " + String(cString: strerror(errno)))
            }
            try beforeRename()
            guard rename(temporary.path, url.path) == 0 else {
                throw SafeTensorsError.io(path: url.path, reason: "rename: " + String(cString: strerror(errno)))
            }
        } catch {
            unlink(temporary.path)
            throw error
        }
        // Make the rename itself durable (best effort: some file systems refuse to fsync a directory).
        let directoryDescriptor = open(directory.path, O_RDONLY)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }
}

/// Why a safetensors file could not be read or written.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    /// Fewer than the 8 bytes of the header length.
    case truncated(byteCount: Int)
    /// The header length is larger than the rest of the file.
    case headerExceedsFile(headerLength: UInt64, fileSize: Int)
    /// The header length exceeds `SafeTensors.maximumHeaderLength`.
    case headerTooLarge(headerLength: UInt64, limit: Int)
    /// The header is not a JSON object of the expected form.
    case malformedHeader(String)
    /// A tensor's dtype is not one Engine reads (`F32`, `I64`).
    case unsupportedDType(key: String, dtype: String)
    /// A shape has a negative extent.
    case invalidShape(key: String, shape: [Int])
    /// A tensor's byte range does not hold `shape`'s elements of `dtype` exactly.
    case sizeMismatch(key: String, dtype: String, shape: [Int], byteCount: Int)
    /// A tensor's `data_offsets` are not `0 ≤ begin ≤ end ≤ data size`.
    case offsetsOutOfRange(key: String, offsets: [Int], dataSize: Int)
    /// Two tensors' byte ranges overlap.
    case overlappingOffsets(key: String, otherKey: String)
    /// Bytes between two tensors (or before the first) belong to no tensor.
    case gapInData(key: String, expectedOffset: Int, foundOffset: Int)
    /// Bytes after the last tensor belong to no tensor.
    case trailingData(usedByteCount: Int, dataSize: Int)
    /// An `I64` value that a `Float` tensor cannot hold exactly, or a non-integer written as `I64`.
    case valueNotRepresentable(key: String, value: String)
    /// A key that cannot be written (empty, duplicate, or `__metadata__`).
    case invalidKey(String)
    /// The file does not have the layout the loading function expects (e.g. not one tensor).
    case unexpectedContents(String)
    /// Reading or writing the file failed.
    case io(path: String, reason: String)

    /// A message naming the problem and the tensor or key concerned.
    public var description: String {
        switch self {
        case .truncated(let count):
            return "safetensors: file of \(count) bytes is truncated (needs at least the 8-byte header length)"
        case .headerExceedsFile(let length, let size):
            return "safetensors: header length \(length) exceeds the \(size - 8) bytes after the length field"
        case .headerTooLarge(let length, let limit):
            return "safetensors: header length \(length) exceeds the limit of \(limit) bytes"
        case .malformedHeader(let reason):
            return "safetensors: malformed header: \(reason)"
        case .unsupportedDType(let key, let dtype):
            return
                "safetensors: tensor '\(key)' has dtype '\(dtype)'; supported: \(ElementType.allCases.map(\.rawValue))"
        case .invalidShape(let key, let shape):
            return "safetensors: tensor '\(key)' has invalid shape \(shape)"
        case .sizeMismatch(let key, let dtype, let shape, let byteCount):
            return
                "safetensors: tensor '\(key)' of dtype \(dtype) and shape \(shape) does not fit its \(byteCount) bytes"
        case .offsetsOutOfRange(let key, let offsets, let dataSize):
            return "safetensors: tensor '\(key)' has data_offsets \(offsets) outside the \(dataSize)-byte data section"
        case .overlappingOffsets(let key, let otherKey):
            return "safetensors: tensors '\(key)' and '\(otherKey)' overlap"
        case .gapInData(let key, let expected, let found):
            return "safetensors: tensor '\(key)' starts at byte \(found), expected \(expected) (gap in the data)"
        case .trailingData(let used, let size):
            return "safetensors: tensors use \(used) of the \(size) data bytes (trailing bytes)"
        case .valueNotRepresentable(let key, let value):
            return "safetensors: tensor '\(key)': value \(value) is not an integer a Float32 holds exactly (|v| ≤ 2^24)"
        case .invalidKey(let key):
            return "safetensors: invalid or duplicate tensor key '\(key)'"
        case .unexpectedContents(let reason):
            return "safetensors: \(reason)"
        case .io(let path, let reason):
            return "safetensors: \(path): \(reason)"
        }
    }
}
