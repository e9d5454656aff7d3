import Foundation

/// The files a page's links may point at, by path from the repository root: the repository on
/// disk, or a few files in memory, so that the checks' own tests need no files.
struct DocumentationFiles: Sendable {
    let exists: @Sendable (String) -> Bool
    let text: @Sendable (String) -> String?

    static func directory(_ root: URL) -> Self {
        let url: @Sendable (String) -> URL = { root.appendingPathComponent($0).standardizedFileURL }
        return Self(
            exists: { FileManager.default.fileExists(atPath: url($0).path) },
            text: { try? String(contentsOf: url($0), encoding: .utf8) })
    }

    /// A folder exists when a file is in it.
    static func inMemory(_ files: [String: String]) -> Self {
        Self(
            exists: { path in files[path] != nil || files.keys.contains { $0.hasPrefix(path + "/") } },
            text: { files[$0] })
    }
}

/// Relative links and images must lead somewhere: to a file that exists and, with a `#fragment`,
/// to a heading of that Markdown file. Links with a scheme (`https:`, `mailto:`) are the web's
/// business, not this repository's.
enum LinkCheck {
    static func findings(in document: MarkdownDocument, files: DocumentationFiles) -> [DocumentationFinding] {
        var anchorsByFile: [String: Set<String>] = [document.path: Set(document.anchors)]
        var findings: [DocumentationFinding] = []
        for link in document.links {
            guard let target = resolve(link.target, from: document.path) else { continue }
            let shown = "link to `\(link.target)`"
            if target.path != document.path && !files.exists(target.path) {
                findings.append(
                    .init(file: document.path, line: link.line, message: "\(shown): no file \(target.path)"))
                continue
            }
            guard let fragment = target.fragment, !fragment.isEmpty, target.path.hasSuffix(".md") else { continue }
            if anchorsByFile[target.path] == nil {
                let text = files.text(target.path) ?? ""
                anchorsByFile[target.path] = Set(MarkdownDocument(path: target.path, text: text).anchors)
            }
            if anchorsByFile[target.path]?.contains(fragment) != true {
                findings.append(
                    .init(
                        file: document.path, line: link.line,
                        message: "\(shown): \(target.path) has no heading whose anchor is #\(fragment)"))
            }
        }
        return findings
    }

    /// Every page of the guide must be reachable from the README, which holds its map.
    static func unlinkedPages(_ pages: [String], readme: MarkdownDocument) -> [DocumentationFinding] {
        let linked = Set(readme.links.compactMap { resolve($0.target, from: readme.path)?.path })
        return pages.filter { !linked.contains($0) }.map {
            DocumentationFinding(
                file: readme.path, line: nil, message: "no link to \($0): the README holds the map of the guide")
        }
    }

    /// A link's file (from the repository root) and fragment; nil for a link with a scheme.
    static func resolve(_ target: String, from page: String) -> (path: String, fragment: String?)? {
        if target.firstMatch(of: /^[A-Za-z][A-Za-z0-9+.\-]*:/) != nil { return nil }
        let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        let file = String(parts[0]).removingPercentEncoding ?? String(parts[0])
        let fragment = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : nil
        if file.isEmpty { return (page, fragment) }
        // GitHub reads a leading `/` from the repository root.
        let folder = file.hasPrefix("/") ? [] : page.split(separator: "/").dropLast().map(String.init)
        return (normalized(folder + file.split(separator: "/").map(String.init)), fragment)
    }

    /// `docs/../README.md` as `README.md`; a path above the root keeps its leading `..`.
    private static func normalized(_ components: [String]) -> String {
        var kept: [String] = []
        for component in components {
            switch component {
            case "", ".": continue
            case "..": if let last = kept.last, last != ".." { kept.removeLast() } else { kept.append("..") }
            default: kept.append(component)
            }
        }
        return kept.joined(separator: "/")
    }
}
