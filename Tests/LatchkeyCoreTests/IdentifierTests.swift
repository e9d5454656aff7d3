import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Testing

/// Usernames and emails that a person cannot tell apart are one name.
@Suite("Identifiers")
struct IdentifierTests {
    @Test func compatibilityFormsAndCaseFoldToOneName() {
        #expect(Identifier.folded("jos\u{e9}") == Identifier.folded("jose\u{301}"))
        #expect(Identifier.folded("ＡＤＭＩＮ") == "admin")
        #expect(Identifier.folded("\u{212A}im") == "kim")
        #expect(Identifier.folded("Straße") == "strasse")
        #expect(Identifier.foldedEmail("Kim@Example.ORG") == "kim@example.org")
        #expect(!Identifier.isNormalized("\u{212A}im@example.org"))
        #expect(Identifier.isNormalized("kim@example.org"))
    }

    @Test func lettersOfScriptsThatLookAlikeMayNotMix() {
        #expect(Identifier.mixedScripts(in: "\u{410}dmin") == ["Cyrillic", "Latin"])  // Cyrillic А
        #expect(Identifier.mixedScripts(in: "p\u{430}ypal") == ["Cyrillic", "Latin"])
        #expect(Identifier.mixedScripts(in: "admin").isEmpty)
        #expect(Identifier.mixedScripts(in: "Дмитрий_1990").isEmpty)
        #expect(Identifier.mixedScripts(in: "josé.müller").isEmpty)
        #expect(Identifier.mixedScripts(in: "tanaka太郎ひらがな").isEmpty, "Japanese with Latin is one writing system")
        #expect(Identifier.mixedScripts(in: "αlpha") == ["Greek", "Latin"])
    }

    @Test(arguments: TestBackend.available)
    func usernamesCollideByNormalFormAndMixedScriptsAreRefused(backend: TestBackend) async throws {
        try await backend.withStorage { storage in
            let accounts = AccountService(storage: storage, hasher: fastPasswordHasher)
            let composed = try await accounts.createUser(username: "jos\u{e9}", password: nil, by: .cli)
            await #expect(throws: StorageError.usernameTaken("jose\u{301}")) {
                try await accounts.createUser(username: "jose\u{301}", password: nil, by: .cli)
            }
            _ = try await accounts.createUser(username: "admin", password: nil, by: .cli)
            await #expect(throws: StorageError.usernameTaken("ADMIN"), "stored and shown in NFKC") {
                try await accounts.createUser(username: "ＡＤＭＩＮ", password: nil, by: .cli)
            }
            await #expect(throws: AccountError.mixedScripts("\u{410}dmin", scripts: ["Cyrillic", "Latin"])) {
                try await accounts.createUser(username: "\u{410}dmin", password: nil, by: .cli)
            }
            for invisible in ["admin\u{34F}", "admin\u{FE00}", "admin\u{E0100}", "admin\u{3164}", "ad\u{200D}min"] {
                await #expect(throws: AccountError.invalidUsername(invisible)) {
                    try await accounts.createUser(username: invisible, password: nil, by: .cli)
                }
            }
            #expect(
                "\(AccountError.mixedScripts("\u{410}dmin", scripts: ["Cyrillic", "Latin"]))"
                    == "'\u{410}dmin' mixes letters of different scripts (Cyrillic, Latin): use one script")
            // Found by either spelling, and by the email's folded form.
            #expect(try await storage.user(username: "JOSE\u{301}")?.id == composed.id)
            _ = try await accounts.createUser(username: "kim", email: "Kim@Example.org", password: nil, by: .cli)
            #expect(try await storage.user(email: "\u{212A}IM@example.ORG")?.username == "kim")
            await #expect(throws: StorageError.emailTaken("kim@EXAMPLE.org")) {
                try await accounts.createUser(username: "kim2", email: "kim@EXAMPLE.org", password: nil, by: .cli)
            }
        }
    }
}

@Suite("Control and format characters")
struct ControlAndFormatCharacterTests {
    /// Each would reorder or hide what a terminal, a page or a webhook payload shows.
    @Test(arguments: [
        "\u{202E}", "\u{202D}", "\u{2066}", "\u{2067}", "\u{2068}", "\u{2069}", "\u{200B}", "\u{200E}", "\u{FEFF}",
        "\u{2028}", "\u{2029}", "\u{0}", "\n", "\u{1B}", "\u{85}",
    ])
    func controlFormatAndSeparatorCharactersAreFound(character: String) {
        #expect(Identifier.hasControlOrFormatCharacters("deploy\(character)key"))
        #expect(Identifier.withoutControlOrFormatCharacters("deploy\(character)key") == "deploykey")
    }

    @Test func printableTextOfAnyScriptIsKept() {
        for text in ["deploy key", "Zoë", "Σωκράτης", "名前", "مفتاح", "emoji 🔑", "tab-free"] {
            #expect(!Identifier.hasControlOrFormatCharacters(text), "\(text)")
        }
    }
}

extension ControlAndFormatCharacterTests {
    /// A zero-width joiner inside an emoji sequence makes one emoji (a title such as
    /// "👩‍💻 laptop"); anywhere else it hides a boundary and is refused.
    @Test func aJoinerIsKeptOnlyInsideAnEmojiSequence() {
        for kept in ["👩\u{200D}💻 laptop", "🏳\u{FE0F}\u{200D}🌈 ci", "👩🏽\u{200D}🚀"] {
            #expect(!Identifier.hasControlOrFormatCharacters(kept), "\(kept.unicodeScalars.map(\.value))")
        }
        for refused in ["ad\u{200D}min", "👩\u{200D}", "\u{200D}💻", "👩\u{200D}x", "1\u{200D}2"] {
            #expect(Identifier.hasControlOrFormatCharacters(refused), "\(refused.unicodeScalars.map(\.value))")
        }
        #expect(Identifier.withoutControlOrFormatCharacters("👩\u{200D}💻\u{202E}x") == "👩\u{200D}💻x")
    }
}
