import ArgumentParser
import Foundation
import LatchkeyCore

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
            let (imported, failures) = try await database.withServices { services in
                let accounts = services.accounts
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
