import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// Tenant isolation generated from the route table: every `/api/v1` route is attacked with ids of
/// resources outside the caller's subtree, and every list is searched for the other branch's data.
/// A new route is covered automatically; a new kind of path parameter fails the test until the
/// `collections` table below says which ids to attack it with.
@Suite struct TenantIsolationTests {
    /// What a caller may and may not reach, computed from the stored tree (not hard-coded).
    struct Reach: Sendable {
        /// Ids by path-parameter collection (`orgs`, `users`, `tokens`) outside the caller's subtree.
        var foreign: [String: [String]]
        /// The caller's own ids by collection (positive controls).
        var own: [String: [String]]
        /// Versions of stored orgs and users, so attacks carry the real current version.
        var versions: [String: Int]
        /// Ids and names from branches beside the caller's (not its ancestors): must never appear in a list.
        var otherBranch: [String]
        /// Name of each org, username of each user, name of each token, by id.
        var names: [String: String]
    }

    /// The collection (path segment before a parameter) → how to find its ids. A route with a
    /// parameter after any other segment fails the test: decide what it should be attacked with.
    static let collections: Set<String> = ["orgs", "users", "tokens", "terminals", "terminal-models", "purchase-requests",
                                           "merchants", "documents", "products", "sales", "orders", "shifts", "z-reports", "stores",
                                           "promotions", "packages", "campaigns", "tickets", "attachments", "knowledge-articles",
                                           "inspections", "photos", "members", "risk-rules", "risk-alerts",
                                           "settlement-batches"]

    /// Collections that may legitimately have nothing foreign: the model catalogue is per acquirer,
    /// and the fixtures hold a single acquirer.
    static let sharedCollections: Set<String> = ["terminal-models", "knowledge-articles", "risk-rules"]

    static let bindBody = #"{"merchantId": "{merchantA}", "placement": {"address": "x", "latitude": 31.2, "longitude": 121.4}}"#

    /// A complete, valid onboarding file, so only the tenant rule can refuse it.
    static let profileBody = #"{"version": {version}, "legalName": "Hijack Ltd", "creditCode": "91350100M000100Y43", "mcc": "5411", "areaCode": "2900", "businessType": "fixed", "businessHours": "24h", "address": {"address": "x", "latitude": 31.2, "longitude": 121.4}, "settlementAccountName": "Hijack", "settlementBank": "Bank", "settlementAccount": "6222021234567899999", "contacts": [{"role": "boss", "name": "Mallory", "phone": "13800138000"}]}"#

    /// Bodies for unsafe methods, keyed by `METHOD /path/{param}`; `{version}` becomes the target's
    /// stored version so only the tenant rule can refuse the request. Unsafe routes missing here fail.
    static let attackBodies: [String: String] = [
        "PATCH /api/v1/orgs/{id}": #"{"name": "hijacked", "code": "HIJACK", "version": {version}}"#,
        "PATCH /api/v1/users/{id}": #"{"displayName": "hijacked", "status": "disabled", "version": {version}}"#,
        "POST /api/v1/users/{id}/password": #"{"newPassword": "Hijacked-pass-1"}"#,
        "POST /api/v1/terminals/{id}/bind": bindBody,
        "POST /api/v1/terminals/{id}/lock": #"{"reason": "hijack"}"#,
        "POST /api/v1/terminals/{id}/unlock": #"{"note": "hijack"}"#,
        "POST /api/v1/terminals/{id}/commands": #"{"kind": "reboot"}"#,
        "POST /api/v1/terminals/{id}/relocation-alert/clear": #"{"note": "hijack"}"#,
        "PUT /api/v1/orgs/{id}/parameter-template": #"{"version": 0, "values": {"host.primary": "evil"}}"#,
        "PUT /api/v1/terminal-models/{id}/parameter-template": #"{"version": 0, "values": {"host.primary": "evil"}}"#,
        "PUT /api/v1/terminals/{id}/parameter-template": #"{"version": 0, "values": {"host.primary": "evil"}}"#,
        "POST /api/v1/terminals/{id}/install": #"{"installer": "mallory"}"#,
        "POST /api/v1/terminals/{id}/usage": #"{"operation": "hijack", "amount": 100}"#,
        "POST /api/v1/purchase-requests/{id}/decision": #"{"decision": "approve"}"#,
        "POST /api/v1/purchase-requests/{id}/resubmit": #"{"quantity": 5}"#,
        "POST /api/v1/purchase-requests/{id}/stock-in": #"{"terminals": [{"sn": "HIJACK-0001", "tid": "99999999", "modelId": "{model}"}]}"#,
        "POST /api/v1/terminals/{id}/unbind": #"{"reason": "hijack"}"#,
        "POST /api/v1/terminals/{id}/commission": "{}",
        "POST /api/v1/terminals/{id}/remove": #"{"reason": "hijack"}"#,
        "POST /api/v1/terminals/{id}/return-to-stock": #"{"reason": "hijack"}"#,
        "POST /api/v1/terminals/{id}/repair": #"{"reason": "hijack"}"#,
        "POST /api/v1/terminals/{id}/repair-return": "{}",
        "POST /api/v1/terminals/{id}/scrap": #"{"reason": "hijack"}"#,
        "POST /api/v1/terminals/{id}/cancel-transit": "{}",
        "PUT /api/v1/merchants/{id}/profile": profileBody,
        // A real (tiny) PDF: the upload passes every check but the tenant rule.
        "POST /api/v1/merchants/{id}/documents": "%PDF-1.4\n%%EOF\n",
        "POST /api/v1/merchants/{id}/submit": "{}",
        "POST /api/v1/merchants/{id}/approve": #"{"riskLevel": "low"}"#,
        "POST /api/v1/merchants/{id}/reject": #"{"reasons": "hijack"}"#,
        "POST /api/v1/merchants/{id}/reopen": #"{"reason": "hijack"}"#,
        "PUT /api/v1/merchants/{id}/risk": #"{"riskLevel": "high", "reason": "hijack"}"#,
        "PUT /api/v1/products/{id}": #"{"version": 1, "sku": "HIJACK", "nameZh": "hijack", "price": 1}"#,
        "POST /api/v1/sales/{id}/refunds": #"{"id": "01900000-0000-7000-8000-000000000001", "registerId": "HIJACK", "registerSeq": 1, "reason": "other"}"#,
        "POST /api/v1/orders/{id}/void": #"{"reason": "other"}"#,
        "POST /api/v1/shifts/{id}/cash-movements": #"{"direction": "out", "amount": 100, "reason": "hijack"}"#,
        "POST /api/v1/shifts/{id}/close": #"{"force": true}"#,
        "PUT /api/v1/stores/{id}/register-settings": #"{"version": 0, "cashierDiscountLimit": 10000}"#,
        "POST /api/v1/terminals/{id}/activation-codes": "{}",
        "PUT /api/v1/promotions/{id}": #"{"version": 1, "name": "hijack", "rule": {"kind": "percentOff", "basisPoints": 10000}}"#,
        "POST /api/v1/promotions/{id}/end": #"{"version": 1}"#,
        "POST /api/v1/campaigns/{id}/start": #"{"version": {version}}"#,
        "POST /api/v1/campaigns/{id}/pause": #"{"version": {version}}"#,
        "POST /api/v1/campaigns/{id}/resume": #"{"version": {version}}"#,
        "POST /api/v1/campaigns/{id}/rollback": #"{"version": {version}}"#,
        "PUT /api/v1/members/{id}": #"{"version": {version}, "phone": "13900000000", "name": "hijack"}"#,
        "POST /api/v1/members/{id}/top-ups": #"{"amount": 100, "tender": "cash"}"#,
        "POST /api/v1/members/{id}/points-adjustments": #"{"delta": 100, "note": "hijack"}"#,
        "POST /api/v1/members/{id}/erase": #"{"version": {version}}"#,
        "PUT /api/v1/risk-rules/{kind}": #"{"mode": "off", "severity": "low", "actions": ["alert"], "parameters": {}, "version": 0}"#,
        "POST /api/v1/risk-rules/{kind}/backtest": #"{"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}"#,
        "POST /api/v1/risk-alerts/{id}/assign": #"{"assignee": null, "version": {version}}"#,
        "POST /api/v1/risk-alerts/{id}/status": #"{"status": "closed_fraud", "note": "hijack", "version": {version}}"#,
        "POST /api/v1/risk-alerts/{id}/comments": #"{"text": "hijack"}"#,
        "POST /api/v1/stores/{id}/stock-adjustments": #"{"productId": "01900000-0000-7000-8000-000000000002", "delta": 1000, "reason": "hijack"}"#,
        "POST /api/v1/tickets/{id}/transition": #"{"action": "assign", "version": {version}}"#,
        "POST /api/v1/tickets/{id}/comments": #"{"note": "hijack"}"#,
        "POST /api/v1/tickets/{id}/repair": #"{"version": {version}, "diagnosis": "hardware", "result": "hijack"}"#,
        "POST /api/v1/tickets/{id}/rating": #"{"rating": 1}"#,
        "POST /api/v1/tickets/{id}/attachments": "%PDF-1.4\n%%EOF\n",
        "PUT /api/v1/knowledge-articles/{id}": #"{"title": "hijack", "body": "hijack", "version": {version}}"#,
        "POST /api/v1/inspections/{id}/photos": "%PDF-1.4\n%%EOF\n",
        "POST /api/v1/inspections/{id}/assign": #"{"inspectorId": "01900000-0000-7000-8000-000000000003", "version": {version}}"#,
        "POST /api/v1/inspections/{id}/record": #"{"version": {version}, "checklist": {"devicePresent": true, "sealsIntact": true, "notRelocated": true, "signage": true, "testTransaction": true}, "outcome": "passed"}"#,
    ]

    /// A model and two terminals: one in region B's stock (foreign to both attackers), one in
    /// region A bound to merchant A (reachable by both).
    static func seedEstate(_ h: Harness) async throws {
        let admin = try await h.principal("admin")
        let estate = h.env.services.estate
        let model = try await estate.createModel(NewTerminalModel(
            manufacturer: "PAX", name: "A920", terminalClass: .smartAndroid, connectivity: ["4G"], ptsApproval: "4-30310",
            ptsExpiry: Date().addingTimeInterval(365 * 86400), unionPayCertified: true, unionPayCertificate: nil), by: admin)
        _ = try await estate.stockIn(StockIn(sn: "SIDE-B-0001", tid: "20000001", modelId: model.id, ownerId: h.fixtures.regionB), by: admin)
        let mine = try await estate.stockIn(StockIn(sn: "OWN-A-0001", tid: "10000001", modelId: model.id, ownerId: h.fixtures.regionA), by: admin)
        // A purchase request filed at the acquirer: above both attackers, so foreign to them.
        _ = try await estate.submitPurchase(modelId: model.id, quantity: 2, reason: "spares", unitCost: 100, by: admin)
        // Both merchants pass onboarding: each has a file with documents to attack.
        try await Fixtures.onboard(h.fixtures.merchantA, services: h.env.services, mid: "898310048161234")
        try await Fixtures.onboard(h.fixtures.merchantB, services: h.env.services,
                                   application: Fixtures.application(creditCode: "91440300MA5DC0XX2P", account: "6217000012345678"),
                                   mid: "898584058121111")
        // Each merchant has a product with the same barcode: only its own may ever show. Each store sold
        // it in a closed shift (a Z report) and holds an open order in the next shift.
        for (owner, name, store, register) in [("merchantA.owner", "A-side cola", h.fixtures.storeA, "REG-A"),
                                               ("merchantB.owner", "B-side cola", h.fixtures.storeB, "REG-B")] {
            let principal = try await h.principal(owner)
            // A member of each merchant (the same phone at both: members are per merchant).
            _ = try await h.env.services.members.enroll(MemberInput(phone: "13800138000", name: "\(name) member"), merchantId: nil, by: principal)
            let cola = try await h.env.services.catalog.create(ProductInput(sku: "COLA", barcodes: ["6901234567892"], nameZh: name, price: 350),
                                                               merchantId: nil, by: principal)
            // A promotion starting tomorrow (so an attack could still edit it), named after its merchant.
            _ = try await h.env.services.promotions.create(PromotionInput(name: "\(name) deal", rule: .percentOff(basisPoints: 500), skus: ["COLA"],
                                                                          startsAt: Date().addingTimeInterval(86_400)),
                                                           merchantId: nil, by: principal)
            let sales = h.env.services.sales
            let shift = try await sales.openShift(storeId: store, registerId: register, openingFloat: 1000, by: principal)
            _ = try await sales.complete(SaleInput(id: .generate(), storeId: store, registerId: register, registerSeq: 1,
                                                   lines: [SaleLineInput(productId: cola.id, quantity: 1000)],
                                                   tenders: [TenderInput(kind: .cash, tendered: 500)]), by: principal)
            _ = try await sales.closeShift(shift.id, counted: [.cash: 1350], force: false, by: principal)
            _ = try await sales.openShift(storeId: store, registerId: register, openingFloat: 1000, by: principal)
            _ = try await sales.hold(OrderInput(id: .generate(), storeId: store, registerId: register,
                                                lines: [SaleLineInput(productId: cola.id, quantity: 2000)], note: "\(register) held"), by: principal)
        }
        _ = try await estate.bind(mine.id, BindRequest(
            merchantId: h.fixtures.merchantA, storeId: nil, placement: Placement(address: "A street 1", latitude: 31.2, longitude: 121.4)),
                                  by: admin)
        // A service ticket on each side (merchant A's about its terminal, merchant B's about the merchant), each
        // with an attachment; an article for the whole tree; an inspection task in region B (foreign to both).
        let service = h.env.services.service
        let own = try await service.open(NewTicket(kind: .repair, caller: "A caller", symptom: "A-side screen dark", terminalId: mine.id), by: admin)
        let side = try await service.open(NewTicket(kind: .complaint, caller: "B caller", symptom: "B-side complaint", merchantId: h.fixtures.merchantB),
                                          by: admin)
        for ticket in [own, side] { _ = try await service.attach(ticket.id, filename: "photo.pdf", bytes: Array("%PDF-1.4\n%%EOF\n".utf8), by: admin) }
        _ = try await service.createArticle(title: "Refunds at the till", body: "Press refund.", tags: [], by: admin)
        let sideTerminal = try await estate.search(TerminalFilter(sn: "SIDE-B-0001"), page: PageRequest(), by: admin).items[0]
        for (terminal, note) in [(sideTerminal.id, "B-side check"), (mine.id, "A-side check")] {
            let task = try await service.requestInspection(of: terminal, note: note, by: admin)
            _ = try await service.attachPhoto(task.id, filename: "site.pdf", bytes: Array("%PDF-1.4\n%%EOF\n".utf8), by: admin)
        }
        // A package and a draft campaign at the acquirer (usable by both attackers) and in region B (foreign to both).
        _ = try await h.env.services.access.createUser(NewUser(orgId: h.fixtures.regionB, username: "regionB.admin", displayName: "regionB.admin",
                                                               role: .administrator, password: Fixtures.password), by: admin)
        for (principal, version) in [(admin, "1.0.0"), (try await h.principal("regionB.admin"), "9.9.9")] {
            let campaigns = h.env.services.campaigns
            let upload = try campaigns.beginUpload(by: principal)
            try Data("package \(version)".utf8).withUnsafeBytes { try upload.append($0) }
            let package = try await campaigns.publish(PackageInput(kind: .app, version: version, modelIds: [model.id]), upload: upload, by: principal)
            _ = try await campaigns.create(CampaignInput(name: "rollout \(version)", packageId: package.id), by: principal)
        }
        // A risk alert and a settlement batch on each side's terminal.
        for (sn, side) in [("SIDE-B-0001", "B"), ("OWN-A-0001", "A")] {
            try await h.env.services.store.write { repos in
                guard let terminal = try await repos.terminals.find(sn: sn), let owner = try await repos.orgs.find(terminal.orgId) else { return }
                let hit = RiskHit(rule: RiskLibrary.rule(.largeAmount), dedupeKey: "seed:\(sn)", numbers: ["amount": 1],
                                  summary: "\(side)-side large payment")
                _ = try await repos.risk.raise(RiskAlert(id: UUIDv7.make(now: Date()), orgId: terminal.orgId, hit: hit, terminalId: terminal.id,
                                                         merchantId: terminal.merchantId, at: Date()), orgPath: owner.path, transactions: [])
                _ = try await repos.risk.insertBatch(SettlementBatch(id: UUIDv7.make(now: Date()), terminalId: terminal.id, merchantId: nil,
                                                                     batchNo: "SEED-\(side)-0001", from: nil, closedAt: Date(), lines: [],
                                                                     missingFromBatch: [], notUploaded: [], held: false, receivedAt: Date()),
                                                     orgPath: owner.path)
            }
        }
    }

    /// Lists whose items may come from the caller's ancestors (published above, used below).
    /// Tickets are answered by the organisation above the merchant (the terminal's owner) and listed to
    /// the merchant too; knowledge articles are the acquirer's, read by its whole tree.
    static let publishedFromAbove: Set<String> = ["/api/v1/packages", "/api/v1/campaigns", "/api/v1/tickets", "/api/v1/knowledge-articles"]

    /// The fixture users who attack.
    static let attackers = ["merchantA.owner", "regionA.admin"]

    /// `/api/v1/orgs/:id` or `/api/v1/orgs/{id}` → `/api/v1/orgs/{id}`.
    static func template(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
        }.joined(separator: "/")
    }

    /// Path parameters of a templated path with the collection segment before each.
    static func parameters(_ template: String) -> [(name: String, collection: String)] {
        let segments = template.split(separator: "/").map(String.init)
        return segments.indices.compactMap { index in
            let segment = segments[index]
            guard segment.hasPrefix("{"), segment.hasSuffix("}") else { return nil }
            return (String(segment.dropFirst().dropLast()), index > 0 ? segments[index - 1] : "")
        }
    }

    /// Every combination of ids for the parameters, substituted into the template.
    static func instances(_ template: String, ids: [String: [String]]) -> [(uri: String, targets: [String])] {
        var results: [(String, [String])] = [(template, [])]
        for (name, collection) in parameters(template) {
            results = results.flatMap { uri, targets in
                (ids[collection] ?? []).map { id in (uri.replacingOccurrences(of: "{\(name)}", with: id), targets + [id]) }
            }
        }
        return results
    }

    /// The registered routes (method, templated path).
    static func routes(_ env: TestEnvironment) async throws -> [(method: HTTPRequest.Method, template: String)] {
        let console = try await ConsoleRenderer.load(resources: ConsoleRenderer.bundledResources)
        let router = try buildRouter(services: env.services, configuration: env.configuration, console: console)
        return router.routes.map { ($0.method, template($0.path.description)) }
            .sorted { "\($0.template) \($0.method)" < "\($1.template) \($1.method)" }
    }

    static func reach(of attacker: String, _ h: Harness) async throws -> Reach {
        let access = h.env.services.access
        let admin = try await h.principal("admin")
        let me = try await h.principal(attacker)
        let all = PageRequest(limit: PageRequest.maxLimit)
        let orgs = try await access.organizations(kind: nil, page: all, by: admin).items
        let users = try await access.users(page: all, by: admin).items
        let tokens = try await access.tokens(page: all, by: admin).items
        let pathOf = Dictionary(uniqueKeysWithValues: orgs.map { ($0.id, $0.path) })

        func visible(_ org: OrgID) -> Bool { me.sees(path: pathOf[org] ?? "") }
        func ancestor(_ org: OrgID) -> Bool { me.orgPath.hasPrefix(pathOf[org] ?? "-") }
        let foreignUsers = users.filter { !visible($0.orgId) }
        let foreignUserIDs = Set(foreignUsers.map(\.id))
        let ownTokens = tokens.filter { $0.userId == me.user.id }
        let sideOrgs = orgs.filter { !visible($0.id) && !ancestor($0.id) }
        let sideUsers = users.filter { !visible($0.orgId) && !ancestor($0.orgId) }
        let sideUserIDs = Set(sideUsers.map(\.id))
        let terminals = try await h.env.services.estate.search(TerminalFilter(), page: all, by: admin).items
        let myTerminals = Set(try await h.env.services.estate.search(TerminalFilter(), page: all, by: me).items.map(\.id))
        let foreignTerminals = terminals.filter { !myTerminals.contains($0.id) }
        let models = try await h.env.services.estate.models(page: all, by: admin).items
        let purchases = try await h.env.services.estate.purchases(status: nil, page: all, by: admin).items
        let myPurchases = (try? await h.env.services.estate.purchases(status: nil, page: all, by: me).items.map(\.id)) ?? []
        let merchants = try await h.env.services.merchants.merchants(MerchantFilter(), page: all, by: admin).items.map(\.merchant)
        var documents: [OrgID: [MerchantDocument]] = [:]
        for merchant in merchants { documents[merchant.id] = try await h.env.services.merchants.file(merchant.id, by: admin).documents }

        var versions: [String: Int] = [:], names: [String: String] = [:]
        for org in orgs { versions[org.id.rawValue] = org.version; names[org.id.rawValue] = org.name }
        // Packages and campaigns are usable from their organisation's subtree and below it.
        func usable(_ org: OrgID) -> Bool { me.worksWith(path: pathOf[org] ?? "-") }
        let packages = try await h.env.services.campaigns.packages(kind: nil, page: all, by: admin).items
        let campaigns = try await h.env.services.campaigns.campaigns(state: nil, page: all, by: admin).items
        for package in packages { names[package.id.rawValue] = package.sha256 }
        for campaign in campaigns { names[campaign.id.rawValue] = campaign.name; versions[campaign.id.rawValue] = campaign.version }
        // Risk: alerts and batches the caller reads (none without risk.read).
        let risk = h.env.services.risk
        let alerts = try await risk.alerts(RiskAlertFilter(), page: all, by: admin).items
        let myAlerts = Set((try? await risk.alerts(RiskAlertFilter(), page: all, by: me).items.map(\.id)) ?? [])
        let batches = try await risk.batches(mismatchedOnly: false, page: all, by: admin).items
        let myBatches = Set((try? await risk.batches(mismatchedOnly: false, page: all, by: me).items.map(\.id)) ?? [])
        for alert in alerts { names[alert.id] = alert.summary; versions[alert.id] = alert.version }
        for batch in batches { names[batch.id] = batch.batchNo }
        let terminalOwner = Dictionary(uniqueKeysWithValues: terminals.map { ($0.id, $0.orgId) })
        func side(_ terminal: TerminalID) -> Bool {
            guard let org = terminalOwner[terminal] else { return false }
            return !visible(org) && !ancestor(org)
        }
        for user in users { versions[user.id.rawValue] = user.version; names[user.id.rawValue] = user.username }
        for token in tokens { names[token.id.rawValue] = token.name }
        for terminal in terminals { names[terminal.id.rawValue] = terminal.sn }
        for model in models { names[model.id.rawValue] = model.name }
        for purchase in purchases { names[purchase.id.rawValue] = purchase.reason }
        for document in documents.values.flatMap({ $0 }) { names[document.id.rawValue] = document.sha256 }
        var products: [Product] = []
        for merchant in merchants {
            products += try await h.env.services.catalog.search(ProductFilter(), merchantId: merchant.id, page: all, by: admin).items
        }
        for product in products { names[product.id.rawValue] = product.nameZh }
        let merchantOf = Dictionary(uniqueKeysWithValues: merchants.map { ($0.id, $0) })
        var promotions: [PromotionRecord] = []
        for merchant in merchants {
            promotions += try await h.env.services.promotions.list(merchantId: merchant.id, status: nil, page: all, by: admin).items
        }
        for promotion in promotions { names[promotion.promotion.id.rawValue] = promotion.promotion.name }
        func promotionVisible(_ record: PromotionRecord) -> Bool {
            guard let merchant = merchantOf[record.merchantId] else { return false }
            return me.worksWith(path: merchant.path)
        }
        var members: [MemberView] = []
        for merchant in merchants {
            members += try await h.env.services.members.list(merchantId: merchant.id, filter: MemberFilter(), page: all, by: admin).items
        }
        func memberVisible(_ member: MemberView) -> Bool { merchantOf[member.merchantId].map { me.worksWith(path: $0.path) } ?? false }
        for member in members { names[member.id.rawValue] = member.cardNumber; versions[member.id.rawValue] = member.version }
        let allSales = try await h.env.services.sales.sales(SaleFilter(), page: all, by: admin).items
        let mySales = Set(try await h.env.services.sales.sales(SaleFilter(), page: all, by: me).items.map(\.id))
        let shifts = try await h.env.services.sales.shifts(storeId: nil, page: all, by: admin).items
        let myShifts = Set(try await h.env.services.sales.shifts(storeId: nil, page: all, by: me).items.map(\.id))
        let zReports = try await h.env.services.sales.zReports(storeId: nil, page: all, by: admin).items
        // Names a refusal must never show: a sale's journal link, an order's note, a shift's register.
        for sale in allSales { names[sale.id.rawValue] = sale.hash ?? sale.note ?? sale.registerId }
        for shift in shifts { names[shift.id.rawValue] = shift.registerId }
        for report in zReports { names[report.id?.rawValue ?? ""] = report.shift.registerId }
        func productVisible(_ product: Product) -> Bool {
            guard let merchant = merchantOf[product.merchantId] else { return false }
            return me.worksWith(path: merchant.path)
        }
        let service = h.env.services.service
        let tickets = try await service.tickets(TicketFilter(), page: all, by: admin).items
        let myTickets = Set(try await service.tickets(TicketFilter(), page: all, by: me).items.map(\.id))
        let articles = try await service.articles(page: all, by: admin).items
        let inspections = try await service.dueInspections(mine: false, by: admin)
        let myInspections = Set(try await service.dueInspections(mine: false, by: me).map(\.id))
        for ticket in tickets {
            names[ticket.id.rawValue] = ticket.symptom
            versions[ticket.id.rawValue] = ticket.version
            for attachment in ticket.attachments { names[attachment.id.rawValue] = attachment.sha256 }
        }
        for article in articles { names[article.id] = article.title; versions[article.id] = article.version }
        for task in inspections {
            names[task.id] = task.sn
            versions[task.id] = task.version
            for photo in task.photos { names[photo.id.rawValue] = photo.sha256 }
        }
        var foreign: [String: [String]] = [:]
        foreign["orgs"] = orgs.filter { !visible($0.id) }.map(\.id.rawValue)
        foreign["users"] = foreignUsers.map(\.id.rawValue)
        foreign["tokens"] = tokens.filter { foreignUserIDs.contains($0.userId) }.map(\.id.rawValue)
        foreign["terminals"] = foreignTerminals.map(\.id.rawValue)
        foreign["terminal-models"] = []
        foreign["purchase-requests"] = purchases.filter { !myPurchases.contains($0.id) }.map(\.id.rawValue)
        foreign["merchants"] = merchants.filter { !visible($0.id) }.map(\.id.rawValue)
        foreign["documents"] = merchants.filter { !visible($0.id) }.flatMap { documents[$0.id] ?? [] }.map(\.id.rawValue)
        foreign["products"] = products.filter { !productVisible($0) }.map(\.id.rawValue)
        foreign["sales"] = allSales.filter { !mySales.contains($0.id) && $0.status == .completed }.map(\.id.rawValue)
        foreign["orders"] = allSales.filter { !mySales.contains($0.id) && $0.status == .open }.map(\.id.rawValue)
        foreign["shifts"] = shifts.filter { !myShifts.contains($0.id) }.map(\.id.rawValue)
        foreign["z-reports"] = zReports.filter { !myShifts.contains($0.shift.id) }.compactMap { $0.id?.rawValue }
        foreign["stores"] = orgs.filter { $0.kind == .store && !visible($0.id) }.map(\.id.rawValue)
        foreign["promotions"] = promotions.filter { !promotionVisible($0) }.map(\.promotion.id.rawValue)
        foreign["packages"] = packages.filter { !usable($0.orgId) }.map(\.id.rawValue)
        foreign["campaigns"] = campaigns.filter { !usable($0.orgId) }.map(\.id.rawValue)
        foreign["tickets"] = tickets.filter { !myTickets.contains($0.id) }.map(\.id.rawValue)
        foreign["attachments"] = tickets.filter { !myTickets.contains($0.id) }.flatMap(\.attachments).map(\.id.rawValue)
        foreign["knowledge-articles"] = []
        foreign["inspections"] = inspections.filter { !myInspections.contains($0.id) }.map(\.id)
        foreign["photos"] = inspections.filter { !myInspections.contains($0.id) }.flatMap(\.photos).map(\.id.rawValue)
        foreign["members"] = members.filter { !memberVisible($0) }.map(\.id.rawValue)
        foreign["risk-rules"] = []
        foreign["risk-alerts"] = alerts.filter { !myAlerts.contains($0.id) }.map(\.id)
        foreign["settlement-batches"] = batches.filter { !myBatches.contains($0.id) }.map(\.id)
        var own: [String: [String]] = [:]
        own["orgs"] = [me.user.orgId.rawValue]
        own["users"] = [me.user.id.rawValue]
        own["tokens"] = ownTokens.map(\.id.rawValue)
        own["terminals"] = myTerminals.map(\.rawValue)
        own["terminal-models"] = models.map(\.id.rawValue)
        own["purchase-requests"] = myPurchases.map(\.rawValue)
        own["merchants"] = merchants.filter { visible($0.id) }.map(\.id.rawValue)
        own["documents"] = merchants.filter { visible($0.id) }.flatMap { documents[$0.id] ?? [] }.map(\.id.rawValue)
        own["products"] = products.filter { productVisible($0) }.map(\.id.rawValue)
        own["sales"] = allSales.filter { mySales.contains($0.id) && $0.status == .completed }.map(\.id.rawValue)
        own["orders"] = allSales.filter { mySales.contains($0.id) && $0.status == .open }.map(\.id.rawValue)
        own["shifts"] = myShifts.map(\.rawValue)
        own["z-reports"] = zReports.filter { myShifts.contains($0.shift.id) }.compactMap { $0.id?.rawValue }
        own["stores"] = orgs.filter { $0.kind == .store && visible($0.id) }.map(\.id.rawValue)
        own["promotions"] = promotions.filter { promotionVisible($0) }.map(\.promotion.id.rawValue)
        own["packages"] = packages.filter { usable($0.orgId) }.map(\.id.rawValue)
        own["campaigns"] = campaigns.filter { usable($0.orgId) }.map(\.id.rawValue)
        own["tickets"] = myTickets.map(\.rawValue)
        own["attachments"] = tickets.filter { myTickets.contains($0.id) }.flatMap(\.attachments).map(\.id.rawValue)
        own["knowledge-articles"] = articles.map(\.id)
        own["inspections"] = Array(myInspections)
        own["photos"] = inspections.filter { myInspections.contains($0.id) }.flatMap(\.photos).map(\.id.rawValue)
        own["members"] = members.filter { memberVisible($0) }.map(\.id.rawValue)
        own["risk-rules"] = me.can(.riskRead) ? [RiskRuleKind.largeAmount.rawValue, RiskRuleKind.cardVelocity.rawValue] : []
        own["risk-alerts"] = Array(myAlerts)
        own["settlement-batches"] = Array(myBatches)
        var otherBranch: [String] = sideOrgs.flatMap { [$0.id.rawValue, $0.name] }
        otherBranch += sideUsers.flatMap { [$0.id.rawValue, $0.username] }
        otherBranch += tokens.filter { sideUserIDs.contains($0.userId) }.flatMap { [$0.id.rawValue, $0.prefix] }
        otherBranch += foreignTerminals.flatMap { [$0.id.rawValue, $0.sn] }
        otherBranch += products.filter { !productVisible($0) }.flatMap { [$0.id.rawValue, $0.nameZh] }
        otherBranch += allSales.filter { !mySales.contains($0.id) }.map(\.id.rawValue)
        otherBranch += shifts.filter { !myShifts.contains($0.id) }.map(\.id.rawValue)
        otherBranch += promotions.filter { !promotionVisible($0) }.flatMap { [$0.promotion.id.rawValue, $0.promotion.name] }
        otherBranch += packages.filter { !usable($0.orgId) }.flatMap { [$0.id.rawValue, $0.sha256] }
        otherBranch += campaigns.filter { !usable($0.orgId) }.flatMap { [$0.id.rawValue, $0.name] }
        otherBranch += tickets.filter { !myTickets.contains($0.id) }.flatMap { [$0.id.rawValue, $0.symptom] }
        otherBranch += inspections.filter { !myInspections.contains($0.id) && $0.sn.hasPrefix("SIDE-B") }.map(\.id)
        otherBranch += members.filter { !memberVisible($0) }.flatMap { [$0.id.rawValue, $0.cardNumber] }
        otherBranch += alerts.filter { $0.terminalId.map(side) ?? false }.flatMap { [$0.id, $0.summary] }
        otherBranch += batches.filter { side($0.terminalId) }.flatMap { [$0.id, $0.batchNo] }
        return Reach(foreign: foreign, own: own, versions: versions, otherBranch: otherBranch, names: names)
    }

    @Test(arguments: TestBackend.allCases)
    func routesWithIdsRefuseOtherTenantsResources(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            try await Self.seedEstate(h)
            let routes = try await Self.routes(h.env).filter { $0.template.hasPrefix("/api/v1/") && !Self.parameters($0.template).isEmpty }
            #expect(routes.count >= 6, "the route table lists the id routes: \(routes.map(\.template))")
            for route in routes {
                for (name, collection) in Self.parameters(route.template) where !Self.collections.contains(collection) {
                    Issue.record("\(route.method) \(route.template): parameter {\(name)} after '\(collection)' is unknown to the isolation table; add its ids")
                }
                let key = "\(route.method) \(route.template)"
                if ![.get, .head, .delete].contains(route.method), Self.attackBodies[key] == nil {
                    Issue.record("\(key) changes state but has no attack body in TenantIsolationTests.attackBodies")
                }
            }

            let before = try await h.snapshot()
            for attacker in Self.attackers {
                let reach = try await Self.reach(of: attacker, h)
                for collection in Self.collections.subtracting(Self.sharedCollections) {
                    #expect(!(reach.foreign[collection] ?? []).isEmpty, "\(attacker) has foreign \(collection) to attack")
                }
                var attempts = 0
                for route in routes {
                    let key = "\(route.method) \(route.template)"
                    for (uri, targets) in Self.instances(route.template, ids: reach.foreign) {
                        let body = Self.attackBodies[key].map {
                            $0.replacingOccurrences(of: "{version}", with: String(reach.versions[targets[0]] ?? 1))
                                .replacingOccurrences(of: "{merchantA}", with: h.fixtures.merchantA.rawValue)
                                .replacingOccurrences(of: "{model}", with: (reach.own["terminal-models"] ?? [""])[0])
                        }
                        let response = try await h.send(route.method, uri, as: attacker, json: body)
                        attempts += 1
                        #expect([403, 404].contains(Int(response.status.code)),
                                "\(attacker) \(route.method) \(uri) → \(response.status.code) \(response.text)")
                        #expect(response.headers[.contentType] == "application/problem+json", "\(attacker) \(route.method) \(uri)")
                        for target in targets {
                            // A refusal must not describe the foreign resource beyond echoing its id.
                            let name = try #require(reach.names[target])
                            #expect(!response.text.contains(name), "\(uri) reveals \(name): \(response.text)")
                        }
                    }
                    // Positive control: the same read with the caller's own ids works.
                    if route.method == .get {
                        for (uri, _) in Self.instances(route.template, ids: reach.own) {
                            let response = try await h.send(.get, uri, as: attacker)
                            #expect(response.status == .ok, "\(attacker) own \(uri) → \(response.status.code)")
                        }
                    }
                }
                #expect(attempts >= 15, "\(attacker) made \(attempts) attacks")
            }
            let after = try await h.snapshot()
            #expect(after == before, "refused attacks changed nothing: \(after.auditEvents - before.auditEvents) more audit events")
            #expect(try await h.deniedEvents() > 0, "403 refusals are recorded in the audit trail as denied")
        }
    }

    /// The catalog's CSV routes name their catalog in the query, not the path: attacked with the
    /// other merchant's id they answer 404 and change nothing.
    @Test(arguments: TestBackend.allCases)
    func catalogCSVRefusesOtherMerchants(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            try await Self.seedEstate(h)
            let merchantB = h.fixtures.merchantB.rawValue
            let file = "sku,name_zh,price\nCOLA,hijacked,0.01\nHIJACK,hijack,1\n"
            for attacker in Self.attackers {
                for dryRun in ["true", "false"] {
                    let response = try await h.send(.post, "/api/v1/products/import?merchantId=\(merchantB)&dryRun=\(dryRun)", as: attacker,
                                                    json: file, headers: [.contentType: "text/csv"])
                    #expect(response.status == .notFound && response.headers[.contentType] == "application/problem+json",
                            "\(attacker) import into B → \(response.status.code) \(response.text)")
                }
                let export = try await h.send(.get, "/api/v1/products.csv?merchantId=\(merchantB)", as: attacker)
                #expect(export.status == .notFound && !export.text.contains("B-side cola"), "\(attacker) export of B → \(export.status.code)")
            }
            let admin = try await h.principal("admin")
            let bSide = try await h.env.services.catalog.search(ProductFilter(), merchantId: h.fixtures.merchantB, page: PageRequest(), by: admin).items
            #expect(bSide.map(\.nameZh) == ["B-side cola"] && bSide.first?.price == 350, "merchant B's catalog is untouched")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func listsNeverShowTheOtherBranch(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            try await Self.seedEstate(h)
            // Give the other branch some history of its own: a token and a user made by merchant B.
            #expect(try await h.send(.post, "/api/v1/tokens", as: "merchantB.owner", json: #"{"name": "b-side token"}"#).status == .created)
            let newUser = #"{"orgId": "\#(h.fixtures.storeB.rawValue)", "username": "storeb.cashier", "displayName": "B cashier", "role": "cashier", "password": "Cashier-b-pass-1"}"#
            #expect(try await h.send(.post, "/api/v1/users", as: "merchantB.owner", json: newUser).status == .created)

            let lists = try await Self.routes(h.env).filter {
                $0.method == .get && $0.template.hasPrefix("/api/v1/") && Self.parameters($0.template).isEmpty
            }
            #expect(lists.count >= 6, "\(lists.map(\.template))")

            // Control: the root admin's lists together do show every piece of the other branch,
            // so the strings searched for below are real.
            var adminText = ""
            // Routes that need a query (a catalog is named; a scan needs a code) get one pointing at merchant A's side.
            let extra = ["/api/v1/products": "&merchantId=\(h.fixtures.merchantA.rawValue)",
                         "/api/v1/products.csv": "&merchantId=\(h.fixtures.merchantA.rawValue)",
                         "/api/v1/product-scan": "&merchantId=\(h.fixtures.merchantA.rawValue)&code=6901234567892",
                         "/api/v1/register-sync": "&registerId=REG-A",
                         "/api/v1/promotions": "&merchantId=\(h.fixtures.merchantA.rawValue)",
                         "/api/v1/service/lookup": "&mid=898310048161234&tid=10000001",
                         "/api/v1/members": "&merchantId=\(h.fixtures.merchantA.rawValue)",
                         "/api/v1/member-program": "&merchantId=\(h.fixtures.merchantA.rawValue)",
                         "/api/v1/member-offers.csv": "&merchantId=\(h.fixtures.merchantA.rawValue)&code=birthday",
                         "/api/v1/member-lookup": "&q=13800138000&storeId=\(h.fixtures.storeA.rawValue)"]
            var adminB = ""
            for route in lists {
                adminText += try await h.send(.get, route.template + "?limit=200" + (extra[route.template] ?? ""), as: "admin").text
                // The admin also reads merchant B's catalog, so the control sees the B side of these routes too.
                if let query = extra[route.template] {
                    adminB += try await h.send(.get, route.template + "?limit=200" + query.replacingOccurrences(
                        of: h.fixtures.merchantA.rawValue, with: h.fixtures.merchantB.rawValue), as: "admin").text
                }
            }
            adminText += adminB

            for attacker in Self.attackers {
                let reach = try await Self.reach(of: attacker, h)
                #expect(reach.otherBranch.count >= 8, "\(attacker): \(reach.otherBranch)")
                for needle in reach.otherBranch {
                    #expect(adminText.contains(needle), "control: admin lists show \(needle)")
                }
                var answered = 0
                for route in lists {
                    let response = try await h.send(.get, route.template + "?limit=200" + (extra[route.template] ?? ""), as: attacker)
                    #expect([200, 403].contains(Int(response.status.code)), "\(attacker) \(route.template) → \(response.status.code) \(response.text)")
                    if response.status == .ok { answered += 1 }
                    for needle in reach.otherBranch {
                        #expect(!response.text.contains(needle), "\(attacker) \(route.template) shows \(needle) of the other branch")
                    }
                    // Everything an item names lies in the caller's reach.
                    for item in response.items {
                        if let org = item["orgId"] as? String {
                            // Packages and campaigns published above the caller are theirs to use (an acquirer's
                            // release reaches its regions): there, only the branches beside the caller are foreign.
                            let foreign = Self.publishedFromAbove.contains(route.template) ? reach.otherBranch : (reach.foreign["orgs"] ?? [])
                            #expect(!foreign.contains(org), "\(attacker) \(route.template) lists an item of foreign org \(org)")
                        }
                    }
                }
                #expect(answered >= 4, "\(attacker) could read \(answered) lists")
            }
        }
    }
}
