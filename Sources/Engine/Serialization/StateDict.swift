import Foundation

/// The textbook's file I/O (d2l §6.6, `torch.save` / `torch.load` / `load_state_dict`) over
/// safetensors: a single tensor, a list, a dictionary, and a module's state dict.

extension SafeTensors {
    /// Saves one tensor, under the key `"tensor"` (`torch.save(x, 'x-file')`).
    public static func save(_ tensor: Tensor, to url: URL) throws {
        try write([Entry(key: "tensor", tensor: tensor)], to: url)
    }

    /// Saves a list of tensors under the keys `"0"`, `"1"`, … (`torch.save([x, y], 'x-files')`).
    public static func save(_ tensors: [Tensor], to url: URL) throws {
        try write(tensors.enumerated().map { Entry(key: String($0.offset), tensor: $0.element) }, to: url)
    }

    /// Saves a dictionary of tensors, in key order (`torch.save(mydict, 'mydict')`).
    public static func save(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        try write(
            tensors.sorted { $0.key < $1.key }.map { Entry(key: $0.key, tensor: $0.value) }, metadata: metadata, to: url
        )
    }

    /// Loads the only tensor of a file (whatever its key); throws `.unexpectedContents` if the
    /// file holds another number of tensors.
    public static func loadTensor(from url: URL) throws -> Tensor {
        let entries = try read(from: url).entries
        guard entries.count == 1 else {
            throw SafeTensorsError.unexpectedContents(
                "expected one tensor in \(url.lastPathComponent), found \(entries.count)")
        }
        return entries[0].tensor
    }

    /// Loads a list saved by `save(_ tensors: [Tensor], to:)`: the keys must be exactly `"0"`
    /// to `"n−1"`.
    public static func loadTensors(from url: URL) throws -> [Tensor] {
        let dictionary = try read(from: url).dictionary
        return try (0..<dictionary.count).map { index in
            guard let tensor = dictionary[String(index)] else {
                throw SafeTensorsError.unexpectedContents(
                    "expected a list with keys 0..<\(dictionary.count) in \(url.lastPathComponent), key '\(index)' is missing"
                )
            }
            return tensor
        }
    }

    /// Loads every tensor of a file by key.
    public static func loadDictionary(from url: URL) throws -> [String: Tensor] {
        try read(from: url).dictionary
    }
}

/// Why a state dict does not fit a module.
public enum StateDictError: Error, CustomStringConvertible, Equatable {
    /// Keys the module has and the state dict lacks, and keys the state dict has and the module
    /// lacks (either list may be empty, not both). Strict loading only.
    case keyMismatch(missing: [String], unexpected: [String])
    /// The tensor for `key` has another shape than the module's.
    case shapeMismatch(key: String, expected: [Int], found: [Int])

    /// A message naming the problem and the tensor or key concerned.
    public var description: String {
        switch self {
        case .keyMismatch(let missing, let unexpected):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing keys \(missing)") }
            if !unexpected.isEmpty { parts.append("unexpected keys \(unexpected)") }
            return "load state dict: " + parts.joined(separator: "; ")
        case .shapeMismatch(let key, let expected, let found):
            return "load state dict: '\(key)' has shape \(found) in the state dict, \(expected) in the module"
        }
    }
}

extension Module {
    /// Every parameter and buffer under its dotted key, as safetensors entries sharing the
    /// module's tensors (PyTorch's `state_dict()`; a shared tensor appears once, under its first
    /// key).
    public func stateDictEntries() -> [SafeTensors.Entry] {
        namedTensors().map { SafeTensors.Entry(key: $0.key, tensor: $0.tensor, elementType: $0.elementType) }
    }

    /// The state dict by key (the module's own tensors, not copies).
    public func stateDict() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: namedTensors().map { ($0.key, $0.tensor) })
    }

    /// Copies the values of `stateDict` into the module's parameters and buffers
    /// (`load_state_dict`). Strict (the default): the keys must be exactly the module's, else
    /// `StateDictError.keyMismatch` names the missing and unexpected ones. Non-strict: only the
    /// common keys are loaded. Shapes must match (`.shapeMismatch`). Everything is checked before
    /// anything is copied, so a failed load changes nothing. A tensor shared by several layers
    /// is one entry and stays shared.
    ///
    /// - Returns: the missing and unexpected keys (both empty after a strict load).
    @discardableResult
    public func loadStateDict(
        _ stateDict: [String: Tensor], strict: Bool = true
    ) throws -> (missing: [String], unexpected: [String]) {
        let own = namedTensors()
        let ownKeys = Set(own.map(\.key))
        let missing = own.map(\.key).filter { stateDict[$0] == nil }
        let unexpected = stateDict.keys.filter { !ownKeys.contains($0) }.sorted()
        if strict && !(missing.isEmpty && unexpected.isEmpty) {
            throw StateDictError.keyMismatch(missing: missing, unexpected: unexpected)
        }
        for named in own {
            if let source = stateDict[named.key], source.shape != named.tensor.shape {
                throw StateDictError.shapeMismatch(key: named.key, expected: named.tensor.shape, found: source.shape)
            }
        }
        for named in own {
            if let source = stateDict[named.key] { named.tensor.assign(source) }
        }
        return (missing, unexpected)
    }

    /// Saves the state dict to a safetensors file at `url` (atomically), with `Int64` buffers
    /// as `I64`, so `model.load_state_dict(safetensors.torch.load_file(path))` works in PyTorch.
    public func saveStateDict(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(stateDictEntries(), metadata: metadata, to: url)
    }

    /// Loads a state dict from a safetensors file (see `loadStateDict(_:strict:)`).
    @discardableResult
    public func loadStateDict(from url: URL, strict: Bool = true) throws -> (missing: [String], unexpected: [String]) {
        try loadStateDict(SafeTensors.read(from: url).dictionary, strict: strict)
    }
}
