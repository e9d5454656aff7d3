import GRDB

extension ColumnValue {
    /// As SQLite stores it: a uuid as lowercase text, a boolean as 0 or 1.
    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .integer(let value): value.databaseValue
        case .boolean(let value): value.databaseValue
        case .text(let value): value.databaseValue
        case .blob(let value): value.databaseValue
        case .uuid(let value): value.uuidString.lowercased().databaseValue
        }
    }
}
