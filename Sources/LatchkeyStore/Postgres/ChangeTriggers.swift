/// The NOTIFY triggers through which every PostgreSQL node's caches hear of a change when it
/// commits, whoever makes it: this release, an older node, a cascade, or psql. Payloads as
/// `ChangeNotification` reads them, led by the table's schema.
enum ChangeTriggers {
    /// Migration 7: deleted tokens, and users whose activation, role or password changed.
    static let deletedTokensAndChangedUsers = [
        """
        CREATE FUNCTION latchkey_tokens_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE ids text;
        BEGIN
            SELECT string_agg(id::text, ',') INTO ids FROM gone;
            IF ids IS NOT NULL THEN
                PERFORM pg_notify('\(ChangeNotification.channel)', TG_TABLE_SCHEMA || ' ' ||
                    CASE WHEN length(ids) <= \(ChangeNotification.maximumPayload)
                         THEN 'tokens:' || ids ELSE 'anything' END);
            END IF;
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER tokens_deleted AFTER DELETE ON tokens REFERENCING OLD TABLE AS gone
        FOR EACH STATEMENT EXECUTE FUNCTION latchkey_tokens_deleted()
        """,
        """
        CREATE FUNCTION latchkey_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('\(ChangeNotification.channel)', TG_TABLE_SCHEMA || ' user:' || NEW.id);
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER users_changed AFTER UPDATE OF is_active, is_admin, password_hash ON users
        FOR EACH ROW EXECUTE FUNCTION latchkey_user_changed()
        """,
    ]

    /// Migration 9: a change to what verification checks (PATCH, rotation).
    static let changedTokens = [
        // Uses, last use and sliding expiries are left out: they change on every flush.
        """
        CREATE FUNCTION latchkey_token_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('\(ChangeNotification.channel)', TG_TABLE_SCHEMA || ' tokens:' || NEW.id);
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER tokens_changed
        AFTER UPDATE OF title, scopes, allowed_ips, metadata, max_uses, retired_us ON tokens
        FOR EACH ROW EXECUTE FUNCTION latchkey_token_changed()
        """,
    ]

    /// Migration 11: an owner's new tokens (a creation or a rotation).
    static let addedTokens = [
        // On a channel of its own, which nodes of older releases do not listen to.
        """
        CREATE FUNCTION latchkey_tokens_added() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE owners text;
        BEGIN
            SELECT string_agg(DISTINCT user_id::text, ',') INTO owners FROM added;
            IF owners IS NOT NULL THEN
                PERFORM pg_notify('\(ChangeNotification.newTokensChannel)', TG_TABLE_SCHEMA || ' ' ||
                    CASE WHEN length(owners) <= \(ChangeNotification.maximumPayload)
                         THEN 'owners:' || owners ELSE 'anything' END);
            END IF;
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER tokens_added AFTER INSERT ON tokens REFERENCING NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION latchkey_tokens_added()
        """,
    ]
}
