/// Where a terminal is in its life (the dossier's current state).
public enum TerminalState: String, Codable, Sendable, CaseIterable {
    /// In a warehouse of its owner organisation (入库).
    case inStock = "in_stock"
    /// Dispatched to another organisation, awaiting receipt (出库/调拨在途).
    case inTransit = "in_transit"
    /// Bound to a merchant, not yet installed (绑定).
    case bound
    /// Installed at the merchant's premises (装机).
    case installed
    /// Taking transactions (在用).
    case inService = "in_service"
    /// Taken away from the merchant (撤机), still bound until returned to stock.
    case removed
    /// Out for repair (维修).
    case inRepair = "in_repair"
    /// Scrapped (报废): final.
    case scrapped
}

/// Everything that can happen to a terminal. Each is audited with who and why.
public enum LifecycleAction: String, Codable, Sendable, CaseIterable {
    case stockIn = "stock_in"
    case dispatch
    case receive
    case cancelTransit = "cancel_transit"
    case bind
    case unbind
    case install
    case commission
    case remove
    case returnToStock = "return_to_stock"
    case sendToRepair = "send_to_repair"
    case returnFromRepair = "return_from_repair"
    case scrap
}

/// The terminal state machine: which action is legal in which state, and where it leads.
public enum TerminalLifecycle {
    /// The legal transitions. Anything not listed is refused with a reason.
    public static let transitions: [TerminalState: [LifecycleAction: TerminalState]] = [
        .inStock: [.dispatch: .inTransit, .bind: .bound, .sendToRepair: .inRepair, .scrap: .scrapped],
        .inTransit: [.receive: .inStock, .cancelTransit: .inStock],
        .bound: [.install: .installed, .unbind: .inStock],
        .installed: [.commission: .inService, .remove: .removed],
        .inService: [.remove: .removed],
        .removed: [.returnToStock: .inStock],
        .inRepair: [.returnFromRepair: .inStock, .scrap: .scrapped],
        .scrapped: [:],
    ]

    /// The state after `action`, or a `conflict` naming the current state and what is allowed.
    public static func next(from state: TerminalState, by action: LifecycleAction) throws -> TerminalState {
        if let target = transitions[state]?[action] { return target }
        let allowed = (transitions[state] ?? [:]).keys.map(\.rawValue).sorted()
        let hint = allowed.isEmpty ? "a \(state.rawValue) terminal allows no further action"
            : "allowed now: \(allowed.joined(separator: ", "))"
        throw DomainError.conflict("a terminal that is \(state.rawValue) cannot \(action.rawValue); \(hint)")
    }

    /// Whether a terminal in this state is bound to a merchant.
    public static func isBound(_ state: TerminalState) -> Bool {
        [.bound, .installed, .inService, .removed].contains(state)
    }
}
