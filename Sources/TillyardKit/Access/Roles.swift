/// One action a person or token may be allowed to perform. Checked in one place: `Principal.require`.
///
/// Raw values are the stable names used in API token scopes and the OpenAPI document.
public enum Permission: String, Codable, Sendable, CaseIterable, Comparable {
    case dashboardView = "dashboard.view"
    case orgsRead = "orgs.read"
    case orgsManage = "orgs.manage"
    case usersRead = "users.read"
    case usersManage = "users.manage"
    case tokensManage = "tokens.manage"
    case auditRead = "audit.read"
    /// See terminal dossiers, models and history.
    case estateRead = "estate.read"
    /// Stock-in, transfers, receipts, repairs, scrapping, return to stock, CSV import.
    case estateManage = "estate.manage"
    /// Bind and unbind terminals to merchants.
    case estateBind = "estate.bind"
    /// Field work: install, commission, remove.
    case estateInstall = "estate.install"
    /// See purchase costs.
    case estateCosts = "estate.costs"
    /// Maintain the model catalogue and its certifications.
    case modelsManage = "models.manage"
    /// See merchants' onboarding files and documents.
    case merchantsRead = "merchants.read"
    /// Fill in onboarding files, upload documents, submit, reopen.
    case merchantsOnboard = "merchants.onboard"
    /// Approve or reject files, assign MIDs, set risk levels.
    case merchantsReview = "merchants.review"
    /// See the merchant's catalog (the register looks products up).
    case catalogRead = "catalog.read"
    /// Maintain products, prices and barcodes.
    case catalogManage = "catalog.manage"
    /// Ring up sales, hold orders, run shifts and cash movements at a register.
    case salesSell = "sales.sell"
    /// See sales, receipts, shifts and Z reports.
    case salesRead = "sales.read"
    /// Manager at the till: refunds, voids and discounts beyond the cashier's limit, register settings.
    case salesApprove = "sales.approve"
    /// Count and adjust stock per store.
    case stockManage = "stock.manage"
    /// Run the fleet: parameter templates, lock and unlock terminals, send commands, relocation policy.
    case fleetManage = "fleet.manage"
    /// Publish software packages and run update campaigns (start, pause, resume, roll back).
    case fleetRelease = "fleet.release"
    /// See service tickets, inspections, the knowledge base and technician figures.
    case serviceRead = "service.read"
    /// Open tickets (hotline, merchant console), confirm a resolved one, rate it, reopen it.
    case serviceOpen = "service.open"
    /// Dispatch and work tickets: assign, start, wait, resume, resolve.
    case serviceHandle = "service.handle"
    /// Repairs on site: diagnosis, parts, swap-out of the terminal (moves both through the estate lifecycle).
    case serviceRepair = "service.repair"
    /// Inspection plans and assigning inspection tasks.
    case inspectionsManage = "inspections.manage"
    /// Record an inspection visit (checklist, photos, position, outcome).
    case inspectionsRecord = "inspections.record"
    /// Write knowledge-base articles.
    case knowledgeManage = "knowledge.manage"
    /// Set the acquirer's SLA table (response and fix targets per ticket kind and priority).
    case serviceAdmin = "service.admin"
    /// Recognise members at the till, see member lists (phones masked), ledgers and offers.
    case membersRead = "members.read"
    /// Enrol and edit members, top up stored value, adjust points, import lists, run the member program.
    case membersManage = "members.manage"
    /// Personal data of members: full phone numbers (each read audited) and names, export, erasure, key rotation.
    case membersPrivacy = "members.privacy"
    /// See risk alerts, rules, settlement reconciliation and transaction monitoring.
    case riskRead = "risk.read"
    /// Investigate alerts (assign, comment, close) and change risk rules.
    case riskManage = "risk.manage"
    /// See the installation's backup archives and start one (administrators of a top organisation only).
    case backupsManage = "backups.manage"

    // Reports (issue 9): money and fleet figures are separate permissions.
    /// Sales statistics, margins and terminal transaction amounts (finance, merchant owners).
    case reportsSales = "reports.sales"
    /// The fleet dashboard: terminals, online share, activations, alerts, ticket SLA; no money (fleet operators).
    case reportsFleet = "reports.fleet"

    public static func < (lhs: Permission, rhs: Permission) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The departments that run a POS estate, plus the merchant's own people.
public enum Role: String, Codable, Sendable, CaseIterable {
    /// System administrator: everything in their subtree.
    case administrator
    /// Finance (财务): costs, settlement, reports.
    case finance
    /// Technical staff (技术): terminals, installs, updates.
    case technical
    /// Security (安全): audit trail, risk, compliance.
    case security
    /// Service desk (客服热线): tickets for merchants.
    case serviceDesk = "service_desk"
    /// Inspector / field technician (巡检/维修).
    case inspector
    /// Merchant owner or manager (商户负责人).
    case merchantOwner = "merchant_owner"
    /// Cashier (收银员).
    case cashier

    /// The permissions of each role: the one table that decides who may do what.
    public var permissions: Set<Permission> { basePermissions.union(reportPermissions) }

    // Reports (issue 9): finance and merchant owners see money, technical and security staff the fleet.
    private var reportPermissions: Set<Permission> {
        switch self {
        case .administrator: return [.reportsSales, .reportsFleet]
        case .finance, .merchantOwner: return [.reportsSales]
        case .technical, .security: return [.reportsFleet]
        case .serviceDesk, .inspector, .cashier: return []
        }
    }

    private var basePermissions: Set<Permission> {
        switch self {
        case .administrator:
            return Set(Permission.allCases)
        case .security:
            return [.dashboardView, .orgsRead, .usersRead, .auditRead, .tokensManage, .estateRead, .merchantsRead, .merchantsReview, .fleetManage,
                    .serviceRead, .riskRead, .riskManage]
        case .finance:
            return [.dashboardView, .orgsRead, .tokensManage, .estateRead, .estateCosts, .merchantsRead, .riskRead]
        case .technical:
            return [.dashboardView, .orgsRead, .tokensManage, .estateRead, .estateManage, .estateBind, .estateInstall, .modelsManage,
                    .merchantsRead, .merchantsOnboard, .fleetManage, .fleetRelease, .serviceRead, .serviceOpen, .serviceHandle, .serviceRepair,
                    .inspectionsManage, .inspectionsRecord, .knowledgeManage]
        case .serviceDesk:
            return [.dashboardView, .orgsRead, .estateRead, .merchantsRead, .serviceRead, .serviceOpen, .serviceHandle, .inspectionsManage,
                    .knowledgeManage]
        case .inspector:
            return [.dashboardView, .orgsRead, .estateRead, .estateInstall, .merchantsRead, .serviceRead, .serviceHandle, .serviceRepair,
                    .inspectionsRecord]
        case .merchantOwner:
            // Self-service onboarding (自助进件): the owner completes their own file.
            return [.dashboardView, .orgsRead, .orgsManage, .usersRead, .usersManage, .tokensManage, .estateRead,
                    .merchantsRead, .merchantsOnboard, .catalogRead, .catalogManage, .salesSell, .salesRead, .salesApprove, .stockManage,
                    .serviceRead, .serviceOpen,
                    .membersRead, .membersManage, .membersPrivacy]
        case .cashier:
            return [.dashboardView, .catalogRead, .salesSell, .salesRead, .membersRead]
        }
    }

    /// Merchant-side roles live on merchant or store nodes; staff roles on acquirer, region or agent nodes.
    public var isMerchantSide: Bool { self == .merchantOwner || self == .cashier }

    /// Whether a user of this role may be placed on a node of `kind`.
    public func fits(_ kind: OrgKind) -> Bool { isMerchantSide == kind.isMerchantSide }
}
