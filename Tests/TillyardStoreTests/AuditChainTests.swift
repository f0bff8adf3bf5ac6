import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// The audit chain on both engines: appends link up, verify passes, and editing, deleting or
/// reordering a row behind the server's back is caught at the right event.
@Suite struct AuditChainTests {
    @Test(arguments: TestBackend.allCases)
    func cleanChainVerifiesAndTamperingIsCaught(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let services = AppServices(database: database, bcryptCost: 4)
            _ = try await Fixtures.make(services.access)
            let clean = try await services.access.verifyAuditChain(batchSize: 3)
            #expect(clean.firstBreak == nil)
            #expect(clean.checked > 10)

            // Someone edits event 5 directly in the database.
            try await database.session { db in
                try await db.raw("UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 5").run()
            }
            let tampered = try await services.access.verifyAuditChain(batchSize: 3)
            #expect(tampered.firstBreak == .tampered(seq: 5))
            #expect(tampered.checked == 4)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func deletedEventIsCaught(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let services = AppServices(database: database, bcryptCost: 4)
            _ = try await Fixtures.make(services.access)
            try await database.session { db in try await db.raw("DELETE FROM audit_events WHERE seq = 3").run() }
            let result = try await services.access.verifyAuditChain()
            #expect(result.firstBreak == .gap(expected: 3, found: 4))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func concurrentAppendsNeverFork(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = SQLPersistence(database: database)
            let org = OrgID.generate()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        _ = try await store.write { repos in
                            try await repos.audit.append(
                                AuditDraft(orgId: org, actor: .system, action: "test.append", resourceType: "test",
                                           resourceId: String(index), origin: "test"),
                                orgPath: "/\(org.rawValue)/", at: Date())
                        }
                    }
                }
                try await group.waitForAll()
            }
            let services = AppServices(database: database, bcryptCost: 4)
            let result = try await services.access.verifyAuditChain()
            #expect(result.firstBreak == nil)
            #expect(result.checked == 40)
        }
    }
}
