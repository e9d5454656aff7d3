import PostgresNIO

/// `Schema.consumeUse`, prepared: it runs on every use of a token with a usage limit.
struct ConsumeUse: PostgresPreparedStatement {
    static let sql = Schema.consumeUse
    static let bindingDataTypes: [PostgresDataType] = [.int8]
    typealias Row = Int64

    var tokenID: Int64

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(tokenID)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Int64 {
        try row.decode(Int64.self)
    }
}
