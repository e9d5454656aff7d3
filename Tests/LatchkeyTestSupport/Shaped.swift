/// A JSON object decoded as `Fields`, with the names of the fields it holds. A typed optional
/// decodes a field sent as null and a field not sent alike, as nil: `fieldNames` and
/// `nullFields` tell the two apart, for the checks that a field is absent or is null.
@dynamicMemberLookup
public struct Shaped<Fields: Decodable>: Decodable {
    public let fields: Fields
    /// Every field the object holds, nulls included.
    public let fieldNames: Set<String>
    /// The fields the object holds with the value null.
    public let nullFields: Set<String>

    public init(from decoder: any Decoder) throws {
        fields = try Fields(from: decoder)
        let object = try decoder.container(keyedBy: FieldName.self)
        fieldNames = Set(object.allKeys.map(\.stringValue))
        nullFields = Set(try object.allKeys.filter { try object.decodeNil(forKey: $0) }.map(\.stringValue))
    }

    public subscript<Value>(dynamicMember field: KeyPath<Fields, Value>) -> Value { fields[keyPath: field] }

    /// Any field's name.
    private struct FieldName: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
