import Foundation
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// Wrong passwords guessed in parallel must each count towards the lock-out.
@Suite struct ConcurrentLockoutTests {
    @Test(arguments: TestBackend.allCases)
    func parallelWrongGuessesStillLockTheAccount(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let services = AppServices(database: database, bcryptCost: 4)
            _ = try await Fixtures.make(services.access)
            let access = services.access
            let outcomes = await withTaskGroup(of: String.self) { group in
                for _ in 0..<AccessRules.maxFailedLogins {
                    group.addTask {
                        do {
                            _ = try await access.login(username: "merchantA.owner", password: "wrong-password-1", origin: "test")
                            return "accepted"
                        } catch DomainError.tooManyRequests {
                            return "locked"
                        } catch {
                            return "refused"
                        }
                    }
                }
                return await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(!outcomes.contains("accepted"))
            #expect(outcomes.filter { $0 == "locked" }.count == 1, "exactly the fifth failure locks: \(outcomes)")
            await #expect(throws: DomainError.tooManyRequests("account locked after too many failed logins; try again later")) {
                _ = try await access.login(username: "merchantA.owner", password: Fixtures.password, origin: "test")
            }
        }
    }
}
