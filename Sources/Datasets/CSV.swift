import Engine
import Foundation

/// A table read from a CSV file (RFC 4180): a header row of column names, then rows of fields
/// as strings. Fields may be quoted (`"North, Ames"`, `"say ""hi"""`), quoted fields may hold
/// commas, quotes (doubled) and line breaks; lines end in `\n` or `\r\n`; blank lines are skipped
/// (as pandas does). Typing and preprocessing are `TabularDataSet`'s job.
public struct CSVTable: Sendable, Equatable {
    /// Where the table came from, for error messages (a path, or a description).
    public let name: String
    /// The column names, from the first row.
    public let header: [String]
    /// The data rows, each with `header.count` fields.
    public let rows: [[String]]
    /// The 1-based line of the file on which each row starts, for error messages.
    public let lineNumbers: [Int]

    /// A table of `rows` under `header`; every row must have `header.count` fields.
    public init(name: String, header: [String], rows: [[String]], lineNumbers: [Int]? = nil) {
        precondition(rows.allSatisfy { $0.count == header.count }, "CSVTable: every row needs \(header.count) fields")
        self.name = name
        self.header = header
        self.rows = rows
        self.lineNumbers = lineNumbers ?? rows.indices.map { $0 + 2 }
    }

    /// The index of the column called `column`, if there is one.
    public func columnIndex(_ column: String) -> Int? { header.firstIndex(of: column) }

    /// Reads and parses the CSV file at `url` (UTF-8).
    /// - Throws: `DataSetError.missingFile`, `.unreadable`, or `.invalidTable` (see `parse`).
    public static func read(contentsOf url: URL) throws -> CSVTable {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DataSetError.missingFile(path: url.path, hint: "")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataSetError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataSetError.invalidTable(path: url.path, line: 0, reason: "not valid UTF-8 text")
        }
        return try parse(text, name: url.path)
    }

    /// Parses CSV `text`; `name` is used in error messages.
    /// - Throws: `DataSetError.invalidTable` naming `name` and the line for an empty text, a row
    ///   with another number of fields than the header, an unterminated quoted field, or
    ///   characters between a closing quote and the next comma.
    public static func parse(_ text: String, name: String) throws -> CSVTable {
        let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), newline = UInt8(ascii: "\n"),
            carriageReturn = UInt8(ascii: "\r")
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = [], field: [UInt8] = []
        var inQuotes = false, afterQuote = false, recordHasContent = false
        var line = 1, recordLine = 1
        let bytes = Array(text.utf8)
        var i = 0

        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            afterQuote = false
        }
        func endRecord() {
            endField()
            if recordHasContent || fields.count > 1 { records.append((recordLine, fields)) }
            fields = []
            recordHasContent = false
        }

        while i < bytes.count {
            let byte = bytes[i]
            if inQuotes {
                if byte == quote {
                    if i + 1 < bytes.count && bytes[i + 1] == quote {
                        field.append(quote)
                        i += 1
                    } else {
                        inQuotes = false
                        afterQuote = true
                    }
                } else {
                    if byte == newline { line += 1 }
                    field.append(byte)
                }
            } else if byte == comma {
                endField()
            } else if byte == newline || (byte == carriageReturn && i + 1 < bytes.count && bytes[i + 1] == newline) {
                if byte == carriageReturn { i += 1 }
                endRecord()
                line += 1
                recordLine = line
            } else if afterQuote {
                throw DataSetError.invalidTable(
                    path: name, line: line, reason: "unexpected character after a closing quote")
            } else if byte == quote && field.isEmpty {
                inQuotes = true
                recordHasContent = true
            } else {
                field.append(byte)
                recordHasContent = true
            }
            i += 1
        }
        if inQuotes {
            throw DataSetError.invalidTable(path: name, line: recordLine, reason: "a quoted field is not closed")
        }
        if recordHasContent || !fields.isEmpty || !field.isEmpty { endRecord() }

        guard let first = records.first else {
            throw DataSetError.invalidTable(path: name, line: 0, reason: "no header row")
        }
        let header = first.fields
        for record in records.dropFirst() where record.fields.count != header.count {
            throw DataSetError.invalidTable(
                path: name, line: record.line,
                reason: "\(record.fields.count) fields, the header has \(header.count)")
        }
        return CSVTable(
            name: name, header: header, rows: records.dropFirst().map(\.fields),
            lineNumbers: records.dropFirst().map(\.line))
    }

    /// The table as CSV text: fields holding a comma, quote or line break are quoted (quotes
    /// doubled), lines end in `\n`. `parse(csvText)` gives the table back.
    public var csvText: String {
        func escape(_ field: String) -> String {
            guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
            return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return ([header] + rows).map { $0.map(escape).joined(separator: ",") + "\n" }.joined()
    }
}
