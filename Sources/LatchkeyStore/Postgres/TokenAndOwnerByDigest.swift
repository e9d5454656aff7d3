import Foundation
import LatchkeyCore
import PostgresNIO

/// The hot path of every authenticated request, prepared once per connection.
struct TokenAndOwnerByDigest: PostgresPreparedStatement {
    static let sql = Schema.tokenAndOwner + " WHERE t.digest = $1"
    static let bindingDataTypes: [PostgresDataType] = [.bytea]
    typealias Row = (Token, User)

    var digest: Data

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        try bindings.append(digest)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        let row = row.makeRandomAccess()
        return (
            try TokenRow(from: PostgresRowDecoder(row)).token(),
            try UserRow(from: PostgresRowDecoder(row, prefix: Schema.ownerPrefix)).user()
        )
    }
}
