import PostgresNIO

/// `Schema.recordUsage`, prepared: each flush of pending uses runs it once per token.
struct RecordUsage: PostgresPreparedStatement {
    static let sql = Schema.recordUsage
    static let bindingDataTypes: [PostgresDataType] = [.int8, .int8, .text, .text, .text, .int8]
    typealias Row = Void

    var tokenID: Int64
    var expires: Int64?
    var lastUsed: Int64?
    var lastUsedIP: String?
    var lastUsedAgent: String?
    var recentIPs: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(expires)
        bindings.append(lastUsed)
        bindings.append(lastUsedIP)
        bindings.append(lastUsedAgent)
        bindings.append(recentIPs)
        bindings.append(tokenID)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws {}
}
