/// Migration 9's columns, the same on both backends but for two type names.
enum TokenLifecycleColumns {
    static func statements(blob: String, uuid: String) -> [String] {
        [
            "ALTER TABLE tokens ADD COLUMN max_uses BIGINT",
            // Counted down by one atomic UPDATE per use, whichever node serves it.
            "ALTER TABLE tokens ADD COLUMN uses_remaining BIGINT",
            // CIDRs, comma-separated; empty: anywhere.
            "ALTER TABLE tokens ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE tokens ADD COLUMN metadata TEXT",
            "ALTER TABLE tokens ADD COLUMN last_used_agent TEXT",
            // The last distinct addresses, newest first, comma-separated.
            "ALTER TABLE tokens ADD COLUMN recent_ips TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE tokens ADD COLUMN rotated_from \(uuid)",
            // Rotated away: stops authenticating at this time; presented after it, reuse.
            "ALTER TABLE tokens ADD COLUMN retired_us BIGINT",
            // A successor's secret, sealed, for an idempotent retry of its rotation until the overlap ends.
            "ALTER TABLE tokens ADD COLUMN idempotency_key TEXT",
            "ALTER TABLE tokens ADD COLUMN retry_secret \(blob)",
            "ALTER TABLE tokens ADD COLUMN retry_until_us BIGINT",
            "CREATE INDEX tokens_by_predecessor ON tokens (rotated_from)",
            "CREATE INDEX tokens_by_retirement ON tokens (retired_us)",
        ]
    }
}
