/// What the row decoders of both backends share (`ColumnOrderDecoder`, `PostgresRowDecoder`).
enum RowRecord {
    /// Records are flat: a property is a column, never a nested value.
    static func notAColumn(_ codingPath: [any CodingKey]) -> DecodingError {
        DecodingError.typeMismatch(
            Any.self, .init(codingPath: codingPath, debugDescription: "a row record's properties are its columns"))
    }
}

/// The keyed container of a flat row record: each property a column, nothing nested.
protocol FlatRecordContainer: KeyedDecodingContainerProtocol {}

extension FlatRecordContainer {
    var codingPath: [any CodingKey] { [] }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        throw RowRecord.notAColumn([key])
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw RowRecord.notAColumn([key])
    }

    func superDecoder() throws -> any Decoder {
        throw RowRecord.notAColumn([])
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        throw RowRecord.notAColumn([key])
    }
}
