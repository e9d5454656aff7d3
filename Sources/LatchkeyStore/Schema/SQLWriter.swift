import GRDB
import PostgresNIO

/// SQL text with bound values, as each backend's string interpolation builds it: GRDB's `SQL`
/// literals bind `?`, PostgresNIO's `PostgresQuery` binds `$1`, `$2`, … The fragments both
/// backends share are written once, below, against this protocol; a backend only binds.
protocol SQLWriter {
    mutating func appendLiteral(_ sql: String)
    mutating func bind(_ value: Condition.Value)
}

extension SQLWriter {
    /// `\(conditions: …)`: the conditions joined by `AND`, `1 = 1` when there are none.
    mutating func appendInterpolation(conditions: [Condition]) {
        guard !conditions.isEmpty else { return appendLiteral("1 = 1") }
        for (index, condition) in conditions.enumerated() {
            appendLiteral("\(index == 0 ? "" : " AND ")\(condition.column) \(condition.comparison.rawValue) ")
            bind(condition.value)
        }
    }

    /// `\(tokenFamily: …)`: `WITH RECURSIVE family(id)`, the tokens matching every condition
    /// and every token they created, and theirs.
    mutating func appendInterpolation(tokenFamily conditions: [Condition]) {
        appendLiteral("WITH RECURSIVE family(id) AS (\n    SELECT id FROM tokens WHERE ")
        appendInterpolation(conditions: conditions)
        appendLiteral("\n    UNION SELECT t.id FROM tokens t JOIN family f ON t.parent_id = f.id)")
    }
}

extension SQLInterpolation: SQLWriter {
    mutating func bind(_ value: Condition.Value) {
        switch value {
        case .integer(let integer): appendInterpolation(integer)
        case .text(let text): appendInterpolation(text)
        }
    }
}

extension PostgresQuery.StringInterpolation: SQLWriter {
    mutating func bind(_ value: Condition.Value) {
        switch value {
        case .integer(let integer): appendInterpolation(integer)
        case .text(let text): appendInterpolation(text)
        }
    }
}
