import Foundation

/// The outcome of a CSV stock-in.
public struct ImportReport: Sendable {
    /// Data rows read (header excluded).
    public var rows: Int
    /// The terminals created; empty for a dry run.
    public var created: [Terminal]
    public var dryRun: Bool
}

extension EstateService {
    /// The columns of the terminal CSV, in export order. Import needs `sn`, `tid` and `model`.
    public static let csvColumns = ["sn", "tid", "model", "owner", "state", "responsible", "app_version", "firmware_version",
                                    "kcv", "cost_yuan", "warranty_end", "notes", "merchant", "mid"]

    /// Stocks in every row of a CSV file in one transaction, or nothing: all rows are checked
    /// first and every problem is reported with its line number. `dryRun` checks without writing.
    ///
    /// `model` is a model id or "Manufacturer Name"; `owner` an organisation code (blank: the
    /// caller's own organisation); `cost_yuan` a decimal amount; `warranty_end` a date (YYYY-MM-DD).
    public func importTerminals(csv text: String, dryRun: Bool, by principal: Principal) async throws -> ImportReport {
        try principal.require(.estateManage)
        let table = try CSV.Table(text, known: Self.csvColumns, required: ["sn", "tid", "model"], noun: "terminals")
        let data = table.rows

        let models = try await allModels(by: principal)
        let owners = try await ownerCodes(by: principal)
        var errors: [FieldError] = []
        var inputs: [StockIn] = []
        var seenSN: [String: Int] = [:]
        var seenTID: [String: Int] = [:]
        for row in data {
            func value(_ name: String) -> String? { table.value(name, in: row) }
            func fail(_ column: String, _ message: String) { errors.append(FieldError(field: "line \(row.line): \(column)", message: message)) }
            if let problem = table.widthProblem(row) {
                errors.append(problem)
                continue
            }
            var sn = "", tid = ""
            do { sn = try EstateRules.serialNumber(value("sn") ?? "") } catch { fail("sn", "must be 4 to 40 letters, digits or '-'") }
            do { tid = try EstateRules.tid(value("tid") ?? "") } catch { fail("tid", "must be 8 digits or capital letters") }
            if !sn.isEmpty, let first = seenSN[sn] { fail("sn", "\(sn) already appears on line \(first)") } else if !sn.isEmpty { seenSN[sn] = row.line }
            if !tid.isEmpty, let first = seenTID[tid] { fail("tid", "\(tid) already appears on line \(first)") } else if !tid.isEmpty { seenTID[tid] = row.line }
            let modelText = value("model") ?? ""
            let model = models.first { $0.id.rawValue == modelText.lowercased() || "\($0.manufacturer) \($0.name)".lowercased() == modelText.lowercased() }
            if model == nil { fail("model", "'\(modelText)' is not a model of your catalogue (use its id or \"Manufacturer Name\")") }
            var owner: OrgID?
            if let code = value("owner") {
                owner = owners[code]
                if owner == nil { fail("owner", "no acquirer, region or agent with code \(code) in your part of the tree") }
            }
            var cost: Int64?
            if let raw = value("cost_yuan") {
                do { cost = try Money.minorUnits(fromYuan: raw, field: "cost_yuan") } catch { fail("cost_yuan", "must be an amount like 1850.00") }
            }
            var warranty: Date?
            if let raw = value("warranty_end") {
                warranty = try? Date(raw + "T00:00:00Z", strategy: .iso8601)
                if warranty == nil { fail("warranty_end", "must be a date YYYY-MM-DD") }
            }
            if let model {
                inputs.append(StockIn(sn: sn, tid: tid, modelId: model.id, ownerId: owner, responsiblePerson: value("responsible"),
                                      appVersion: value("app_version"), firmwareVersion: value("firmware_version"),
                                      keyCheckValue: value("kcv"), purchaseCost: cost, warrantyEnd: warranty, notes: value("notes")))
            }
            if errors.count >= 200 { break }
        }
        // Serial numbers and TIDs already on record.
        if errors.isEmpty {
            let snLines = seenSN, tidLines = seenTID
            let tenant = Self.tenant(of: principal)
            let taken = try await store.read { repos -> [FieldError] in
                var found: [FieldError] = []
                for (sn, line) in snLines where try await repos.terminals.find(sn: sn) != nil {
                    found.append(FieldError(field: "line \(line): sn", message: "\(sn) is already on record"))
                }
                for (tid, line) in tidLines where try await repos.terminals.find(tenant: tenant, tid: tid) != nil {
                    found.append(FieldError(field: "line \(line): tid", message: "\(tid) is already used by another terminal"))
                }
                return found
            }
            errors += taken.sorted { $0.field.localizedStandardCompare($1.field) == .orderedAscending }
        }
        guard errors.isEmpty else { throw DomainError.validation(errors) }
        if dryRun { return ImportReport(rows: data.count, created: [], dryRun: true) }
        return ImportReport(rows: data.count, created: try await stockIn(inputs, by: principal), dryRun: false)
    }

    /// Every terminal the caller can see matching the filter, as CSV (header + one line each).
    public func exportTerminals(_ filter: TerminalFilter, by principal: Principal) async throws -> String {
        let models = Dictionary(uniqueKeysWithValues: try await allModels(by: principal).map { ($0.id, "\($0.manufacturer) \($0.name)") })
        var orgCodes: [OrgID: String] = [:]
        let showCost = principal.can(.estateCosts)
        var lines = [CSV.line(Self.csvColumns)]
        var page = PageRequest(limit: PageRequest.maxLimit)
        while true {
            let result = try await search(filter, page: page, by: principal)
            let batch = result.items
            let known = orgCodes
            let extra = try await store.read { repos -> ([OrgID: String], [TerminalID: String]) in
                var codes: [OrgID: String] = [:]
                var mids: [TerminalID: String] = [:]
                for terminal in batch {
                    for id in [terminal.orgId, terminal.merchantId].compactMap({ $0 }) where known[id] == nil && codes[id] == nil {
                        codes[id] = try await repos.orgs.find(id)?.code ?? ""
                    }
                    if terminal.merchantId != nil { mids[terminal.id] = try await repos.bindings.active(for: terminal.id)?.mid }
                }
                return (codes, mids)
            }
            orgCodes.merge(extra.0) { $1 }
            for terminal in batch {
                lines.append(CSV.line([
                    terminal.sn, terminal.tid, models[terminal.modelId] ?? terminal.modelId.rawValue, orgCodes[terminal.orgId] ?? "",
                    terminal.state.rawValue, terminal.responsiblePerson ?? "", terminal.appVersion ?? "", terminal.firmwareVersion ?? "",
                    terminal.keyCheckValue ?? "",
                    showCost ? terminal.purchaseCost.map { Money(minorUnits: $0).description.replacingOccurrences(of: "CNY ", with: "") } ?? "" : "",
                    terminal.warrantyEnd.map { String($0.iso8601.prefix(10)) } ?? "", terminal.notes ?? "",
                    terminal.merchantId.flatMap { orgCodes[$0] } ?? "", extra.1[terminal.id] ?? "",
                ]))
            }
            guard let next = result.nextCursor else { break }
            page.cursor = next
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    private func allModels(by principal: Principal) async throws -> [TerminalModel] {
        var all: [TerminalModel] = []
        var page = PageRequest(limit: PageRequest.maxLimit)
        while true {
            let result = try await models(page: page, by: principal)
            all += result.items
            guard let next = result.nextCursor else { return all }
            page.cursor = next
        }
    }

    /// Codes of the acquirer, regions and agents the caller can see.
    private func ownerCodes(by principal: Principal) async throws -> [String: OrgID] {
        let tenant = Self.tenant(of: principal)
        let path = principal.orgPath
        return try await store.read { repos in
            var codes: [String: OrgID] = [:]
            for kind in [OrgKind.acquirer, .region, .agent] {
                var page = PageRequest(limit: PageRequest.maxLimit)
                while true {
                    let result = try await repos.orgs.list(under: path, kind: kind, page: page)
                    for org in result.items where org.rootId == tenant { codes[org.code] = org.id }
                    guard let next = result.nextCursor else { break }
                    page.cursor = next
                }
            }
            return codes
        }
    }
}
