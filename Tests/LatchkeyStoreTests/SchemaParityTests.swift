import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Testing

@testable import LatchkeyStore

/// Both backends must hold one schema: the same migrations, and after them the same tables
/// with the same columns, so that `Schema` and the row records read either alike.
@Suite("One schema for both stores", .removingScratchDirectories)
struct SchemaParityTests {
    @Test func bothBackendsHaveTheSameMigrations() {
        #expect(SQLiteMigrations.migrator.migrations == Migrations.all.map(\.name))
    }

    /// Runs without PostgreSQL too: what the row records read is in SQLite's tables.
    @Test func sqliteHasEveryColumnTheRowsRead() async throws {
        let tables = try await makeSQLiteStorage().tableColumns()
        #expect(
            tables.keys.sorted() == [
                "clients", "events", "identities", "tokens", "users", "webhook_attempts", "webhook_deliveries",
                "webhook_endpoints", "webhook_messages",
            ])
        for (table, columns) in [
            ("users", Schema.users), ("tokens", Schema.tokens), ("clients", Schema.clients), ("events", Schema.events),
            ("webhook_endpoints", WebhookEndpointRow.CodingKeys.allCases.map(\.stringValue)),
        ] {
            let stored = try #require(tables[table], "\(table)")
            #expect(Set(columns).subtracting(stored).isEmpty, "\(table) lacks columns a row record reads")
        }
    }

    /// An owner with many tokens (a CI system's) pages through them at the cost of a page,
    /// not of all their tokens, read and sorted for every page.
    @Test func aPageOfAnOwnersTokensIsReadInOrderFromAnIndex() async throws {
        let storage = try makeSQLiteStorage()
        for query in [TokenQuery(ownerID: 1, limit: 50, offset: 100), TokenQuery(ownerID: 1, kind: .app, limit: 50)] {
            let plan = try await storage.plan(of: query)
            #expect(plan.contains { $0.contains("USING INDEX tokens_by_owner ") }, "\(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
        }
    }

    @Test(.enabled(if: TestBackend.postgresURL != nil, "needs LATCHKEY_TEST_POSTGRES_URL"))
    func bothBackendsHaveTheSameTablesAndColumns() async throws {
        let sqlite = try await makeSQLiteStorage().tableColumns()
        try await TestBackend.postgres.withStorage { storage in
            let postgres = try #require(storage as? PostgresStorage)
            let tables = try await postgres.tableColumns()
            #expect(tables.keys.sorted() == sqlite.keys.sorted())
            for (table, columns) in sqlite {
                #expect(tables[table] == columns, "\(table)")
            }
        }
    }
}

@Suite("Column values")
struct ColumnValueTests {
    @Test func uuidsAreReadAsFoundationReadsThem() {
        for _ in 0..<1_000 {
            let uuid = UUID()
            #expect(Columns.uuid(uuid.uuidString) == uuid)
            #expect(Columns.uuid(uuid.uuidString.lowercased()) == uuid)
        }
        for text in [
            "", "not a uuid", "0123456789abcdef0123456789abcdef", "01234567-89ab-cdef-0123-456789abcdeg",
            "01234567-89ab-cdef-0123-456789abcdef0", "01234567-89ab-cdef-0123-456789abcde",
            "01234567+89ab-cdef-0123-456789abcdef",
        ] {
            #expect(Columns.uuid(text) == nil, "\(text)")
            #expect(UUID(uuidString: text) == nil, "Foundation refuses '\(text)' too")
        }
    }
}
