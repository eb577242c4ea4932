import Foundation
import Testing

/// The Fashion-MNIST commands of `d2l`: a short LeNet run with its files, `summary`, `evaluate`
/// on PyTorch's weights, and their one-line errors.
@Suite(.enabled(if: d2lBinary != nil, "the d2l executable is not built (run `swift build` first)"))
struct ClassificationCommandTests {
    @Test("a short LeNet run prints the book's lines and writes log, curves, plot and checkpoint",
          .enabled(if: fashionMNISTInstalled, "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"))
    func shortLeNetRun() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try d2l(["lenet", "--epochs", "1", "--train-limit", "512", "--test-limit", "256"], in: directory)
        #expect(run.status == 0, "stderr: \(run.errorOutput)")
        #expect(run.lines.contains { $0.hasPrefix("loss ") && $0.contains(", train acc ") && $0.contains(", test acc ") })
        #expect(run.lines.contains { $0.contains("examples/sec on CPU (OpenBLAS ") })
        #expect(run.output.contains("NOT the book's settings"))
        for file in ["log.json", "log.csv", "curves.svg", "checkpoint.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("runs/lenet/\(file)").path), "missing \(file)")
        }
        let log = try readJSON(directory.appendingPathComponent("runs/lenet/log.json"))
        #expect((log["epochs"] as? [[String: Any]])?.count == 1)
        #expect((log["configuration"] as? [String: String])?["train_examples"] == "512")

        // The checkpoint evaluates like a state dict, and resuming it for a second epoch continues.
        let evaluate = try d2l(["evaluate", "lenet", "--weights", "runs/lenet/checkpoint.safetensors", "--test-limit", "256"], in: directory)
        #expect(evaluate.status == 0, "stderr: \(evaluate.errorOutput)")
        let resumed = try d2l(["lenet", "--epochs", "2", "--train-limit", "512", "--test-limit", "256",
                               "--resume", "runs/lenet/checkpoint.safetensors"], in: directory)
        #expect(resumed.status == 0, "stderr: \(resumed.errorOutput)")
        #expect(resumed.lines.contains { $0.hasPrefix("resumed from") && $0.hasSuffix("after epoch 1") })
        #expect(resumed.lines.contains { $0.hasPrefix("epoch 2/2:") })
        #expect(!resumed.lines.contains { $0.hasPrefix("epoch 1/2:") })
    }

    @Test("summary prints the book's shape walk and the parameter count")
    func summary() throws {
        let run = try d2l(["summary", "lenet"])
        #expect(run.status == 0)
        #expect(run.lines.contains("Conv2D output shape:\t[1, 6, 28, 28]"))
        #expect(run.lines.contains("AvgPool2D output shape:\t[1, 16, 5, 5]"))
        #expect(run.lines.contains("parameters: 61706"))
        let json = try d2l(["summary", "alexnet", "--json"])
        let document = try #require(JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(document["parameters"] as? Int == 46_764_746)
    }

    @Test("evaluate gives PyTorch's accuracy for weights PyTorch saved",
          .enabled(if: fashionMNISTInstalled, "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"))
    func evaluatePyTorchWeights() throws {
        // Tests/ModelsTests/Fixtures/lenet.safetensors and its 352 correct predictions on the first
        // 500 test images come from Tools/Reference/generate_model_fixtures.py (torch 2.15.0).
        // An exact count is sound on every BLAS kernel: PyTorch's smallest top-2 logit margin is
        // 5.9e-4 and our logits stay within half of it (ModelsTests' LeNet test checks that bound).
        let weights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModelsTests/Fixtures/lenet.safetensors")
        let run = try d2l(["evaluate", "lenet", "--weights", weights.path, "--test-limit", "500"])
        #expect(run.status == 0, "stderr: \(run.errorOutput)")
        #expect(run.output.hasPrefix("lenet: test acc 0.7040 on 500 examples"), "got: \(run.output)")
    }

    @Test("bad models, values and files give one line on stderr and a non-zero exit",
          arguments: [["summary", "nosuch"], ["evaluate", "lenet", "--weights", "/nonexistent.safetensors"],
                      ["lenet", "--epochs=-1"], ["lenet", "--lr", "0"], ["lenet", "--resume", "/nonexistent.safetensors"],
                      ["evaluate", "nosuch", "--weights", "x"]])
    func errors(_ arguments: [String]) throws {
        let run = try d2l(arguments)
        #expect(run.status != 0)
        #expect(run.errorLines.count == 1, "stderr: \(run.errorOutput)")
        #expect(run.errorLines.first?.hasPrefix("d2l: ") == true)
    }
}
