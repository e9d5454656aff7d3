import Foundation

@testable import latchkey

/// The documentation of a checkout (README.md and docs/*.md), each check run over the files it
/// concerns. A root other than the repository's lets the checks' own tests run them on sample
/// files in a scratch directory, rewriting included.
struct RepositoryDocumentation {
    let root: URL

    var files: DocumentationFiles { .directory(root) }

    /// The guide's pages, `docs/*.md`, by name.
    var pages: [String] {
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("docs").path)) ?? []
        return names.filter { $0.hasSuffix(".md") }.sorted().map { "docs/\($0)" }
    }

    /// The file read as Markdown; nil, and a finding that says so, when it cannot be read.
    func document(_ path: String, findings: inout [DocumentationFinding]) -> MarkdownDocument? {
        guard let text = files.text(path) else {
            findings.append(DocumentationFinding(file: path, line: nil, message: "missing, or not UTF-8 text"))
            return nil
        }
        return MarkdownDocument(path: path, text: text)
    }

    /// `check` run over the README and every page of the guide.
    func findingsInEveryPage(_ check: (MarkdownDocument) -> [DocumentationFinding]) -> [DocumentationFinding] {
        var findings: [DocumentationFinding] = []
        for path in ["README.md"] + pages {
            if let document = document(path, findings: &findings) { findings += check(document) }
        }
        return findings
    }

    func linkFindings() -> [DocumentationFinding] {
        findingsInEveryPage { LinkCheck.findings(in: $0, files: files) }
    }

    func unlinkedPageFindings() -> [DocumentationFinding] {
        var findings: [DocumentationFinding] = []
        if let readme = document("README.md", findings: &findings) {
            findings += LinkCheck.unlinkedPages(pages, readme: readme)
        }
        return findings
    }

    func commandFindings() -> [DocumentationFinding] {
        findingsInEveryPage(CommandCheck.findings(in:))
    }

    func settingsTableFindings(settings: [any AnySetting] = ServerSettings.all) -> [DocumentationFinding] {
        var findings: [DocumentationFinding] = []
        if let operating = document("docs/operating.md", findings: &findings) {
            findings += SettingsTableCheck.findings(in: operating, settings: settings)
        }
        return findings
    }

    /// With `rewriting`, the blocks that are empty or differ are first written as the CLI
    /// prints them; what cannot be rewritten (a missing or unknown marker) is still a finding.
    func helpBlockFindings(helps: [CommandHelp], rewriting: Bool) throws -> [DocumentationFinding] {
        let path = "docs/cli.md"
        var findings: [DocumentationFinding] = []
        guard var page = document(path, findings: &findings) else { return findings }
        if rewriting, let text = HelpBlockCheck.rewritten(page, helps: helps) {
            try text.write(to: root.appendingPathComponent(path), atomically: true, encoding: .utf8)
            page = MarkdownDocument(path: path, text: text)
        }
        return HelpBlockCheck.findings(in: page, helps: helps)
    }
}
