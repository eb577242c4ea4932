// csv-regression: trains a small network on your own CSV file with d2l-swift's core library and
// saves the weights as safetensors for PyTorch.
//
//     swift run -c release csv-regression houses.csv --target price --epochs 300 --output model.safetensors
//
// The CSV needs a header row and numeric fields; the target column (default: the last one) is
// predicted from all the others by an MLP `in → 16 → 1` (ReLU), trained with Adam on the mean
// squared error of standardised values. Nothing here uses the `Datasets` or `Training` products:
// the file is parsed by `NumericTable` below, the loop is the book's ten lines.
import Engine
import Foundation

/// What can be wrong with the user's input; printed as one line, exit status 1.
enum InputError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case invalidTable(path: String, line: Int, reason: String)
    case invalidOption(String)

    var description: String {
        switch self {
        case let .unreadable(path, reason): "cannot read \(path): \(reason)"
        case let .invalidTable(path, line, reason): "\(path), line \(line): \(reason)"
        case let .invalidOption(message): message
        }
    }
}

/// A CSV file of numbers under a header row: `values` is `[rows, columns]`.
struct NumericTable {
    var header: [String]
    var values: Tensor

    /// Parses `text` (comma-separated, no quoting; blank lines skipped).
    /// - Throws: `InputError.invalidTable` for a missing header, a row of another width, a field
    ///   that is not a finite number, or fewer than two data rows.
    init(parsing text: String, path: String) throws {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .map { (number: $0.offset + 1, text: $0.element.trimmingCharacters(in: .whitespacesAndNewlines)) }
            .filter { !$0.text.isEmpty }
        guard !lines.isEmpty else { throw InputError.invalidTable(path: path, line: 1, reason: "the file is empty") }
        header = lines.removeFirst().text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard header.count >= 2 else {
            throw InputError.invalidTable(
                path: path, line: 1, reason: "need at least two columns (features and a target)")
        }
        guard lines.count >= 2 else {
            throw InputError.invalidTable(
                path: path, line: 2, reason: "need at least two data rows, found \(lines.count)")
        }
        var scalars: [Float] = []
        scalars.reserveCapacity(lines.count * header.count)
        for line in lines {
            let fields = line.text.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == header.count else {
                throw InputError.invalidTable(
                    path: path, line: line.number,
                    reason: "\(fields.count) fields, the header has \(header.count)")
            }
            for (column, field) in fields.enumerated() {
                guard let value = Float(field.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                    throw InputError.invalidTable(
                        path: path, line: line.number,
                        reason: "column '\(header[column])': '\(field)' is not a finite number")
                }
                scalars.append(value)
            }
        }
        values = Tensor(scalars, shape: [lines.count, header.count])
    }
}

/// The command line: `[FILE.csv] [--target COLUMN] [--epochs N] [--output FILE] [--seed N]`.
struct Options {
    var path = "houses.csv"
    var target: String?
    var epochs = 300
    var output = "model.safetensors"
    var seed: UInt64 = 0

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        func value(of option: String) throws -> String {
            guard let value = rest.popFirst() else { throw InputError.invalidOption("\(option) needs a value") }
            return value
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--target": target = try value(of: argument)
            case "--output": output = try value(of: argument)
            case "--epochs":
                guard let n = Int(try value(of: argument)), n >= 1, n <= 100_000 else {
                    throw InputError.invalidOption("--epochs must be an integer from 1 to 100000")
                }
                epochs = n
            case "--seed":
                guard let n = UInt64(try value(of: argument)) else {
                    throw InputError.invalidOption("--seed must be a non-negative integer")
                }
                seed = n
            case let option where option.hasPrefix("--"):
                throw InputError.invalidOption("unknown option \(option) (options: --target --epochs --output --seed)")
            default: path = argument
            }
        }
    }
}

func run() throws {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let text: String
    do { text = try String(contentsOfFile: options.path, encoding: .utf8) } catch {
        throw InputError.unreadable(path: options.path, reason: (error as NSError).localizedDescription)
    }
    let table = try NumericTable(parsing: text, path: options.path)
    let targetName = options.target ?? table.header.last!
    guard let targetColumn = table.header.firstIndex(of: targetName) else {
        throw InputError.invalidOption(
            "no column '\(targetName)' in \(options.path) (columns: \(table.header.joined(separator: ", ")))")
    }
    let featureNames = table.header.enumerated().filter { $0.offset != targetColumn }.map(\.element)

    // Split the table into features [N, F] and target [N, 1] by transposing, picking rows, and
    // transposing back; then standardise both with the training set's mean and deviation.
    let columns = table.values.transposed()
    let featureIndices = (0..<table.header.count).filter { $0 != targetColumn }
    let x = columns.gatheringRows(featureIndices).transposed()
    let y = columns.gatheringRows([targetColumn]).transposed()
    func standardised(_ t: Tensor) -> (values: Tensor, mean: Tensor, deviation: Tensor) {
        let mean = t.mean(axis: 0, keepDims: true)
        // A constant column would divide by 0: give it deviation 1.
        let deviation = ((t - mean).squared().mean(axis: 0, keepDims: true) + Tensor(scalar: 1e-12)).sqrt()
        return ((t - mean) / deviation, mean, deviation)
    }
    let (features, featureMean, featureDeviation) = standardised(x)
    let (targets, targetMean, targetDeviation) = standardised(y)

    var generator = RandomGenerator(seed: options.seed)
    let net = Sequential {
        Linear(inputFeatures: featureNames.count, outputFeatures: 16, using: &generator)
        ReLU()
        Linear(inputFeatures: 16, outputFeatures: 1, using: &generator)
    }
    let optimizer = Adam(net, learningRate: 0.01)
    let rows = features.shape[0], batchSize = min(32, rows)
    print(
        "\(options.path): \(rows) rows; predicting \(targetName) from \(featureNames.joined(separator: ", ")) "
            + "(\(net.parameterCount) parameters, \(BLAS.summary))")
    for epoch in 1...options.epochs {
        let order = generator.permutation(rows)
        var total = 0.0
        for start in stride(from: 0, to: rows, by: batchSize) {
            let batch = Array(order[start..<min(start + batchSize, rows)])
            let loss = mseLoss(net(features.gatheringRows(batch)), targets.gatheringRows(batch))
            optimizer.zeroGrad()
            loss.backward()
            optimizer.step()
            total += Double(loss.item) * Double(batch.count)
        }
        if epoch == 1 || epoch % max(1, options.epochs / 5) == 0 || epoch == options.epochs {
            print(
                "epoch \(epoch)/\(options.epochs): mse \(String(format: "%.4f", total / Double(rows))) (standardised)")
        }
    }
    // The error in the target's own units: RMSE = σ_y · √mse of the standardised prediction.
    let mse = withNoGrad { mseLoss(net(features), targets).item }
    let rmse = Double(targetDeviation.item) * Double(mse).squareRoot()
    print("root mean squared error on the training rows: \(String(format: "%.3f", rmse)) \(targetName)")

    // PyTorch's state-dict keys (`0.weight`, `0.bias`, `2.weight`, `2.bias`); the standardisation
    // goes into the file's metadata, so the weights load into `nn.Sequential` with strict=True.
    func list(_ t: Tensor) -> String { t.scalars.map { "\($0)" }.joined(separator: ",") }
    try net.saveStateDict(
        to: URL(fileURLWithPath: options.output),
        metadata: [
            "features": featureNames.joined(separator: ","), "target": targetName,
            "feature_mean": list(featureMean), "feature_std": list(featureDeviation),
            "target_mean": list(targetMean), "target_std": list(targetDeviation),
        ])
    print(
        """
        saved \(options.output); in PyTorch:
          net = torch.nn.Sequential(torch.nn.Linear(\(featureNames.count), 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
          net.load_state_dict(safetensors.torch.load_file("\(options.output)"))
        """)
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("csv-regression: \(error)\n".utf8))
    exit(1)
}
