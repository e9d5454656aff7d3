import Foundation

@testable import latchkey

/// A Markdown table: its header row's cells, and each row's cells with its line.
struct MarkdownTable {
    let headerLine: Int
    let header: [String]
    let rows: [(line: Int, cells: [String])]

    /// The first table outside fenced blocks whose header row starts with `headerPrefix`.
    static func find(in document: MarkdownDocument, headerPrefix: String) -> MarkdownTable? {
        let lines = document.lines
        guard
            let headerIndex = lines.indices.first(where: {
                !document.isFenced(line: $0 + 1)
                    && lines[$0].trimmingCharacters(in: .whitespaces).hasPrefix(headerPrefix)
            })
        else { return nil }
        var rows: [(line: Int, cells: [String])] = []
        // The row after the header is the delimiter row (`|---|---|`).
        var index = headerIndex + 2
        while index < lines.count && lines[index].trimmingCharacters(in: .whitespaces).hasPrefix("|") {
            rows.append((index + 1, cells(of: lines[index])))
            index += 1
        }
        return MarkdownTable(headerLine: headerIndex + 1, header: cells(of: lines[headerIndex]), rows: rows)
    }

    /// A row's cells, trimmed. As in GitHub's tables, only an escaped `\|` is not a border, in
    /// code spans too.
    static func cells(of line: String) -> [String] {
        var row = line.trimmingCharacters(in: .whitespaces)
        if row.hasPrefix("|") { row.removeFirst() }
        if row.hasSuffix("|") && !row.hasSuffix("\\|") { row.removeLast() }
        var cells: [String] = []
        var cell = ""
        var escaped = false
        for character in row {
            if escaped {
                cell.append(character == "|" ? "|" : "\\\(character)")
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "|" {
                cells.append(cell.trimmingCharacters(in: .whitespaces))
                cell = ""
            } else {
                cell.append(character)
            }
        }
        if escaped { cell.append("\\") }
        cells.append(cell.trimmingCharacters(in: .whitespaces))
        return cells
    }
}

/// The configuration table of docs/operating.md is `ServerSettings.all` written out: each
/// setting one row, with its flag, its variable and its default as `defaultShown` says it, so
/// that a setting added, renamed or given a new default cannot leave the page behind.
enum SettingsTableCheck {
    static let headerPrefix = "| flag (`serve`)"
    static let columns = ["flag", "environment", "default", "meaning"]

    /// One row as the page says it.
    struct Row {
        let line: Int
        let flag: String?
        let variable: String
        let shownDefault: String
    }

    static func findings(in document: MarkdownDocument, settings: [any AnySetting]) -> [DocumentationFinding] {
        func finding(_ line: Int?, _ message: String) -> DocumentationFinding {
            DocumentationFinding(file: document.path, line: line, message: message)
        }
        guard let table = MarkdownTable.find(in: document, headerPrefix: headerPrefix) else {
            return [finding(nil, "no configuration table (a header row starting `\(headerPrefix)`)")]
        }
        let header = table.header.map { $0.lowercased() }
        let indices = columns.map { column in header.firstIndex { $0.hasPrefix(column) } }
        let missing = zip(columns, indices).filter { $0.1 == nil }.map(\.0)
        guard missing.isEmpty, let flagColumn = indices[0], let variableColumn = indices[1],
            let defaultColumn = indices[2]
        else {
            return [
                finding(table.headerLine, "the configuration table has no \(missing.joined(separator: ", ")) column")
            ]
        }

        var findings: [DocumentationFinding] = []
        var rows: [String: Row] = [:]
        for (line, cells) in table.rows {
            guard cells.count > max(flagColumn, variableColumn, defaultColumn) else {
                findings.append(finding(line, "a row of \(cells.count) cells; the header has \(header.count)"))
                continue
            }
            guard let variable = variable(in: cells[variableColumn]) else {
                findings.append(finding(line, "no LATCHKEY_… or LOG_LEVEL in `\(cells[variableColumn])`"))
                continue
            }
            let flagCell = cells[flagColumn]
            let flag = self.flag(in: flagCell)
            if flag == nil && !flagCell.isEmpty {
                findings.append(
                    finding(
                        line, "\(variable): no `--flag` in `\(flagCell)` (a setting with no flag has an empty cell)"))
                continue
            }
            let shownDefault = cells[defaultColumn].replacingOccurrences(of: "`", with: "")
                .trimmingCharacters(in: .whitespaces)
            if let earlier = rows[variable] {
                findings.append(finding(line, "\(variable) has a row already, at line \(earlier.line)"))
                continue
            }
            rows[variable] = Row(line: line, flag: flag, variable: variable, shownDefault: shownDefault)
        }

        for setting in settings {
            guard let row = rows.removeValue(forKey: setting.variable) else {
                findings.append(
                    finding(table.headerLine, "\(setting.variable), a setting of ServerSettings, has no row"))
                continue
            }
            if row.flag != setting.flag {
                findings.append(
                    finding(
                        row.line,
                        "\(row.variable): the row's flag is \(shown(row.flag)), the setting's \(shown(setting.flag))"))
            }
            if row.shownDefault != setting.defaultShown {
                findings.append(
                    finding(
                        row.line,
                        "\(row.variable): the row's default is '\(row.shownDefault)', the setting's '\(setting.defaultShown)'"
                    ))
            }
        }
        for row in rows.values.sorted(by: { $0.line < $1.line }) {
            findings.append(finding(row.line, "\(row.variable) is not a setting of ServerSettings"))
        }
        return findings.sorted { ($0.line ?? 0) < ($1.line ?? 0) }
    }

    /// The first `--name` inside a code span (`--trusted-proxy CIDR` names trusted-proxy).
    static func flag(in cell: String) -> String? {
        for span in cell.matches(of: /`([^`]*)`/) {
            if let name = span.output.1.firstMatch(of: /--([A-Za-z0-9][A-Za-z0-9-]*)/) { return String(name.output.1) }
        }
        return nil
    }

    /// The first variable named (`LATCHKEY_REQUIRE_EXPIRY=true` names LATCHKEY_REQUIRE_EXPIRY).
    static func variable(in cell: String) -> String? {
        cell.firstMatch(of: /LOG_LEVEL|LATCHKEY_[A-Z0-9_]+/).map { String($0.output) }
    }

    private static func shown(_ flag: String?) -> String { flag.map { "--\($0)" } ?? "none" }
}
