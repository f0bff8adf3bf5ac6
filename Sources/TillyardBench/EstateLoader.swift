import Foundation
import SQLKit
import TillyardKit
import TillyardStore

/// Bulk loading of generated terminals and bindings: multi-row INSERTs with bound values, many
/// statements to one transaction. The column lists are those of migration 0002 (`terminals`,
/// `bindings`), so the product's repositories read the rows back as if the services had written them.
enum EstateLoader {
    /// Rows per INSERT statement: 27 values a terminal row stays far below the bind limits
    /// (65,535 on PostgreSQL; SQLite as built by sqlite-nio allows 250,000).
    static let rowsPerStatement = 500

    static let terminalColumns = [
        "id", "org_id", "tenant_id", "owner_path", "merchant_path", "sn", "tid", "model_id", "state", "transit_to_org_id",
        "merchant_id", "store_id", "placement_address", "latitude", "longitude", "installer", "installed_at",
        "responsible_person", "app_version", "firmware_version", "key_check_value", "purchase_cost", "warranty_end", "notes",
        "created_at", "updated_at", "version",
    ]

    static let bindingColumns = [
        "id", "terminal_id", "org_id", "store_id", "sn", "acquirer_code", "mid", "credit_code", "settlement_account_masked",
        "settlement_account_fingerprint", "placement_address", "latitude", "longitude", "bound_at", "bound_by",
        "unbound_at", "unbound_by", "unbind_reason", "open_terminal_id",
    ]

    /// Inserts the organisation tree and the model catalogue through the product's repositories
    /// (a few thousand rows: no need to bypass them).
    static func insertTree(_ tree: EstateTree, into store: SQLPersistence) async throws {
        try await store.write { repos in
            for org in tree.organizations { try await repos.orgs.insert(org) }
            for model in tree.models { try await repos.models.insert(model) }
        }
    }

    /// Inserts one batch of terminals with their bindings in the caller's transaction.
    static func insert(_ batch: [GeneratedTerminal], tenant: OrgID, into db: any SQLDatabase) async throws {
        for start in stride(from: 0, to: batch.count, by: rowsPerStatement) {
            let slice = batch[start..<min(batch.count, start + rowsPerStatement)]
            let insert = db.insert(into: "terminals").columns(terminalColumns)
            for generated in slice { insert.values(values(generated, tenant: tenant)) }
            try await insert.run()
        }
        // Bindings reference terminals, so they follow every terminal of the batch.
        let bindings = batch.flatMap(\.bindings)
        for start in stride(from: 0, to: bindings.count, by: rowsPerStatement) {
            let insert = db.insert(into: "bindings").columns(bindingColumns)
            for binding in bindings[start..<min(bindings.count, start + rowsPerStatement)] { insert.values(values(binding)) }
            try await insert.run()
        }
    }

    /// A terminal row, in `terminalColumns` order, stored as the repository stores it (times in epoch milliseconds).
    static func values(_ generated: GeneratedTerminal, tenant: OrgID) -> [any Encodable & Sendable] {
        let terminal = generated.terminal
        return [
            terminal.id.rawValue, terminal.orgId.rawValue, tenant.rawValue, generated.ownerPath, generated.merchantPath,
            terminal.sn, terminal.tid, terminal.modelId.rawValue, terminal.state.rawValue, terminal.transitToOrgId?.rawValue,
            terminal.merchantId?.rawValue, terminal.storeId?.rawValue, terminal.placement?.address, terminal.placement?.latitude,
            terminal.placement?.longitude, terminal.installer, terminal.installedAt.map(EpochMillis.from),
            terminal.responsiblePerson, terminal.appVersion, terminal.firmwareVersion, terminal.keyCheckValue,
            terminal.purchaseCost, terminal.warrantyEnd.map(EpochMillis.from), terminal.notes,
            EpochMillis.from(terminal.createdAt), EpochMillis.from(terminal.updatedAt), terminal.version,
        ]
    }

    /// A binding row, in `bindingColumns` order; `open_terminal_id` is set only while the binding is open.
    static func values(_ binding: Binding) -> [any Encodable & Sendable] {
        [
            binding.id, binding.terminalId.rawValue, binding.merchantId.rawValue, binding.storeId?.rawValue, binding.sn,
            binding.acquirerCode, binding.mid, binding.creditCode, binding.settlementAccountMasked,
            binding.settlementAccountFingerprint, binding.placement.address, binding.placement.latitude,
            binding.placement.longitude, EpochMillis.from(binding.boundAt), binding.boundBy,
            binding.unboundAt.map(EpochMillis.from), binding.unboundBy, binding.unbindReason,
            binding.unboundAt == nil ? binding.terminalId.rawValue : nil,
        ]
    }
}
