import Foundation

/// The catalog as CSV (pure: no storage). One product a line, amounts in yuan ("12.50"), the VAT
/// rate in percent ("13"), barcodes joined by `|`. A file read back the way it was written changes
/// nothing, and the console's product form reads its fields with the same cell rules.
public enum CatalogCSV {
    /// A column of the catalog file.
    public enum Column: String, CaseIterable, Sendable {
        case sku, barcodes
        case nameZh = "name_zh", nameEn = "name_en"
        case category, unit, price
        case memberPrice = "member_price"
        case taxRate = "tax_rate"
        case cost
        case scaleCode = "scale_code"
        case active
    }

    /// The header of an export; `cost` only for those who may see costs (so a file exported without
    /// it and imported again leaves the stored costs alone, rather than clearing them).
    public static func columns(showCost: Bool) -> [Column] {
        Column.allCases.filter { showCost || $0 != .cost }
    }

    /// Excel reads a CSV as the local code page (GBK in China) unless it starts with a UTF-8 BOM.
    public static let byteOrderMark = "\u{FEFF}"

    /// Separators accepted between barcodes in one cell; `|` is written.
    static let barcodeSeparators: Set<Character> = ["|", ";"]

    /// One product as a CSV line (no line break), in the order of `columns`. Cells that a
    /// spreadsheet would run as a formula are defused by `CSV.line`.
    public static func line(_ product: Product, columns: [Column]) -> String {
        CSV.line(columns.map { column in
            switch column {
            case .sku: return product.sku
            case .barcodes: return product.barcodes.joined(separator: "|")
            case .nameZh: return product.nameZh
            case .nameEn: return product.nameEn ?? ""
            case .category: return product.category ?? ""
            case .unit: return product.unit.rawValue
            case .price: return Money(minorUnits: product.price).decimalText
            case .memberPrice: return product.memberPrice.map { Money(minorUnits: $0).decimalText } ?? ""
            case .taxRate: return percent(product.taxRate)
            case .cost: return product.cost.map { Money(minorUnits: $0).decimalText } ?? ""
            case .scaleCode: return product.scaleCode ?? ""
            case .active: return product.active ? "true" : "false"
            }
        })
    }

    /// "13" for 1300 basis points, "1.5" for 150.
    public static func percent(_ basisPoints: Int) -> String {
        let whole = basisPoints / 100, fraction = basisPoints % 100
        guard fraction != 0 else { return String(whole) }
        return fraction % 10 == 0 ? "\(whole).\(fraction / 10)" : "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// A product file read and checked cell by cell: the rows whose cells all made sense, and a
    /// problem for every cell that did not (named "line N: column"). Storage checks (barcodes of
    /// other products) and whole-product rules (member price ≤ price) come later, in the service.
    public struct File: Sendable {
        public var rows: [Row]
        public var problems: [FieldError]
        /// The columns the file has; the others keep their stored values on update.
        public var columns: Set<Column>
    }

    /// One data row: the values of the columns the file has.
    public struct Row: Sendable, Equatable {
        public var line: Int
        public var sku: String
        public var values: Values
    }

    /// Typed cell values by column; a column the file lacks is simply absent.
    public struct Values: Sendable, Equatable {
        public var barcodes: [String]?
        public var nameZh: String?
        /// `.some(nil)`: the cell was blank (the product has none).
        public var nameEn: String??
        public var category: String??
        public var unit: SaleUnit?
        public var price: Int64?
        public var memberPrice: Int64??
        public var taxRate: Int?
        public var cost: Int64??
        public var scaleCode: String??
        public var active: Bool?

        public init() {}

        /// The product input these values make over a stored product (nil: a new product, which
        /// needs a name and a price; every other column has a default).
        public func input(sku: String, over stored: Product?) throws -> ProductInput {
            guard let nameZh = nameZh ?? stored?.nameZh else { throw DomainError.invalid("nameZh", "a new product needs a name (name_zh)") }
            guard let price = price ?? stored?.price else { throw DomainError.invalid("price", "a new product needs a price") }
            return ProductInput(sku: sku, barcodes: barcodes ?? stored?.barcodes ?? [], nameZh: nameZh,
                                nameEn: nameEn ?? stored?.nameEn, category: category ?? stored?.category,
                                unit: unit ?? stored?.unit ?? .piece, price: price, memberPrice: memberPrice ?? stored?.memberPrice,
                                taxRate: taxRate ?? stored?.taxRate ?? 1300, cost: cost ?? stored?.cost,
                                scaleCode: scaleCode ?? stored?.scaleCode, active: active ?? stored?.active ?? true)
        }
    }

    /// Reads a product file. Card data anywhere refuses the whole file (422, the value never echoed);
    /// a header or size problem throws; cell problems are collected, up to `maxProblems`.
    public static func read(_ text: String, maxProblems: Int = 200) throws -> File {
        let table = try CSV.Table(text, known: Column.allCases.map(\.rawValue), required: [Column.sku.rawValue], noun: "products")
        try table.guardCardData()
        let present = Set(table.columns.compactMap(Column.init(rawValue:)))
        var rows: [Row] = []
        var problems: [FieldError] = []
        var skuLines: [String: Int] = [:]
        for row in table.rows {
            if problems.count >= maxProblems { break }
            if let problem = table.widthProblem(row) {
                problems.append(problem)
                continue
            }
            var cells: [Column: String] = [:]
            for column in present { cells[column] = table.value(column.rawValue, in: row) ?? "" }
            // A repeated SKU is named even when the row it repeats has other problems.
            var repeated = false
            if let sku = try? CatalogRules.sku(cells[.sku] ?? "") {
                if let first = skuLines[sku] {
                    problems.append(FieldError(field: "line \(row.line): sku", message: "\(sku) already appears on line \(first)"))
                    repeated = true
                } else {
                    skuLines[sku] = row.line
                }
            }
            do {
                let (sku, values) = try parse(cells)
                if !repeated { rows.append(Row(line: row.line, sku: sku, values: values)) }
            } catch DomainError.validation(let fields) {
                problems += fields.map { FieldError(field: "line \(row.line): \(column(of: $0.field))", message: $0.message) }
            }
        }
        problems += sharedCodes(rows, { $0.barcodes ?? [] }, column: .barcodes, what: "barcode")
        problems += sharedCodes(rows, { ($0.scaleCode ?? nil).map { [$0] } ?? [] }, column: .scaleCode, what: "scale code")
        return File(rows: rows, problems: problems, columns: present)
    }

    /// Codes two rows of one file both claim (a code belongs to one product).
    private static func sharedCodes(_ rows: [Row], _ codes: (Values) -> [String], column: Column, what: String) -> [FieldError] {
        var first: [String: Int] = [:]
        var problems: [FieldError] = []
        for row in rows {
            for code in codes(row.values) {
                if let line = first[code] {
                    problems.append(FieldError(field: "line \(row.line): \(column.rawValue)", message: "\(what) \(code) is also on line \(line)"))
                } else {
                    first[code] = row.line
                }
            }
        }
        return problems
    }

    /// The typed SKU and values of the given cells (blank cells as empty strings). Every cell is
    /// checked and all problems thrown together, named by column.
    public static func parse(_ cells: [Column: String]) throws -> (String, Values) {
        var values = Values()
        var problems: [FieldError] = []
        func check(_ column: Column, _ read: (String) throws -> Void) {
            guard let raw = cells[column] else { return }
            do { try read(raw.trimmingCharacters(in: .whitespaces)) } catch DomainError.validation(let fields) {
                problems += fields.map { FieldError(field: column.rawValue, message: $0.message) }
            } catch {
                problems.append(FieldError(field: column.rawValue, message: "\(error)"))
            }
        }
        func optional(_ raw: String) -> String? { raw.isEmpty ? nil : raw }
        func amount(_ raw: String, _ column: Column) throws -> Int64 {
            do { return try Money.minorUnits(fromYuan: raw, field: column.rawValue) } catch {
                throw DomainError.invalid(column.rawValue, "'\(raw)' is not an amount in yuan like 12.50")
            }
        }
        var sku = ""
        check(.sku) { sku = try CatalogRules.sku($0) }
        check(.barcodes) { raw in
            let codes = raw.split(whereSeparator: { barcodeSeparators.contains($0) }).map(String.init)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            do { values.barcodes = try CatalogRules.barcodes(codes) } catch DomainError.validation(let fields) {
                // "barcodes.1: …" → which code it was, since a cell holds several.
                throw DomainError.validation(fields.map { field in
                    let index = Int(field.field.split(separator: ".").last ?? "") ?? 0
                    return FieldError(field: field.field, message: "\(index < codes.count ? codes[index] : raw) \(field.message)")
                })
            }
        }
        check(.nameZh) { raw in
            guard !raw.isEmpty else { throw DomainError.invalid("name_zh", "is missing: every product needs a name") }
            values.nameZh = raw
        }
        check(.nameEn) { values.nameEn = .some(optional($0)) }
        check(.category) { values.category = .some(optional($0)) }
        check(.unit) { raw in
            guard raw.isEmpty || SaleUnit(rawValue: raw.lowercased()) != nil else {
                throw DomainError.invalid("unit", "'\(raw)' is not a unit: use piece or weight")
            }
            values.unit = raw.isEmpty ? .piece : SaleUnit(rawValue: raw.lowercased())
        }
        check(.price) { raw in
            guard !raw.isEmpty else { throw DomainError.invalid("price", "is missing") }
            values.price = try amount(raw, .price)
        }
        check(.memberPrice) { raw in values.memberPrice = .some(try raw.isEmpty ? nil : amount(raw, .memberPrice)) }
        check(.cost) { raw in values.cost = .some(try raw.isEmpty ? nil : amount(raw, .cost)) }
        check(.taxRate) { raw in
            guard !raw.isEmpty else { values.taxRate = 1300; return }
            let number = raw.hasSuffix("%") ? String(raw.dropLast()).trimmingCharacters(in: .whitespaces) : raw
            guard let basisPoints = try? Money.minorUnits(fromYuan: number, field: "tax_rate"),
                  CatalogRules.taxRates.contains(Int(basisPoints)) else {
                throw DomainError.invalid("tax_rate", "'\(raw)' is not a VAT rate: use one of \(CatalogRules.taxRates.sorted().map { percent($0) }.joined(separator: ", ")) (percent)")
            }
            values.taxRate = Int(basisPoints)
        }
        check(.scaleCode) { values.scaleCode = .some(optional($0)) }
        check(.active) { raw in
            switch raw.lowercased() {
            case "", "true", "1", "yes", "y": values.active = true
            case "false", "0", "no", "n": values.active = false
            default: throw DomainError.invalid("active", "'\(raw)' is not true or false")
            }
        }
        guard problems.isEmpty else { throw DomainError.validation(problems) }
        return (sku, values)
    }

    /// The CSV column of a field named by the catalog's rules ("memberPrice" → "member_price",
    /// "barcodes.2" → "barcodes"), so every problem of a row names a column of the file.
    public static func column(of field: String) -> String {
        let base = String(field.split(separator: ".").first ?? Substring(field))
        let names: [String: Column] = ["nameZh": .nameZh, "nameEn": .nameEn, "memberPrice": .memberPrice, "taxRate": .taxRate,
                                       "scaleCode": .scaleCode]
        return names[base]?.rawValue ?? base
    }
}
