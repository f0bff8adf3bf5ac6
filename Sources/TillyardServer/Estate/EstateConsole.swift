import Foundation
import Hummingbird
import TillyardKit

/// Forms of the estate console pages.
struct ModelForm: Decodable, CSRFCarrying {
    var manufacturer: String; var name: String; var terminalClass: String; var connectivity: String?
    var ptsApproval: String; var ptsExpiry: String; var unionPayCertified: String?; var _csrf: String
}
struct StockInForm: Decodable, CSRFCarrying {
    var sn: String; var tid: String; var modelId: String; var ownerId: String?; var responsiblePerson: String?
    var appVersion: String?; var firmwareVersion: String?; var purchaseCost: String?; var _csrf: String
}
struct UsageForm: Decodable, CSRFCarrying { var operation: String; var responsible: String?; var amount: String?; var _csrf: String }
struct ImportForm: Decodable, CSRFCarrying { var csv: String; var dryRun: String?; var _csrf: String }
struct ActionForm: Decodable, CSRFCarrying {
    var action: String; var reason: String?; var installer: String?; var destinationId: String?
    var merchantId: String?; var storeId: String?
    var address: String?; var latitude: String?; var longitude: String?; var _csrf: String

    /// The placement typed into a bind or install form; nil when left empty (the registered
    /// address, or the placement on record, stands).
    func placement() throws -> Placement? {
        let given = [address, latitude, longitude].map { $0?.trimmingCharacters(in: .whitespaces) ?? "" }
        if given.allSatisfy(\.isEmpty) { return nil }
        guard let latitude = Double(given[1]), let longitude = Double(given[2]) else {
            throw DomainError.invalid("latitude", "give the address with latitude and longitude as numbers, or leave all three empty")
        }
        return Placement(address: given[0], latitude: latitude, longitude: longitude)
    }
}

/// Console pages of the Estate area: model catalogue, terminal search with stock-in, and the
/// dossier with the actions its state allows.
struct EstateConsole {
    let estate: EstateService
    let access: AccessService
    let merchants: MerchantService
    let renderer: ConsoleRenderer
    let forms: ConsoleForms

    func register(on router: Router<AppRequestContext>) {
        let console = router.group("console")
        console.get("models", use: models)
        console.post("models", use: createModel)
        console.get("terminals", use: terminals)
        console.post("terminals", use: stockIn)
        console.post("terminals/import", use: importCSV)
        console.get("terminals/export.csv", use: exportCSV)
        console.get("terminals/:id", use: dossier)
        console.post("terminals/:id", use: act)
        console.post("terminals/:id/usage", use: usage)
    }

    // MARK: - Models

    @Sendable func models(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await modelsPage(request, context, error: nil, status: .ok)
    }

    private func modelsPage(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let page = try await estate.models(page: try request.pageRequest(), by: principal)
        let now = estate.clock.now()
        let locale = context.locale
        let rows = page.items.map { model -> [String: Any] in
            let status = model.certification(at: now)
            return ["manufacturer": model.manufacturer, "name": model.name,
                    "class": renderer.text("class_\(model.terminalClass.rawValue)", locale: locale),
                    "connectivity": model.connectivity.joined(separator: ", "), "pts": model.ptsApproval,
                    "ptsExpiry": String(model.ptsExpiry.iso8601.prefix(10)), "certified": status == .valid,
                    "certification": renderer.text("cert_\(status.rawValue)", locale: locale)]
        }
        return renderer.page("models", titleKey: "nav_models", context: context, data: [
            "models": rows, "canManage": principal.can(.modelsManage), "error": error as Any, "next": page.nextCursor as Any,
            "classes": forms.options(TerminalClass.allCases, prefix: "class", selected: nil, locale: locale),
        ], status: status)
    }

    @Sendable func createModel(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(ModelForm.self, request, context)
        do {
            guard let kind = TerminalClass(rawValue: form.terminalClass) else { throw DomainError.invalid("terminalClass", "choose a class") }
            guard let expiry = try? Date(form.ptsExpiry + "T00:00:00Z", strategy: .iso8601) else {
                throw DomainError.invalid("ptsExpiry", "must be a date")
            }
            let links = (form.connectivity ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            _ = try await estate.createModel(NewTerminalModel(manufacturer: form.manufacturer, name: form.name, terminalClass: kind,
                                                              connectivity: links, ptsApproval: form.ptsApproval, ptsExpiry: expiry,
                                                              unionPayCertified: form.unionPayCertified != nil, unionPayCertificate: nil),
                                             by: principal)
            return .redirect(to: "/console/models", type: .found)
        } catch let error as DomainError {
            return try await modelsPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    // MARK: - Terminals

    @Sendable func terminals(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await terminalsPage(request, context, error: nil, notice: nil, form: [:], status: .ok)
    }

    private func terminalsPage(_ request: Request, _ context: AppRequestContext, error: String?, notice: String?,
                               form: [String: String], status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let filter = try await EstateAPI.filter(request, estate: estate, principal: principal)
        let page = try await estate.search(filter, page: try request.pageRequest(), by: principal)
        let locale = context.locale
        let models = try await estate.models(page: PageRequest(limit: PageRequest.maxLimit), by: principal).items
        let names = Dictionary(uniqueKeysWithValues: models.map { ($0.id, "\($0.manufacturer) \($0.name)") })
        let rows = page.items.map { terminal -> [String: Any] in
            ["id": terminal.id.rawValue, "sn": terminal.sn, "tid": terminal.tid, "model": names[terminal.modelId] ?? "",
             "state": renderer.text("state_\(terminal.state.rawValue)", locale: locale), "stateCode": terminal.state.rawValue,
             "responsible": terminal.responsiblePerson ?? "", "version": terminal.appVersion ?? ""]
        }
        var next = URLComponents()
        next.queryItems = ["sn", "tid", "mid", "state", "responsible", "version"].compactMap { name in
            request.query(name).map { URLQueryItem(name: name, value: $0) }
        } + [URLQueryItem(name: "cursor", value: page.nextCursor)]
        var exportQuery = URLComponents()
        exportQuery.queryItems = next.queryItems?.filter { $0.name != "cursor" }
        let filterValues = ["sn": request.query("sn") ?? "", "tid": request.query("tid") ?? "", "mid": request.query("mid") ?? "",
                            "responsible": request.query("responsible") ?? "", "version": request.query("version") ?? ""]
        let owners = principal.can(.estateManage)
            ? try await forms.orgOptions(principal, selected: form["ownerId"]) { !$0.kind.isMerchantSide } : []
        return renderer.page("terminals", titleKey: "nav_terminals", context: context, data: [
            "terminals": rows, "filter": filterValues,
            "states": forms.options(TerminalState.allCases, prefix: "state", selected: request.query("state"), locale: locale),
            "nextHref": page.nextCursor == nil ? "" : "/console/terminals?" + (next.percentEncodedQuery ?? ""),
            "canStockIn": principal.can(.estateManage), "owners": owners, "error": error as Any, "form": form,
            "notice": notice as Any, "exportHref": "/console/terminals/export.csv?" + (exportQuery.percentEncodedQuery ?? ""),
            "csvColumns": EstateService.csvColumns.joined(separator: ","),
            "modelOptions": models.map { ["id": $0.id.rawValue, "name": "\($0.manufacturer) \($0.name)", "selected": form["modelId"] == $0.id.rawValue] },
        ], status: status)
    }

    @Sendable func stockIn(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let form = try await forms.decode(StockInForm.self, request, context)
        let values = ["sn": form.sn, "tid": form.tid, "modelId": form.modelId, "ownerId": form.ownerId ?? "",
                      "responsiblePerson": form.responsiblePerson ?? "", "appVersion": form.appVersion ?? ""]
        do {
            guard let model = ModelID(validating: form.modelId) else { throw DomainError.invalid("modelId", "choose a model") }
            var cost: Int64?
            if let raw = form.purchaseCost, !raw.isEmpty { cost = try Money.minorUnits(fromYuan: raw, field: "purchaseCost") }
            let terminal = try await estate.stockIn(StockIn(
                sn: form.sn, tid: form.tid, modelId: model, ownerId: form.ownerId.flatMap(OrgID.init(validating:)),
                responsiblePerson: form.responsiblePerson, appVersion: form.appVersion, firmwareVersion: form.firmwareVersion,
                purchaseCost: cost), by: principal)
            return .redirect(to: "/console/terminals/\(terminal.id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await terminalsPage(request, context, error: error.message, notice: nil, form: values, status: ConsoleForms.status(error))
        }
    }

    // MARK: - CSV

    @Sendable func importCSV(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var limited = context
        limited.bodyLimit = CSVTransfer.importLimit
        let form = try await forms.decode(ImportForm.self, request, limited)
        do {
            try EstateAPI.guardCSV(form.csv)
            let report = try await estate.importTerminals(csv: form.csv, dryRun: form.dryRun != nil, by: principal)
            let message = report.dryRun
                ? renderer.text("import_checked", locale: context.locale).replacingOccurrences(of: "{n}", with: String(report.rows))
                : renderer.text("import_done", locale: context.locale).replacingOccurrences(of: "{n}", with: String(report.created.count))
            return try await terminalsPage(request, context, error: nil, notice: message, form: [:], status: report.dryRun ? .ok : .created)
        } catch let error as DomainError {
            var lines = [error.message]
            if case .validation(let fields) = error { lines = fields.map { "\($0.field): \($0.message)" } }
            return try await terminalsPage(request, context, error: lines.joined(separator: "\n"), notice: nil,
                                           form: ["csv": form.csv], status: ConsoleForms.status(error))
        }
    }

    @Sendable func exportCSV(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let csv = try await estate.exportTerminals(try await EstateAPI.filter(request, estate: estate, principal: principal), by: principal)
        return CSVTransfer.attachment(csv, filename: "terminals.csv")
    }

    // MARK: - Dossier

    @Sendable func dossier(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await dossierPage(request, context, error: nil, status: .ok)
    }

    private func dossierPage(_ request: Request, _ context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: TerminalID = try context.id("id", resource: "terminal")
        let dossier = try await estate.dossier(id, by: principal)
        let terminal = dossier.terminal
        let locale = context.locale
        var fields: [[String: String]] = [
            ["label": renderer.text("field_sn", locale: locale), "value": terminal.sn],
            ["label": "TID", "value": terminal.tid],
            ["label": renderer.text("field_model", locale: locale), "value": "\(dossier.model.manufacturer) \(dossier.model.name) · \(dossier.model.ptsApproval)"],
            ["label": renderer.text("field_state", locale: locale), "value": renderer.text("state_\(terminal.state.rawValue)", locale: locale)],
            ["label": renderer.text("field_owner", locale: locale), "value": dossier.owner.name],
            ["label": renderer.text("field_merchant", locale: locale), "value": dossier.merchant?.name ?? "—"],
            ["label": renderer.text("field_placement", locale: locale),
             "value": terminal.placement.map { "\($0.address) (\($0.latitude), \($0.longitude))" } ?? "—"],
            ["label": renderer.text("field_responsible", locale: locale), "value": terminal.responsiblePerson ?? "—"],
            ["label": renderer.text("field_versions", locale: locale), "value": "\(terminal.appVersion ?? "—") / \(terminal.firmwareVersion ?? "—")"],
            ["label": "KCV", "value": terminal.keyCheckValue ?? "—"],
            ["label": renderer.text("field_installer", locale: locale),
             "value": terminal.installer.map { "\($0) · \(terminal.installedAt?.iso8601 ?? "")" } ?? "—"],
            ["label": renderer.text("field_warranty", locale: locale), "value": terminal.warrantyEnd.map { String($0.iso8601.prefix(10)) } ?? "—"],
        ]
        if principal.can(.estateCosts), let cost = terminal.purchaseCost {
            fields.append(["label": renderer.text("field_cost", locale: locale), "value": Money(minorUnits: cost).description])
        }
        let binding: [String: String]? = dossier.binding.map {
            ["mid": $0.mid, "creditCode": $0.creditCode, "account": $0.settlementAccountMasked, "acquirerCode": $0.acquirerCode,
             "boundAt": $0.boundAt.iso8601, "boundBy": $0.boundBy]
        }
        let history = dossier.history.map { event -> [String: Any] in
            ["at": event.at.iso8601, "action": renderer.text("action_\(event.action)", locale: locale), "actor": event.actorName,
             "change": [event.fromState, event.toState].compactMap { $0.map { renderer.text("state_\($0.rawValue)", locale: locale) } }
                .joined(separator: " → "),
             "reason": event.reason ?? "", "details": ConsoleController.summaryLines(AuditChain.canonicalSummary(event.details))]
        }
        // The actions the state machine allows now, limited to what the caller may do.
        let allowed = (TerminalLifecycle.transitions[terminal.state] ?? [:]).keys.filter { Self.permission(for: $0).map(principal.can) ?? false }
        var destinations: [[String: Any]] = []
        if allowed.contains(.dispatch) {
            let orgs = try await access.organizations(kind: nil, page: PageRequest(limit: PageRequest.maxLimit), by: principal).items
            destinations = orgs.filter { !$0.kind.isMerchantSide && ($0.parentId == dossier.owner.id || dossier.owner.parentId == $0.id) }
                .map { ["id": $0.id.rawValue, "name": $0.name] }
            if let parent = dossier.owner.parentId, !destinations.contains(where: { $0["id"] as? String == parent.rawValue }),
               let org = try? await access.organization(parent, by: principal) {
                destinations.append(["id": org.id.rawValue, "name": org.name])
            }
        }
        var merchants: [[String: Any]] = []
        if allowed.contains(.bind) {
            // Only merchants that passed onboarding review can have terminals bound.
            merchants = try await self.merchants.merchants(MerchantFilter(status: .approved), page: PageRequest(limit: PageRequest.maxLimit),
                                                           by: principal).items
                .map { ["id": $0.merchant.id.rawValue, "name": "\($0.merchant.name) · \($0.profile?.mid ?? "")"] }
        }
        let actions = allowed.sorted { $0.rawValue < $1.rawValue }.map { action -> [String: Any] in
            ["value": action.rawValue, "label": renderer.text("action_\(action.rawValue)", locale: locale),
             "needsReason": [.unbind, .remove, .sendToRepair, .scrap].contains(action),
             "isBind": action == .bind, "isInstall": action == .install, "isDispatch": action == .dispatch,
             "takesPlacement": action == .bind || action == .install]
        }
        return renderer.page("dossier", titleKey: "dossier_title", context: context, data: [
            "sn": terminal.sn, "fields": fields, "binding": binding as Any, "history": history, "actions": actions,
            "destinations": destinations, "merchants": merchants, "error": error as Any,
            "usage": dossier.usage.map { entry -> [String: String] in
                ["at": entry.at.iso8601, "responsible": entry.responsible, "operation": entry.operation,
                 "amount": entry.amount.map { Money(minorUnits: $0).description } ?? "", "recordedBy": entry.recordedBy]
            },
            "terminalId": terminal.id.rawValue,
        ], status: status)
    }

    @Sendable func usage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: TerminalID = try context.id("id", resource: "terminal")
        let form = try await forms.decode(UsageForm.self, request, context)
        do {
            var amount: Int64?
            if let raw = form.amount, !raw.isEmpty { amount = try Money.minorUnits(fromYuan: raw, field: "amount") }
            let responsible = form.responsible.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
            _ = try await estate.recordUsage(id, responsible: responsible, operation: form.operation, amount: amount, by: principal)
            return .redirect(to: "/console/terminals/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await dossierPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }

    /// The permission each action needs (the service checks again; this only hides buttons).
    static func permission(for action: LifecycleAction) -> Permission? {
        switch action {
        case .bind, .unbind: return .estateBind
        case .install, .commission, .remove: return .estateInstall
        case .stockIn: return nil
        default: return .estateManage
        }
    }

    @Sendable func act(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id: TerminalID = try context.id("id", resource: "terminal")
        let form = try await forms.decode(ActionForm.self, request, context)
        do {
            guard let action = LifecycleAction(rawValue: form.action) else { throw DomainError.invalid("action", "unknown action") }
            let reason = form.reason ?? ""
            switch action {
            case .dispatch:
                guard let to = form.destinationId.flatMap(OrgID.init(validating:)) else { throw DomainError.invalid("destinationId", "choose a destination") }
                _ = try await estate.dispatch([id], to: to, reason: form.reason, by: principal)
            case .receive: _ = try await estate.receive([id], by: principal)
            case .cancelTransit: _ = try await estate.cancelTransit([id], reason: form.reason, by: principal)
            case .bind:
                guard let merchant = form.merchantId.flatMap(OrgID.init(validating:)) else { throw DomainError.invalid("merchantId", "choose a merchant") }
                _ = try await estate.bind(id, BindRequest(merchantId: merchant, storeId: form.storeId.flatMap(OrgID.init(validating:)),
                                                          placement: try form.placement()), by: principal)
            case .unbind: _ = try await estate.unbind(id, reason: reason, by: principal)
            case .install: _ = try await estate.install(id, installer: form.installer ?? "", placement: try form.placement(), by: principal)
            case .commission: _ = try await estate.commission(id, by: principal)
            case .remove: _ = try await estate.remove(id, reason: reason, by: principal)
            case .returnToStock: _ = try await estate.returnToStock(id, reason: form.reason, by: principal)
            case .sendToRepair: _ = try await estate.sendToRepair(id, reason: reason, by: principal)
            case .returnFromRepair: _ = try await estate.returnFromRepair(id, note: form.reason, by: principal)
            case .scrap: _ = try await estate.scrap(id, reason: reason, by: principal)
            case .stockIn: throw DomainError.invalid("action", "a terminal on record is already stocked in")
            }
            return .redirect(to: "/console/terminals/\(id.rawValue)", type: .found)
        } catch let error as DomainError {
            return try await dossierPage(request, context, error: error.message, status: ConsoleForms.status(error))
        }
    }
}
