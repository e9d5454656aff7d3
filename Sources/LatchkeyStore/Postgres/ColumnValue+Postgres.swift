import PostgresNIO

extension PostgresBindings {
    /// Binds `value` as PostgreSQL stores it: each kind as its own type, a uuid as `UUID`.
    mutating func append(_ value: ColumnValue) throws {
        switch value {
        case .null: appendNull()
        case .integer(let value): append(value)
        case .boolean(let value): append(value)
        case .text(let value): append(value)
        case .blob(let value): try append(value)
        case .uuid(let value): append(value)
        }
    }
}
