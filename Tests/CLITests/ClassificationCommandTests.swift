import Foundation
import Testing

/// The Fashion-MNIST commands of `d2l`: a short LeNet run with its files, `summary`, `evaluate`
/// on PyTorch's weights, and their one-line errors.
@Suite(.enabled(if: d2lBinary != nil, "the d2l executable is not built (run `swift build` first)"))
struct ClassificationCommandTests {
    @Test(
        "a short LeNet run prints the book's lines and writes log, curves, plot and checkpoint",
        .enabled(if: fashionMNISTInstalled, "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"))
    func shortLeNetRun() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try d2l(["lenet", "--epochs", "1", "--train-limit", "512", "--test-limit", "256"], in: directory)
        #expect(run.status == 0, "stderr: \(run.errorOutput)")
        #expect(
            run.lines.contains { $0.hasPrefix("loss ") && $0.contains(", train acc ") && $0.contains(", test acc ") })
        #expect(run.lines.contains { $0.contains("examples/sec on CPU (OpenBLAS ") })
        #expect(run.output.contains("NOT the book's settings"))
        // A shortened run shows the book's spread for orientation, with no verdict on it.
        #expect(
            run.lines.contains { $0.hasPrefix("  loss ") && $0.hasSuffix(" (the book's runs: 0.468 [0.451, 0.497])") },
            "\(run.output)")
        #expect(!run.output.contains("OUTSIDE") && !run.output.contains(": inside)"), "\(run.output)")
        for file in ["log.json", "log.csv", "curves.svg", "checkpoint.safetensors"] {
            #expect(
                FileManager.default.fileExists(atPath: directory.appendingPathComponent("runs/lenet/\(file)").path),
                "missing \(file)")
        }
        let log = try readJSON(directory.appendingPathComponent("runs/lenet/log.json"))
        #expect((log["epochs"] as? [[String: Any]])?.count == 1)
        #expect((log["configuration"] as? [String: String])?["train_examples"] == "512")

        // The checkpoint evaluates like a state dict, and resuming it for a second epoch continues.
        let evaluate = try d2l(
            ["evaluate", "lenet", "--weights", "runs/lenet/checkpoint.safetensors", "--test-limit", "256"],
            in: directory)
        #expect(evaluate.status == 0, "stderr: \(evaluate.errorOutput)")
        let resumed = try d2l(
            [
                "lenet", "--epochs", "2", "--train-limit", "512", "--test-limit", "256",
                "--resume", "runs/lenet/checkpoint.safetensors",
            ], in: directory)
        #expect(resumed.status == 0, "stderr: \(resumed.errorOutput)")
        #expect(resumed.lines.contains { $0.hasPrefix("resumed from") && $0.hasSuffix("after epoch 1") })
        #expect(resumed.lines.contains { $0.hasPrefix("epoch 2/2:") })
        #expect(!resumed.lines.contains { $0.hasPrefix("epoch 1/2:") })
    }

    @Test(
        "--resume on a new file starts the run there; the same command continues it; another run's checkpoint is refused",
        .enabled(if: fashionMNISTInstalled, "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"))
    func resumeOrStart() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let command = ["lenet", "--train-limit", "256", "--test-limit", "128", "--resume", "long/run.safetensors"]
        let start = try d2l(command + ["--epochs", "1"], in: directory)
        #expect(start.status == 0, "stderr: \(start.errorOutput)")
        #expect(
            start.lines.first?.hasPrefix("no checkpoint at /") == true
                && start.lines.first?.hasSuffix(
                    "/long/run.safetensors yet: starting a new run, checkpointed there after every epoch") == true,
            "\(start.output)")
        #expect(start.lines.contains { $0.hasPrefix("epoch 1/1:") })
        // Written atomically: the checkpoint and nothing else (no temporary file left behind).
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("long").path) == [
                "run.safetensors"
            ])

        let next = try d2l(command + ["--epochs", "2"], in: directory)
        #expect(next.status == 0, "stderr: \(next.errorOutput)")
        #expect(
            next.lines.first?.hasPrefix("resumed from ") == true
                && next.lines.first?.hasSuffix("long/run.safetensors after epoch 1") == true,
            "\(next.output)")
        #expect(
            next.lines.contains { $0.hasPrefix("epoch 2/2:") } && !next.lines.contains { $0.hasPrefix("epoch 1/2:") })
        let log = try readJSON(directory.appendingPathComponent("runs/lenet/log.json"))
        #expect((log["epochs"] as? [[String: Any]])?.count == 2)

        // Another configuration, or another experiment, is refused and leaves the checkpoint alone.
        let saved = try Data(contentsOf: directory.appendingPathComponent("long/run.safetensors"))
        for (arguments, difference) in [
            (command + ["--epochs", "3", "--lr", "0.5"], "lr 0.9 in the checkpoint, 0.5 now"),
            (["mlp"] + command.dropFirst() + ["--epochs", "3"], "experiment lenet in the checkpoint, mlp now"),
        ] {
            let refused = try d2l(arguments, in: directory)
            #expect(refused.status != 0)
            #expect(refused.errorLines.count == 1, "stderr: \(refused.errorOutput)")
            #expect(refused.errorLines.first?.contains(difference) == true, "stderr: \(refused.errorOutput)")
            #expect(!refused.lines.contains { $0.hasPrefix("epoch ") })
        }
        #expect(try Data(contentsOf: directory.appendingPathComponent("long/run.safetensors")) == saved)
    }

    @Test(
        "a run at the book's settings gets its verdicts (softmax regression, 10 epochs of 60 000)",
        .enabled(if: fashionMNISTInstalled, "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"))
    func verdictsAtTheBooksSettings() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try d2l(["softmax-regression"], in: directory)
        #expect(run.status == 0, "stderr: \(run.errorOutput)")
        #expect(run.lines.contains("compared with the book (same settings):"), "\(run.output)")
        for name in ["loss", "train acc", "test acc"] {
            #expect(
                run.lines.contains {
                    $0.hasPrefix("  \(name) ") && ($0.hasSuffix(": inside)") || $0.hasSuffix(": OUTSIDE)"))
                },
                "no verdict for \(name) in:\n\(run.output)")
        }
    }

    @Test(
        "a size the network cannot take is one line naming the sizes it takes",
        arguments: [
            (["alexnet", "--resize", "10", "--epochs", "1"], "it takes --resize 193 to 224"),
            (["vgg", "--resize", "16"], "it takes --resize 224 to 255"),
            (["lenet", "--resize", "33"], "it takes --resize 28 to 31"),
            (["densenet", "--resize", "20"], "it takes --resize 29 to 512"),
            (["mlp", "--resize", "20"], "it takes --resize 28"),
        ])
    func sizeRefusals(arguments: [String], accepted: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try d2l(arguments, in: directory)
        #expect(run.status != 0 && !run.signaled)
        #expect(run.errorLines.count == 1, "stderr: \(run.errorOutput)")
        let line = try #require(run.errorLines.first)
        #expect(line.hasPrefix("d2l: --resize \(arguments[2]): \(arguments[0]) cannot take "), "\(line)")
        #expect(line.hasSuffix(accepted), "\(line)")
        #expect(run.output.isEmpty, "refused before training: \(run.output)")
    }

    @Test(
        "batch norm: a final one-example batch is dropped with a notice; batches of one are refused",
        .enabled(if: fashionMNISTInstalled, "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"))
    func batchNormOneExampleBatch() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try d2l(
            ["batch-norm", "--batch-size", "3", "--train-limit", "4", "--test-limit", "4", "--epochs", "1"],
            in: directory)
        #expect(run.status == 0, "stderr: \(run.errorOutput)")
        #expect(
            run.lines.contains {
                $0.hasPrefix("note: each epoch's last training batch would hold 1 example")
                    && $0.contains("(3 of 4 examples per epoch")
            },
            "\(run.output)")
        // The epoch saw 3 examples: its accuracy is a multiple of 1/3.
        let log = try readJSON(directory.appendingPathComponent("runs/batch-norm/log.json"))
        let accuracy = try #require((log["epochs"] as? [[String: Any]])?.first?["train_acc"] as? Double)
        #expect([0, 1.0 / 3, 2.0 / 3, 1].contains { abs($0 - accuracy) < 1e-9 }, "train accuracy \(accuracy)")
        // Without a one-example batch nothing is dropped; the book's scratch version keeps it, as the book does.
        for arguments in [
            ["batch-norm", "--batch-size", "2", "--train-limit", "4"],
            ["batch-norm", "--scratch", "--batch-size", "3", "--train-limit", "4"],
        ] {
            let kept = try d2l(arguments + ["--test-limit", "4", "--epochs", "1"], in: directory)
            #expect(kept.status == 0, "stderr: \(kept.errorOutput)")
            #expect(!kept.lines.contains { $0.hasPrefix("note: ") && $0.contains("dropped") }, "\(kept.output)")
        }
        for arguments in [["--batch-size", "1"], ["--train-limit", "1"]] {
            let refused = try d2l(["batch-norm", "--test-limit", "4", "--epochs", "1"] + arguments, in: directory)
            #expect(refused.status != 0 && refused.errorLines.count == 1, "stderr: \(refused.errorOutput)")
            #expect(
                refused.errorLines.first?.contains(
                    "batch normalization, which needs at least 2 examples per training batch") == true,
                "stderr: \(refused.errorOutput)")
        }
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

    @Test(
        "evaluate gives PyTorch's accuracy for weights PyTorch saved",
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

    @Test(
        "bad models, values and files give one line on stderr and a non-zero exit",
        arguments: [
            ["summary", "nosuch"], ["evaluate", "lenet", "--weights", "/nonexistent.safetensors"],
            ["lenet", "--epochs=-1"], ["lenet", "--epochs", "0"], ["lenet", "--lr", "0"], ["lenet", "--lr", "nan"],
            ["lenet", "--batch-size", "0"], ["lenet", "--train-limit", "0"], ["lenet", "--test-limit", "-3"],
            ["lenet", "--resize", "0"], ["lenet", "--resize", "100000"], ["lenet", "--threads", "0"],
            ["lenet", "--epochs", "ten"], ["lenet", "--seed", "-1"], ["lenet", "--resume", "/dev/null"],
            ["evaluate", "alexnet", "--weights", "x", "--resize", "10"],
            ["evaluate", "lenet", "--weights", "x", "--resize", "0"],
            ["evaluate", "nosuch", "--weights", "x"],
        ])
    func errors(_ arguments: [String]) throws {
        let run = try d2l(arguments)
        #expect(run.status != 0)
        #expect(run.errorLines.count == 1, "stderr: \(run.errorOutput)")
        #expect(run.errorLines.first?.hasPrefix("d2l: ") == true)
    }
}
