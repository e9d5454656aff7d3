import Foundation
import GRDB
import LatchkeyCore
import LatchkeyTestSupport
import Testing

@testable import LatchkeyStore

@Suite("SQLite file", .removingScratchDirectories)
struct SQLiteFileTests {
    @Test func dataSurvivesReopeningAndMigrationsRunOnce() async throws {
        let path = try makeScratchDirectory().appendingPathComponent("latchkey.db").path
        do {
            let storage = try SQLiteStorage(path: path)
            try await makeUser(storage, "sam")
        }
        let reopened = try SQLiteStorage(path: path)
        #expect(try await reopened.user(username: "sam") != nil)
    }

    @Test func aDatabaseLatchkeyCreatesIsItsOwnersAloneWithItsLogFiles() async throws {
        let path = try makeScratchDirectory().appendingPathComponent("private.db").path
        let storage = try SQLiteStorage(path: path)
        try await makeUser(storage, "sam")
        for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber
            #expect(mode?.intValue == 0o600, "\(file)")
        }
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func namesStoredBeforeUnicodeFoldingAreFoldedAgainOnUpgrade() async throws {
        // A database from before migration 4 folded with lowercased(): "JOSE\u{301}" was stored
        // decomposed; after the upgrade the composed spelling finds it.
        let path = try makeScratchDirectory().appendingPathComponent("old.db").path
        do {
            let storage = try SQLiteStorage(path: path)
            try await makeUser(storage, "placeholder")
        }
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = '4-unicode-folding'")
            try db.execute(sql: "DROP INDEX users_by_username")
            try db.execute(
                sql: "UPDATE users SET username = ?, username_folded = ? WHERE username = 'placeholder'",
                arguments: ["JOSE\u{301}", "jose\u{301}"])
        }
        try queue.close()
        let upgraded = try SQLiteStorage(path: path)
        #expect(try await upgraded.user(username: "jos\u{e9}")?.username == "JOSE\u{301}")
    }

    @Test func namesThatCollideOnlyAfterFoldingKeepFindingTheirOwnAccount() async throws {
        // Two accounts from before migration 4, "strasse9" and "straße9": the second keeps its
        // old fold, and each is still found by its own exact name.
        let path = try makeScratchDirectory().appendingPathComponent("old.db").path
        do {
            let storage = try SQLiteStorage(path: path)
            try await makeUser(storage, "strasse9")
            try await makeUser(storage, "placeholder")
        }
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = '4-unicode-folding'")
            try db.execute(sql: "DROP INDEX users_by_username")
            try db.execute(
                sql: "UPDATE users SET username = 'straße9', username_folded = 'straße9' WHERE username = 'placeholder'"
            )
        }
        try queue.close()
        let upgraded = try SQLiteStorage(path: path)
        #expect(try await upgraded.user(username: "straße9")?.username == "straße9")
        #expect(try await upgraded.user(username: "strasse9")?.username == "strasse9")
        #expect(try await upgraded.user(login: "straße9")?.username == "straße9")
    }

    @Test func aFileThatIsNotADatabaseIsAClearError() throws {
        let directory = try makeScratchDirectory()
        let path = directory.appendingPathComponent("garbage.db").path
        try Data("this is not sqlite, just some text that is long enough".utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            try SQLiteStorage(path: path)
        } throws: { error in
            "\(error)" == "cannot open the database at \(path): file is not a database"
        }
    }

    @Test func aMissingDirectoryIsAClearError() throws {
        #expect {
            try SQLiteStorage(path: "/nonexistent-\(UUID())/latchkey.db")
        } throws: { error in
            "\(error)".hasPrefix("cannot open the database at /nonexistent-")
                && "\(error)".hasSuffix("unable to open database file")
        }
    }
}
