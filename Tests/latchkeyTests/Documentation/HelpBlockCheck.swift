import ArgumentParser
import Foundation

@testable import latchkey

/// What one command prints for `--help`, by its path (`latchkey token create`).
struct CommandHelp {
    let path: String
    let text: String

    /// Every command of the CLI, the root first, each before its subcommands; 80 columns, as
    /// the page shows them. ArgumentParser's generated `help` is its own, not a command to show.
    static func everyCommand() -> [CommandHelp] {
        var helps: [CommandHelp] = []
        func visit(_ command: any ParsableCommand.Type, parents: [String]) {
            let path = parents + [command._commandName]
            helps.append(
                CommandHelp(
                    path: path.joined(separator: " "),
                    text: Latchkey.helpMessage(for: command, includeHidden: false, columns: 80)))
            for subcommand in command.configuration.subcommands where subcommand._commandName != "help" {
                visit(subcommand, parents: path)
            }
        }
        visit(Latchkey.self, parents: [])
        return helps
    }
}

/// docs/cli.md shows each command's `--help` as the CLI prints it: a line
/// `<!-- help: latchkey token create -->` right before a ```` ```text ```` block holding it.
/// Blocks are compared with each line's trailing whitespace and the blank lines around trimmed.
enum HelpBlockCheck {
    /// A marker line and the fenced block after it.
    struct Marker {
        let line: Int
        let path: String
        /// The ```text block that starts on the next line; nil when there is none.
        let block: FencedBlock?

        /// What its block shows, as `normalized` compares it; nil without a block.
        var shown: [String]? { block.map { normalized($0.content.joined(separator: "\n")) } }
    }

    /// Each command's help by its path, as `normalized` compares it.
    static func expected(_ helps: [CommandHelp]) -> [String: [String]] {
        Dictionary(helps.map { ($0.path, normalized($0.text)) }, uniquingKeysWith: { first, _ in first })
    }

    static func markers(in document: MarkdownDocument) -> [Marker] {
        let blocksByOpening = Dictionary(
            document.fencedBlocks.map { ($0.openingLine, $0) }, uniquingKeysWith: { first, _ in first })
        return document.lines.enumerated().compactMap { index, text in
            guard !document.isFenced(line: index + 1),
                let match = text.trimmingCharacters(in: .whitespaces).wholeMatch(of: /<!--\s*help:\s*(.*?)\s*-->/)
            else { return nil }
            let path = match.output.1.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            let block = blocksByOpening[index + 2].flatMap { $0.language == "text" ? $0 : nil }
            return Marker(line: index + 1, path: path, block: block)
        }
    }

    static func findings(in document: MarkdownDocument, helps: [CommandHelp]) -> [DocumentationFinding] {
        func finding(_ line: Int?, _ message: String) -> DocumentationFinding {
            DocumentationFinding(file: document.path, line: line, message: message)
        }
        let helpByPath = expected(helps)
        let rewrite = "(LATCHKEY_WRITE_DOCS=1 swift test --filter DocumentationTests rewrites it)"
        var findings: [DocumentationFinding] = []
        var seen: [String: Int] = [:]
        for marker in markers(in: document) {
            if let earlier = seen[marker.path] {
                findings.append(finding(marker.line, "`\(marker.path)` has a help block already, at line \(earlier)"))
                continue
            }
            seen[marker.path] = marker.line
            guard let help = helpByPath[marker.path] else {
                findings.append(finding(marker.line, "`\(marker.path)` is not a command of latchkey"))
                continue
            }
            guard let block = marker.block, block.closingLine != nil, let shown = marker.shown else {
                findings.append(
                    finding(marker.line, "the marker of `\(marker.path)` is not followed by a closed ```text block"))
                continue
            }
            if shown.isEmpty {
                findings.append(finding(marker.line, "the help block of `\(marker.path)` is empty \(rewrite)"))
            } else if let difference = firstDifference(shown, help) {
                let leadingBlankLines = block.content.prefix { $0.allSatisfy(\.isWhitespace) }.count
                findings.append(
                    finding(
                        block.firstContentLine + leadingBlankLines + difference,
                        "the help block of `\(marker.path)` differs from `\(marker.path) --help`: "
                            + "'\(line(difference, of: shown))' where it prints '\(line(difference, of: help))' \(rewrite)"
                    ))
            }
        }
        for help in helps where seen[help.path] == nil {
            findings.append(finding(nil, "no `<!-- help: \(help.path) -->` line before a ```text block of its help"))
        }
        return findings
    }

    /// The page with each of its help blocks that is empty or differs replaced by the help the
    /// CLI prints; nil when none does. A marker with no closed block is left as it is.
    static func rewritten(_ document: MarkdownDocument, helps: [CommandHelp]) -> String? {
        let helpByPath = expected(helps)
        var lines = document.lines
        var changed = false
        // From the end, so that replacing a block leaves the line numbers of those before it.
        for marker in markers(in: document).reversed() {
            guard let help = helpByPath[marker.path], let block = marker.block, let closing = block.closingLine,
                marker.shown != help
            else { continue }
            lines.replaceSubrange(block.firstContentLine - 1..<closing - 1, with: help)
            changed = true
        }
        return changed ? lines.joined(separator: "\n") : nil
    }

    /// The lines without trailing whitespace, without the blank lines around them.
    static func normalized(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(line.reversed().drop(while: \.isWhitespace).reversed())
        }
        while lines.first?.isEmpty == true { lines.removeFirst() }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    private static func firstDifference(_ shown: [String], _ help: [String]) -> Int? {
        if shown == help { return nil }
        return zip(shown, help).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(shown.count, help.count)
    }

    private static func line(_ index: Int, of lines: [String]) -> String {
        index < lines.count ? lines[index] : "(the end)"
    }
}
