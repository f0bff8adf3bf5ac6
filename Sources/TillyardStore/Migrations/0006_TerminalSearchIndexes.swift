/// Indexes for terminal search filters that had none, found slow by `bench/run estate` at
/// 1,000,000 terminals (seconds instead of milliseconds). Each ends in `id`, so a filter's
/// matches come out of the index already in the list's order (newest first) and a page stops early.
/// (Version 5 is reserved for merchant onboarding, developed alongside.)
enum Migration0006TerminalSearchIndexes {
    static let migration = Migration(version: 6, name: "terminal_search_indexes", statements: [
        // TID alone: the UNIQUE (tenant_id, tid) constraint's index cannot serve a search without the tenant.
        "CREATE INDEX terminals_tid ON terminals(tid, id)",
        // Version search asks for app OR firmware version; each column is walked on its own and the pages merged.
        "CREATE INDEX terminals_app_version ON terminals(app_version, id)",
        "CREATE INDEX terminals_firmware_version ON terminals(firmware_version, id)",
        // State and model together (the list's usual pair): with only one of them in an index, the engine walks
        // that one's rows and tests the other, and scrapped terminals are old, so a model's newest rows hold none.
        "CREATE INDEX terminals_state_model ON terminals(state, model_id, id)",
    ])
}
