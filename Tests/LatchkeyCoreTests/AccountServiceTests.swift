import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Testing

@Suite("Accounts", .removingScratchDirectories)
struct AccountServiceTests {
    let storage: any LatchkeyStorage
    let accounts: AccountService

    init() throws {
        storage = try makeSQLiteStorage()
        accounts = AccountService(storage: storage, hasher: fastPasswordHasher, clock: ManualClock())
    }

    /// As GitHub and GitLab do: whoever signed in with the old password is signed out; the
    /// account's app tokens, made to outlive a password, stay.
    @Test func aPasswordChangeEndsTheAccountsSessionsAndKeepsItsAppTokens() async throws {
        let tokens = TokenService(storage: storage, secretBox: nil)
        let sam = try await accounts.createUser(username: "sam", password: "old", by: .cli)
        let kim = try await accounts.createUser(username: "kim", password: "pw", by: .cli)
        let session = try await tokens.create(for: sam, TokenRequest(kind: .session, expiry: .sliding(3_600)), by: .cli)
        let app = try await tokens.create(for: sam, TokenRequest(kind: .app, title: "ci"), by: .cli)
        let kimsSession = try await tokens.create(for: kim, TokenRequest(kind: .session), by: .cli)

        let ended = try await accounts.setPassword(sam, to: "new", by: .cli, endingSessionsWith: tokens)

        #expect(ended.map(\.uuid) == [session.token.uuid])
        guard case .rejected(.unknown) = try await tokens.verify(session.secret.value) else {
            Issue.record("the session still works after the password changed")
            return
        }
        guard case .valid = try await tokens.verify(app.secret.value),
            case .valid = try await tokens.verify(kimsSession.secret.value)
        else {
            Issue.record("an app token or another account's session ended")
            return
        }
        #expect(try await accounts.authenticate(login: "sam", password: "new", by: .cli)?.id == sam.id)
        let revoked = try await storage.events(AuditQuery(kind: .tokenRevoked))
        #expect(revoked.map(\.detail) == ["session \(session.token.key); the password was changed"])
    }

    /// Bidirectional overrides and isolates, zero-width characters and line separators would
    /// reorder or hide what the CLI, the pages and webhook payloads show of a name.
    @Test(arguments: ["Sam\u{202E}nimda", "Sam\u{2066}x", "Sa\u{200B}m", "Sam\u{2028}x", "Sam\u{FEFF}"])
    func namesWithFormatCharactersAreRefused(name: String) async throws {
        await #expect(throws: AccountError.nameHasControlCharacters) {
            try await accounts.createUser(username: "sam", firstName: name, lastName: "Smith", password: nil, by: .cli)
        }
        await #expect(throws: AccountError.nameHasControlCharacters) {
            try await accounts.createUser(username: "sam", firstName: "Sam", lastName: name, password: nil, by: .cli)
        }
    }

    @Test func signInWorksByUsernameOrEmailIgnoringCase() async throws {
        let sam = try await accounts.createUser(username: "sam", email: "Sam@Example.org", password: "pw", by: .cli)
        #expect(try await accounts.authenticate(login: "sam", password: "pw", by: .cli) == sam)
        #expect(try await accounts.authenticate(login: "SAM", password: "pw", by: .cli) == sam)
        #expect(try await accounts.authenticate(login: "sam@example.ORG", password: "pw", by: .cli) == sam)
        #expect(sam.passwordHash?.hasPrefix("$scrypt$") == true)
    }

    @Test func wrongPasswordsUnknownUsersAndInactiveUsersFail() async throws {
        let sam = try await accounts.createUser(username: "sam", password: "pw", by: .cli)
        #expect(try await accounts.authenticate(login: "sam", password: "PW", by: .cli) == nil)
        #expect(try await accounts.authenticate(login: "nobody", password: "pw", by: .cli) == nil)
        try await storage.setActive(userID: sam.id, false)
        #expect(try await accounts.authenticate(login: "sam", password: "pw", by: .cli) == nil)
    }

    @Test func anAccountWithoutAPasswordCannotSignInWithOne() async throws {
        _ = try await accounts.createUser(username: "oidc", password: nil, by: .cli)
        #expect(try await accounts.authenticate(login: "oidc", password: "", by: .cli) == nil)
        #expect(try await accounts.authenticate(login: "oidc", password: "x", by: .cli) == nil)
    }

    @Test(arguments: ["", "has space", "semi;colon", String(repeating: "a", count: 151), "new\nline"])
    func invalidUsernamesAreRefused(username: String) async throws {
        await #expect(throws: AccountError.invalidUsername(username)) {
            try await accounts.createUser(username: username, password: "pw", by: .cli)
        }
        #expect(try await storage.userCount() == 0)
    }

    @Test(arguments: ["no-at-sign", "two@@example.org", "@example.org", "x@nodot", "sp ace@example.org"])
    func invalidEmailsAreRefused(email: String) async throws {
        await #expect(throws: AccountError.invalidEmail(email)) {
            try await accounts.createUser(username: "sam", email: email, password: "pw", by: .cli)
        }
    }

    @Test func emptyPasswordsAreRefused() async throws {
        await #expect(throws: AccountError.emptyPassword) {
            try await accounts.createUser(username: "sam", password: "", by: .cli)
        }
    }

    @Test func usernamesMayUseDjangosCharacters() async throws {
        let user = try await accounts.createUser(username: "jo.e+x-y_z@home", password: "pw", by: .cli)
        #expect(user.username == "jo.e+x-y_z@home")
    }
}

@Suite("Server key")
struct SecretBoxTests {
    @Test func aGeneratedKeyFileIsPrivateAndReusedOnTheNextStart() async throws {
        try await withScratchDirectory { directory in
            let path = directory.appendingPathComponent("latchkey.db.key").path
            let first = try SecretBox.loadOrCreate(at: path)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

            let secret = TokenSecret.generate()
            let sealed = try first.seal(secret)
            #expect(sealed.range(of: Data(secret.value.utf8)) == nil)
            #expect(try SecretBox.loadOrCreate(at: path).open(sealed) == secret)
        }
    }

    @Test func aKeyFromConfigurationMustBe32BytesOfBase64() throws {
        #expect(throws: SecretBox.KeyError.self) { try SecretBox(base64: "c2hvcnQ=") }
        #expect(throws: SecretBox.KeyError.self) { try SecretBox(base64: "not base64!") }
        let box = try SecretBox(base64: Data(repeating: 7, count: 32).base64EncodedString())
        let secret = TokenSecret.generate()
        #expect(box.open(try box.seal(secret)) == secret)
    }

    @Test func aDamagedKeyFileIsAClearError() async throws {
        try await withScratchDirectory { directory in
            let path = directory.appendingPathComponent("bad.key").path
            #expect(
                FileManager.default.createFile(
                    atPath: path, contents: Data("garbage".utf8), attributes: [.posixPermissions: 0o600]))
            #expect {
                try SecretBox.loadOrCreate(at: path)
            } throws: { error in
                "\(error)".hasPrefix("cannot use the server key file \(path): the server key must be 32 bytes")
            }
        }
    }

    @Test func aKeyFileThatOthersCanReadIsRefused() async throws {
        try await withScratchDirectory { directory in
            let path = directory.appendingPathComponent("open.key").path
            _ = try SecretBox.loadOrCreate(at: path)
            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
            #expect {
                try SecretBox.loadOrCreate(at: path)
            } throws: { error in
                "\(error)"
                    == "the server key file \(path) is readable by group or others; make it private with: chmod 600 \(path)"
            }
        }
    }

    @Test func tamperedCiphertextDoesNotOpen() throws {
        let box = SecretBox(key: .init(size: .bits256))
        var sealed = try box.seal(TokenSecret.generate())
        sealed[sealed.count / 2] ^= 1
        #expect(box.open(sealed) == nil)
        #expect(box.open(Data()) == nil)
    }
}
