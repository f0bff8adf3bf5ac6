import Foundation

extension EstateService {
    /// Replaces a terminal at its merchant (a repair's swap-out) inside the caller's transaction, through
    /// the one lifecycle path: the old terminal is removed if it was installed, returned to stock (its
    /// binding closed) and sent to repair; the replacement, from stock, is bound to the same merchant,
    /// store and placement and brought to the state the old one was in (installed, in service). Every
    /// step is a history line and an audit event; a refused step throws and the caller's transaction
    /// undoes all of them. The caller drops both terminals from `terminalContexts` after committing.
    func swapOut(_ oldId: TerminalID, with replacementId: TerminalID, reason: String, by principal: Principal, at now: Date,
                 in repos: any Repositories) async throws -> (old: Terminal, replacement: Terminal) {
        guard oldId != replacementId else { throw DomainError.invalid("replacementTerminalId", "must be another terminal") }
        let (old, _, _) = try await Self.visible(oldId, repos: repos, principal: principal, ownerMustBeVisible: false)
        guard [.bound, .installed, .inService].contains(old.state), let binding = try await repos.bindings.active(for: oldId) else {
            throw DomainError.conflict("terminal \(old.sn) is not at a merchant (it is \(old.state.rawValue)); nothing to swap")
        }
        let before = old.state
        let installer = principal.user.displayName
        if before != .bound {
            _ = try await transitionAll([oldId], .remove, reason: reason, by: principal, at: now, ownerMustBeVisible: false, in: repos) { _, _, _ in [:] }
        }
        let why = reason
        _ = try await transitionAll([oldId], before == .bound ? .unbind : .returnToStock, reason: reason, by: principal, at: now, in: repos) { terminal, _, repos in
            try await closeBinding(&terminal, reason: why, by: principal, repos: repos)
        }
        var oldAfter = try await transitionAll([oldId], .sendToRepair, reason: reason, by: principal, at: now, in: repos) { _, _, _ in
            ["swapOutBy": replacementId.rawValue]
        }[0]
        let request = BindRequest(merchantId: binding.merchantId, storeId: binding.storeId, placement: binding.placement)
        var replacement = try await transitionAll([replacementId], .bind, reason: reason, by: principal, at: now, in: repos,
                                                  Self.binding(request, placement: binding.placement, at: now, by: principal))[0]
        if before != .bound {
            replacement = try await transitionAll([replacementId], .install, reason: reason, by: principal, at: now, ownerMustBeVisible: false,
                                                  in: repos) { terminal, _, _ in
                terminal.installer = installer
                terminal.installedAt = now
                return ["installer": installer, "replaces": old.sn]
            }[0]
        }
        if before == .inService {
            replacement = try await transitionAll([replacementId], .commission, reason: reason, by: principal, at: now, ownerMustBeVisible: false,
                                                  in: repos) { _, _, _ in [:] }[0]
        }
        oldAfter = try await repos.terminals.find(oldId) ?? oldAfter
        return (oldAfter, replacement)
    }

    /// Appends a history line that moves no state (a repair's diagnosis, an inspection), bumping the
    /// dossier's version so the history stays exactly ordered; inside the caller's transaction.
    func recordEvent(_ id: TerminalID, action: String, reason: String?, details: [String: String], actorName: String, at now: Date,
                     in repos: any Repositories) async throws {
        guard var terminal = try await repos.terminals.find(id), let owner = try await repos.orgs.find(terminal.orgId) else {
            throw DomainError.notFound(resource: "terminal", id: id.rawValue)
        }
        let merchantPath = try await terminal.merchantId.asyncMap { try await repos.orgs.find($0)?.path } ?? nil
        terminal.version += 1
        terminal.updatedAt = now
        try await repos.terminals.update(terminal, ownerPath: owner.path, merchantPath: merchantPath)
        try await repos.terminals.record(TerminalEvent(id: UUIDv7.make(now: now), terminalId: id, version: terminal.version, orgId: owner.id,
                                                       at: now, action: action, fromState: nil, toState: nil,
                                                       actorName: actorName, reason: reason, details: details))
    }
}
