import PostgresNIO

/// Moves a token's expiry and last use; a NULL leaves that column as it is. Prepared: it
/// follows most authenticated requests.
struct RecordUsage: PostgresPreparedStatement {
    static let sql = """
        UPDATE tokens SET expires_us = COALESCE($1, expires_us),
                          last_used_us = COALESCE($2, last_used_us),
                          last_used_ip = CASE WHEN $2 IS NULL THEN last_used_ip ELSE $3 END
        WHERE id = $4
        """
    static let bindingDataTypes: [PostgresDataType] = [.int8, .int8, .text, .int8]
    typealias Row = Void

    var tokenID: Int64
    var expires: Int64?
    var lastUsed: Int64?
    var lastUsedIP: String?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(expires)
        bindings.append(lastUsed)
        bindings.append(lastUsedIP)
        bindings.append(tokenID)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws {}
}
