import LatchkeyCore

/// One condition of a `WHERE` clause, the same for both backends: a column, a comparison and
/// a value, which each backend binds with its own placeholder (see `SQLWriter`).
struct Condition: Sendable, Hashable {
    enum Comparison: String, Sendable {
        case equal = "="
        case less = "<"
        case lessOrEqual = "<="
        case greater = ">"
        case greaterOrEqual = ">="
    }

    /// The kinds of value conditions compare with; every column compared holds one of these.
    enum Value: Sendable, Hashable {
        case integer(Int64)
        case text(String)
    }

    var column: String
    var comparison: Comparison
    var value: Value

    init(_ column: String, _ comparison: Comparison, _ value: Int64) {
        (self.column, self.comparison, self.value) = (column, comparison, .integer(value))
    }

    init(_ column: String, _ comparison: Comparison, _ value: String) {
        (self.column, self.comparison, self.value) = (column, comparison, .text(value))
    }
}

extension TokenQuery {
    /// The tokens the query selects, before its limit and offset.
    var conditions: [Condition] {
        var conditions: [Condition] = []
        if let ownerID { conditions.append(Condition("user_id", .equal, ownerID)) }
        if let kind { conditions.append(Condition("kind", .equal, kind.rawValue)) }
        if let key { conditions.append(Condition("key", .equal, key)) }
        if let expiringAfter {
            conditions.append(Condition("expires_us", .greater, Columns.microseconds(expiringAfter)))
        }
        if let expiringUntil {
            conditions.append(Condition("expires_us", .lessOrEqual, Columns.microseconds(expiringUntil)))
        }
        if let afterID { conditions.append(Condition("id", .greater, afterID)) }
        return conditions
    }
}

extension AuditQuery {
    /// The events the query selects, before its limit.
    var conditions: [Condition] {
        var conditions: [Condition] = []
        if let userID { conditions.append(Condition("user_id", .equal, userID)) }
        if let kind { conditions.append(Condition("kind", .equal, kind.rawValue)) }
        if let since { conditions.append(Condition("at_us", .greaterOrEqual, Columns.microseconds(since))) }
        return conditions
    }
}
