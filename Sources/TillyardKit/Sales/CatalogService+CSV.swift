import Foundation

/// What a catalog import did (or, for a dry run, would do); the API answers it as it is.
public struct CatalogImportReport: Codable, Sendable, Equatable {
    /// Data rows read (header excluded).
    public var rows: Int
    public var created: Int
    public var updated: Int
    /// Rows equal to the stored product (nothing written for them).
    public var unchanged: Int
    public var dryRun: Bool

    public init(rows: Int, created: Int, updated: Int, unchanged: Int, dryRun: Bool) {
        self.rows = rows
        self.created = created
        self.updated = updated
        self.unchanged = unchanged
        self.dryRun = dryRun
    }
}

/// A catalog export, checked (permission, merchant) and ready to write: the caller can answer an
/// error before the first byte, then stream the file page by page.
public struct CatalogExport: Sendable {
    let store: any Persistence
    let merchant: OrgID
    let filter: ProductFilter
    /// The columns of the file (cost only for those who maintain the catalog).
    public let columns: [CatalogCSV.Column]
    /// Products read per query.
    static let pageSize = 500

    /// Writes the file: byte-order mark and header first, then one chunk of lines per page of the
    /// catalog (CRLF line ends), so a million products never sit in memory at once.
    public func write(_ sink: (String) async throws -> Void) async throws {
        try await sink(CatalogCSV.byteOrderMark + CSV.line(columns.map(\.rawValue)) + "\r\n")
        var page = PageRequest(limit: Self.pageSize)
        while true {
            let request = page, merchant = self.merchant, filter = self.filter
            let result = try await store.read { try await $0.products.search(merchant: merchant, filter: filter, page: request) }
            if !result.items.isEmpty {
                try await sink(result.items.map { CatalogCSV.line($0, columns: columns) + "\r\n" }.joined())
            }
            guard let next = result.nextCursor else { return }
            page.cursor = next
        }
    }

    /// The whole file as one string (small catalogs, tests, the CLI).
    public func text() async throws -> String {
        var text = ""
        try await write { text += $0 }
        return text
    }
}

extension CatalogService {
    /// Prepares an export of a merchant's catalog (the caller's own when `merchantId` is nil).
    public func export(_ filter: ProductFilter, merchantId: OrgID?, by principal: Principal) async throws -> CatalogExport {
        let merchant = try await self.merchant(merchantId, by: principal)
        return CatalogExport(store: store, merchant: merchant.id, filter: filter,
                             columns: CatalogCSV.columns(showCost: principal.can(.catalogManage)))
    }

    /// Creates and updates products from a CSV file, keyed by SKU, all or nothing: every row is
    /// checked (cells, product rules, codes held by other products, repeats inside the file) and all
    /// problems are reported by line and column before anything is written; then the whole file is
    /// one transaction with one audit event. Columns the file lacks keep their stored values.
    public func importProducts(csv text: String, merchantId: OrgID?, dryRun: Bool, by principal: Principal) async throws -> CatalogImportReport {
        try principal.require(.catalogManage)
        let file = try CatalogCSV.read(text)
        let now = clock.now()
        let work: @Sendable (any Repositories) async throws -> CatalogImportReport = { repos in
            let merchant = try await Self.merchant(merchantId, repos: repos, principal: principal)
            let stored = Dictionary(uniqueKeysWithValues: try await repos.products.find(merchant: merchant.id, skus: file.rows.map(\.sku))
                .map { ($0.sku, $0) })
            var problems = file.problems
            var created: [(product: Product, terms: Set<String>)] = []
            var updated: [(product: Product, terms: Set<String>?)] = []
            var unchanged = 0
            // Which product (by SKU) each code of the file goes to, and the line saying so.
            var claims: [String: (sku: String, line: Int)] = [:]
            var scaleClaims: [String: (sku: String, line: Int)] = [:]
            for row in file.rows {
                let existing = stored[row.sku]
                do {
                    var product = try validated(try row.values.input(sku: row.sku, over: existing), into: existing, merchant: merchant.id, at: now)
                    for code in product.barcodes { claims[code] = (row.sku, row.line) }
                    if let code = product.scaleCode { scaleClaims[code] = (row.sku, row.line) }
                    if let existing {
                        if Self.sameContent(product, existing) {
                            unchanged += 1
                        } else {
                            product.version = existing.version + 1
                            let renamed = product.nameZh != existing.nameZh || product.nameEn != existing.nameEn
                            updated.append((product: product, terms: renamed ? CatalogRules.terms(of: product) : nil))
                        }
                    } else {
                        created.append((product: product, terms: CatalogRules.terms(of: product)))
                    }
                } catch DomainError.validation(let fields) {
                    problems += fields.map { FieldError(field: "line \(row.line): \(CatalogCSV.column(of: $0.field))", message: $0.message) }
                }
            }
            // A code another product holds may be taken only when that product's own row in the file
            // gives it up (two rows of the file claiming one code were caught while reading).
            let skusInFile = Set(file.rows.map(\.sku))
            func taken(_ owners: [ProductCode], _ wanted: [String: (sku: String, line: Int)], column: String, what: String) {
                for owner in owners {
                    guard let claim = wanted[owner.code], claim.sku != owner.sku, !skusInFile.contains(owner.sku) else { continue }
                    problems.append(FieldError(field: "line \(claim.line): \(column)", message: "\(what) \(owner.code) is used by another product, \(owner.sku)"))
                }
            }
            taken(try await repos.products.barcodeOwners(merchant: merchant.id, codes: Array(claims.keys)), claims, column: "barcodes", what: "barcode")
            taken(try await repos.products.scaleCodeOwners(merchant: merchant.id, codes: Array(scaleClaims.keys)), scaleClaims,
                  column: "scale_code", what: "scale code")
            guard problems.isEmpty else { throw DomainError.validation(Self.byLine(problems)) }
            let report = CatalogImportReport(rows: file.rows.count, created: created.count, updated: updated.count, unchanged: unchanged,
                                             dryRun: dryRun)
            if dryRun { return report }
            // Updates first: codes they give up are then free for the new products.
            try await repos.products.update(batch: updated)
            try await repos.products.insert(batch: created, orgPath: merchant.path)
            _ = try await repos.audit.append(
                AuditDraft(orgId: merchant.id, actor: principal.actor, action: "catalog.import", resourceType: "catalog",
                           resourceId: merchant.id.rawValue, origin: principal.origin,
                           summary: ["rows": String(report.rows), "created": String(report.created), "updated": String(report.updated),
                                     "unchanged": String(report.unchanged)]),
                orgPath: merchant.path, at: now)
            return report
        }
        guard !dryRun else { return try await store.read(work) }
        // Sales read products through a short-lived cache: forget it once this commits.
        defer { saleContext?.removeAll() }
        return try await store.write(work)
    }

    /// Whether a checked row leaves the stored product as it is (times and version aside).
    static func sameContent(_ a: Product, _ b: Product) -> Bool {
        var a = a, b = b
        a.createdAt = b.createdAt
        a.updatedAt = b.updatedAt
        a.version = b.version
        // Barcodes are a set: stored ones come back sorted, a file may list them in any order.
        a.barcodes.sort()
        b.barcodes.sort()
        return a == b
    }

    /// Problems in file order ("line 9" before "line 10"), columns in the order found.
    static func byLine(_ problems: [FieldError]) -> [FieldError] {
        func line(_ problem: FieldError) -> Int {
            Int(problem.field.dropFirst("line ".count).prefix { $0.isNumber }) ?? 0
        }
        return problems.enumerated().sorted { (line($0.element), $0.offset) < (line($1.element), $1.offset) }.map(\.element)
    }
}

extension CatalogService {
    /// The merchant whose catalog the caller works on: the named one if the caller may work on it,
    /// else the caller's own (a store's staff use their merchant's catalog).
    public func merchant(_ id: OrgID?, by principal: Principal) async throws -> Organization {
        try principal.require(.catalogRead)
        return try await store.read { try await Self.merchant(id, repos: $0, principal: principal) }
    }
}
