/// The columns Latchkey reads, table by table, written once for both backends. They are the
/// row records' coding keys, so that a column list and the record reading it cannot drift apart.
enum Schema {
    static let users = names(UserRow.CodingKeys.self)
    static let tokens = names(TokenRow.CodingKeys.self)
    static let clients = names(ClientRow.CodingKeys.self)
    static let events = names(EventRow.CodingKeys.self)

    /// `id, username, …` for `SELECT`.
    static let userColumns = columns(users)
    static let tokenColumns = columns(tokens)
    static let clientColumns = columns(clients)
    static let eventColumns = columns(events)

    static func columns(_ names: [String]) -> String {
        names.joined(separator: ", ")
    }

    /// Qualified by a table alias and named explicitly (SQLite leaves the name of an unnamed
    /// result column unspecified): `u.id AS id, u.username AS username, …`; with a `prefix`,
    /// `u.id AS owner_id, …`.
    static func columns(_ names: [String], of alias: String, prefix: String = "") -> String {
        names.map { "\(alias).\($0) AS \(prefix)\($0)" }.joined(separator: ", ")
    }

    /// The prefix of the owner's columns in `tokenAndOwner` (`owner_id`, `owner_username`, …):
    /// renamed, so that every column of the joined row is read by a name of its own.
    static let ownerPrefix = "owner_"

    /// A token and its owner in one row, for a condition on `t` to follow.
    static let tokenAndOwner = """
        SELECT \(columns(tokens, of: "t")), \(columns(users, of: "u", prefix: ownerPrefix))
        FROM tokens t JOIN users u ON u.id = t.user_id
        """

    /// Moves a token's expiry and last use; a NULL leaves that column as it is. Numbered
    /// parameters, which both PostgreSQL and SQLite read: $1 expiry, $2 last use, $3 its
    /// address, $4 its user agent, $5 the recent addresses, $6 the token's id.
    static let recordUsage = """
        UPDATE tokens SET expires_us = COALESCE($1, expires_us),
                          last_used_us = COALESCE($2, last_used_us),
                          last_used_ip = CASE WHEN $2 IS NULL THEN last_used_ip ELSE $3 END,
                          last_used_agent = CASE WHEN $2 IS NULL THEN last_used_agent ELSE $4 END,
                          recent_ips = CASE WHEN $2 IS NULL THEN recent_ips ELSE $5 END
        WHERE id = $6
        """

    /// A change to a token (`TokenChange`), answering the token as changed. A nullable field is
    /// set (to a value or to NULL) when its flag is: $1 and $2 the title, $3 and $4 the metadata;
    /// $5 the allowlist and $6 the scopes stay as they are when NULL. $7 the token's id.
    static let updateToken = """
        UPDATE tokens SET title = CASE WHEN $1 THEN $2 ELSE title END,
                          metadata = CASE WHEN $3 THEN $4 ELSE metadata END,
                          allowed_ips = COALESCE($5, allowed_ips),
                          scopes = COALESCE($6, scopes)
        WHERE id = $7 RETURNING \(tokenColumns)
        """

    /// One use of a token with a usage limit, counted whichever node serves it: the row's
    /// lock makes concurrent uses take turns, and none is counted below zero. A token rotated
    /// away spends its newest successor's count (a rotation hands the count on), found in the
    /// same statement; a row retired meanwhile is not counted (the caller asks again). $1 the id.
    static let consumeUse = """
        WITH RECURSIVE chain(id, uuid, retired_us, depth) AS (
            SELECT id, uuid, retired_us, 0 FROM tokens WHERE id = $1
            UNION ALL
            SELECT t.id, t.uuid, t.retired_us, c.depth + 1 FROM tokens t JOIN chain c ON t.rotated_from = c.uuid
            WHERE c.retired_us IS NOT NULL AND c.depth < 1000)
        UPDATE tokens SET uses_remaining = uses_remaining - 1
        WHERE id = (SELECT id FROM chain WHERE retired_us IS NULL LIMIT 1) AND retired_us IS NULL
          AND uses_remaining > 0
        RETURNING uses_remaining
        """

    /// A rotation's successor takes what its predecessor holds as it stands in the rotating
    /// transaction (under the old row's lock), not as it was when the request was authenticated:
    /// a change made meanwhile (a narrowed allowlist) is never undone by a rotation. It keeps
    /// the creator it was given, else the predecessor's (it is revoked with it). $1 the old id, $2 the new.
    static let inheritFromPredecessor = """
        UPDATE tokens SET (title, scopes, allowed_ips, metadata, max_uses, uses_remaining) =
                          (SELECT title, scopes, allowed_ips, metadata, max_uses, uses_remaining
                           FROM tokens WHERE id = $1),
                          parent_id = COALESCE(parent_id, (SELECT parent_id FROM tokens WHERE id = $1))
        WHERE id = $2
        """

    /// Whether the token that creates another may still hand on rights: a row, and not rotated
    /// away (in its overlap it authenticates, but what it made then would escape its family).
    /// No row: revoked. $1 the creator's id.
    static let creatorIsLive = "SELECT retired_us IS NULL FROM tokens WHERE id = $1"

    /// Tokens made by a token during its rotation's overlap (before release 12 refused that) join
    /// the family of its newest live successor, as the tokens it made before rotating did: revoking
    /// the successor, or its reuse with `revoke-family`, now reaches them too. A token the heir
    /// itself hangs from (the heir's lineage) stays where it is: moving it would make a cycle,
    /// which no revocation from above reaches.
    static let adoptOverlapChildren = """
        WITH RECURSIVE chain(start_id, id, uuid, retired_us, depth) AS (
            SELECT id, id, uuid, retired_us, 0 FROM tokens WHERE retired_us IS NOT NULL
            UNION ALL
            SELECT c.start_id, t.id, t.uuid, t.retired_us, c.depth + 1 FROM tokens t JOIN chain c ON t.rotated_from = c.uuid
            WHERE c.retired_us IS NOT NULL AND c.depth < 1000),
        heirs(retired_id, heir_id) AS (
            SELECT start_id, MIN(id) FROM chain WHERE retired_us IS NULL GROUP BY start_id),
        lineage(heir_id, id, depth) AS (
            SELECT heir_id, heir_id, 0 FROM heirs
            UNION ALL
            SELECT l.heir_id, t.parent_id, l.depth + 1 FROM lineage l JOIN tokens t ON t.id = l.id
            WHERE t.parent_id IS NOT NULL AND l.depth < 1000)
        UPDATE tokens SET parent_id = (SELECT heir_id FROM heirs WHERE retired_id = tokens.parent_id)
        WHERE parent_id IN (SELECT retired_id FROM heirs)
          AND id NOT IN (
            SELECT l.id FROM lineage l JOIN heirs h ON h.heir_id = l.heir_id WHERE h.retired_id = tokens.parent_id)
        """

    /// After a rotation moved the old token's family to its successor: a successor made by a token
    /// of that family (a token the old one created, rotating it) would hang from its own
    /// descendant, a cycle no revocation from above reaches. It takes the old token's creator
    /// instead. $1 the old id, $2 the successor's.
    static let untangleSuccessor = """
        UPDATE tokens SET parent_id = (SELECT p.parent_id FROM tokens p WHERE p.id = $1)
        WHERE id = $2 AND parent_id IN (
            WITH RECURSIVE family(id) AS (
                SELECT id FROM tokens WHERE parent_id = $2
                UNION SELECT t.id FROM tokens t JOIN family f ON t.parent_id = f.id)
            SELECT id FROM family)
        """

    /// A successor lives no longer than its creator. $1 the successor's id.
    static let boundByCreator = """
        UPDATE tokens SET expires_us = (SELECT p.expires_us FROM tokens p WHERE p.id = tokens.parent_id)
        WHERE id = $1
          AND (SELECT p.expires_us FROM tokens p WHERE p.id = tokens.parent_id) IS NOT NULL
          AND (expires_us IS NULL OR expires_us > (SELECT p.expires_us FROM tokens p WHERE p.id = tokens.parent_id))
        """

    /// Every column an insert writes, in the order both backends bind `TokenRow.insertValues`:
    /// all but the id, which the database numbers.
    static let insertedTokenColumns = tokens.filter { $0 != TokenRow.CodingKeys.id.stringValue }

    /// A new token, its values bound as numbered parameters (both backends read them).
    static let insertToken = """
        INSERT INTO tokens (\(columns(insertedTokenColumns)))
        VALUES (\(insertedTokenColumns.indices.map { "$\($0 + 1)" }.joined(separator: ", ")))
        """

    private static func names<Key: CodingKey & CaseIterable>(_: Key.Type) -> [String] {
        Key.allCases.map(\.stringValue)
    }
}
