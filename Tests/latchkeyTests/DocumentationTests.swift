import Foundation
import LatchkeyTestSupport
import Testing

@testable import latchkey

/// The documentation (README.md and docs/*.md) cannot drift from the code unnoticed: relative
/// links lead to files and headings that exist, and the README links every page; every
/// `latchkey …` shown in a shell block parses; docs/operating.md's configuration table is
/// `ServerSettings.all`; docs/cli.md shows each command's `--help` as the CLI prints it.
/// Each test lists every finding at once, as file:line and what is wrong.
///
/// docs/cli.md's help blocks are written by the CLI, not by hand: after changing a command,
///
///     LATCHKEY_WRITE_DOCS=1 swift test --filter DocumentationTests
///
/// rewrites every help block that differs or is empty (then passes, unless something else is
/// wrong). A new command gets its block by adding its marker line and an empty block,
///
///     <!-- help: latchkey token frobnicate -->
///     ```text
///     ```
///
/// and running that; a command without a marker still fails, as does a marker of no command.
@Suite("Documentation stays true to the code", .removingScratchDirectories)
struct DocumentationTests {
    /// This file is Tests/latchkeyTests/DocumentationTests.swift.
    static let repository = RepositoryDocumentation(
        root: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent())

    static var writesDocs: Bool { ProcessInfo.processInfo.environment["LATCHKEY_WRITE_DOCS"] == "1" }

    @Test func relativeLinksLeadToFilesAndHeadingsThatExist() {
        expectNoFindings(Self.repository.linkFindings())
    }

    @Test func theReadmeLinksEveryPageOfTheGuide() {
        expectNoFindings(Self.repository.unlinkedPageFindings())
    }

    @Test func everyLatchkeyCommandShownParses() {
        expectNoFindings(Self.repository.commandFindings())
    }

    @Test func theConfigurationTableIsTheSettingsTable() {
        expectNoFindings(Self.repository.settingsTableFindings())
    }

    @Test func theCommandLinePageShowsEachCommandsHelp() throws {
        expectNoFindings(
            try Self.repository.helpBlockFindings(helps: CommandHelp.everyCommand(), rewriting: Self.writesDocs))
    }
}

/// One failure that lists every finding, a line each, so that a reader fixes them all in one pass.
func expectNoFindings(_ findings: [DocumentationFinding], sourceLocation: SourceLocation = #_sourceLocation) {
    guard !findings.isEmpty else { return }
    let list = findings.map(\.description).joined(separator: "\n")
    Issue.record("\(findings.count) finding(s):\n\(list)", sourceLocation: sourceLocation)
}

/// The checks find what they are for, on small samples, and nothing in a correct one: a check
/// that cannot fail would pass over drifted pages.
extension DocumentationTests {
    @Suite("The documentation checks can fail", .removingScratchDirectories)
    struct TheChecksCanFail {
        static let page = "docs/a.md"

        static func document(_ text: String, path: String = page) -> MarkdownDocument {
            MarkdownDocument(path: path, text: text)
        }

        // MARK: Links

        static let files = DocumentationFiles.inMemory([
            "README.md": "# Latchkey\n\n## On a fresh machine\n",
            "docs/b.md": "# The `/v1` API\n\n## Rotation\n\n## Rotation\n",
            "docs/screenshots/x.png": "",
        ])

        @Test func linksToFilesAndHeadingsThatExistPass() {
            let page = Self.document(
                """
                # Intro
                See [B](b.md), [its rotation](b.md#rotation), [the second](b.md#rotation-1),
                [the top](../README.md#on-a-fresh-machine), [here](#intro), ![shot](screenshots/x.png),
                [the folder](screenshots/), [![a linked image](screenshots/x.png)](https://example.org)
                and [the web](https://example.org/nothing.md#nowhere), [mail](mailto:sam@example.org).
                `[in code](gone.md)`, ``a `[span`](gone.md)`` and
                ```sh
                [in a fence](gone.md)
                # Not a heading
                ```
                """)
            #expect(LinkCheck.findings(in: page, files: Self.files) == [])
        }

        @Test func aLinkToAMissingFileIsFound() {
            let page = Self.document("# A\n\nSee [the guide](guide.md) and ![a shot](screenshots/y.png).\n")
            #expect(
                LinkCheck.findings(in: page, files: Self.files).map(\.description) == [
                    "docs/a.md:3: link to `guide.md`: no file docs/guide.md",
                    "docs/a.md:3: link to `screenshots/y.png`: no file docs/screenshots/y.png",
                ])
        }

        @Test func aLinkToAMissingHeadingIsFound() {
            let page = Self.document(
                """
                # A
                [rotation](b.md#rotating) and [below](#settings), [the API](b.md#the-v1-api).
                ```
                # Settings
                ```
                """)
            #expect(
                LinkCheck.findings(in: page, files: Self.files).map(\.description) == [
                    "docs/a.md:2: link to `b.md#rotating`: docs/b.md has no heading whose anchor is #rotating",
                    "docs/a.md:2: link to `#settings`: docs/a.md has no heading whose anchor is #settings",
                ])
        }

        @Test func anchorsAreGitHubs() {
            let page = Self.document(
                "# Latchkey's own API (`/v1`)\n## Stencila Hub dialect (`/api/tokens/`)\n## A\n## A\n## A-1\n"
                    + "Setext *heading*\n---\n## [Linked](x.md) heading_name é #\n")
            #expect(
                page.anchors == [
                    "latchkeys-own-api-v1", "stencila-hub-dialect-apitokens", "a", "a-1", "a-1-1", "setext-heading",
                    "linked-heading_name-é",
                ])
        }

        @Test func aPageTheReadmeDoesNotLinkIsFound() {
            let readme = Self.document("[A](docs/a.md#intro) and [C](./docs/../docs/c.md)", path: "README.md")
            #expect(
                LinkCheck.unlinkedPages(["docs/a.md", "docs/b.md", "docs/c.md"], readme: readme).map(\.description) == [
                    "README.md: no link to docs/b.md: the README holds the map of the guide"
                ])
        }

        // MARK: Commands

        @Test func shellWordsSplitAsShDoes() {
            #expect(
                ShellWords.commands(in: #"A=1 latchkey x 'a b' "c $D \"q\"" e\ f 2>&1 >out | grep -v y # note | z"#)
                    == [
                        ["A=1", "latchkey", "x", "a b", #"c $D "q""#, "e f"], ["grep", "-v", "y"],
                    ])
            #expect(
                ShellWords.commands(in: #"TOKEN="$(latchkey token create --title 't t')"; echo $TOKEN&&b"#) == [
                    ["latchkey", "token", "create", "--title", "t t"],
                    [#"TOKEN=$(latchkey token create --title 't t')"#],
                    ["echo", "$TOKEN"], ["b"],
                ])
            #expect(
                ShellWords.commands(in: "a# not a comment '' &> log & (b; c)") == [
                    ["a#", "not", "a", "comment", ""], ["b"], ["c"],
                ])
        }

        @Test func commandsThatParsePass() {
            let page = Self.document(
                #"""
                ```sh
                alias latchkey=.build/debug/latchkey   # an alias is not a command
                # latchkey tokens list  (a comment)
                latchkey serve &                       # http://127.0.0.1:8080
                printf 'correct horse\n' | latchkey user create sam --email sam@example.org \
                    --first-name Sam --password-stdin
                TOKEN=$(latchkey token create --user sam --title "deploy it" --expires-in 30d --scope repo:read)
                LATCHKEY_REQUIRE_EXPIRY=true .build/debug/latchkey token list --user "$USER" > tokens.txt 2>&1
                latchkey audit --user sam --since 24h && latchkey token revoke --user sam --all
                latchkey --help; latchkey token create --help
                swift run latchkey serve --port 8081
                curl -s localhost:8080/v1/tokens/self -H "Authorization: Bearer $TOKEN"
                ```

                ```console
                $ latchkey webhook list
                latchkey: unknown command, this is output
                ```

                ```text
                latchkey tokens list
                ```
                """#)
            #expect(CommandCheck.findings(in: page) == [])
        }

        @Test func aRenamedFlagIsFound() throws {
            let findings = CommandCheck.findings(
                in: Self.document("Text.\n```sh\nlatchkey token create --titel x\n```\n"))
            #expect(findings.count == 1)
            let finding = try #require(findings.first)
            #expect(finding.line == 3)
            #expect(finding.message.hasPrefix("`latchkey token create --titel x` does not parse: "))
            #expect(finding.message.contains("--titel"))
        }

        @Test func anUnknownSubcommandIsFound() throws {
            let findings = CommandCheck.findings(in: Self.document("```\nlatchkey tokens list\n```\n"))
            let finding = try #require(findings.first)
            #expect(findings.count == 1)
            #expect(finding.description.hasPrefix("docs/a.md:2: `latchkey tokens list` does not parse: "))
            #expect(finding.message.contains("tokens"))
        }

        @Test func aBadCommandIsFoundInsideASubstitutionAPipeOrAContinuation() {
            let page = Self.document(
                """
                ```bash
                TOKEN=$(latchkey token mint --user sam)
                printf 'x\\n' | latchkey user create sam \\
                    --pasword-stdin
                ```

                ```console
                $ latchkey webhook lst
                ```
                """)
            #expect(CommandCheck.findings(in: page).compactMap(\.line) == [2, 3, 8])
        }

        // MARK: The configuration table

        /// A docs/operating.md whose table is `settings` written out, as the page should be.
        static func operatingPage(_ settings: [any AnySetting]) -> String {
            let rows = settings.map { setting in
                "| \(setting.flag.map { "`--\($0)`" } ?? "") | `\(setting.variable)` | `\(setting.defaultShown)` | what it does |"
            }
            return
                (["# Operating", "", "| flag (`serve`) | environment | default | meaning |", "|---|---|---|---|"]
                + rows + ["", "Prose."]).joined(separator: "\n")
        }

        static func scratchRepository(_ files: [String: String]) throws -> RepositoryDocumentation {
            let root = try makeScratchDirectory()
            for (path, text) in files {
                let url = root.appendingPathComponent(path)
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: url, atomically: true, encoding: .utf8)
            }
            return RepositoryDocumentation(root: root)
        }

        @Test func theSettingsWrittenOutPass() throws {
            let repository = try Self.scratchRepository(["docs/operating.md": Self.operatingPage(ServerSettings.all)])
            #expect(repository.settingsTableFindings() == [])
        }

        @Test func aRenamedFlagAMissingRowAnExtraRowAndAnotherDefaultAreFound() throws {
            var page = Self.operatingPage(Array(ServerSettings.all.dropLast()))
            page = page.replacingOccurrences(of: "`--gc-grace`", with: "`--gc-grace-period` (repeatable)")
            page = page.replacingOccurrences(of: "| `7d` |", with: "| `8d` |")
            page = page.replacingOccurrences(
                of: "| `--port` | `LATCHKEY_PORT`",
                with: "| `--port` | `LATCHKEY_PORT`=80 |  | x |\n| | `LATCHKEY_PORT`")
            page += "\n"
            page = page.replacingOccurrences(
                of: "\n\nProse.", with: "\n| | `LATCHKEY_FROBNICATE=true` | off | x |\n\nProse.")
            let repository = try Self.scratchRepository(["docs/operating.md": page])
            let last = ServerSettings.all.last!.variable
            #expect(
                repository.settingsTableFindings().map(\.message) == [
                    "\(last), a setting of ServerSettings, has no row",
                    "LATCHKEY_PORT: the row's default is '', the setting's '8080'",
                    "LATCHKEY_PORT has a row already, at line 6",
                    "LATCHKEY_SESSION_LIFETIME: the row's default is '8d', the setting's '7d'",
                    "LATCHKEY_GC_GRACE: the row's flag is --gc-grace-period, the setting's --gc-grace",
                    "LATCHKEY_MAX_ROTATION_OVERLAP: the row's default is '8d', the setting's '7d'",
                    "LATCHKEY_FROBNICATE is not a setting of ServerSettings",
                ])
        }

        @Test func aPageWithoutTheTableIsFound() throws {
            let repository = try Self.scratchRepository(["docs/operating.md": "| flag | environment |\n|---|---|\n"])
            #expect(
                repository.settingsTableFindings().map(\.description) == [
                    "docs/operating.md: no configuration table (a header row starting `| flag (`serve`)`)"
                ])
        }

        // MARK: Help blocks

        /// A docs/cli.md with every command's help, as the page should be.
        static func commandLinePage(_ helps: [CommandHelp]) -> String {
            "# The command line\n\n"
                + helps.map { "<!-- help: \($0.path) -->\n```text\n\(shown($0))\n```\n" }.joined(separator: "\n")
        }

        /// A help as a block shows it: without trailing whitespace, or blank lines around it.
        static func shown(_ help: CommandHelp) -> String {
            HelpBlockCheck.normalized(help.text).joined(separator: "\n")
        }

        @Test func everyHelpShownPasses() throws {
            let helps = CommandHelp.everyCommand()
            #expect(helps.map(\.path).contains("latchkey token create"))
            #expect(!helps.map(\.path).contains("latchkey help"))
            let repository = try Self.scratchRepository(["docs/cli.md": Self.commandLinePage(helps)])
            #expect(try repository.helpBlockFindings(helps: helps, rewriting: false) == [])
        }

        @Test func aHelpBlockThatDiffersAMissingMarkerAndAnUnknownOneAreFound() throws {
            let helps = CommandHelp.everyCommand()
            let page =
                Self.commandLinePage(helps.filter { $0.path != "latchkey audit gc" })
                .replacingOccurrences(of: "OVERVIEW: Manage tokens.", with: "OVERVIEW: Manage the tokens.")
                + "\n<!-- help: latchkey tokens -->\n```text\n```\n"
            let repository = try Self.scratchRepository(["docs/cli.md": page])
            let findings = try repository.helpBlockFindings(helps: helps, rewriting: false).map(\.description)
            #expect(findings.count == 3, "\(findings)")
            #expect(findings.contains { $0.contains("`latchkey token` differs from `latchkey token --help`") })
            #expect(findings.contains { $0.hasSuffix("`latchkey tokens` is not a command of latchkey") })
            #expect(
                findings.contains(
                    "docs/cli.md: no `<!-- help: latchkey audit gc -->` line before a ```text block of its help"))
        }

        @Test func rewritingFillsAndCorrectsBlocksButNotMissingMarkers() throws {
            let helps = CommandHelp.everyCommand()
            let correct = Self.commandLinePage(helps)
            var page = correct.replacingOccurrences(
                of: "OVERVIEW: Manage tokens.", with: "OVERVIEW: Manage the tokens.")
            let serve = try #require(helps.first { $0.path == "latchkey serve" })
            page = page.replacingOccurrences(of: "```text\n\(Self.shown(serve))\n```", with: "```text\n```")
            let repository = try Self.scratchRepository(["docs/cli.md": page])
            #expect(try repository.helpBlockFindings(helps: helps, rewriting: false).count == 2)
            #expect(try repository.helpBlockFindings(helps: helps, rewriting: true) == [])
            let rewritten = try String(
                contentsOf: repository.root.appendingPathComponent("docs/cli.md"), encoding: .utf8)
            #expect(rewritten == correct)

            let unmarked = try Self.scratchRepository(["docs/cli.md": "# The command line\n"])
            #expect(try unmarked.helpBlockFindings(helps: helps, rewriting: true).count == helps.count)
        }
    }
}
