import ArgumentParser
import Foundation
import LatchkeyCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension UserCommand {
    struct ImportCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Import users from Quay or Stencila Hub, with their password hashes.",
            discussion: """
                FILE holds JSON lines or CSV (with a header row) with the columns username, email, first_name,
                last_name, password (or password_hash), is_active, is_admin (is_superuser). Hashes may be bcrypt
                ($2a$, $2b$, $2y$: Quay) or Django's pbkdf2_sha256 (Stencila Hub); each becomes scrypt at the
                account's next successful sign-in. A bad row is reported with its line number and skipped.
                """)

        @Argument(help: "A .jsonl or .csv file ('-' for standard input).") var file: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let data: Data
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let contents = FileManager.default.contents(atPath: file) else {
                    throw CLIError("cannot read \(file)")
                }
                data = contents
            }
            guard let text = String(data: data, encoding: .utf8) else { throw CLIError("\(file) is not UTF-8 text") }
            let rows = try ImportFile.rows(of: text, csv: Self.isCSV(file: file, text: text))
            let progress = ProgressBar(total: rows.count)
            let (imported, failures) = try await database.withStorage { storage in
                let accounts = AccountService(storage: storage)
                var imported = 0
                var failures: [String] = []
                for (index, row) in rows.enumerated() {
                    do {
                        if let problem = row.problem { throw ImportedUser.RowError(description: problem) }
                        let record = try ImportedUser(row.fields)
                        _ = try await accounts.importUser(
                            username: record.username, email: record.email, firstName: record.firstName,
                            lastName: record.lastName, passwordHash: record.passwordHash, isActive: record.isActive,
                            isAdmin: record.isAdmin, by: .cli)
                        imported += 1
                    } catch let error as StorageUnavailable {
                        throw error
                    } catch {
                        failures.append("line \(row.line): \(error)")
                    }
                    progress.show(index + 1)
                }
                return (imported, failures)
            }
            progress.finish()
            for failure in failures { FileHandle.standardError.write(Data("latchkey: \(failure)\n".utf8)) }
            print("imported \(imported) user\(imported == 1 ? "" : "s"), skipped \(failures.count)")
            guard failures.isEmpty else {
                throw CLIError("\(failures.count) of \(rows.count) rows were skipped (see the lines above)")
            }
        }

        private static func isCSV(file: String, text: String) -> Bool {
            if file.lowercased().hasSuffix(".csv") { return true }
            if file.lowercased().hasSuffix(".jsonl") || file.lowercased().hasSuffix(".ndjson") { return false }
            return text.first(where: { !$0.isWhitespace }) != "{"
        }
    }
}

/// One account of an import file, by the column names Quay's and Django's exports use.
struct ImportedUser {
    struct RowError: Error, CustomStringConvertible {
        let description: String
    }

    var username: String
    var email: String?
    var firstName: String
    var lastName: String
    var passwordHash: String?
    var isActive: Bool
    var isAdmin: Bool

    init(_ fields: [String: String?]) throws {
        func value(_ names: String...) -> String? {
            for name in names { if let value = fields[name] ?? nil, !value.isEmpty { return value } }
            return nil
        }
        func flag(_ names: String..., default fallback: Bool) throws -> Bool {
            for name in names {
                guard let text = fields[name] ?? nil, !text.isEmpty else { continue }
                switch text.lowercased() {
                case "true", "t", "1", "yes": return true
                case "false", "f", "0", "no": return false
                default: throw RowError(description: "\(name) must be true or false, not '\(text)'")
                }
            }
            return fallback
        }
        guard let username = value("username") else { throw RowError(description: "the username is missing") }
        self.username = username
        email = value("email")
        firstName = value("first_name", "firstName") ?? ""
        lastName = value("last_name", "lastName") ?? ""
        // Django marks an account without a usable password with a hash starting with "!".
        passwordHash = value("password", "password_hash").flatMap { $0.hasPrefix("!") ? nil : $0 }
        isActive = try flag("is_active", "active", "enabled", default: true)
        isAdmin = try flag("is_admin", "admin", "is_superuser", "super_user", default: false)
    }
}

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

/// A progress bar on a terminal (standard error); nothing otherwise.
final class ProgressBar: Sendable {
    let total: Int
    let isTerminal = isatty(STDERR_FILENO) == 1
    private let shown = Mutex(-1)

    init(total: Int) {
        self.total = total
    }

    func show(_ done: Int) {
        guard isTerminal, total > 0 else { return }
        let width = 30
        let filled = done * width / total
        guard
            shown.withLock({ shown in
                defer { shown = filled }
                return shown != filled
            }) || done == total
        else {
            return
        }
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(Data("\rimporting [\(bar)] \(done)/\(total)".utf8))
    }

    func finish() {
        if isTerminal && total > 0 { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
