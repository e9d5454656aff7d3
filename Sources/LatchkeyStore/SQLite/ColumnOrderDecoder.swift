import Foundation
import GRDB

/// Decodes a row record from a SQLite row selected in the order of its columns (`columns`, as
/// `Schema` lists them), reading each property by position: GRDB's own `Decodable` path looks
/// every column up by name, which was most of the cost of reading a page of tokens. A record
/// decodes its properties in the order it declares them, so the next column is almost always
/// the one asked for; a key out of that order is found by name.
struct ColumnOrderDecoder: Decoder {
    let row: Row
    let table: String
    let columns: [String]
    private let cursor = Cursor()

    init(_ row: Row, table: String, columns: [String]) {
        self.row = row
        self.table = table
        self.columns = columns
    }

    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Container<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw RowRecord.notAColumn([])
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw RowRecord.notAColumn([])
    }

    /// The position after the last column read.
    final class Cursor {
        var next = 0
    }

    /// Where `name` is in the row: the column after the last one read, the last one read again
    /// (`decodeIfPresent` asks whether it is there, then whether it is NULL, then decodes it),
    /// or else found by name.
    func index(of name: String) -> Int? {
        let next = cursor.next
        let found: Int? =
            if next < columns.count && columns[next] == name {
                next
            } else if next > 0 && columns[next - 1] == name {
                next - 1
            } else {
                columns.firstIndex(of: name)
            }
        if let found { cursor.next = found + 1 }
        return found
    }

    struct Container<Key: CodingKey>: FlatRecordContainer {
        let decoder: ColumnOrderDecoder
        var allKeys: [Key] { decoder.columns.compactMap { Key(stringValue: $0) } }

        func contains(_ key: Key) -> Bool {
            decoder.index(of: key.stringValue) != nil
        }

        func decodeNil(forKey key: Key) throws -> Bool {
            decoder.row.hasNull(atIndex: try index(key))
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            let index = try index(key)
            if T.self == UUID.self {
                let text: String = try decoder.row.decode(atIndex: index)
                // Foundation's reader is `sscanf`-based and showed in every listing.
                guard let uuid = Columns.uuid(text) else {
                    throw StoreError.unreadableRow(
                        table: decoder.table, id: decoder.row["id"] ?? 0, reason: "'\(text)' is not a uuid")
                }
                return uuid as! T  // `T` is `UUID`, checked above
            }
            guard let convertible = T.self as? any DatabaseValueConvertible.Type else {
                throw RowRecord.notAColumn([key])
            }
            return try decode(convertible, at: index) as! T  // `convertible` is `T`, opened
        }

        private func decode<V: DatabaseValueConvertible>(_ type: V.Type, at index: Int) throws -> V {
            try decoder.row.decode(V.self, atIndex: index)
        }

        private func index(_ key: Key) throws -> Int {
            guard let index = decoder.index(of: key.stringValue) else {
                throw DecodingError.keyNotFound(
                    key, .init(codingPath: [key], debugDescription: "no column \(key.stringValue)"))
            }
            return index
        }
    }
}
