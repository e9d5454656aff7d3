import Foundation

/// One thing wrong in the documentation, where a reader would go to fix it.
struct DocumentationFinding: Equatable, CustomStringConvertible {
    /// From the repository root (`docs/cli.md`).
    let file: String
    /// 1-based; nil when the problem is the file as a whole (a missing marker, a page nothing links to).
    let line: Int?
    let message: String

    var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}

/// A fenced code block: what the documentation checks read commands and help from.
struct FencedBlock {
    /// The info string's first word (`sh`, `text`); empty when there is none.
    let language: String
    /// 1-based, as findings name lines.
    let openingLine: Int
    /// nil when the block runs to the end of the file, as CommonMark reads an unclosed fence.
    let closingLine: Int?
    /// The lines between the fences, as written.
    let content: [String]

    var firstContentLine: Int { openingLine + 1 }
}

/// An inline link or image, `[text](target)` or `![alt](target)`, as written.
struct MarkdownLink {
    let line: Int
    let target: String
}

/// One Markdown file read just far enough for the documentation checks: fenced blocks,
/// headings' anchors, links outside code, and tables, each with its line. Not a CommonMark
/// parser: a finding must name file and line, which a parser's tree would have to carry back.
struct MarkdownDocument {
    /// From the repository root; links resolve against its folder.
    let path: String
    /// Without line endings; `lines[0]` is line 1.
    let lines: [String]
    let fencedBlocks: [FencedBlock]
    /// Per line, whether it belongs to a fenced block (its fences included): headings, links and
    /// tables there are text, not Markdown.
    private let isFenced: [Bool]

    init(path: String, text: String) {
        self.path = path
        lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        var blocks: [FencedBlock] = []
        var fenced = [Bool](repeating: false, count: lines.count)
        var index = 0
        while index < lines.count {
            guard let opening = Self.fenceOpening(lines[index]) else {
                index += 1
                continue
            }
            var closing: Int? = nil
            var next = index + 1
            while next < lines.count {
                if Self.closes(lines[next], opening) {
                    closing = next
                    break
                }
                next += 1
            }
            let end = closing ?? lines.count - 1
            for fencedLine in index...end { fenced[fencedLine] = true }
            blocks.append(
                FencedBlock(
                    language: opening.language, openingLine: index + 1, closingLine: closing.map { $0 + 1 },
                    content: Array(lines[(index + 1)..<(closing ?? lines.count)])))
            index = end + 1
        }
        fencedBlocks = blocks
        isFenced = fenced
    }

    /// Whether 1-based `line` is inside a fenced block or one of its fences.
    func isFenced(line: Int) -> Bool { isFenced[line - 1] }

    // MARK: Fences

    private struct FenceOpening {
        let marker: Character
        let length: Int
        let language: String
    }

    /// Any indentation is accepted: a fence inside a list item is indented, and an indented
    /// code block holding a fence is rarer than that.
    private static func fenceOpening(_ line: String) -> FenceOpening? {
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        guard let marker = trimmed.first, marker == "`" || marker == "~" else { return nil }
        let length = trimmed.prefix { $0 == marker }.count
        guard length >= 3 else { return nil }
        let info = trimmed.dropFirst(length).trimmingCharacters(in: .whitespaces)
        // A backtick in a backtick fence's info string makes the line inline code instead.
        if marker == "`" && info.contains("`") { return nil }
        let language = info.split(whereSeparator: \.isWhitespace).first.map(String.init) ?? ""
        return FenceOpening(marker: marker, length: length, language: language)
    }

    private static func closes(_ line: String, _ opening: FenceOpening) -> Bool {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        return trimmed.count >= opening.length && trimmed.allSatisfy { $0 == opening.marker }
    }

    // MARK: Headings

    /// The headings' anchors in order, as GitHub makes them: each heading's text lowercased,
    /// everything but letters, digits, spaces, hyphens and underscores dropped, spaces made
    /// hyphens; a repeated anchor gets `-1`, `-2`, … (github-slugger's rule).
    var anchors: [String] {
        var occurrences: [String: Int] = [:]
        var anchors: [String] = []
        for heading in headings {
            let slug = Self.slug(heading)
            var anchor = slug
            while occurrences[anchor] != nil {
                let count = occurrences[slug, default: 0] + 1
                occurrences[slug] = count
                anchor = "\(slug)-\(count)"
            }
            occurrences[anchor] = 0
            anchors.append(anchor)
        }
        return anchors
    }

    /// The text of each ATX (`## Title`) and setext (`Title` over `===` or `---`) heading.
    var headings: [String] {
        var headings: [String] = []
        for (index, line) in lines.enumerated() where !isFenced[index] {
            if let text = Self.atxHeading(line) {
                headings.append(text)
            } else if index > 0, !isFenced[index - 1], Self.isSetextUnderline(line),
                Self.canBeSetextHeading(lines[index - 1])
            {
                headings.append(lines[index - 1].trimmingCharacters(in: .whitespaces))
            }
        }
        return headings
    }

    private static func atxHeading(_ line: String) -> String? {
        let indentation = line.prefix { $0 == " " }.count
        guard indentation <= 3 else { return nil }
        let rest = line.dropFirst(indentation)
        let level = rest.prefix { $0 == "#" }.count
        guard (1...6).contains(level) else { return nil }
        let afterHashes = rest.dropFirst(level)
        guard afterHashes.isEmpty || afterHashes.first == " " || afterHashes.first == "\t" else { return nil }
        var text = afterHashes.trimmingCharacters(in: .whitespaces)
        // An optional closing sequence of #s, after a space, is not part of the text.
        let closing = text.reversed().prefix { $0 == "#" }.count
        if closing > 0 {
            let beforeClosing = text.dropLast(closing)
            if beforeClosing.isEmpty || beforeClosing.last == " " || beforeClosing.last == "\t" {
                text = beforeClosing.trimmingCharacters(in: .whitespaces)
            }
        }
        return text
    }

    private static func isSetextUnderline(_ line: String) -> Bool {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard let first = trimmed.first, first == "=" || first == "-" else { return false }
        return line.prefix { $0 == " " }.count <= 3 && trimmed.allSatisfy { $0 == first }
    }

    /// A paragraph's line: not blank, and not a line that starts a block of its own (a list
    /// item, a quote, a table row, a heading), under which `---` is a rule, not an underline.
    private static func canBeSetextHeading(_ line: String) -> Bool {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard let first = trimmed.first else { return false }
        if "|>#-*+".contains(first) || fenceOpening(line) != nil { return false }
        return trimmed.firstMatch(of: /^\d+[.)]\s/) == nil
    }

    /// GitHub's anchor of a heading: its rendered text (a link shows its text), lowercased,
    /// keeping letters, digits, spaces, hyphens and underscores, spaces made hyphens.
    static func slug(_ heading: String) -> String {
        let rendered = heading.replacing(/!?\[([^\]]*)\]\([^)]*\)/) { String($0.output.1) }
        var slug = ""
        for character in rendered.lowercased() {
            if character.isLetter || character.isNumber || character == "-" || character == "_" {
                slug.append(character)
            } else if character == " " {
                slug.append("-")
            }
        }
        return slug
    }

    // MARK: Links

    /// Every inline link and image outside fenced blocks and inline code spans.
    var links: [MarkdownLink] {
        var prose = proseWithoutCode()
        var links: [(start: Int, link: MarkdownLink)] = []
        // Images first, then blanked, so that a linked image `[![alt](img)](url)` leaves its
        // outer link plain text in brackets.
        for pattern in [#/!\[[^\[\]]*\]\(([^()\s]*)(?:\s+"[^"]*")?\)/#, #/\[[^\[\]]*\]\(([^()\s]*)(?:\s+"[^"]*")?\)/#] {
            let text = String(prose)
            for match in text.matches(of: pattern) {
                let start = text.distance(from: text.startIndex, to: match.range.lowerBound)
                let length = text.distance(from: match.range.lowerBound, to: match.range.upperBound)
                let line = prose[..<start].count { $0 == "\n" } + 1
                let target = String(match.output.1)
                links.append((start, MarkdownLink(line: line, target: target.trimmingCharacters(in: ["<", ">"]))))
                for offset in start..<(start + length) where prose[offset] != "\n" { prose[offset] = "x" }
            }
        }
        return links.sorted { $0.start < $1.start }.map(\.link)
    }

    /// The text outside fenced blocks (their lines left empty, so that line numbers hold), with
    /// each inline code span's characters replaced by `x` (its newlines kept): what a code
    /// span shows is never a link. A span may run over lines, but not over a blank line.
    private func proseWithoutCode() -> [Character] {
        var characters = Array(
            lines.enumerated().map { isFenced[$0.offset] ? "" : $0.element }.joined(separator: "\n"))
        var index = 0
        while index < characters.count {
            if characters[index] == "\\" {
                index += 2  // an escaped character, a backtick included, is literal
                continue
            }
            guard characters[index] == "`" else {
                index += 1
                continue
            }
            let length = Self.run(of: "`", in: characters, at: index)
            guard let closing = Self.closingRun(length: length, in: characters, from: index + length) else {
                index += length
                continue
            }
            for offset in index..<(closing + length) where characters[offset] != "\n" { characters[offset] = "x" }
            index = closing + length
        }
        return characters
    }

    private static func run(of character: Character, in characters: [Character], at start: Int) -> Int {
        var end = start
        while end < characters.count && characters[end] == character { end += 1 }
        return end - start
    }

    /// Where the run of exactly `length` backticks that closes a code span starts, if one does
    /// before the paragraph ends.
    private static func closingRun(length: Int, in characters: [Character], from start: Int) -> Int? {
        var index = start
        var lineIsBlank = false
        while index < characters.count {
            let character = characters[index]
            if character == "\n" {
                if lineIsBlank { return nil }
                lineIsBlank = true
            } else if character == "`" {
                let found = run(of: "`", in: characters, at: index)
                if found == length { return index }
                index += found
                lineIsBlank = false
                continue
            } else if character != " " && character != "\t" {
                lineIsBlank = false
            }
            index += 1
        }
        return nil
    }
}
