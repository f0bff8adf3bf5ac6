/// Organisation tree, users, sessions, API tokens, the audit chain and idempotency keys.
enum Migration0001Access {
    static let migration = Migration(version: 1, name: "access", statements: [
        """
        CREATE TABLE organizations (
            id TEXT PRIMARY KEY,
            parent_id TEXT REFERENCES organizations(id),
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            code TEXT NOT NULL,
            path {PATH} NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL
        )
        """,
        "CREATE INDEX organizations_parent ON organizations(parent_id)",
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            username TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            email TEXT,
            role TEXT NOT NULL,
            status TEXT NOT NULL,
            locale TEXT,
            password_hash TEXT NOT NULL,
            failed_logins BIGINT NOT NULL,
            locked_until BIGINT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL
        )
        """,
        "CREATE INDEX users_org ON users(org_id, id)",
        """
        CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            org_id TEXT NOT NULL REFERENCES organizations(id),
            csrf_token TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            origin TEXT NOT NULL
        )
        """,
        "CREATE INDEX sessions_user ON sessions(user_id)",
        """
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            user_id TEXT NOT NULL REFERENCES users(id),
            name TEXT NOT NULL,
            prefix TEXT NOT NULL UNIQUE,
            secret_hash TEXT NOT NULL,
            scopes TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT,
            last_used_at BIGINT,
            revoked_at BIGINT
        )
        """,
        "CREATE INDEX api_tokens_user ON api_tokens(user_id, id)",
        """
        CREATE TABLE audit_events (
            seq BIGINT PRIMARY KEY,
            org_id TEXT NOT NULL,
            org_path {PATH} NOT NULL,
            at BIGINT NOT NULL,
            actor_kind TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            actor_name TEXT NOT NULL,
            action TEXT NOT NULL,
            resource_type TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            outcome TEXT NOT NULL,
            origin TEXT NOT NULL,
            summary TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )
        """,
        "CREATE INDEX audit_events_path ON audit_events(org_path, seq)",
        "CREATE INDEX audit_events_resource ON audit_events(resource_type, resource_id)",
        """
        CREATE TABLE idempotency_keys (
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            org_id TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            status BIGINT,
            body TEXT,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (scope, key)
        )
        """,
        "CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at)",
    ])
}
