import Engine
import Foundation

/// Checkpoints: one safetensors file holding everything needed to continue a run exactly.
///
/// - `model.<key>`: every parameter and buffer (PyTorch keys, `I64` for integer buffers);
/// - `optimizer.<parameter key>.<state name>`: the optimizer's per-parameter state;
/// - metadata `format` (`d2l-swift-checkpoint-1`), `completed_epochs`, `learning_rates` (per
///   group), `generators` (the state words of every `Dropout` layer's generator, by module path)
///   and `record` (the metrics so far, JSON).
///
/// The training order needs no state: the loader derives each epoch's order from its seed and
/// the epoch number. So training 2 epochs, or 1 epoch then resuming for 1, gives bit-identical
/// weights and metrics.
extension Trainer {
    /// The `format` metadata value of a checkpoint file.
    public static let checkpointFormat = "d2l-swift-checkpoint-1"

    /// Writes a checkpoint of the current state to `url`, atomically.
    public func saveCheckpoint(to url: URL) throws {
        var entries = model.stateDictEntries().map { entry -> SafeTensors.Entry in
            var entry = entry
            entry.key = "model." + entry.key
            return entry
        }
        for (key, tensor) in optimizer.stateDict().sorted(by: { $0.key < $1.key }) {
            entries.append(SafeTensors.Entry(key: "optimizer." + key, tensor: tensor))
        }
        var generators: [String: [String]] = [:]
        for (path, module) in model.namedModules() {
            if let dropout = module as? Dropout { generators[path] = dropout.generator.stateWords.map { String($0) } }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let metadata = [
            "format": Self.checkpointFormat,
            "completed_epochs": String(completedEpochs),
            "learning_rates": optimizer.parameterGroups.map { String($0.learningRate) }.joined(separator: ","),
            "generators": String(decoding: try encoder.encode(generators), as: UTF8.self),
            "record": String(decoding: try encoder.encode(record), as: UTF8.self),
        ]
        do {
            try SafeTensors.write(entries, metadata: metadata, to: url)
        } catch {
            throw TrainingError.checkpoint(path: url.path, reason: "\(error)")
        }
    }

    /// Restores model, optimizer, dropout generators, completed epochs and the record from a
    /// checkpoint written by `saveCheckpoint(to:)`. Strict: the model's keys and shapes must
    /// match exactly, and the run that wrote it must have had the same configuration — every key
    /// that its `record.configuration` and this trainer's both hold must agree, except those in
    /// `changeable` (by default `epochs`, so that a run can be extended). The record keeps this
    /// trainer's configuration values. Throws `TrainingError.checkpoint` naming the file and the
    /// problem (for a configuration, each key that differs); nothing is changed then.
    public func resume(from url: URL, allowingChangesTo changeable: Set<String> = ["epochs"]) throws {
        func fail(_ reason: String) -> TrainingError { .checkpoint(path: url.path, reason: reason) }
        let contents: SafeTensors.Contents
        do { contents = try SafeTensors.read(from: url) } catch { throw fail("\(error)") }
        guard contents.metadata["format"] == Self.checkpointFormat else {
            throw fail("not a d2l-swift checkpoint (metadata format is \(contents.metadata["format"] ?? "missing"))")
        }
        guard let epochs = contents.metadata["completed_epochs"].flatMap(Int.init), epochs >= 0,
            let recordJSON = contents.metadata["record"],
            let record = try? JSONDecoder().decode(TrainingRecord.self, from: Data(recordJSON.utf8)),
            let generatorsJSON = contents.metadata["generators"],
            let generators = try? JSONDecoder().decode([String: [String]].self, from: Data(generatorsJSON.utf8))
        else { throw fail("metadata is incomplete or malformed") }
        let differences = record.configuration.keys.sorted().compactMap { key -> String? in
            guard !changeable.contains(key), let there = record.configuration[key],
                let here = self.record.configuration[key],
                there != here
            else { return nil }
            return "\(key) \(there) in the checkpoint, \(here) now"
        }
        guard differences.isEmpty else {
            let listed =
                differences.prefix(3).joined(separator: ", ")
                + (differences.count > 3 ? ", and \(differences.count - 3) more" : "")
            throw fail(
                "it belongs to another run (\(listed)); continue it with its own settings, or start this one with another file"
            )
        }

        var modelState: [String: Tensor] = [:], optimizerState: [String: Tensor] = [:]
        for entry in contents.entries {
            if entry.key.hasPrefix("model.") {
                modelState[String(entry.key.dropFirst(6))] = entry.tensor
            } else if entry.key.hasPrefix("optimizer.") {
                optimizerState[String(entry.key.dropFirst(10))] = entry.tensor
            } else {
                throw fail("unexpected tensor '\(entry.key)'")
            }
        }
        var dropouts: [(Dropout, RandomGenerator)] = []
        for (path, module) in model.namedModules() {
            guard let dropout = module as? Dropout else { continue }
            guard let words = generators[path]?.compactMap(UInt64.init), words.count == 4 else {
                throw fail("no generator state for the dropout layer '\(path)'")
            }
            dropouts.append((dropout, RandomGenerator(stateWords: words)))
        }
        // Validate both before changing either (loadStateDict checks everything before copying).
        do { try model.loadStateDict(modelState) } catch { throw fail("\(error)") }
        do { try optimizer.loadStateDict(optimizerState) } catch { throw fail("\(error)") }
        if let rates = contents.metadata["learning_rates"]?.split(separator: ",").compactMap({ Float(String($0)) }),
            rates.count == optimizer.parameterGroups.count
        {
            for (index, rate) in rates.enumerated() { optimizer.parameterGroups[index].learningRate = rate }
        }
        for (dropout, generator) in dropouts { dropout.generator = generator }
        var resumedRecord = record
        resumedRecord.configuration.merge(self.record.configuration) { _, current in current }
        self.record = resumedRecord
        self.completedEpochs = epochs
    }
}
