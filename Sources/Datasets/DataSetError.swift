import Engine

/// What can go wrong reading a data set from outside the program: a missing file, a corrupt or
/// mislabelled file, a malformed CSV table. Every message names the file it is about, and the
/// ones about missing Fashion-MNIST files say how to install them.
public enum DataSetError: Error, CustomStringConvertible, Equatable {
    /// A file or directory that is not there. `hint` says how to get it (may be empty).
    case missingFile(path: String, hint: String)
    /// A file that exists but could not be read (permissions, an I/O error).
    case unreadable(path: String, reason: String)
    /// A file whose contents are not what its format or the data set promises (bad magic,
    /// truncated data, trailing bytes, wrong shape, a label out of range, a bad gzip stream).
    case corrupt(path: String, reason: String)
    /// A file that would decompress or read into more than `limit` bytes.
    case tooLarge(path: String, limit: Int)
    /// A CSV table that cannot be parsed or preprocessed; `line` is 1-based (0 when unknown).
    case invalidTable(path: String, line: Int, reason: String)

    /// A one-line message naming the file, the problem and, where there is one, the remedy.
    public var description: String {
        switch self {
        case .missingFile(let path, let hint):
            return "data set file not found: \(path)" + (hint.isEmpty ? "" : ". \(hint)")
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .corrupt(let path, let reason):
            return "corrupt data file \(path): \(reason)"
        case .tooLarge(let path, let limit):
            return "data file \(path) is larger than the limit of \(limit) bytes (decompressed)"
        case .invalidTable(let path, let line, let reason):
            return "invalid table \(path)" + (line > 0 ? ", line \(line)" : "") + ": \(reason)"
        }
    }
}
