import Foundation

/// Fleet operations for operators (parameter templates, commands, locks, relocation) and for
/// terminals (parameters, acknowledgements, transaction uploads). Every operator change is audited
/// and drops the affected contexts from this node's memory, so the next heartbeat carries it.
extension FleetService {
    // MARK: Parameter templates

    /// Most keys one template may set.
    public static let maxTemplateKeys = 200

    /// Templates owned in the caller's subtree, optionally of one level.
    public func templates(level: ParameterLevel?, by principal: Principal) async throws -> [ParameterTemplate] {
        try principal.require(.estateRead)
        return try await store.read { try await $0.fleetOps.templates(under: principal.orgPath, level: level, limit: 1000) }
    }

    /// One template (nil when none is set for a target the caller sees).
    public func template(level: ParameterLevel, target: String, by principal: Principal) async throws -> ParameterTemplate? {
        try principal.require(.estateRead)
        return try await store.read { repos in
            _ = try await Self.templateOwner(level: level, target: target, repos: repos, principal: principal, reading: true)
            return try await repos.fleetOps.template(level: level, target: target)
        }
    }

    /// Creates (`replacing` 0) or changes (`replacing` the current version) a template. Keys and
    /// values are checked; a nil value removes a key set by a more general template.
    public func saveTemplate(level: ParameterLevel, target: String, values: [String: String?], replacing: Int,
                             by principal: Principal) async throws -> ParameterTemplate {
        try principal.require(.fleetManage)
        guard values.count <= Self.maxTemplateKeys else { throw DomainError.invalid("values", "at most \(Self.maxTemplateKeys) keys") }
        var checked: [String: String?] = [:]
        for (rawKey, value) in values {
            let key = try ParameterRules.key(rawKey, field: "values.\(rawKey)")
            guard checked[key] == nil else { throw DomainError.invalid("values.\(rawKey)", "the key is given twice") }
            checked[key] = .some(try value.map { try ParameterRules.value($0, field: "values.\(key)") })
        }
        let keys = checked.keys.sorted().joined(separator: ",")
        let now = clock.now()
        let template = ParameterTemplate(level: level, target: target, version: replacing + 1, values: checked,
                                         updatedBy: principal.user.username, updatedAt: now)
        try await store.write { repos in
            let owner = try await Self.templateOwner(level: level, target: target, repos: repos, principal: principal)
            guard try await repos.fleetOps.saveTemplate(template, orgPath: owner.path, replacing: replacing) else {
                throw DomainError.conflict(replacing == 0 ? "a template for this \(level.rawValue) exists already; change it with its version"
                                                          : "the template changed since version \(replacing); reload it")
            }
            _ = try await repos.audit.append(
                AuditDraft(orgId: owner.id, actor: principal.actor, action: "parameters.save", resourceType: "parameter_template",
                           resourceId: "\(level.rawValue):\(target)", origin: principal.origin,
                           summary: ["version": String(template.version), "keys": keys]),
                orgPath: owner.path, at: now)
        }
        // A template reaches many terminals: every context is read afresh.
        directory.invalidateAll()
        return template
    }

    /// Deletes a template at its current version.
    public func deleteTemplate(level: ParameterLevel, target: String, version: Int, by principal: Principal) async throws {
        try principal.require(.fleetManage)
        let now = clock.now()
        try await store.write { repos in
            let owner = try await Self.templateOwner(level: level, target: target, repos: repos, principal: principal)
            guard try await repos.fleetOps.deleteTemplate(level: level, target: target, version: version) else {
                throw DomainError.conflict("no template at version \(version) for this \(level.rawValue); reload it")
            }
            _ = try await repos.audit.append(
                AuditDraft(orgId: owner.id, actor: principal.actor, action: "parameters.delete", resourceType: "parameter_template",
                           resourceId: "\(level.rawValue):\(target)", origin: principal.origin, summary: ["version": String(version)]),
                orgPath: owner.path, at: now)
        }
        directory.invalidateAll()
    }

    /// The organisation a template belongs to, checked visible to the caller: the acquirer for the
    /// defaults, the model's owner, the region or merchant itself, the terminal's owner. The
    /// defaults and model templates reach the whole tree, so everyone in it may read them
    /// (`reading`), and only people who see their owner may change them.
    static func templateOwner(level: ParameterLevel, target: String, repos: any Repositories, principal: Principal,
                              reading: Bool = false) async throws -> Organization {
        let notFound = DomainError.notFound(resource: level.rawValue, id: target)
        func reachable(_ org: Organization) -> Bool {
            principal.sees(path: org.path) || (reading && org.rootId == principal.rootId)
        }
        switch level {
        case .defaults:
            guard let org = try await repos.orgs.find(OrgID(rawValue: target)), org.parentId == nil, reachable(org) else { throw notFound }
            return org
        case .model:
            guard let model = try await repos.models.find(ModelID(rawValue: target)), let org = try await repos.orgs.find(model.orgId),
                  reachable(org) else { throw notFound }
            return org
        case .region, .merchant:
            guard let org = try await repos.orgs.find(OrgID(rawValue: target)), principal.sees(path: org.path) else { throw notFound }
            guard (level == .merchant) == (org.kind == .merchant) else {
                throw DomainError.invalid("target", level == .merchant ? "is not a merchant" : "is a merchant; use the merchant level")
            }
            return org
        case .terminal:
            return try await EstateService.visible(TerminalID(rawValue: target), repos: repos, principal: principal, ownerMustBeVisible: false).1
        }
    }

    /// The level of an organisation's template: the defaults for an acquirer (top of a tree), the
    /// merchant level for a merchant, the region level for any other organisation.
    public func templateLevel(of org: OrgID, by principal: Principal) async throws -> ParameterLevel {
        try principal.require(.estateRead)
        // Only organisations in the caller's subtree: a region's people read the acquirer's defaults
        // through a terminal's effective parameters, not by naming the acquirer.
        guard let found = try await store.read({ try await $0.orgs.find(org) }), principal.sees(path: found.path) else {
            throw DomainError.notFound(resource: "organization", id: org.rawValue)
        }
        if found.parentId == nil { return .defaults }
        return found.kind == .merchant ? .merchant : .region
    }

    /// A terminal's effective parameters with the layer each value came from (for operators).
    public func effectiveParameters(of id: TerminalID, by principal: Principal) async throws -> EffectiveParameters {
        try principal.require(.estateRead)
        return try await store.read { repos in
            let (terminal, owner, _) = try await EstateService.visible(id, repos: repos, principal: principal, ownerMustBeVisible: false)
            return ParameterRules.effective(try await Self.layers(of: terminal, owner: owner, repos: repos))
        }
    }

    // MARK: Commands and locks

    /// Queues a reboot or a log upload for a terminal (lock and unlock have their own calls).
    public func command(_ kind: TerminalCommandKind, to id: TerminalID, reason: String?, by principal: Principal) async throws -> TerminalCommand {
        try principal.require(.fleetManage)
        guard kind == .reboot || kind == .uploadLogs else {
            throw DomainError.invalid("kind", "use lock and unlock for those; commands are reboot or upload_logs")
        }
        let reason = try Self.note(reason, field: "reason", required: false)
        return try await change(id, action: "terminal.command", by: principal, summary: ["kind": kind.rawValue]) { repos, _, now in
            try await queue(kind, to: id, reason: reason, by: principal.user.username, at: now, repos: repos)
        }
    }

    /// Locks a terminal: its new transactions are refused and every heartbeat reply says so.
    public func lock(_ id: TerminalID, reason: String, by principal: Principal) async throws -> TerminalLock {
        try principal.require(.fleetManage)
        let reason = try Self.note(reason, field: "reason", required: true)
        return try await change(id, action: "terminal.lock", by: principal, summary: ["reason": reason ?? ""]) { repos, terminal, now in
            if let existing = try await repos.fleetOps.lock(of: id) {
                throw DomainError.conflict("terminal \(terminal.sn) is already locked (\(existing.cause.rawValue)) since \(ISO8601DateFormatter().string(from: existing.lockedAt))")
            }
            let lock = TerminalLock(terminalId: id, cause: .operator, reason: reason, lockedBy: principal.user.username, lockedAt: now)
            try await repos.fleetOps.setLock(lock)
            _ = try await queue(.lock, to: id, reason: reason, by: principal.user.username, at: now, repos: repos)
            return lock
        }
    }

    /// Unlocks a terminal an operator locked. A relocation block is lifted by clearing its alert.
    public func unlock(_ id: TerminalID, note: String?, by principal: Principal) async throws {
        try principal.require(.fleetManage)
        let note = try Self.note(note, field: "note", required: false)
        try await change(id, action: "terminal.unlock", by: principal, summary: ["note": note ?? ""]) { repos, terminal, now in
            guard let existing = try await repos.fleetOps.lock(of: id) else { throw DomainError.conflict("terminal \(terminal.sn) is not locked") }
            guard existing.cause != .relocation else {
                throw DomainError.conflict("terminal \(terminal.sn) is blocked by relocation alert \(existing.alertId ?? ""); an inspector clears the alert")
            }
            try await repos.fleetOps.removeLock(of: id)
            _ = try await queue(.unlock, to: id, reason: note, by: principal.user.username, at: now, repos: repos)
        }
    }

    /// A terminal's commands, newest first, with how they ended.
    public func commands(of id: TerminalID, by principal: Principal) async throws -> (commands: [TerminalCommand], lock: TerminalLock?) {
        try principal.require(.estateRead)
        return try await store.read { repos in
            _ = try await EstateService.visible(id, repos: repos, principal: principal, ownerMustBeVisible: false)
            return (try await repos.fleetOps.commands(of: id, limit: 100), try await repos.fleetOps.lock(of: id))
        }
    }

    /// The terminal reports how a command ended; it leaves the heartbeat replies.
    public func acknowledge(_ commandId: String, _ ack: CommandAck, from caller: AuthenticatedTerminal) async throws {
        let detail = try Self.note(ack.detail, field: "detail", required: false)
        let now = clock.now()
        let done = try await store.write {
            try await $0.fleetOps.completeCommand(commandId, terminal: caller.terminal.id, at: now, outcome: ack.outcome, detail: detail)
        }
        guard done else { throw DomainError.notFound(resource: "command", id: commandId) }
        directory.invalidate(caller.terminal.id)
    }

    /// One audited change to a visible terminal in one transaction; its context is dropped after.
    private func change<T: Sendable>(_ id: TerminalID, action: String, by principal: Principal, summary: [String: String],
                                     _ work: @escaping @Sendable (any Repositories, Terminal, Date) async throws -> T) async throws -> T {
        let now = clock.now()
        let result = try await store.write { repos in
            let (terminal, owner, _) = try await EstateService.visible(id, repos: repos, principal: principal, ownerMustBeVisible: false)
            let result = try await work(repos, terminal, now)
            _ = try await repos.audit.append(
                AuditDraft(orgId: owner.id, actor: principal.actor, action: action, resourceType: "terminal", resourceId: id.rawValue,
                           origin: principal.origin, summary: summary.merging(["sn": terminal.sn]) { $1 }),
                orgPath: owner.path, at: now)
            return result
        }
        directory.invalidate(id)
        return result
    }

    private func queue(_ kind: TerminalCommandKind, to id: TerminalID, reason: String?, by: String, at now: Date,
                       repos: any Repositories) async throws -> TerminalCommand {
        let command = TerminalCommand(id: UUIDv7.make(now: now), terminalId: id, kind: kind, reason: reason, issuedBy: by, issuedAt: now)
        try await repos.fleetOps.insertCommand(command)
        return command
    }

    /// A free-text note of at most 500 characters (nil when empty and not required).
    static func note(_ raw: String?, field: String, required: Bool) throws -> String? {
        let text = raw?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if text.isEmpty {
            if required { throw DomainError.invalid(field, "is required") }
            return nil
        }
        guard text.count <= 500 else { throw DomainError.invalid(field, "at most 500 characters") }
        return text
    }

    // MARK: Relocation

    /// The relocation policy of the caller's acquirer (the defaults until one is saved).
    public func relocationPolicy(by principal: Principal) async throws -> RelocationPolicy {
        try principal.require(.estateRead)
        return try await store.read { try await $0.fleetOps.relocationPolicy(of: principal.rootId) } ?? RelocationPolicy()
    }

    /// Sets the acquirer's relocation policy (people at the top of its tree only).
    public func saveRelocationPolicy(_ policy: RelocationPolicy, by principal: Principal) async throws -> RelocationPolicy {
        try principal.require(.fleetManage)
        guard principal.orgPath.split(separator: "/").count == 1 else {
            throw DomainError.forbidden("the relocation policy is the acquirer's: set it from the top of the organisation tree")
        }
        guard (50...100_000).contains(policy.fixedToleranceMeters) else {
            throw DomainError.invalid("fixedToleranceMeters", "must be from 50 to 100000 metres")
        }
        guard (policy.fixedToleranceMeters...1_000_000).contains(policy.mobileToleranceMeters) else {
            throw DomainError.invalid("mobileToleranceMeters", "must be at least the fixed tolerance and at most 1000000 metres")
        }
        guard (1...LocationMemory.maxConfirmations).contains(policy.confirmations) else {
            throw DomainError.invalid("confirmations", "must be from 1 to \(LocationMemory.maxConfirmations)")
        }
        let now = clock.now()
        try await store.write { repos in
            try await repos.fleetOps.saveRelocationPolicy(policy, of: principal.rootId, by: principal.user.username, at: now)
            _ = try await repos.audit.append(
                AuditDraft(orgId: principal.rootId, actor: principal.actor, action: "relocation.policy", resourceType: "organization",
                           resourceId: principal.rootId.rawValue, origin: principal.origin,
                           summary: ["fixed": String(Int(policy.fixedToleranceMeters)), "mobile": String(Int(policy.mobileToleranceMeters)),
                                     "confirmations": String(policy.confirmations), "action": policy.action.rawValue]),
                orgPath: principal.orgPath, at: now)
        }
        directory.invalidateAll()
        return policy
    }

    /// Stores the alert (and, under a block policy, the lock and its command) for a terminal found
    /// away from its placement, with an inspection task. At most one alert is open per terminal.
    /// The risk queue gets its copy in the same transaction.
    func raiseRelocationAlert(_ finding: RelocationFinding, context: TerminalContext, at now: Date) async throws {
        let terminal = context.terminal
        let alert = RelocationAlert(id: UUIDv7.make(now: now), terminalId: terminal.id, sn: terminal.sn, finding: finding, raisedAt: now)
        let announced = try await store.write { repos -> RiskAlert? in
            guard try await repos.fleetOps.insertAlert(alert, orgPath: context.ownerPath) else { return nil }
            // An inspector is sent to look, in the same transaction: no alert without its task.
            try await ServiceDeskService.openRelocationInspection(terminal: terminal, ownerPath: context.ownerPath, alertId: alert.id, at: now,
                                                                  repos: repos)
            let risk = try await RiskScreen.relocation(alert, terminal: terminal, ownerPath: context.ownerPath, repos: repos)
            if finding.action == .block, try await repos.fleetOps.lock(of: terminal.id) == nil {
                try await repos.fleetOps.setLock(TerminalLock(terminalId: terminal.id, cause: .relocation,
                                                              reason: "moved \(Int(finding.certainDistanceMeters)) m from its placement",
                                                              alertId: alert.id, lockedBy: "relocation", lockedAt: now))
                _ = try await queue(.lock, to: terminal.id, reason: "relocation", by: "relocation", at: now, repos: repos)
            }
            if let owner = try await repos.orgs.find(terminal.orgId) {
                _ = try await repos.audit.append(
                    AuditDraft(orgId: owner.id, actor: .system, action: "relocation.alert", resourceType: "terminal", resourceId: terminal.id.rawValue,
                               origin: "heartbeat",
                               summary: ["sn": terminal.sn, "alert": alert.id, "distance": String(Int(finding.certainDistanceMeters)),
                                         "action": finding.action.rawValue]),
                    orgPath: owner.path, at: now)
            }
            return risk
        }
        riskNotifier.notify(announced.map { [$0] } ?? [])
        locations.forget(terminal.id)
        directory.invalidate(terminal.id)
    }

    /// Relocation alerts in the caller's subtree, newest first.
    public func relocationAlerts(state: AlertState?, limit: Int = 100, by principal: Principal) async throws -> [RelocationAlert] {
        try principal.require(.estateRead)
        return try await store.read { try await $0.fleetOps.alerts(under: principal.orgPath, state: state, limit: min(max(limit, 1), 500)) }
    }

    /// Clears a terminal's open alert (see `clearAlert(_:note:by:)`).
    public func clearAlert(of terminal: TerminalID, note: String, by principal: Principal) async throws -> RelocationAlert {
        try principal.require(.estateInstall)
        let open = try await store.read { repos -> RelocationAlert? in
            _ = try await EstateService.visible(terminal, repos: repos, principal: principal, ownerMustBeVisible: false)
            return try await repos.fleetOps.openAlert(of: terminal)
        }
        guard let open else { throw DomainError.conflict("the terminal has no open relocation alert") }
        return try await clearAlert(open.id, note: note, by: principal)
    }

    /// An inspector clears an open alert with what they found; a block it caused is lifted.
    public func clearAlert(_ id: String, note: String, by principal: Principal) async throws -> RelocationAlert {
        try principal.require(.estateInstall)
        guard let note = try Self.note(note, field: "note", required: true) else { throw DomainError.invalid("note", "is required") }
        let now = clock.now()
        let cleared = try await store.write { repos -> RelocationAlert in
            guard let (alert, orgPath) = try await repos.fleetOps.alert(id), principal.sees(path: orgPath) else {
                throw DomainError.notFound(resource: "relocation alert", id: id)
            }
            guard try await repos.fleetOps.clearAlert(id, by: principal.user.username, at: now, note: note) else {
                throw DomainError.conflict("alert \(id) was already cleared")
            }
            if let lock = try await repos.fleetOps.lock(of: alert.terminalId), lock.cause == .relocation, lock.alertId == id {
                try await repos.fleetOps.removeLock(of: alert.terminalId)
                _ = try await queue(.unlock, to: alert.terminalId, reason: note, by: principal.user.username, at: now, repos: repos)
            }
            // The path ends with the owner's id.
            let ownerId = orgPath.split(separator: "/").last.map { OrgID(rawValue: String($0)) } ?? principal.rootId
            _ = try await repos.audit.append(
                AuditDraft(orgId: ownerId, actor: principal.actor, action: "relocation.clear", resourceType: "terminal",
                           resourceId: alert.terminalId.rawValue, origin: principal.origin, summary: ["sn": alert.sn, "alert": id, "note": note]),
                orgPath: orgPath, at: now)
            var cleared = alert
            cleared.state = .cleared
            cleared.clearedAt = now
            cleared.clearedBy = principal.user.username
            cleared.clearNote = note
            return cleared
        }
        locations.forget(cleared.terminalId)
        directory.invalidate(cleared.terminalId)
        return cleared
    }

    // MARK: Transactions

    /// Most transactions in one upload.
    public static let maxUpload = 500

    /// Stores a terminal's uploaded transactions exactly once (a retried batch answers with its
    /// duplicates). The batch is checked whole first: one bad record refuses it all, with its index.
    /// A locked terminal's transactions made after the lock are refused with the batch (it keeps
    /// them queued); what it did before the lock is still taken.
    public func upload(_ upload: TransactionUpload, from caller: AuthenticatedTerminal) async throws -> TransactionUploadResult {
        let now = clock.now()
        let items = upload.transactions
        guard (1...Self.maxUpload).contains(items.count) else {
            throw DomainError.invalid("transactions", "send 1 to \(Self.maxUpload) transactions")
        }
        var checked: [TerminalTransaction] = []
        var seen = Set<String>()
        for (index, item) in items.enumerated() {
            let transaction = try Self.checked(item, field: "transactions.\(index)", now: now, window: window)
            guard seen.insert(transaction.id).inserted else { throw DomainError.invalid("transactions.\(index).id", "is given twice in this batch") }
            checked.append(transaction)
        }
        let context = caller.context, batch = checked, risk = self.risk
        if let lock = context.lock, checked.contains(where: { $0.at >= lock.lockedAt }) {
            let alert = try await store.write { try await risk.refused(batch[0], why: "locked", context: context, repos: $0, at: now) }
            riskNotifier.notify(alert.map { [$0] } ?? [])
            throw TerminalLockedError(cause: lock.cause, since: lock.lockedAt, reason: lock.reason)
        }
        // The bound merchant's MID is read once, and only when the batch names one.
        var boundMid: String?
        if checked.contains(where: { $0.mid != nil }), let merchant = context.terminal.merchantId { boundMid = try await mid(of: merchant) }
        for (index, item) in checked.enumerated() {
            if let mid = item.mid, context.terminal.merchantId != nil, mid != boundMid {
                throw DomainError.invalid("transactions.\(index).mid", "is not the MID of the merchant this terminal is bound to")
            }
            if let tid = item.tid, tid != context.terminal.tid {
                throw DomainError.invalid("transactions.\(index).tid", "is not this terminal's TID")
            }
        }
        let cards = Dictionary(checked.map { ($0.id, risk.cards.hash($0.maskedPan)) }, uniquingKeysWith: { first, _ in first }).compactMapValues { $0 }
        let outcome = try await store.write { repos -> (stored: Set<String>, screen: RiskScreenResult, refusal: String?) in
            // Transactions of a terminal that must not transact are refused; the alert is all that is kept.
            if let why = try await Self.refusal(of: context.terminal, repos: repos, at: now) {
                let alert = try await risk.refused(batch[0], why: why, context: context, repos: repos, at: now)
                var screen = RiskScreenResult()
                screen.raised = alert.map { [$0] } ?? []
                return ([], screen, why)
            }
            let stored = try await repos.fleetOps.insertTransactions(batch, cardHashes: cards, terminal: context.terminal.id, orgPath: context.ownerPath,
                                                                     merchantId: context.terminal.merchantId, receivedAt: now)
            let screen = try await risk.screen(batch.filter { stored.contains($0.id) }, context: context, repos: repos, at: now)
            try await TransactionRollup.record(batch.filter { stored.contains($0.id) }, orgPath: context.ownerPath,
                                               merchantId: context.terminal.merchantId, repos: repos)
            return (stored, screen, nil)
        }
        riskNotifier.notify(outcome.screen.raised)
        if let why = outcome.refusal {
            throw DomainError.forbidden("the terminal \(context.terminal.sn) is \(why): its transactions are refused")
        }
        if outcome.screen.blocked { directory.invalidate(context.terminal.id) }
        if let sweep = riskSchedule.due(RiskScreen.acquirer(of: context.ownerPath), at: now) {
            let notifier = riskNotifier, acquirer = RiskScreen.acquirer(of: context.ownerPath)
            Task.detached { if let raised = try? await sweep(acquirer, now) { notifier.notify(raised) } }
        }
        let stored = outcome.stored
        return TransactionUploadResult(stored: checked.map(\.id).filter { stored.contains($0) },
                                       duplicates: checked.map(\.id).filter { !stored.contains($0) })
    }

    /// Why a terminal may not transact now (nil when it may): not at a merchant (unbound, in stock,
    /// removed, scrapped) or of a model without valid certification.
    static func refusal(of terminal: Terminal, repos: any Repositories, at now: Date) async throws -> String? {
        guard activatable.contains(terminal.state) else { return terminal.state == .scrapped ? "scrapped" : "not bound to a merchant (\(terminal.state.rawValue))" }
        guard let model = try await repos.models.find(terminal.modelId) else { return "of an unknown model" }
        let certification = model.certification(at: now)
        return certification == .valid ? nil : "of an uncertified model (\(certification.rawValue))"
    }

    /// The MID of a merchant (from its approved file), read when a transaction names one.
    private func mid(of merchant: OrgID) async throws -> String? {
        try await store.read { try await $0.merchants.find(merchant)?.mid }
    }

    /// One uploaded transaction, checked: a terminal-made id, a time not in the future, a positive
    /// amount, a masked card number only.
    static func checked(_ item: TerminalTransaction, field: String, now: Date, window: TimeInterval) throws -> TerminalTransaction {
        var item = item
        guard (1...64).contains(item.id.count), item.id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw DomainError.invalid("\(field).id", "must be 1–64 letters, digits, '-' or '_' (the terminal's own id of the transaction)")
        }
        guard item.at <= now.addingTimeInterval(window) else { throw DomainError.invalid("\(field).at", "is in the future") }
        guard (1...10_000_000_000).contains(item.amount) else { throw DomainError.invalid("\(field).amount", "must be from 1 to 10000000000 fen") }
        item.currency = item.currency.uppercased()
        guard item.currency.count == 3, item.currency.allSatisfy({ $0.isASCII && $0.isLetter }) else {
            throw DomainError.invalid("\(field).currency", "must be an ISO 4217 code such as CNY")
        }
        guard item.tender != .cash, item.tender != .storedValue else {
            throw DomainError.invalid("\(field).tender", "a terminal records card and QR payments (card, wechat, alipay, unionpay_qr)")
        }
        guard (2...4).contains(item.responseCode.count), item.responseCode.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw DomainError.invalid("\(field).responseCode", "must be the host's 2–4 character response code")
        }
        item.maskedPan = try item.maskedPan.map { try SaleRules.maskedPan($0, field: "\(field).maskedPan") }
        item.authCode = try SaleRules.code(item.authCode, field: "\(field).authCode", required: false, max: 12)
        item.rrn = try SaleRules.code(item.rrn, field: "\(field).rrn", required: false, max: 12)
        item.mid = try SaleRules.code(item.mid, field: "\(field).mid", required: false, max: 15)
        item.tid = try SaleRules.code(item.tid, field: "\(field).tid", required: false, max: 8)
        if let latitude = item.latitude, !(-90...90).contains(latitude) { throw DomainError.invalid("\(field).latitude", "must be from -90 to 90") }
        if let longitude = item.longitude, !(-180...180).contains(longitude) { throw DomainError.invalid("\(field).longitude", "must be from -180 to 180") }
        return item
    }

    /// A terminal's uploaded transactions, newest first.
    public func transactions(of id: TerminalID, limit: Int = 100, by principal: Principal) async throws -> [StoredTerminalTransaction] {
        try principal.require(.estateRead)
        return try await store.read { repos in
            _ = try await EstateService.visible(id, repos: repos, principal: principal, ownerMustBeVisible: false)
            return try await repos.fleetOps.transactions(of: id, limit: min(max(limit, 1), 500))
        }
    }

    // MARK: Presence

    /// Deployed, online and never-seen terminals per organisation in the caller's subtree, with
    /// the organisations (for names). Heartbeats reach storage within the flush interval.
    public func presence(by principal: Principal) async throws -> [(org: Organization, presence: FleetPresence)] {
        try principal.require(.estateRead)
        let since = clock.now().addingTimeInterval(-onlineThreshold)
        return try await store.read { repos in
            var rows: [(Organization, FleetPresence)] = []
            for presence in try await repos.fleetOps.presence(under: principal.orgPath, onlineSince: since) {
                if let org = try await repos.orgs.find(presence.orgId) { rows.append((org, presence)) }
            }
            return rows
        }
    }
}
