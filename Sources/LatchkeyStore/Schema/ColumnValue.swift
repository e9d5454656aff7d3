import Foundation

/// A value as a row record writes it to a column, before a backend binds it: the few kinds of
/// value Latchkey stores. A uuid is its own kind because the backends store it differently
/// (lowercase text on SQLite, `UUID` on PostgreSQL).
enum ColumnValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case boolean(Bool)
    case text(String)
    case blob(Data)
    case uuid(UUID)

    /// Each column's value as `record` encodes it, by column name. A nil property is left out
    /// (`encodeIfPresent` skips it): a writer takes a missing column as `.null`.
    /// - Throws: `EncodingError` for a property of a kind no column holds (a programming error).
    static func values(of record: some Encodable) throws -> [String: ColumnValue] {
        let encoder = RecordEncoder()
        try record.encode(to: encoder)
        return encoder.values.columns
    }
}

/// Collects a flat record's properties, one per column (see `ColumnValue.values(of:)`).
private struct RecordEncoder: Encoder {
    final class Values {
        var columns: [String: ColumnValue] = [:]
    }

    let values = Values()
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(Container(values: values))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        fatalError("a row record's properties are its columns")
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        fatalError("a row record's properties are its columns")
    }

    struct Container<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let values: Values
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil(forKey key: Key) {
            values.columns[key.stringValue] = .null
        }

        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            values.columns[key.stringValue] =
                switch value {
                case let value as Int64: .integer(value)
                case let value as Bool: .boolean(value)
                case let value as String: .text(value)
                case let value as Data: .blob(value)
                case let value as UUID: .uuid(value)
                default:
                    throw EncodingError.invalidValue(
                        value, .init(codingPath: [key], debugDescription: "no column holds a \(T.self)"))
                }
        }

        mutating func nestedContainer<NestedKey: CodingKey>(
            keyedBy keyType: NestedKey.Type, forKey key: Key
        ) -> KeyedEncodingContainer<NestedKey> {
            fatalError("a row record's properties are its columns")
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            fatalError("a row record's properties are its columns")
        }

        mutating func superEncoder() -> any Encoder { fatalError("a row record's properties are its columns") }
        mutating func superEncoder(forKey key: Key) -> any Encoder {
            fatalError("a row record's properties are its columns")
        }
    }
}
