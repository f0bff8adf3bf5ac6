import Foundation

/// A rule as operators see it: the effective definition and how its alerts ended.
public struct RiskRuleView: Codable, Sendable, Equatable {
    public var rule: RiskRule
    public var figures: RiskRulePrecision
}

/// One alert with its evidence and comments.
public struct RiskAlertDetail: Codable, Sendable, Equatable {
    public var alert: RiskAlert
    public var transactions: [StoredTerminalTransaction]
    public var comments: [RiskComment]
}

/// What a person changes on a rule (a new version): mode, severity, actions, parameters.
public struct RiskRuleChange: Codable, Sendable, Equatable {
    public var mode: RiskMode
    public var severity: RiskSeverity
    public var actions: [RiskAction]
    public var parameters: [String: Int64]
    /// The version this change replaces (0 for the library default).
    public var version: Int

    public init(mode: RiskMode, severity: RiskSeverity, actions: [RiskAction], parameters: [String: Int64], version: Int) {
        self.mode = mode
        self.severity = severity
        self.actions = actions
        self.parameters = parameters
        self.version = version
    }
}

/// Risk control for people: rules (versioned, shadow mode, back-tests), the alert queue and its
/// cases, settlement reconciliation and the monitoring figures. Transactions are screened by
/// `RiskScreen` inside the fleet's upload.
public struct RiskService: Sendable {
    public let store: any Persistence
    public let clock: Clock

    public init(store: any Persistence, clock: Clock = .system) {
        self.store = store
        self.clock = clock
    }

    // MARK: Rules

    /// The caller's acquirer's effective rules with each rule's alert figures in the caller's subtree.
    public func rules(by principal: Principal) async throws -> [RiskRuleView] {
        try principal.require(.riskRead)
        return try await store.read { repos in
            let saved = try await repos.risk.rules(of: principal.rootId)
            let figures = try await repos.risk.precision(under: principal.orgPath)
            return RiskLibrary.effective(saved).map { rule in
                RiskRuleView(rule: rule, figures: figures.first { $0.rule == rule.kind } ?? RiskRulePrecision(rule: rule.kind))
            }
        }
    }

    /// The stored versions of a rule, newest first (the library default last, as version 0).
    public func history(of kind: RiskRuleKind, by principal: Principal) async throws -> [RiskRule] {
        try principal.require(.riskRead)
        return try await store.read { try await $0.risk.ruleHistory(kind, of: principal.rootId) } + [RiskLibrary.rule(kind)]
    }

    /// Saves a new version of a rule for the acquirer (people at the top of its tree only).
    public func saveRule(_ kind: RiskRuleKind, _ change: RiskRuleChange, by principal: Principal) async throws -> RiskRule {
        try principal.require(.riskManage)
        guard principal.orgPath.split(separator: "/").count == 1 else {
            throw DomainError.forbidden("risk rules are the acquirer's: change them from the top of the organisation tree")
        }
        let now = clock.now()
        let rule = try RiskLibrary.validated(RiskRule(kind: kind, version: change.version + 1, mode: change.mode, severity: change.severity,
                                                      actions: change.actions, parameters: change.parameters,
                                                      updatedBy: principal.user.username, updatedAt: now))
        try await store.write { repos in
            guard try await repos.risk.saveRule(rule, of: principal.rootId) else {
                throw DomainError.conflict("rule \(kind.rawValue) changed since version \(change.version); reload it")
            }
            _ = try await repos.audit.append(
                AuditDraft(orgId: principal.rootId, actor: principal.actor, action: "risk.rule", resourceType: "risk_rule", resourceId: kind.rawValue,
                           origin: principal.origin,
                           summary: ["version": String(rule.version), "mode": rule.mode.rawValue,
                                     "actions": rule.actions.map(\.rawValue).joined(separator: ","),
                                     "parameters": rule.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")]),
                orgPath: principal.orgPath, at: now)
        }
        return rule
    }

    /// Most transactions a back-test replays.
    public static let backtestLimit = 200_000

    /// Replays the stored history of the caller's subtree through one rule (the effective one, or
    /// the parameters given): how many alerts it would have raised.
    public func backtest(_ kind: RiskRuleKind, parameters: [String: Int64]?, from: Date, to: Date, by principal: Principal) async throws
        -> RiskBacktestResult {
        try principal.require(.riskRead)
        guard from < to, to.timeIntervalSince(from) <= 400 * 86_400 else {
            throw DomainError.invalid("from", "give a span of at most 400 days with from before to")
        }
        let (rule, history) = try await store.read { repos -> (RiskRule, [RiskFacts]) in
            var rule = RiskLibrary.effective(try await repos.risk.rules(of: principal.rootId)).first { $0.kind == kind } ?? RiskLibrary.rule(kind)
            if let parameters { rule.parameters = parameters }
            rule = try RiskLibrary.validated(rule)
            var history = try await repos.risk.history(under: principal.orgPath, from: from, to: to, limit: Self.backtestLimit + 1)
            // Business hours of the merchants in the history, read once each.
            var hours: [String: BusinessHours?] = [:]
            for index in history.indices {
                guard let merchant = history[index].merchantId else { continue }
                if hours[merchant] == nil { hours[merchant] = .some(try await repos.merchants.find(OrgID(rawValue: merchant))?.businessHours) }
                history[index].businessHours = hours[merchant] ?? nil
            }
            return (rule, history)
        }
        let truncated = history.count > Self.backtestLimit
        return RiskEngine.backtest(rule, history: Array(history.prefix(Self.backtestLimit)), truncated: truncated)
    }

    // MARK: Schedule

    /// The rules a sweep runs: the merchant-day ones, which a change of rule or parameters may make
    /// fire on a day already counted.
    public static let scheduledRules: Set<RiskRuleKind> = [.refundsExceedSales, .volumeSpike]

    /// Runs the merchant-day rules over the counters of yesterday and today for one acquirer's
    /// merchants (the scheduled evaluation; transactions are judged as they arrive). An alert already
    /// raised for a merchant and day is not raised again. Returns the enforced alerts raised now.
    public func sweep(acquirer: OrgID, at now: Date) async throws -> [RiskAlert] {
        let today = RiskClock.day(of: now)
        return try await store.write { repos in
            let rules = RiskLibrary.effective(try await repos.risk.rules(of: acquirer))
                .filter { $0.mode != .off && Self.scheduledRules.contains($0.kind) }
            guard !rules.isEmpty else { return [] }
            var raised: [RiskAlert] = []
            for day in [today - 1, today] {
                // The day as the rules see it: its last second, or now for today.
                let at = min(now, RiskClock.start(ofDay: day + 1).addingTimeInterval(-1))
                for merchant in try await repos.risk.merchantsCounted(day: day, acquirer: acquirer) {
                    guard let org = try await repos.orgs.find(merchant) else { continue }
                    // A refund and a sale of nothing: the rules read the day's counters as they stand.
                    for kind in [TerminalTransactionKind.refund, .sale] {
                        let facts = RiskFacts(terminalId: "", transactionId: "", merchantId: merchant.rawValue, cardHash: nil, cardPrefix: nil,
                                              kind: kind, amount: 0, approved: true, at: at, businessHours: nil)
                        let snapshot = try await repos.risk.snapshot(RiskEngine.reads(facts))
                        for hit in RiskEngine.evaluate(facts, snapshot: snapshot, rules: rules) {
                            let alert = RiskAlert(id: UUIDv7.make(now: now), orgId: org.id, hit: hit, terminalId: nil, merchantId: org.id, at: now)
                            let (_, new) = try await repos.risk.raise(alert, orgPath: org.path, transactions: [])
                            if new, hit.mode == .enforced { raised.append(alert) }
                        }
                    }
                }
            }
            return raised
        }
    }

    /// Runs the sweep for the caller's acquirer now (risk.manage).
    public func sweep(by principal: Principal) async throws -> [RiskAlert] {
        try principal.require(.riskManage)
        return try await sweep(acquirer: principal.rootId, at: clock.now())
    }

    // MARK: Alerts

    /// Alerts in the caller's subtree (the queue, or the shadow log), newest first.
    public func alerts(_ filter: RiskAlertFilter, page: PageRequest, by principal: Principal) async throws -> Page<RiskAlert> {
        try principal.require(.riskRead)
        return try await store.read { try await $0.risk.alerts(under: principal.orgPath, filter: filter, page: page) }
    }

    /// One visible alert with its transactions and comments.
    public func alert(_ id: String, by principal: Principal) async throws -> RiskAlertDetail {
        try principal.require(.riskRead)
        return try await store.read { repos in
            let (alert, _) = try await Self.visibleAlert(id, repos: repos, principal: principal)
            return RiskAlertDetail(alert: alert, transactions: try await repos.risk.evidence(of: id), comments: try await repos.risk.comments(of: id))
        }
    }

    /// Assigns an alert to a user of the caller's subtree (nil: unassigned).
    public func assign(_ id: String, to username: String?, version: Int, by principal: Principal) async throws -> RiskAlert {
        try principal.require(.riskManage)
        return try await change(id, version: version, action: "risk.assign", by: principal) { alert, repos in
            if let username {
                guard let user = try await repos.users.find(username: username), let org = try await repos.orgs.find(user.orgId),
                      principal.sees(path: org.path) else {
                    throw DomainError.invalid("assignee", "no user \(username) in your organisations")
                }
                guard user.role.permissions.contains(.riskRead) else { throw DomainError.invalid("assignee", "\(username) cannot read risk alerts") }
            }
            alert.assignee = username
            return ["assignee": username ?? ""]
        }
    }

    /// Moves an alert along open → investigating → closed (fraud / false positive / accepted), with a note.
    public func move(_ id: String, to status: RiskAlertStatus, note: String?, version: Int, by principal: Principal) async throws -> RiskAlert {
        try principal.require(.riskManage)
        let note = try FleetService.note(note, field: "note", required: status.isClosed)
        let now = clock.now()
        return try await change(id, version: version, action: "risk.status", by: principal) { alert, repos in
            guard alert.status.canMove(to: status) else {
                throw DomainError.conflict("alert \(id) is \(alert.status.rawValue) and cannot become \(status.rawValue)")
            }
            if alert.assignee == nil { alert.assignee = principal.user.username }
            alert.status = status
            if status.isClosed { alert.closedBy = principal.user.username }
            if let note {
                try await repos.risk.addComment(RiskComment(id: UUIDv7.make(now: now), alertId: id, author: principal.user.username,
                                                            text: note, at: now))
            }
            return ["status": status.rawValue, "note": note ?? ""]
        }
    }

    /// Adds a comment to an alert.
    public func comment(_ id: String, text: String, by principal: Principal) async throws -> RiskComment {
        try principal.require(.riskManage)
        guard let text = try FleetService.note(text, field: "text", required: true) else { throw DomainError.invalid("text", "is required") }
        let now = clock.now()
        return try await store.write { repos in
            let (alert, path) = try await Self.visibleAlert(id, repos: repos, principal: principal)
            let comment = RiskComment(id: UUIDv7.make(now: now), alertId: id, author: principal.user.username, text: text, at: now)
            try await repos.risk.addComment(comment)
            _ = try await repos.audit.append(
                AuditDraft(orgId: alert.orgId, actor: principal.actor, action: "risk.comment", resourceType: "risk_alert", resourceId: id,
                           origin: principal.origin, summary: ["rule": alert.rule.rawValue]),
                orgPath: path, at: now)
            return comment
        }
    }

    /// An alert in the caller's subtree with its path; any other is "not found" (existence does not leak).
    static func visibleAlert(_ id: String, repos: any Repositories, principal: Principal) async throws -> (RiskAlert, String) {
        guard let (alert, path) = try await repos.risk.alert(id), principal.sees(path: path) else {
            throw DomainError.notFound(resource: "risk alert", id: id)
        }
        return (alert, path)
    }

    /// One audited change of a visible alert at its version.
    private func change(_ id: String, version: Int, action: String, by principal: Principal,
                        _ work: @escaping @Sendable (inout RiskAlert, any Repositories) async throws -> [String: String]) async throws -> RiskAlert {
        let now = clock.now()
        return try await store.write { repos in
            let (stored, path) = try await Self.visibleAlert(id, repos: repos, principal: principal)
            guard stored.version == version else { throw DomainError.conflict("alert \(id) changed since version \(version); reload it") }
            var alert = stored
            let summary = try await work(&alert, repos)
            alert.version += 1
            alert.updatedAt = now
            guard try await repos.risk.update(alert) else { throw DomainError.conflict("alert \(id) changed meanwhile; reload it") }
            _ = try await repos.audit.append(
                AuditDraft(orgId: alert.orgId, actor: principal.actor, action: action, resourceType: "risk_alert", resourceId: id,
                           origin: principal.origin, summary: summary.merging(["rule": alert.rule.rawValue]) { $1 }),
                orgPath: path, at: now)
            return alert
        }
    }

    // MARK: Settlement

    /// A terminal closes a batch: its totals are reconciled against the stored approved transactions
    /// since its previous batch. A batch number is taken once (a retry answers the stored batch).
    public func settle(_ upload: SettlementUpload, from caller: AuthenticatedTerminal) async throws -> SettlementBatch {
        let upload = try SettlementRules.checked(upload)
        let now = clock.now()
        let context = caller.context
        guard upload.closedAt <= now.addingTimeInterval(300) else { throw DomainError.invalid("closedAt", "is in the future") }
        return try await store.write { repos in
            if let existing = try await repos.risk.batch(terminal: context.terminal.id, batchNo: upload.batchNo) { return existing }
            let previous = try await repos.risk.lastBatch(of: context.terminal.id)
            if let previous, previous.closedAt >= upload.closedAt {
                throw DomainError.invalid("closedAt", "is not after the previous batch \(previous.batchNo)")
            }
            let stored = try await repos.risk.transactions(of: context.terminal.id, after: previous?.closedAt, upTo: upload.closedAt)
            let (lines, missing, notUploaded) = SettlementRules.reconcile(upload, stored: stored)
            let held = try await context.terminal.merchantId.asyncMap { try await repos.risk.settlementHeld(merchant: $0) } ?? false
            let batch = SettlementBatch(id: UUIDv7.make(now: now), terminalId: context.terminal.id, merchantId: context.terminal.merchantId,
                                        batchNo: upload.batchNo, from: previous?.closedAt, closedAt: upload.closedAt, lines: lines,
                                        missingFromBatch: missing, notUploaded: notUploaded, held: held, receivedAt: now)
            guard try await repos.risk.insertBatch(batch, orgPath: context.ownerPath) else {
                throw DomainError.conflict("batch \(upload.batchNo) was stored meanwhile; send it again")
            }
            return batch
        }
    }

    /// Settlement batches of the caller's subtree, newest first.
    public func batches(mismatchedOnly: Bool, page: PageRequest, by principal: Principal) async throws -> Page<SettlementBatch> {
        try principal.require(.riskRead)
        return try await store.read { try await $0.risk.batches(under: principal.orgPath, mismatchedOnly: mismatchedOnly, page: page) }
    }

    /// One visible batch.
    public func batch(_ id: String, by principal: Principal) async throws -> SettlementBatch {
        try principal.require(.riskRead)
        return try await store.read { repos in
            guard let (batch, path) = try await repos.risk.batch(id), principal.sees(path: path) else {
                throw DomainError.notFound(resource: "settlement batch", id: id)
            }
            return batch
        }
    }

    // MARK: Monitoring

    /// Counts and amounts of the caller's subtree over a span (the last 24 hours by default), with
    /// organisation names as labels.
    public func monitor(from: Date? = nil, to: Date? = nil, by principal: Principal) async throws -> RiskMonitor {
        try principal.require(.riskRead)
        let end = to ?? clock.now()
        let start = from ?? end.addingTimeInterval(-86_400)
        guard start < end, end.timeIntervalSince(start) <= 93 * 86_400 else { throw DomainError.invalid("from", "give a span of at most 93 days") }
        return try await store.read { repos in
            var monitor = try await repos.risk.monitor(under: principal.orgPath, from: start, to: end)
            var names: [String: String] = [:]
            func name(_ id: String) async throws -> String {
                if let known = names[id] { return known }
                let found = try await repos.orgs.find(OrgID(rawValue: id))?.name ?? id
                names[id] = found
                return found
            }
            for index in monitor.byRegion.indices {
                let owner = monitor.byRegion[index].key.split(separator: "/").last.map(String.init) ?? ""
                monitor.byRegion[index].label = try await name(owner)
            }
            for index in monitor.byMerchant.indices where !monitor.byMerchant[index].key.isEmpty {
                monitor.byMerchant[index].label = try await name(monitor.byMerchant[index].key)
            }
            for index in monitor.topAlerting.indices { monitor.topAlerting[index].label = try await name(monitor.topAlerting[index].key) }
            return monitor
        }
    }
}
