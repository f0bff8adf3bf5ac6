import Foundation
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// CSV stock-in on both engines: bad rows are all reported with line numbers and nothing is
/// written; a dry run writes nothing; a good file imports every row; an export reads back.
@Suite struct EstateImportTests {
    @Test(arguments: TestBackend.allCases)
    func badRowsAreReportedByLineAndNothingIsWritten(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let services = AppServices(database: database, bcryptCost: 4)
            _ = try await Fixtures.make(services.access)
            let admin = try await services.access.principal(commandLineUser: "admin")
            _ = try await services.estate.createModel(NewTerminalModel(
                manufacturer: "PAX", name: "A920", terminalClass: .smartAndroid, connectivity: [], ptsApproval: "4-1",
                ptsExpiry: Date().addingTimeInterval(86400 * 365), unionPayCertified: true, unionPayCertificate: nil), by: admin)
            _ = try await services.estate.stockIn(try #require(try await Self.input("EXIST-0001", "90000001", services, admin)), by: admin)

            let bad = """
                sn,tid,model,owner,cost_yuan,warranty_end
                GOOD-0001,70000001,PAX A920,REGION-A,1850.00,2028-01-31
                x,70000002,PAX A920,,,
                GOOD-0003,700003,Nokia 3310,NOWHERE,cheap,soon
                GOOD-0001,70000001,pax a920,,,
                """
            do {
                _ = try await services.estate.importTerminals(csv: bad, dryRun: false, by: admin)
                Issue.record("a file with bad rows was accepted")
            } catch DomainError.validation(let fields) {
                let messages = fields.map(\.field)
                #expect(messages.contains("line 3: sn"))
                #expect(messages.contains("line 4: tid") && messages.contains("line 4: model") && messages.contains("line 4: owner"))
                #expect(messages.contains("line 4: cost_yuan") && messages.contains("line 4: warranty_end"))
                #expect(messages.contains("line 5: sn") && messages.contains("line 5: tid"), "duplicates within the file")
            }
            let afterBad = try await services.estate.search(TerminalFilter(sn: "GOOD"), page: PageRequest(), by: admin)
            #expect(afterBad.items.isEmpty, "nothing written")

            // Already on record → reported, nothing written.
            let clash = "sn,tid,model\nNEW-0001,70000010,PAX A920\nEXIST-0001,70000011,PAX A920\nNEW-0002,90000001,PAX A920\n"
            do {
                _ = try await services.estate.importTerminals(csv: clash, dryRun: false, by: admin)
                Issue.record("a clashing file was accepted")
            } catch DomainError.validation(let fields) {
                #expect(fields.map(\.field) == ["line 3: sn", "line 4: tid"])
            }

            let good = "sn,tid,model,owner,cost_yuan,notes\n" + (1...50).map { String(format: "IMP-%04d,7100%04d,PAX A920,REGION-A,1850.50,\"lot 7, box %d\"", $0, $0, $0) }.joined(separator: "\n")
            let dry = try await services.estate.importTerminals(csv: good, dryRun: true, by: admin)
            #expect(dry.rows == 50 && dry.created.isEmpty)
            #expect(try await services.estate.search(TerminalFilter(sn: "IMP-"), page: PageRequest(), by: admin).items.isEmpty)
            let real = try await services.estate.importTerminals(csv: good, dryRun: false, by: admin)
            #expect(real.created.count == 50)
            #expect(real.created.allSatisfy { $0.purchaseCost == 185_050 && $0.notes?.hasPrefix("lot 7, box") == true })

            // Export reads back: the same serial numbers, quoted notes intact, costs only for those who may see them.
            let csv = try await services.estate.exportTerminals(TerminalFilter(sn: "IMP-"), by: admin)
            let rows = try CSV.parse(csv)
            #expect(rows.first?.fields == EstateService.csvColumns)
            #expect(Set(rows.dropFirst().map { $0.fields[0] }) == Set((1...50).map { String(format: "IMP-%04d", $0) }))
            #expect(rows.dropFirst().allSatisfy { $0.fields[3] == "REGION-A" && $0.fields[9] == "1850.50" })
            let security = try await services.access.principal(commandLineUser: "security")
            let redacted = try CSV.parse(try await services.estate.exportTerminals(TerminalFilter(sn: "IMP-"), by: security))
            #expect(redacted.dropFirst().allSatisfy { $0.fields[9].isEmpty })
        }
    }

    static func input(_ sn: String, _ tid: String, _ services: AppServices, _ admin: Principal) async throws -> StockIn? {
        guard let model = try await services.estate.models(page: PageRequest(), by: admin).items.first else { return nil }
        return StockIn(sn: sn, tid: tid, modelId: model.id)
    }
}
