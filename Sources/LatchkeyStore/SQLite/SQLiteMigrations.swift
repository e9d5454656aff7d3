import GRDB

/// Applies `Migrations` to SQLite with GRDB's migrator, which records them in the file.
enum SQLiteMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in Migrations.all {
            migrator.registerMigration(migration.name) { db in
                for statement in migration.statements(.sqlite) {
                    try db.execute(sql: statement)
                }
                if migration.refoldsNames { try refoldNames(db) }
            }
        }
        return migrator
    }

    /// Migration 4's refolding, over this backend's rows.
    private static func refoldNames(_ db: Database) throws {
        let users = try Row.fetchAll(db, sql: Migrations.usersToRefold).map { row in
            (row[0] as Int64, row[1] as String, row[2] as String?)
        }
        for change in Migrations.refolded(users) {
            try db.execute(sql: Migrations.refold(column: change.column), arguments: [change.folded, change.id])
        }
    }
}
