import Foundation
import SQLKit
import TillyardKit

/// SQL storage of the model catalogue.
struct SQLTerminalModelRepository: TerminalModelRepository {
    let db: any SQLDatabase

    func insert(_ model: TerminalModel) async throws {
        try await db.raw("""
            INSERT INTO terminal_models (id, org_id, manufacturer, name, terminal_class, connectivity, pts_approval, pts_expiry,
                                         unionpay_certified, unionpay_certificate, created_at, updated_at, version)
            VALUES (\(bind: model.id.rawValue), \(bind: model.orgId.rawValue), \(bind: model.manufacturer), \(bind: model.name),
                    \(bind: model.terminalClass.rawValue), \(bind: model.connectivity.joined(separator: ",")), \(bind: model.ptsApproval),
                    \(bind: model.ptsExpiry.millis), \(bind: model.unionPayCertified ? 1 : 0), \(bind: model.unionPayCertificate),
                    \(bind: model.createdAt.millis), \(bind: model.updatedAt.millis), \(bind: model.version))
            """).run()
    }

    func find(_ id: ModelID) async throws -> TerminalModel? {
        try await db.raw("SELECT * FROM terminal_models WHERE id = \(bind: id.rawValue)").first().map(Self.decode)
    }

    func list(tenant: OrgID, page: PageRequest) async throws -> Page<TerminalModel> {
        var query: SQLQueryString = "SELECT * FROM terminal_models WHERE org_id = \(bind: tenant.rawValue)"
        if let after = page.afterKey { query += " AND id < \(bind: after)" }
        query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
        return Page.from(rows: try await db.raw(query).all().map(Self.decode), limit: page.limit) { $0.id.rawValue }
    }

    func update(_ model: TerminalModel) async throws {
        let changed = try await db.raw("""
            UPDATE terminal_models SET manufacturer = \(bind: model.manufacturer), name = \(bind: model.name),
                   terminal_class = \(bind: model.terminalClass.rawValue), connectivity = \(bind: model.connectivity.joined(separator: ",")),
                   pts_approval = \(bind: model.ptsApproval), pts_expiry = \(bind: model.ptsExpiry.millis),
                   unionpay_certified = \(bind: model.unionPayCertified ? 1 : 0), unionpay_certificate = \(bind: model.unionPayCertificate),
                   updated_at = \(bind: model.updatedAt.millis), version = \(bind: model.version)
            WHERE id = \(bind: model.id.rawValue) AND version = \(bind: model.version - 1)
            RETURNING id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("terminal model \(model.id) was changed by someone else") }
    }

    static func decode(_ row: any SQLRow) throws -> TerminalModel {
        TerminalModel(
            id: ModelID(rawValue: try row.decode(column: "id", as: String.self)),
            orgId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
            manufacturer: try row.decode(column: "manufacturer", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            terminalClass: try row.enumValue("terminal_class", as: TerminalClass.self),
            connectivity: try row.decode(column: "connectivity", as: String.self).split(separator: ",").map(String.init),
            ptsApproval: try row.decode(column: "pts_approval", as: String.self),
            ptsExpiry: try row.requiredDate("pts_expiry"),
            unionPayCertified: try row.decode(column: "unionpay_certified", as: Int.self) != 0,
            unionPayCertificate: try row.decode(column: "unionpay_certificate", as: String?.self),
            createdAt: try row.requiredDate("created_at"),
            updatedAt: try row.requiredDate("updated_at"),
            version: try row.decode(column: "version", as: Int.self))
    }
}

/// SQL storage of terminal dossiers and their history.
struct SQLTerminalRepository: TerminalRepository {
    let db: any SQLDatabase
    let backend: SQLBackend
    /// Ranges smaller than this drive a search from their ids (see `TerminalRanges`); tests set 0
    /// or a huge value to run every search both ways.
    var narrowLimit = TerminalRanges.narrowLimit

    func insert(_ terminal: Terminal, ownerPath: String, tenant: OrgID) async throws {
        // Look first, for a precise message: on PostgreSQL a failed INSERT aborts the transaction,
        // so nothing could be asked after it. The constraints still catch a race.
        if try await db.raw("SELECT id FROM terminals WHERE sn = \(bind: terminal.sn)").first() != nil {
            throw DomainError.conflict("serial number \(terminal.sn) is already on record (one SN, one terminal)")
        }
        if try await find(tenant: tenant, tid: terminal.tid) != nil {
            throw DomainError.conflict("TID \(terminal.tid) is already used by another terminal of this acquirer")
        }
        do {
            try await db.raw("""
                INSERT INTO terminals (id, org_id, tenant_id, owner_path, merchant_path, sn, tid, model_id, state, transit_to_org_id,
                                       merchant_id, store_id, placement_address, latitude, longitude, installer, installed_at,
                                       responsible_person, app_version, firmware_version, key_check_value, purchase_cost,
                                       warranty_end, notes, created_at, updated_at, version)
                VALUES (\(bind: terminal.id.rawValue), \(bind: terminal.orgId.rawValue), \(bind: tenant.rawValue), \(bind: ownerPath), NULL,
                        \(bind: terminal.sn), \(bind: terminal.tid), \(bind: terminal.modelId.rawValue), \(bind: terminal.state.rawValue),
                        \(bind: terminal.transitToOrgId?.rawValue), \(bind: terminal.merchantId?.rawValue), \(bind: terminal.storeId?.rawValue),
                        \(bind: terminal.placement?.address), \(bind: terminal.placement?.latitude), \(bind: terminal.placement?.longitude),
                        \(bind: terminal.installer), \(bind: terminal.installedAt.millis), \(bind: terminal.responsiblePerson),
                        \(bind: terminal.appVersion), \(bind: terminal.firmwareVersion), \(bind: terminal.keyCheckValue),
                        \(bind: terminal.purchaseCost), \(bind: terminal.warrantyEnd.millis), \(bind: terminal.notes),
                        \(bind: terminal.createdAt.millis), \(bind: terminal.updatedAt.millis), \(bind: terminal.version))
                """).run()
        } catch where Dialect.isUniqueViolation(error) {
            throw DomainError.conflict("serial number \(terminal.sn) or TID \(terminal.tid) was taken at the same moment; try again")
        }
    }

    func find(_ id: TerminalID) async throws -> Terminal? {
        try await db.raw("SELECT * FROM terminals WHERE id = \(bind: id.rawValue)").first().map(Self.decode)
    }

    func find(sn: String) async throws -> Terminal? {
        try await db.raw("SELECT * FROM terminals WHERE sn = \(bind: sn)").first().map(Self.decode)
    }

    func find(tenant: OrgID, tid: String) async throws -> Terminal? {
        try await db.raw("SELECT * FROM terminals WHERE tenant_id = \(bind: tenant.rawValue) AND tid = \(bind: tid)").first().map(Self.decode)
    }

    func update(_ terminal: Terminal, ownerPath: String, merchantPath: String?) async throws {
        let changed = try await db.raw("""
            UPDATE terminals SET org_id = \(bind: terminal.orgId.rawValue), owner_path = \(bind: ownerPath), merchant_path = \(bind: merchantPath),
                   state = \(bind: terminal.state.rawValue), transit_to_org_id = \(bind: terminal.transitToOrgId?.rawValue),
                   merchant_id = \(bind: terminal.merchantId?.rawValue), store_id = \(bind: terminal.storeId?.rawValue),
                   placement_address = \(bind: terminal.placement?.address), latitude = \(bind: terminal.placement?.latitude),
                   longitude = \(bind: terminal.placement?.longitude), installer = \(bind: terminal.installer),
                   installed_at = \(bind: terminal.installedAt.millis), responsible_person = \(bind: terminal.responsiblePerson),
                   app_version = \(bind: terminal.appVersion), firmware_version = \(bind: terminal.firmwareVersion),
                   key_check_value = \(bind: terminal.keyCheckValue), purchase_cost = \(bind: terminal.purchaseCost),
                   warranty_end = \(bind: terminal.warrantyEnd.millis), notes = \(bind: terminal.notes),
                   updated_at = \(bind: terminal.updatedAt.millis), version = \(bind: terminal.version)
            WHERE id = \(bind: terminal.id.rawValue) AND version = \(bind: terminal.version - 1)
            RETURNING id
            """).all()
        guard !changed.isEmpty else { throw DomainError.conflict("terminal \(terminal.sn) was changed by someone else") }
    }

    func search(visibleUnder path: String, filter: TerminalFilter, page: PageRequest) async throws -> Page<Terminal> {
        var ranges: [TerminalRange] = [.subtree(Subtree(path))]
        if let narrower = filter.orgPath { ranges.append(.subtree(Subtree(narrower))) }
        if let sn = filter.sn?.uppercased() { ranges.append(.serialNumbers(Subtree.prefixRange(sn))) }
        // An exact TID or MID picks out a handful of terminals through its own index: no need to size the ranges.
        let exact = filter.tid != nil || filter.mid != nil
        var conditions = try await TerminalRanges.conditions(ranges, in: db, backend: backend, narrowLimit: narrowLimit, probe: !exact)
        if let tid = filter.tid?.uppercased() { conditions += " AND t.tid = \(bind: tid)" }
        if let mid = filter.mid?.uppercased() {
            conditions += " AND t.id IN (SELECT terminal_id FROM bindings WHERE mid = \(bind: mid) AND unbound_at IS NULL)"
        }
        if let state = filter.state { conditions += " AND t.state = \(bind: state.rawValue)" }
        if let model = filter.modelId { conditions += " AND t.model_id = \(bind: model.rawValue)" }
        if let person = filter.responsiblePerson { conditions += " AND t.responsible_person = \(bind: person)" }
        if let after = page.afterKey { conditions += " AND t.id < \(bind: after)" }
        let limit = page.limit + 1
        let query: SQLQueryString
        if let version = filter.version {
            // App OR firmware version: an OR of two indexed columns would be read whole and sorted
            // (most terminals run the current version). Instead each column's (version, id) index is
            // walked in id order, stopping after one page, and the two pages are merged; the newest
            // `limit` rows of the union are among them, so the rows found are the same.
            query = """
                SELECT * FROM (SELECT t.* FROM terminals t WHERE \(conditions) AND t.app_version = \(bind: version)
                               ORDER BY t.id DESC LIMIT \(bind: limit)) AS app
                UNION
                SELECT * FROM (SELECT t.* FROM terminals t WHERE \(conditions) AND t.firmware_version = \(bind: version)
                               ORDER BY t.id DESC LIMIT \(bind: limit)) AS firmware
                ORDER BY id DESC LIMIT \(bind: limit)
                """
        } else {
            query = "SELECT t.* FROM terminals t WHERE \(conditions) ORDER BY t.id DESC LIMIT \(bind: limit)"
        }
        return Page.from(rows: try await db.raw(query).all().map(Self.decode), limit: page.limit) { $0.id.rawValue }
    }

    func count(visibleUnder path: String, state: TerminalState?) async throws -> Int {
        var query: SQLQueryString = "SELECT COUNT(*) AS n FROM terminals t WHERE "
        query += try await TerminalRanges.conditions([.subtree(Subtree(path))], in: db, backend: backend, narrowLimit: narrowLimit)
        if let state { query += " AND t.state = \(bind: state.rawValue)" }
        return try await db.raw(query).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    func record(_ event: TerminalEvent) async throws {
        try await db.raw("""
            INSERT INTO terminal_events (id, terminal_id, version, org_id, at, action, from_state, to_state, actor_name, reason, details)
            VALUES (\(bind: event.id), \(bind: event.terminalId.rawValue), \(bind: event.version), \(bind: event.orgId.rawValue), \(bind: event.at.millis),
                    \(bind: event.action), \(bind: event.fromState?.rawValue), \(bind: event.toState?.rawValue), \(bind: event.actorName),
                    \(bind: event.reason), \(bind: AuditChain.canonicalSummary(event.details)))
            """).run()
    }

    func history(_ id: TerminalID, limit: Int) async throws -> [TerminalEvent] {
        try await db.raw("""
            SELECT * FROM terminal_events WHERE terminal_id = \(bind: id.rawValue) ORDER BY version DESC LIMIT \(bind: limit)
            """).all().map { row in
            TerminalEvent(
                id: try row.decode(column: "id", as: String.self),
                terminalId: TerminalID(rawValue: try row.decode(column: "terminal_id", as: String.self)),
                version: try row.decode(column: "version", as: Int.self),
                orgId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
                at: try row.requiredDate("at"),
                action: try row.decode(column: "action", as: String.self),
                fromState: try row.decode(column: "from_state", as: String?.self).flatMap(TerminalState.init(rawValue:)),
                toState: try row.decode(column: "to_state", as: String?.self).flatMap(TerminalState.init(rawValue:)),
                actorName: try row.decode(column: "actor_name", as: String.self),
                reason: try row.decode(column: "reason", as: String?.self),
                details: (try? JSONDecoder().decode([String: String].self, from: Data(try row.decode(column: "details", as: String.self).utf8))) ?? [:])
        }
    }

    static func decode(_ row: any SQLRow) throws -> Terminal {
        let address = try row.decode(column: "placement_address", as: String?.self)
        let latitude = try row.decode(column: "latitude", as: Double?.self)
        let longitude = try row.decode(column: "longitude", as: Double?.self)
        var placement: Placement?
        if let address, let latitude, let longitude { placement = Placement(address: address, latitude: latitude, longitude: longitude) }
        return Terminal(
            id: TerminalID(rawValue: try row.decode(column: "id", as: String.self)),
            orgId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
            sn: try row.decode(column: "sn", as: String.self),
            tid: try row.decode(column: "tid", as: String.self),
            modelId: ModelID(rawValue: try row.decode(column: "model_id", as: String.self)),
            state: try row.enumValue("state", as: TerminalState.self),
            transitToOrgId: try row.decode(column: "transit_to_org_id", as: String?.self).map(OrgID.init(rawValue:)),
            merchantId: try row.decode(column: "merchant_id", as: String?.self).map(OrgID.init(rawValue:)),
            storeId: try row.decode(column: "store_id", as: String?.self).map(OrgID.init(rawValue:)),
            placement: placement,
            installer: try row.decode(column: "installer", as: String?.self),
            installedAt: try row.date("installed_at"),
            responsiblePerson: try row.decode(column: "responsible_person", as: String?.self),
            appVersion: try row.decode(column: "app_version", as: String?.self),
            firmwareVersion: try row.decode(column: "firmware_version", as: String?.self),
            keyCheckValue: try row.decode(column: "key_check_value", as: String?.self),
            purchaseCost: try row.decode(column: "purchase_cost", as: Int64?.self),
            warrantyEnd: try row.date("warranty_end"),
            notes: try row.decode(column: "notes", as: String?.self),
            createdAt: try row.requiredDate("created_at"),
            updatedAt: try row.requiredDate("updated_at"),
            version: try row.decode(column: "version", as: Int.self))
    }
}

/// SQL storage of bindings. `open_terminal_id` is set only while a binding is open, and its
/// UNIQUE constraint makes "one terminal, one merchant at a time" hold even under races.
struct SQLBindingRepository: BindingRepository {
    let db: any SQLDatabase

    func insert(_ binding: Binding) async throws {
        do {
            try await db.raw("""
                INSERT INTO bindings (id, terminal_id, org_id, store_id, sn, acquirer_code, mid, credit_code, settlement_account_masked,
                                      settlement_account_fingerprint, placement_address, latitude, longitude, bound_at, bound_by,
                                      unbound_at, unbound_by, unbind_reason, open_terminal_id)
                VALUES (\(bind: binding.id), \(bind: binding.terminalId.rawValue), \(bind: binding.merchantId.rawValue),
                        \(bind: binding.storeId?.rawValue), \(bind: binding.sn), \(bind: binding.acquirerCode), \(bind: binding.mid),
                        \(bind: binding.creditCode), \(bind: binding.settlementAccountMasked), \(bind: binding.settlementAccountFingerprint),
                        \(bind: binding.placement.address), \(bind: binding.placement.latitude), \(bind: binding.placement.longitude),
                        \(bind: binding.boundAt.millis), \(bind: binding.boundBy), NULL, NULL, NULL, \(bind: binding.terminalId.rawValue))
                """).run()
        } catch where Dialect.isUniqueViolation(error) {
            throw DomainError.conflict("terminal \(binding.sn) is already bound; unbind it first")
        }
    }

    func active(for terminal: TerminalID) async throws -> Binding? {
        try await db.raw("SELECT * FROM bindings WHERE open_terminal_id = \(bind: terminal.rawValue)").first().map(Self.decode)
    }

    func close(_ id: String, at: Date, by: String, reason: String) async throws {
        try await db.raw("""
            UPDATE bindings SET unbound_at = \(bind: at.millis), unbound_by = \(bind: by), unbind_reason = \(bind: reason), open_terminal_id = NULL
            WHERE id = \(bind: id)
            """).run()
    }

    func all(for terminal: TerminalID) async throws -> [Binding] {
        try await db.raw("SELECT * FROM bindings WHERE terminal_id = \(bind: terminal.rawValue) ORDER BY id DESC").all().map(Self.decode)
    }

    static func decode(_ row: any SQLRow) throws -> Binding {
        Binding(
            id: try row.decode(column: "id", as: String.self),
            terminalId: TerminalID(rawValue: try row.decode(column: "terminal_id", as: String.self)),
            merchantId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
            storeId: try row.decode(column: "store_id", as: String?.self).map(OrgID.init(rawValue:)),
            sn: try row.decode(column: "sn", as: String.self),
            acquirerCode: try row.decode(column: "acquirer_code", as: String.self),
            mid: try row.decode(column: "mid", as: String.self),
            creditCode: try row.decode(column: "credit_code", as: String.self),
            settlementAccountMasked: try row.decode(column: "settlement_account_masked", as: String.self),
            settlementAccountFingerprint: try row.decode(column: "settlement_account_fingerprint", as: String.self),
            placement: Placement(address: try row.decode(column: "placement_address", as: String.self),
                                 latitude: try row.decode(column: "latitude", as: Double.self),
                                 longitude: try row.decode(column: "longitude", as: Double.self)),
            boundAt: try row.requiredDate("bound_at"),
            boundBy: try row.decode(column: "bound_by", as: String.self),
            unboundAt: try row.date("unbound_at"),
            unboundBy: try row.decode(column: "unbound_by", as: String?.self),
            unbindReason: try row.decode(column: "unbind_reason", as: String?.self))
    }
}

/// SQL storage of the usage log.
struct SQLUsageLogRepository: UsageLogRepository {
    let db: any SQLDatabase

    func append(_ entry: UsageEntry) async throws {
        try await db.raw("""
            INSERT INTO terminal_usage (id, terminal_id, org_id, at, responsible, operation, amount, recorded_by)
            VALUES (\(bind: entry.id), \(bind: entry.terminalId.rawValue), \(bind: entry.orgId.rawValue), \(bind: entry.at.millis),
                    \(bind: entry.responsible), \(bind: entry.operation), \(bind: entry.amount), \(bind: entry.recordedBy))
            """).run()
    }

    func list(_ terminal: TerminalID, limit: Int) async throws -> [UsageEntry] {
        try await db.raw("""
            SELECT * FROM terminal_usage WHERE terminal_id = \(bind: terminal.rawValue) ORDER BY id DESC LIMIT \(bind: limit)
            """).all().map { row in
            UsageEntry(id: try row.decode(column: "id", as: String.self),
                       terminalId: TerminalID(rawValue: try row.decode(column: "terminal_id", as: String.self)),
                       orgId: OrgID(rawValue: try row.decode(column: "org_id", as: String.self)),
                       at: try row.requiredDate("at"),
                       responsible: try row.decode(column: "responsible", as: String.self),
                       operation: try row.decode(column: "operation", as: String.self),
                       amount: try row.decode(column: "amount", as: Int64?.self),
                       recordedBy: try row.decode(column: "recorded_by", as: String.self))
        }
    }
}
