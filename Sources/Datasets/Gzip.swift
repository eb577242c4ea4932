import CZlib
import Engine
import Foundation

/// Thin wrappers over zlib for gzip streams (RFC 1952): the compressed IDX files of
/// Fashion-MNIST are read with `decompress`, and tests write such files with `compress`.
/// Nothing here implements deflate itself.
public enum Gzip {
    /// The default bound on a decompressed size: 128 MiB, well above the largest Fashion-MNIST
    /// file (47 040 016 bytes) and small enough that a hostile file cannot exhaust memory.
    public static let defaultMaximumSize = 128 << 20

    /// Whether `bytes` start with the gzip magic number `1f 8b`.
    public static func hasMagic(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// The decompressed contents of the gzip data `bytes` (`inflateInit2` with windowBits
    /// 15 + 32, so zlib checks the header and the CRC-32 and length trailer). Several
    /// concatenated gzip members are decompressed one after another, as `gunzip` does.
    ///
    /// - Parameters:
    ///   - bytes: one or more gzip members, as read from the file.
    ///   - name: the file name for error messages.
    ///   - maximumSize: the largest decompressed size accepted, in bytes.
    /// - Throws: `DataSetError.corrupt` for a damaged or truncated stream or bytes after the last
    ///   member, `DataSetError.tooLarge` when the output would exceed `maximumSize`.
    public static func decompress(
        _ bytes: [UInt8], name: String,
        maximumSize: Int = defaultMaximumSize
    ) throws -> [UInt8] {
        var stream = z_stream()
        var status = inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw DataSetError.corrupt(path: name, reason: "zlib inflateInit2 failed (\(status))")
        }
        defer { inflateEnd(&stream) }

        // Start from the size the gzip trailer announces (ISIZE, the last member's length mod 2³²,
        // plus room to reach the end of the stream) or, if that is not plausible, 4× the input;
        // only a hint: the buffer doubles as needed, up to the limit.
        var announced = bytes.count >= 18 ? bytes.suffix(4).reversed().reduce(0) { $0 << 8 | Int($1) } + 64 : 0
        // deflate's ratio is ≤ 1032:1.
        if announced < bytes.count / 2 || announced > bytes.count * 1032 { announced = bytes.count * 4 }
        var output = [UInt8](repeating: 0, count: Swift.max(1024, Swift.min(maximumSize, announced)))
        var produced = 0
        try bytes.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            while true {
                if produced == output.count {
                    guard output.count < maximumSize else {
                        throw DataSetError.tooLarge(path: name, limit: maximumSize)
                    }
                    output.append(
                        contentsOf: repeatElement(0, count: Swift.min(output.count, maximumSize - output.count)))
                }
                let room = Swift.min(output.count - produced, Int(UInt32.max))
                status = output.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = uInt(room)
                    let result = inflate(&stream, Z_NO_FLUSH)
                    produced += room - Int(stream.avail_out)
                    return result
                }
                switch status {
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.avail_in == 0:
                    throw DataSetError.corrupt(path: name, reason: "gzip stream is truncated")
                case Z_BUF_ERROR:
                    continue // the output buffer was full: grow it
                case Z_STREAM_END:
                    let remaining = Int(stream.avail_in)
                    if remaining == 0 { return }
                    let next = input.count - remaining
                    guard remaining >= 2, input[next] == 0x1F, input[next + 1] == 0x8B else {
                        throw DataSetError.corrupt(
                            path: name, reason: "\(remaining) bytes of trailing garbage after the gzip stream")
                    }
                    guard inflateReset(&stream) == Z_OK else {
                        throw DataSetError.corrupt(path: name, reason: "zlib inflateReset failed")
                    }
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw DataSetError.corrupt(path: name, reason: "invalid gzip data (\(message))")
                }
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// `bytes` compressed as one gzip member (`deflateInit2` with windowBits 15 + 16), at zlib's
    /// default compression level. For writing test files and caches.
    public static func compress(_ bytes: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        let initStatus = deflateInit2_(
            &stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
            zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(initStatus == Z_OK, "Gzip.compress: deflateInit2 failed (\(initStatus))")
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 32)
        let written: Int = bytes.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                let status = deflate(&stream, Z_FINISH)
                precondition(status == Z_STREAM_END, "Gzip.compress: deflate did not finish (\(status))")
                return out.count - Int(stream.avail_out)
            }
        }
        return Array(output.prefix(written))
    }
}
