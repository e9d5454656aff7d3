import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Testing

/// Hashes made by the real libraries: Python's `bcrypt` 4 (`hashpw(..., gensalt(rounds=4))`)
/// and Django 5's `PBKDF2PasswordHasher`. The compat suite makes fresh ones on every run.
@Suite("Imported password hashes")
struct ImportedPasswordHashTests {
    static let quayBcrypt2b = "$2b$04$jKZo.rJpS25xzL6bwwfr9.I69.WIM4r8bFCtrypSnA1cP4aycIXi6"
    static let quayBcrypt2a = "$2a$04$3iHTwWW5pC6X.Om7eV01seD1qox8upt4NPaim7SUNjG.1mqXojtb2"
    static let hubDjango = "pbkdf2_sha256$1000$saltsaltsalt$Z6FeZ5pFyNS17gXMtF1cE+D71DUDb57qYm+DpLFR2Us="

    @Test(arguments: [
        (quayBcrypt2b, "quay-password"), (quayBcrypt2a, "quay-password"),
        ("$2y$" + quayBcrypt2b.dropFirst(4), "quay-password"), (hubDjango, "hub-password"),
    ])
    func hashesFromOtherSystemsVerify(hash: String, password: String) async throws {
        #expect(PasswordHasher.isImportable(hash))
        #expect(try await fastPasswordHasher.verify(password, against: hash))
        #expect(try await fastPasswordHasher.verify(password + "!", against: hash) == false)
        #expect(try await fastPasswordHasher.verify("", against: hash) == false)
        #expect(fastPasswordHasher.needsRehash(hash))
    }

    @Test(arguments: [
        "$2b$04$tooshort", "$2b$31$" + String(repeating: "a", count: 53), "$2x$04$" + String(repeating: "a", count: 53),
        "pbkdf2_sha256$10$salt$Z6FeZ5pFyNS17gXMtF1cE+D71DUDb57qYm+DpLFR2Us=",
        "pbkdf2_sha256$99999999$salt$Z6FeZ5pFyNS17gXMtF1cE+D71DUDb57qYm+DpLFR2Us=", "pbkdf2_sha256$1000$salt$notbase64",
        "pbkdf2_sha1$1000$salt$Z6FeZ5pFyNS17gXMtF1cE+D71DUDb57qYm+DpLFR2Us=", "md5$x$y", "plain text",
        "$scrypt$ln=30,r=8,p=1$c2FsdA$aGFzaA", "$scrypt$ln=18,r=8,p=1$c2FsdA$aGFzaA",
        "$scrypt$ln=17,r=16,p=1$c2FsdA$aGFzaA",
        "$2b$+4$" + String(repeating: "a", count: 53),
    ])
    func unknownKindsAndUnboundedCostsAreNotImported(hash: String) {
        #expect(!PasswordHasher.isImportable(hash))
    }

    @Test func anImportedAccountSignsInAndIsRehashedToScrypt() async throws {
        try await withSQLiteStorage { storage in
            let accounts = AccountService(storage: storage, hasher: fastPasswordHasher, clock: ManualClock())
            let imported = try await accounts.importUser(
                username: "hubuser", email: "hub@example.org", firstName: "Hub", lastName: "User",
                passwordHash: Self.hubDjango, isActive: true, isAdmin: false, by: .cli)
            #expect(imported.passwordHash == Self.hubDjango)
            #expect(try await accounts.authenticate(login: "hubuser", password: "hub-password", by: .cli) == imported)
            let rehashed = try #require(try await storage.user(id: imported.id)?.passwordHash)
            #expect(rehashed.hasPrefix("$scrypt$") && !fastPasswordHasher.needsRehash(rehashed))
            #expect(
                try await accounts.authenticate(login: "hubuser", password: "hub-password", by: .cli)?.id == imported.id
            )
            #expect(try await storage.events(AuditQuery()).map(\.kind).contains(AuditKind.userImported.rawValue))
            await #expect(throws: AccountError.unusablePasswordHash) {
                try await accounts.importUser(
                    username: "bad", email: nil, firstName: "", lastName: "", passwordHash: "md5$x$y", isActive: true,
                    isAdmin: false, by: .cli)
            }
            let inactive = try await accounts.importUser(
                username: "gone", email: nil, firstName: "", lastName: "", passwordHash: Self.quayBcrypt2b,
                isActive: false, isAdmin: false, by: .cli)
            #expect(!inactive.isActive)
            #expect(try await accounts.authenticate(login: "gone", password: "quay-password", by: .cli) == nil)
        }
    }
}
