import Engine
import Foundation

/// A tabular regression data set preprocessed as in the book's Kaggle house-price section
/// (§4.10, "Predicting House Prices on Kaggle"):
///
/// 1. the feature columns are every column but the id and the label, taken from the training
///    table and the test table together (train rows first), as the book's `pd.concat`;
/// 2. a column is numeric when every non-missing field parses as a number; each numeric column is
///    standardised `(x − mean) / std` with the mean and the sample standard deviation (n − 1,
///    pandas' `std()`) of its non-missing values over train and test, then missing values (and the
///    0/0 of a constant column) become 0;
/// 3. every other column is one-hot encoded, one column per distinct value in sorted (code point)
///    order named `column_value`, plus `column_nan` marking missing values
///    (`pd.get_dummies(..., dummy_na=True)`); the numeric columns come first, then the indicator
///    columns, column by column, as pandas orders them.
///
/// Missing values are the empty field and pandas' default markers (`NA`, `NaN`, `null`, …, see
/// `missingMarkers`). On the real Kaggle files this gives 330 features (36 numeric, 294 indicator
/// columns), as the book's steps give under pandas 3.1.1; the book prints 331, from an older
/// pandas. Values are computed in `Double` and stored as `Float`.
public struct TabularDataSet {
    /// The feature names, in column order (`LotArea`, …, `MSZoning_RL`, `MSZoning_nan`, …).
    public let featureNames: [String]
    /// The preprocessed training features, `[trainCount, featureNames.count]`.
    public let trainFeatures: Tensor
    /// The training labels, `[trainCount, 1]`.
    public let trainLabels: Tensor
    /// The preprocessed test features, `[testCount, featureNames.count]` (0 rows without a test table).
    public let testFeatures: Tensor
    /// The id of each test row (for a submission file); empty without an id column.
    public let testIDs: [String]

    /// The fields pandas' `read_csv` reads as missing by default.
    public static let missingMarkers: Set<String> = [
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
        "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    ]

    /// Preprocesses `train` (with a `labelColumn`) and optionally `test` (the same feature
    /// columns, in any order, without the label), dropping `idColumn` when present.
    ///
    /// - Throws: `DataSetError.invalidTable` naming the table (and line) when the label column is
    ///   missing, a label is missing or not a number, or the test table lacks a feature column.
    public init(train: CSVTable, test: CSVTable? = nil, labelColumn: String, idColumn: String? = "Id") throws {
        guard let labelIndex = train.columnIndex(labelColumn) else {
            throw DataSetError.invalidTable(path: train.name, line: 1, reason: "no label column '\(labelColumn)'")
        }
        let featureColumns = train.header.filter { $0 != labelColumn && $0 != idColumn }
        let trainIndices = featureColumns.map { train.columnIndex($0)! }
        var testIndices: [Int] = []
        if let test {
            for column in featureColumns {
                guard let index = test.columnIndex(column) else {
                    throw DataSetError.invalidTable(
                        path: test.name, line: 1, reason: "no column '\(column)', which the training table has")
                }
                testIndices.append(index)
            }
        }
        let trainCount = train.rows.count, testCount = test?.rows.count ?? 0, total = trainCount + testCount

        var labels = [Float]()
        labels.reserveCapacity(trainCount)
        for (row, fields) in train.rows.enumerated() {
            let field = fields[labelIndex].trimmingCharacters(in: .whitespaces)
            guard !TabularDataSet.missingMarkers.contains(field), let value = Double(field) else {
                throw DataSetError.invalidTable(
                    path: train.name, line: train.lineNumbers[row],
                    reason: "label '\(labelColumn)' is '\(fields[labelIndex])', not a number")
            }
            labels.append(Float(value))
        }

        // Columns of the result, each a vector over the train rows then the test rows.
        var numericNames: [String] = [], numericColumns: [[Double]] = []
        var indicatorNames: [String] = [], indicatorColumns: [[Double]] = []
        for (c, column) in featureColumns.enumerated() {
            var values: [String?] = train.rows.map { TabularDataSet.present($0[trainIndices[c]]) }
            if let test { values += test.rows.map { TabularDataSet.present($0[testIndices[c]]) } }
            let numbers = values.map { $0.map { Double($0.trimmingCharacters(in: .whitespaces)) } }
            if numbers.allSatisfy({ $0 == nil || $0! != nil }) {
                let present = numbers.compactMap { $0 ?? nil }
                let mean = present.reduce(0, +) / Double(Swift.max(present.count, 1))
                let variance = present.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(present.count - 1)
                let standardDeviation = variance.squareRoot()
                numericNames.append(column)
                numericColumns.append(
                    numbers.map { number in
                        guard let x = number ?? nil, present.count >= 2, standardDeviation > 0 else { return 0 }
                        return (x - mean) / standardDeviation
                    })
            } else {
                let categories = Set(values.compactMap { $0 }).sorted {
                    $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars)
                }
                for category in categories {
                    indicatorNames.append("\(column)_\(category)")
                    indicatorColumns.append(values.map { $0 == category ? 1 : 0 })
                }
                indicatorNames.append("\(column)_nan")
                indicatorColumns.append(values.map { $0 == nil ? 1 : 0 })
            }
        }

        let columns = numericColumns + indicatorColumns, width = columns.count
        featureNames = numericNames + indicatorNames
        let all = Tensor(shape: [total, width], repeating: 0)
        for (j, column) in columns.enumerated() {
            for i in 0..<total { all.pointer[i * width + j] = Float(column[i]) }
        }
        trainFeatures = all.rows(0..<trainCount)
        testFeatures = all.rows(trainCount..<total)
        trainLabels = Tensor(labels, shape: [trainCount, 1])
        if let test, let idColumn, let idIndex = test.columnIndex(idColumn) {
            testIDs = test.rows.map { $0[idIndex] }
        } else {
            testIDs = []
        }
    }

    /// `field` unless it is a missing-value marker.
    private static func present(_ field: String) -> String? { missingMarkers.contains(field) ? nil : field }

    /// The book's house-price data: `train.csv` (with `SalePrice`) and optionally `test.csv`
    /// (Kaggle's `kaggle_house_pred_train.csv` / `…_test.csv`), `Id` dropped.
    public static func housePrices(trainFile: URL, testFile: URL? = nil) throws -> TabularDataSet {
        try TabularDataSet(
            train: CSVTable.read(contentsOf: trainFile), test: testFile.map(CSVTable.read(contentsOf:)),
            labelColumn: "SalePrice", idColumn: "Id")
    }
}

// MARK: - A synthetic house-price table

extension TabularDataSet {
    /// The neighbourhoods of `syntheticHousePrices` and their effect on the log price.
    static let syntheticNeighborhoods: [(name: String, effect: Double)] = [
        ("CollgCr", 0.05), ("Edwards", -0.2), ("NoRidge", 0.35), ("North, Ames", 0), ("OldTown", -0.25),
    ]

    /// A small house-price-like pair of tables made from `generator`, for running the Kaggle
    /// experiment's code when no data file is given. Columns:
    ///
    /// - `Id` (1, 2, …, continuing into the test table);
    /// - `LotArea` ~ 10⁴ · e^{N(0, 0.4²)}, rounded; `OverallQual` uniform in 1...10;
    ///   `YearBuilt` uniform in 1900...2010; `GarageArea` uniform in 0...1000, `NA` for ~10 %;
    /// - `Neighborhood`, one of five names (one, `"North, Ames"`, needs quoting in CSV);
    ///   `MSZoning`, `RL` / `RM` / `FV`, `NA` for ~5 %;
    /// - `SalePrice` (training table only) = exp(12 + 0.1 (OverallQual − 5) + 0.3 ln(LotArea / 10⁴)
    ///   + 0.003 (YearBuilt − 1970) + 0.0002 GarageArea + neighbourhood effect + N(0, 0.1²)), rounded.
    public static func syntheticHousePrices(
        trainCount: Int = 200, testCount: Int = 100,
        using generator: inout RandomGenerator
    ) -> (train: CSVTable, test: CSVTable) {
        let zonings = ["RL", "RM", "FV"]
        var trainRows: [[String]] = [], testRows: [[String]] = []
        precondition(trainCount >= 0 && testCount >= 0, "syntheticHousePrices: negative row count")
        for id in stride(from: 1, through: trainCount + testCount, by: 1) {
            let lotArea = (10_000 * Foundation.exp(0.4 * generator.nextNormal())).rounded()
            let quality = 1 + generator.nextInt(below: 10)
            let year = 1900 + generator.nextInt(below: 111)
            let garage = Double(generator.nextInt(below: 1001))
            let garageMissing = generator.nextDouble() < 0.1
            let neighborhood = syntheticNeighborhoods[generator.nextInt(below: syntheticNeighborhoods.count)]
            let zoning = generator.nextDouble() < 0.05 ? "NA" : zonings[generator.nextInt(below: zonings.count)]
            let logPrice =
                12 + 0.1 * Double(quality - 5) + 0.3 * Foundation.log(lotArea / 10_000)
                + 0.003 * Double(year - 1970) + 0.0002 * (garageMissing ? 0 : garage) + neighborhood.effect
                + 0.1 * generator.nextNormal()
            var row = [
                String(id), String(Int(lotArea)), String(quality), String(year),
                garageMissing ? "NA" : String(Int(garage)), neighborhood.name, zoning,
            ]
            if id <= trainCount {
                row.append(String(Int(Foundation.exp(logPrice).rounded())))
                trainRows.append(row)
            } else {
                testRows.append(row)
            }
        }
        let header = ["Id", "LotArea", "OverallQual", "YearBuilt", "GarageArea", "Neighborhood", "MSZoning"]
        return (
            CSVTable(name: "synthetic house prices (train)", header: header + ["SalePrice"], rows: trainRows),
            CSVTable(name: "synthetic house prices (test)", header: header, rows: testRows)
        )
    }
}
