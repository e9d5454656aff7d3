import Foundation

/// Rows of a JSON-lines or CSV file, each with the line it starts on.
enum ImportFile {
    struct Row {
        var line: Int
        var fields: [String: String?]
        /// Why the row cannot be read at all.
        var problem: String? = nil
    }

    /// A JSON value as an import column holds it.
    private enum Scalar: Decodable {
        case text(String?)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .text(nil)
            } else if let flag = try? container.decode(Bool.self) {
                self = .text(flag ? "true" : "false")
            } else if let number = try? container.decode(Int64.self) {
                self = .text(String(number))
            } else {
                self = .text(try container.decode(String.self))
            }
        }
    }

    static func rows(of text: String, csv: Bool) throws -> [Row] {
        csv ? try csvRows(text) : jsonLines(text)
    }

    /// One JSON object per line; a line that is not one becomes a row that fails with its reason.
    private static func jsonLines(_ text: String) -> [Row] {
        var rows: [Row] = []
        // `\r\n` is one Character, and a newline like `\n`.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            guard let object = try? JSONDecoder().decode([String: Scalar].self, from: Data(line.utf8)) else {
                rows.append(
                    Row(line: index + 1, fields: [:], problem: "not a JSON object of strings, numbers and booleans"))
                continue
            }
            rows.append(
                Row(line: index + 1, fields: object.mapValues { if case .text(let text) = $0 { text } else { nil } }))
        }
        return rows
    }

    /// RFC 4180: a header row, then records; quoted fields may hold commas, quotes (`""`) and newlines.
    private static func csvRows(_ text: String) throws -> [Row] {
        var records: [(line: Int, cells: [String])] = []
        var cells: [String] = []
        var cell = ""
        var quoted = false
        var line = 1
        var recordLine = 1
        var characters = text.makeIterator()
        var pending: Character? = characters.next()
        while let character = pending {
            pending = characters.next()
            if quoted {
                if character == "\"" {
                    if pending == "\"" {
                        cell.append("\"")
                        pending = characters.next()
                    } else {
                        quoted = false
                    }
                } else {
                    if character.isNewline { line += 1 }
                    cell.append(character)
                }
                continue
            }
            switch character {
            case "\"" where cell.isEmpty: quoted = true
            case ",":
                cells.append(cell)
                cell = ""
            case "\n", "\r\n", "\r":
                cells.append(cell)
                if cells != [""] { records.append((recordLine, cells)) }
                cells = []
                cell = ""
                line += 1
                recordLine = line
            default: cell.append(character)
            }
        }
        if quoted { throw CLIError("line \(recordLine): a quoted field is never closed") }
        cells.append(cell)
        if cells != [""] { records.append((recordLine, cells)) }
        guard let header = records.first else { return [] }
        let names = header.cells.map { $0.trimmingCharacters(in: .whitespaces) }
        return records.dropFirst().map { record in
            guard record.cells.count == names.count else {
                return Row(
                    line: record.line, fields: [:],
                    problem: "\(record.cells.count) fields where the header names \(names.count)")
            }
            var fields: [String: String?] = [:]
            for (name, value) in zip(names, record.cells) { fields[name] = value }
            return Row(line: record.line, fields: fields)
        }
    }
}
