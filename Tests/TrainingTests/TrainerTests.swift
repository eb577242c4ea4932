import Datasets
import Foundation
import Testing

@testable import Engine
@testable import Training

#if canImport(FoundationXML)
import FoundationXML
#endif

/// A small classification problem the tests make themselves: 96 random 6×6 "images" in 3
/// classes, where the class shifts the mean brightness of a different third of the image.
private func makeImages(seed: UInt64) -> LabeledImageSet {
    var generator = RandomGenerator(seed: seed)
    var pixels: [UInt8] = [], labels: [Int] = []
    for index in 0..<96 {
        let label = index % 3
        labels.append(label)
        for position in 0..<36 {
            let bright = position / 12 == label ? 120 : 0
            pixels.append(UInt8(min(255, bright + generator.nextInt(below: 120))))
        }
    }
    return LabeledImageSet(pixels: pixels, height: 6, width: 6, labels: labels)
}

/// Flatten → Linear(36, 16) → ReLU → Dropout(0.3) → Linear(16, 3), from a fixed seed.
private func makeModel() -> Sequential {
    var generator = RandomGenerator(seed: 99)
    return Sequential(
        Flatten(), Linear(inputFeatures: 36, outputFeatures: 16, using: &generator), ReLU(),
        Dropout(probability: 0.3, using: &generator), Linear(inputFeatures: 16, outputFeatures: 3, using: &generator))
}

private func makeTrainer(_ model: Sequential, learningRate: Float = 0.1) -> Trainer {
    let images = makeImages(seed: 1)
    let train = ImageBatchLoader(dataSet: images, batchSize: 16, shuffle: true, seed: 5)
    let test = ImageBatchLoader(dataSet: makeImages(seed: 2), batchSize: 32, shuffle: false)
    let trainer = Trainer(
        model: model, optimizer: SGD(model, learningRate: learningRate, momentum: 0.9), train: train, test: test)
    trainer.write = { _ in }
    trainer.progress = .quiet
    return trainer
}

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("d2l-trainer-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("Training loop")
struct TrainerTests {
    @Test("training lowers the loss and reaches high accuracy on an easy problem")
    func learns() throws {
        let record = try makeTrainer(makeModel()).fit(epochs: 4)
        #expect(record.epochs.count == 4)
        #expect(record.epochs.last!.loss < record.epochs.first!.loss)
        #expect(record.epochs.last!.testAccuracy > 0.9)
        #expect(record.curve.count >= 4 * 5)
        #expect(record.examplesPerSecond > 0)
    }

    @Test("plain progress lines: one per epoch, plus one at each curve point once an epoch runs long")
    func progressLines() throws {
        func lines(after threshold: Double) throws -> [String] {
            let trainer = makeTrainer(makeModel())
            var written: [String] = []
            trainer.write = { written.append($0) }
            trainer.progress = .lines
            trainer.progressLinesAfter = threshold
            try trainer.fit(epochs: 2)
            return written
        }
        // 96 examples in batches of 16: 6 batches, a curve point after each (a fifth rounds to 1).
        let long = try lines(after: 0)
        for epoch in 1...2 {
            let partial = long.filter { $0.hasPrefix("epoch \(epoch)/2, batch ") }
            #expect(partial.map { $0.split(separator: ":")[0] } == (1...5).map { "epoch \(epoch)/2, batch \($0)/6" })
            #expect(partial.allSatisfy { $0.contains(", train acc ") && $0.hasSuffix(" to the end of the epoch") })
            #expect(long.filter { $0.hasPrefix("epoch \(epoch)/2: loss ") }.count == 1)
        }
        #expect(long.count == 2 * 5 + 2 + 2)

        let short = try lines(after: .infinity)
        #expect(short.count == 2 + 2, "short epochs print only their summary lines: \(short)")
        #expect(!short.contains { $0.contains(", batch ") })
    }

    @Test("durations in progress lines are rounded to what a reader needs")
    func durations() {
        #expect(durationText(4.4) == "4 s")
        #expect(durationText(89) == "89 s")
        #expect(durationText(91) == "2 min")
        #expect(durationText(59 * 60) == "59 min")
        #expect(durationText(3600 + 5 * 60 + 10) == "1 h 05 min")
    }

    /// Bit for bit by construction: both runs are in this process, so they use the same OpenBLAS
    /// kernel and the same engine code, hence the same summation order in every GEMM. The thread
    /// count cannot differ between them either: their GEMMs (at most 32×36×16) are below
    /// OpenBLAS's threading threshold (M·N·K ≤ 262 144 runs on one thread), whatever other suites
    /// running meanwhile set. (Across kernels or thread counts the same training agrees only to
    /// rounding; see ARCHITECTURE.md, "Bit-exact results".)
    @Test("2 epochs equal 1 epoch, a checkpoint, and a resumed epoch, bit for bit")
    func exactResume() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("run.safetensors")

        let straightModel = makeModel()
        let straight = try makeTrainer(straightModel).fit(epochs: 2)

        let first = makeTrainer(makeModel())
        first.outputs.checkpoint = checkpoint
        try first.fit(epochs: 1)

        let resumedModel = makeModel()
        let resumed = makeTrainer(resumedModel)
        try resumed.resume(from: checkpoint)
        #expect(resumed.completedEpochs == 1)
        let record = try resumed.fit(epochs: 2)

        for ((key, a), (_, b)) in zip(straightModel.namedParameters(), resumedModel.namedParameters()) {
            #expect(a.scalars == b.scalars, "parameter \(key) differs after resuming")
        }
        #expect(record.epochs.map(\.loss) == straight.epochs.map(\.loss))
        #expect(record.epochs.map(\.trainAccuracy) == straight.epochs.map(\.trainAccuracy))
        #expect(record.epochs.map(\.testAccuracy) == straight.epochs.map(\.testAccuracy))
    }

    @Test("a checkpoint of another model is refused with a clear error and changes nothing")
    func wrongCheckpoint() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("run.safetensors")
        let trainer = makeTrainer(makeModel())
        trainer.outputs.checkpoint = checkpoint
        try trainer.fit(epochs: 1)

        var generator = RandomGenerator(seed: 0)
        let other = Sequential(Flatten(), Linear(inputFeatures: 36, outputFeatures: 3, using: &generator))
        let before = other.parameters().map(\.scalars)
        let otherTrainer = Trainer(
            model: other, optimizer: SGD(other, learningRate: 0.1),
            train: trainer.trainLoader, test: trainer.testLoader)
        #expect(throws: TrainingError.self) { try otherTrainer.resume(from: checkpoint) }
        #expect(other.parameters().map(\.scalars) == before)
        #expect(otherTrainer.completedEpochs == 0)

        let garbage = directory.appendingPathComponent("garbage.safetensors")
        try Data("not a checkpoint".utf8).write(to: garbage)
        #expect(throws: TrainingError.self) { try trainer.resume(from: garbage) }
    }

    @Test("a checkpoint of another configuration is refused, naming what differs; another epoch count is not")
    func checkpointOfAnotherConfiguration() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("run.safetensors")
        func trainer(_ configuration: [String: String]) -> Trainer {
            let model = makeModel(), template = makeTrainer(model)
            let trainer = Trainer(
                model: model, optimizer: template.optimizer, train: template.trainLoader, test: template.testLoader,
                configuration: configuration)
            trainer.write = { _ in }
            trainer.progress = .quiet
            return trainer
        }
        let first = trainer(["lr": "0.1", "seed": "5", "epochs": "1"])
        first.outputs.checkpoint = checkpoint
        try first.fit(epochs: 1)

        let other = trainer(["lr": "0.2", "seed": "5", "epochs": "1"])
        let before = other.model.parameters().map(\.scalars)
        do {
            try other.resume(from: checkpoint)
            Issue.record("a checkpoint written with lr 0.1 was resumed with lr 0.2")
        } catch let TrainingError.checkpoint(path, reason) {
            #expect(path == checkpoint.path)
            #expect(reason.contains("lr 0.1 in the checkpoint, 0.2 now"), "\(reason)")
            #expect(!reason.contains("seed"), "\(reason)")
        }
        #expect(other.model.parameters().map(\.scalars) == before)
        #expect(other.completedEpochs == 0)

        let longer = trainer(["lr": "0.1", "seed": "5", "epochs": "3"])
        try longer.resume(from: checkpoint)
        #expect(longer.completedEpochs == 1)
        #expect(longer.record.configuration["epochs"] == "3")
    }

    @Test("the plot of a diverging loss labels its huge ticks (no integer conversion)")
    func plotOfAHugeLoss() {
        var record = TrainingRecord(configuration: [:])
        record.curve = [
            CurvePoint(x: 0.5, loss: 2.3, trainAccuracy: 0.1), CurvePoint(x: 1, loss: 3.7e23, trainAccuracy: 0.2),
        ]
        let svg = CurvePlot(record: record, epochs: 2).svg()
        #expect(svg.contains(">2e+23<") || svg.contains(">1e+23<"), "\(svg)")
        #expect(CurvePlot.label(3) == "3")
        #expect(CurvePlot.label(2.5) == "2.5")
        #expect(CurvePlot.label(1e23) == "1e+23")
    }

    @Test("a diverging run stops with the epoch, the batch and the learning rate, keeping the last good checkpoint")
    func divergence() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("run.safetensors")
        let trainer = makeTrainer(makeModel())
        trainer.outputs.checkpoint = checkpoint
        try trainer.fit(epochs: 1)
        let saved = try Data(contentsOf: checkpoint)

        trainer.optimizer.learningRate = 1e30
        do {
            try trainer.fit(epochs: 3)
            Issue.record("training with learning rate 1e30 did not stop")
        } catch let TrainingError.diverged(epoch, batch, loss, learningRate, keptCheckpoint) {
            #expect(epoch == 2)
            #expect(batch >= 1)
            #expect(!loss.isFinite)
            #expect(learningRate == 1e30)
            #expect(keptCheckpoint == checkpoint.path)
            #expect(
                TrainingError.diverged(
                    epoch: epoch, batch: batch, loss: loss, learningRate: learningRate,
                    checkpoint: keptCheckpoint
                ).description.contains("epoch 2, batch \(batch)"))
        }
        #expect(try Data(contentsOf: checkpoint) == saved)
        #expect(trainer.completedEpochs == 1)
    }

    @Test("JSON, CSV and SVG are written after every epoch; the SVG is well-formed with one path per curve")
    func outputs() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trainer = makeTrainer(makeModel())
        trainer.outputs = TrainingOutputs(
            json: directory.appendingPathComponent("run.json"),
            csv: directory.appendingPathComponent("run.csv"),
            plot: directory.appendingPathComponent("run.svg"))
        try trainer.fit(epochs: 2)

        let json =
            try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("run.json")))
            as? [String: Any]
        let epochs = json?["epochs"] as? [[String: Any]]
        #expect(epochs?.count == 2)
        #expect(
            Set(epochs?.first?.keys.map { $0 } ?? []) == [
                "epoch", "loss", "train_acc", "test_acc", "examples_per_sec", "seconds",
            ])
        #expect((json?["blas"] as? [String: String])?["core"] == BLAS.coreName)

        let csv = try String(contentsOf: directory.appendingPathComponent("run.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 3)
        #expect(csv.hasPrefix("epoch,loss,train_acc,test_acc,examples_per_sec,seconds\n"))

        let svg = try Data(contentsOf: directory.appendingPathComponent("run.svg"))
        let counter = ElementCounter()
        let parser = XMLParser(data: svg)
        parser.delegate = counter
        #expect(parser.parse(), "SVG is not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "")")
        #expect(counter.counts["svg"] == 1)
        #expect(counter.counts["path"] == 3)
        #expect(counter.texts.contains("train loss") && counter.texts.contains("test acc"))
    }
}

private final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    var texts: [String] = []
    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName: String?, attributes: [String: String] = [:]
    ) {
        counts[elementName, default: 0] += 1
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { texts.append(string) }
}
