import Foundation
import Testing
import TillyardKit

/// The catalog file, pure: cells read into typed values, every bad cell named by line and column,
/// repeats inside a file caught, and a written line reads back the same.
@Suite struct CatalogCSVTests {
    static let header = "sku,barcodes,name_zh,name_en,category,unit,price,member_price,tax_rate,cost,scale_code,active"

    @Test func goodRowsReadIntoTypedValues() throws {
        let file = try CatalogCSV.read("""
            \u{FEFF}\(Self.header)
            cola-330,6901234567892|SHELF-7,可口可乐 330ml,Coca-Cola,drinks,piece,3.50,3,13,1.8,,true
            PORK,,五花肉,,meat,Weight,32.8,,9%,,00123,no
            """)
        #expect(file.problems.isEmpty, "\(file.problems)")
        #expect(file.columns == Set(CatalogCSV.Column.allCases))
        let cola = try #require(file.rows.first)
        #expect(cola.line == 2 && cola.sku == "COLA-330")
        #expect(cola.values.barcodes == ["6901234567892", "SHELF-7"] && cola.values.nameZh == "可口可乐 330ml")
        #expect(cola.values.price == 350 && cola.values.memberPrice == .some(300) && cola.values.cost == .some(180))
        #expect(cola.values.taxRate == 1300 && cola.values.unit == .piece && cola.values.active == true)
        let pork = file.rows[1]
        #expect(pork.values.unit == .weight && pork.values.taxRate == 900 && pork.values.active == false)
        #expect(pork.values.nameEn == .some(nil), "a blank cell means none")
        #expect(pork.values.scaleCode == .some("00123") && pork.values.barcodes == [])
    }

    @Test func everyBadCellIsNamedByLineAndColumn() throws {
        let file = try CatalogCSV.read("""
            \(Self.header)
            A1,6901234567893,甲,,,box,abc,,17,,,maybe
            A2,,,,,,1.999,,13,,,
            a1,,乙,,,,1,,13,,,
            B1,6901234567892,丙,,,,1,,13,,,
            B2,6901234567892;SHELF-1,丁,,,,1,,13,,,
            """)
        let named = Dictionary(grouping: file.problems, by: \.field).mapValues { $0.map(\.message) }
        #expect(named["line 2: barcodes"]?.first?.contains("6901234567893") == true, "bad EAN-13 check digit: \(named)")
        #expect(named["line 2: unit"] == ["'box' is not a unit: use piece or weight"])
        #expect(named["line 2: price"] == ["'abc' is not an amount in yuan like 12.50"])
        #expect(named["line 2: tax_rate"]?.first?.hasPrefix("'17' is not a VAT rate") == true)
        #expect(named["line 2: active"] == ["'maybe' is not true or false"])
        #expect(named["line 3: name_zh"] == ["is missing: every product needs a name"])
        #expect(named["line 3: price"] == ["'1.999' is not an amount in yuan like 12.50"], "no rounding away fen")
        #expect(named["line 4: sku"] == ["A1 already appears on line 2"], "SKUs are compared upper-cased")
        #expect(named["line 6: barcodes"] == ["barcode 6901234567892 is also on line 5"])
        #expect(file.rows.map(\.sku) == ["B1", "B2"], "only rows whose cells all made sense")
    }

    @Test func headerProblemsRefuseTheFile() {
        #expect(throws: DomainError.invalid("file", "line 1 must have a column sku (columns: \(CatalogCSV.Column.allCases.map(\.rawValue).joined(separator: ",")))")) {
            _ = try CatalogCSV.read("name_zh,price\n甲,1\n")
        }
        #expect(throws: DomainError.invalid("file", "line 1 has unknown columns: colour")) { _ = try CatalogCSV.read("sku,colour\nA,red\n") }
        #expect(throws: DomainError.invalid("file", "line 1 names a column twice: price")) { _ = try CatalogCSV.read("sku,price,price\nA,1,2\n") }
        #expect(throws: DomainError.invalid("file", "has a header but no products")) { _ = try CatalogCSV.read("sku,price\n") }
        #expect(throws: DomainError.invalid("file", "is empty: the first line must name the columns")) { _ = try CatalogCSV.read("") }
    }

    @Test func cardDataAnywhereRefusesTheFileWithoutEchoingIt() {
        do {
            _ = try CatalogCSV.read("sku,name_zh,price\nA,4111 1111 1111 1111,1\n")
            Issue.record("a card number was accepted")
        } catch let error as DomainError {
            #expect(error == .unprocessable("line 2, column 2 looks like a full card number or track data, which Tillyard never accepts"))
            #expect(!error.message.contains("4111"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func missingColumnsKeepStoredValues() throws {
        let file = try CatalogCSV.read("sku,price\nCOLA,4.20\nNEW,1\n")
        let stored = Product(id: .generate(), merchantId: .generate(), sku: "COLA", barcodes: ["6901234567892"], nameZh: "可乐", nameEn: "Cola",
                             category: "drinks", unit: .piece, price: 350, memberPrice: 300, taxRate: 1300, cost: 180, scaleCode: nil,
                             active: true, createdAt: Date(), updatedAt: Date())
        let input = try file.rows[0].values.input(sku: "COLA", over: stored)
        #expect(input.price == 420 && input.barcodes == stored.barcodes && input.nameZh == "可乐" && input.cost == 180 && input.memberPrice == 300)
        #expect(throws: DomainError.invalid("nameZh", "a new product needs a name (name_zh)")) {
            _ = try file.rows[1].values.input(sku: "NEW", over: nil)
        }
        #expect(CatalogCSV.column(of: "memberPrice") == "member_price" && CatalogCSV.column(of: "barcodes.3") == "barcodes")
    }

    @Test func aWrittenLineReadsBackTheSame() throws {
        let product = Product(id: .generate(), merchantId: .generate(), sku: "X-1", barcodes: ["6901234567892", "SHELF-7"],
                              nameZh: "=HYPERLINK(\"http://x\")", nameEn: "Tea, \"green\"", category: "+drinks", unit: .weight, price: 1250,
                              memberPrice: nil, taxRate: 900, cost: 5, scaleCode: "00042", active: false, createdAt: Date(), updatedAt: Date())
        let columns = CatalogCSV.columns(showCost: true)
        let line = CatalogCSV.line(product, columns: columns)
        let cells = try #require(try CSV.parse(line).first).fields
        #expect(cells[2] == "'=HYPERLINK(\"http://x\")" && cells[4] == "'+drinks", "formula cells are defused: \(cells)")
        #expect(cells[1] == "6901234567892|SHELF-7" && cells[6] == "12.50" && cells[7] == "" && cells[8] == "9" && cells[9] == "0.05")
        let file = try CatalogCSV.read(columns.map(\.rawValue).joined(separator: ",") + "\r\n" + line + "\r\n")
        #expect(file.problems.isEmpty, "\(file.problems)")
        let input = try file.rows[0].values.input(sku: file.rows[0].sku, over: nil)
        #expect(input.nameZh == product.nameZh && input.category == product.category && input.nameEn == product.nameEn)
        #expect(input.barcodes == product.barcodes && input.price == 1250 && input.memberPrice == nil && input.taxRate == 900)
        #expect(input.cost == 5 && input.scaleCode == "00042" && input.unit == .weight && !input.active)
        #expect(!CatalogCSV.columns(showCost: false).contains(.cost))
    }
}
