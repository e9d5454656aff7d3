import PostgresNIO

/// Decodes a row record (`TokenRow`, `UserRow`, …) from a PostgreSQL row by column name, as GRDB
/// does from a SQLite row: one `Decodable` record, and one conversion, serves both backends.
struct PostgresRowDecoder: Decoder {
    let row: PostgresRandomAccessRow
    /// Put before each coding key: the owner's columns of a join are `owner_id`, `owner_username`, …
    let prefix: String

    init(_ row: PostgresRow, prefix: String = "") {
        self.init(row.makeRandomAccess(), prefix: prefix)
    }

    init(_ row: PostgresRandomAccessRow, prefix: String = "") {
        self.row = row
        self.prefix = prefix
    }

    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Container<Key>(row: row, prefix: prefix))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw RowRecord.notAColumn(codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw RowRecord.notAColumn(codingPath)
    }

    /// The row's columns, each decoded by PostgresNIO as the property's type.
    struct Container<Key: CodingKey>: FlatRecordContainer {
        let row: PostgresRandomAccessRow
        let prefix: String

        var allKeys: [Key] {
            row.compactMap { cell in
                cell.columnName.hasPrefix(prefix)
                    ? Key(stringValue: String(cell.columnName.dropFirst(prefix.count))) : nil
            }
        }

        func contains(_ key: Key) -> Bool {
            row.contains(prefix + key.stringValue)
        }

        func decodeNil(forKey key: Key) throws -> Bool {
            try cell(key).bytes == nil
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            guard let decodable = T.self as? any PostgresDecodable.Type else {
                throw RowRecord.notAColumn([key])
            }
            return try decode(decodable, cell(key)) as! T  // `decodable` is `T`, opened
        }

        private func decode<T: PostgresDecodable>(_ type: T.Type, _ cell: PostgresCell) throws -> T {
            try cell.decode(T.self)
        }

        private func cell(_ key: Key) throws -> PostgresCell {
            guard contains(key) else {
                throw DecodingError.keyNotFound(
                    key, .init(codingPath: [key], debugDescription: "no column \(prefix + key.stringValue)"))
            }
            return row[prefix + key.stringValue]
        }
    }
}
