import Foundation

@testable import latchkey

/// Every `latchkey …` a page shows in a shell block must parse as the CLI would parse it: a
/// renamed flag or subcommand fails here rather than for the reader who types it.
enum CommandCheck {
    /// Fenced blocks read as shell: those with no info string as well, which is how many pages
    /// show a command.
    static let shellLanguages: Set<String> = ["", "sh", "shell", "bash", "console"]

    static func findings(in document: MarkdownDocument) -> [DocumentationFinding] {
        var findings: [DocumentationFinding] = []
        for block in document.fencedBlocks where shellLanguages.contains(block.language) {
            let lines = block.language == "console" ? promptedLines(block.content) : block.content
            for (offset, line) in logicalLines(lines) {
                for words in ShellWords.commands(in: line) {
                    guard let arguments = latchkeyArguments(words), let failure = parseFailure(arguments) else {
                        continue
                    }
                    findings.append(
                        DocumentationFinding(
                            file: document.path, line: block.firstContentLine + offset,
                            message: "`\(shown(words))` does not parse: \(failure)"))
                }
            }
        }
        return findings
    }

    /// The arguments a command gives the CLI, after any `NAME=value` assignments; nil when it
    /// runs something else. `swift run latchkey …` runs it too.
    static func latchkeyArguments(_ words: [String]) -> [String]? {
        let words = words.drop { $0.firstMatch(of: /^[A-Za-z_][A-Za-z0-9_]*=/) != nil }
        guard let program = words.first else { return nil }
        if program == "latchkey" || program.hasSuffix("/latchkey") { return Array(words.dropFirst()) }
        if program == "swift", words.dropFirst().first == "run", let name = words.firstIndex(of: "latchkey") {
            return Array(words[(name + 1)...])
        }
        return nil
    }

    /// ArgumentParser's message when `arguments` do not parse; nil when they do, or when they
    /// ask for help or the version (a clean exit).
    static func parseFailure(_ arguments: [String]) -> String? {
        do {
            _ = try Latchkey.parseAsRoot(arguments)
            return nil
        } catch {
            return Latchkey.exitCode(for: error) == .success ? nil : Latchkey.message(for: error)
        }
    }

    /// Backslash-continued lines joined, each with the offset of the line it starts on; a line
    /// that starts with `#` is a comment on its own (its trailing backslash continues nothing).
    private static func logicalLines(_ lines: [String]) -> [(offset: Int, text: String)] {
        var joined: [(offset: Int, text: String)] = []
        var continuing = false
        for (offset, line) in lines.enumerated() {
            if !continuing && line.trimmingCharacters(in: .whitespaces).hasPrefix("#") { continue }
            let text = continues(line) ? String(line.dropLast()) : line
            if continuing, let last = joined.indices.last {
                joined[last].text += text
            } else {
                joined.append((offset, text))
            }
            continuing = continues(line)
        }
        return joined
    }

    /// In a console block a command follows a `$ ` prompt, and what it prints is not a command:
    /// output lines are left empty, so that offsets still count lines.
    private static func promptedLines(_ lines: [String]) -> [String] {
        var continuing = false
        return lines.map { line in
            let trimmed = line.drop { $0 == " " }
            let kept: String
            if continuing {
                kept = line
            } else if trimmed == "$" || trimmed.hasPrefix("$ ") {
                kept = String(trimmed.dropFirst())
            } else {
                kept = ""
            }
            continuing = continues(kept)
            return kept
        }
    }

    /// Whether the line ends in a backslash that continues it (not one escaped by another).
    private static func continues(_ line: String) -> Bool {
        line.reversed().prefix { $0 == "\\" }.count % 2 == 1
    }

    /// The words as one would type them again, quoting those that need it.
    private static func shown(_ words: [String]) -> String {
        words.map { word in
            word.isEmpty || word.contains(where: { " \t'\"|&;()<>".contains($0) })
                ? "'\(word.replacingOccurrences(of: "'", with: #"'\''"#))'" : word
        }.joined(separator: " ")
    }
}
