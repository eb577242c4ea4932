import Datasets
import Engine
import Foundation
import TestSupport
import Testing

@Suite("CSV tables and house-price preprocessing")
struct TabularTests {
    @Test("CSV: quoted commas, doubled quotes, line breaks in quotes, CRLF, blank lines, round trip")
    func parsing() throws {
        let text = "Id,Name,Note\r\n1,\"North, Ames\",plain\r\n\r\n2,\"say \"\"hi\"\"\",\"two\nlines\"\n3,,\"\"\n"
        let table = try CSVTable.parse(text, name: "t.csv")
        #expect(table.header == ["Id", "Name", "Note"])
        #expect(table.rows == [["1", "North, Ames", "plain"], ["2", "say \"hi\"", "two\nlines"], ["3", "", ""]])
        #expect(table.lineNumbers == [2, 4, 6])
        #expect(try CSVTable.parse(table.csvText, name: "again").rows == table.rows)
        #expect(try CSVTable.parse("a,b\n1,2", name: "x").rows == [["1", "2"]]) // no final newline

        #expect(throws: DataSetError.invalidTable(path: "bad.csv", line: 3, reason: "3 fields, the header has 2")) {
            try CSVTable.parse("a,b\n1,2\n1,2,3\n", name: "bad.csv")
        }
        #expect(throws: DataSetError.invalidTable(path: "bad.csv", line: 2, reason: "a quoted field is not closed")) {
            try CSVTable.parse("a,b\n1,\"2\n", name: "bad.csv")
        }
        #expect(
            throws: DataSetError.invalidTable(
                path: "bad.csv", line: 2, reason: "unexpected character after a closing quote")
        ) {
            try CSVTable.parse("a,b\n\"1\"x,2\n", name: "bad.csv")
        }
        #expect(throws: DataSetError.invalidTable(path: "empty.csv", line: 0, reason: "no header row")) {
            try CSVTable.parse("\n\n", name: "empty.csv")
        }
    }

    @Test("house-price preprocessing: standardise, fill 0, one-hot with nan column, drop id, label")
    func preprocessing() throws {
        let directory = try makeTemporaryDirectory("csv")
        defer { try? FileManager.default.removeItem(at: directory) }
        let trainURL = directory.appendingPathComponent("train.csv"),
            testURL = directory.appendingPathComponent("test.csv")
        try "Id,A,B,C,SalePrice\n1,1,x,\"p, q\",100\n2,2,NA,r,200\n3,,y,\"p, q\",300\n4,5,x,,400\n"
            .write(to: trainURL, atomically: true, encoding: .utf8)
        try "Id,C,B,A\n5,r,z,2\n".write(to: testURL, atomically: true, encoding: .utf8)

        let data = try TabularDataSet.housePrices(trainFile: trainURL, testFile: testURL)
        #expect(data.featureNames == ["A", "B_x", "B_y", "B_z", "B_nan", "C_p, q", "C_r", "C_nan"])
        #expect(data.trainLabels.shape == [4, 1] && data.trainLabels.scalars == [100, 200, 300, 400])
        #expect(data.trainFeatures.shape == [4, 8] && data.testFeatures.shape == [1, 8])
        #expect(data.testIDs == ["5"])
        // A over train + test: 1, 2, –, 5, 2; mean 2.5, sample std √3 (pandas' ddof = 1); missing → 0.
        let s = Float(3).squareRoot()
        let expectedTrain = Tensor([
            [-1.5 / s, 1, 0, 0, 0, 1, 0, 0],
            [-0.5 / s, 0, 0, 0, 1, 0, 1, 0],
            [0, 0, 1, 0, 0, 1, 0, 0],
            [2.5 / s, 1, 0, 0, 0, 0, 0, 1],
        ])
        expectClose(
            data.trainFeatures, expectedTrain, relativeTolerance: 1e-6, absoluteTolerance: 1e-6, "train features")
        expectClose(
            data.testFeatures, Tensor([[-0.5 / s, 0, 0, 1, 0, 0, 1, 0]]), relativeTolerance: 1e-6,
            absoluteTolerance: 1e-6, "test features")

        // Without a test table: statistics over the training rows only; a constant column becomes 0.
        let alone = try TabularDataSet(
            train: CSVTable.parse("K,A,Y\n7,1,1\n7,3,2\n", name: "small"), labelColumn: "Y", idColumn: nil)
        #expect(alone.featureNames == ["K", "A"] && alone.testFeatures.shape == [0, 2])
        expectClose(
            alone.trainFeatures, Tensor([[0, -Float(0.5).squareRoot()], [0, Float(0.5).squareRoot()]]),
            relativeTolerance: 1e-6, absoluteTolerance: 1e-6, "constant column")

        #expect(throws: DataSetError.invalidTable(path: "l", line: 3, reason: "label 'Y' is 'NA', not a number")) {
            try TabularDataSet(train: CSVTable.parse("A,Y\n1,2\n2,NA\n", name: "l"), labelColumn: "Y")
        }
        #expect(throws: DataSetError.invalidTable(path: "l", line: 1, reason: "no label column 'Price'")) {
            try TabularDataSet(train: CSVTable.parse("A,Y\n1,2\n", name: "l"), labelColumn: "Price")
        }
        #expect(
            throws: DataSetError.invalidTable(path: "t", line: 1, reason: "no column 'B', which the training table has")
        ) {
            try TabularDataSet(
                train: CSVTable.parse("A,B,Y\n1,2,3\n", name: "l"), test: CSVTable.parse("A\n1\n", name: "t"),
                labelColumn: "Y")
        }
    }

    @Test("synthetic house prices: reproducible, CSV round trip, 14 features, log price nearly linear")
    func syntheticHouses() throws {
        var generator = RandomGenerator(seed: 11), same = RandomGenerator(seed: 11)
        let (train, test) = TabularDataSet.syntheticHousePrices(using: &generator)
        #expect(TabularDataSet.syntheticHousePrices(using: &same).train == train)
        #expect(train.rows.count == 200 && test.rows.count == 100 && test.rows[0][0] == "201")
        #expect(try CSVTable.parse(train.csvText, name: train.name) == train)

        let data = try TabularDataSet(train: train, test: test, labelColumn: "SalePrice")
        #expect(
            data.featureNames.count == 14
                && data.featureNames.prefix(4) == ["LotArea", "OverallQual", "YearBuilt", "GarageArea"])
        #expect(data.featureNames.contains("Neighborhood_North, Ames") && data.featureNames.last == "MSZoning_nan")
        #expect(data.trainFeatures.shape == [200, 14] && data.testFeatures.shape == [100, 14])
        let logPrices = Tensor(data.trainLabels.scalars.map { Foundation.log($0) }, shape: [200, 1])
        let fit = try LeastSquares.solveRidge(data.trainFeatures, logPrices, lambda: 1e-3)
        let residuals = (matmul(data.trainFeatures, fit) - logPrices).scalars
        let rmse = (residuals.map { $0 * $0 }.reduce(0, +) / 200).squareRoot()
        #expect(rmse < 0.15, "log-price rmse \(rmse)") // noise σ 0.1, plus the missing garage areas
    }
}
