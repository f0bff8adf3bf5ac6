import Foundation

/// Tag for purchase request ids.
public enum PurchaseTag {}
/// Id of a terminal purchase request.
public typealias PurchaseID = Identifier<PurchaseTag>

/// What an approver decides at their step.
public enum PurchaseDecision: String, Codable, Sendable, CaseIterable {
    case approve
    /// Final: the request is refused.
    case reject
    /// Back to the requester for changes; resubmitting restarts the chain.
    case `return` = "return"
}

/// Where a purchase request stands.
public enum PurchaseStatus: String, Codable, Sendable, CaseIterable {
    case inReview = "in_review"
    case returned
    case rejected
    /// Every step approved, procurement included: terminals may be stocked in against it.
    case approved
    /// All the requested terminals have been stocked in.
    case completed
}

/// One step of an approval chain and, once taken, its decision.
public struct ApprovalStep: Codable, Sendable, Equatable {
    /// e.g. "supervisor_review", "security_assessment".
    public var name: String
    /// Who decides this step.
    public var role: Role
    public var decision: PurchaseDecision?
    public var decidedBy: String?
    public var decidedAt: Date?
    public var comment: String?

    public init(name: String, role: Role, decision: PurchaseDecision? = nil, decidedBy: String? = nil,
                decidedAt: Date? = nil, comment: String? = nil) {
        self.name = name
        self.role = role
        self.decision = decision
        self.decidedBy = decidedBy
        self.decidedAt = decidedAt
        self.comment = comment
    }
}

/// The approval chain for terminal purchases (after the acquirer's 管理办法): supervisor review →
/// security assessment → finance cost check → leader approval → procurement. Each acquirer may
/// configure its own.
public enum PurchaseChain {
    public static let defaultSteps: [ApprovalStep] = [
        ApprovalStep(name: "supervisor_review", role: .administrator),
        ApprovalStep(name: "security_assessment", role: .security),
        ApprovalStep(name: "finance_check", role: .finance),
        ApprovalStep(name: "leader_approval", role: .administrator),
        ApprovalStep(name: "procurement", role: .technical),
    ]

    /// Checks a configured chain: 1–10 steps, named, merchant roles excluded.
    public static func validate(_ steps: [ApprovalStep]) throws -> [ApprovalStep] {
        guard (1...10).contains(steps.count) else { throw DomainError.invalid("steps", "a chain has 1 to 10 steps") }
        return try steps.enumerated().map { index, step in
            let name = try AccessRules.text(step.name, field: "steps.\(index).name", max: 60)
            guard !step.role.isMerchantSide else { throw DomainError.invalid("steps.\(index).role", "merchant roles do not approve purchases") }
            return ApprovalStep(name: name, role: step.role)
        }
    }
}

/// A request to buy terminals, travelling through the approval chain.
public struct PurchaseRequest: Codable, Sendable, Equatable {
    public var id: PurchaseID
    /// The requesting organisation.
    public var orgId: OrgID
    public var modelId: ModelID
    public var quantity: Int
    public var reason: String
    /// Expected unit cost in fen.
    public var unitCost: Int64
    public var status: PurchaseStatus
    public var steps: [ApprovalStep]
    /// Index of the step waiting for a decision (== steps.count once approved).
    public var currentStep: Int
    /// Terminals stocked in against this request so far.
    public var stockedIn: Int
    public var createdBy: String
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(id: PurchaseID, orgId: OrgID, modelId: ModelID, quantity: Int, reason: String, unitCost: Int64, status: PurchaseStatus,
                steps: [ApprovalStep], currentStep: Int, stockedIn: Int, createdBy: String, createdAt: Date, updatedAt: Date, version: Int = 1) {
        self.id = id
        self.orgId = orgId
        self.modelId = modelId
        self.quantity = quantity
        self.reason = reason
        self.unitCost = unitCost
        self.status = status
        self.steps = steps
        self.currentStep = currentStep
        self.stockedIn = stockedIn
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    /// The step waiting for a decision, if any.
    public var pendingStep: ApprovalStep? { status == .inReview && currentStep < steps.count ? steps[currentStep] : nil }
}

/// Purchase request storage.
public protocol PurchaseRepository: Sendable {
    func insert(_ request: PurchaseRequest, orgPath: String) async throws
    func find(_ id: PurchaseID) async throws -> PurchaseRequest?
    /// Optimistic update (version must be stored + 1).
    func update(_ request: PurchaseRequest) async throws
    func list(under path: String, status: PurchaseStatus?, page: PageRequest) async throws -> Page<PurchaseRequest>
    /// The tenant's configured chain, nil for the default.
    func chain(tenant: OrgID) async throws -> [ApprovalStep]?
    func setChain(tenant: OrgID, steps: [ApprovalStep], at: Date) async throws
}
