import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// Logins, sessions, lock-out and disabling, against a real database and a movable clock.
@Suite struct AccessLoginTests {
    static let wrong = DomainError.unauthenticated("wrong username or password")

    @Test(arguments: TestBackend.allCases)
    func loginOpensASessionThatResolvesToThePrincipal(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let owner = try env.user("merchantA.owner")
            let now = env.clock.clock.now()
            // Usernames are matched case-insensitively and trimmed, like at creation.
            let login = try await env.access.login(username: "  MerchantA.Owner ", password: Fixtures.password, origin: "203.0.113.7")
            #expect(login.user.id == owner.id)
            #expect(login.cookieSecret.wholeMatch(of: /[0-9a-f]{64}/) != nil)
            #expect(login.session.idHash == Secrets.sha256(login.cookieSecret), "only the hash of the secret is stored")
            #expect(login.session.expiresAt == now.addingTimeInterval(12 * 3600))
            #expect(try await env.store.read { try await $0.sessions.find(idHash: login.session.idHash) } == login.session)

            let principal = try #require(try await env.access.principal(sessionSecret: login.cookieSecret, origin: "203.0.113.7"))
            let merchantA = try #require(try await env.store.read { try await $0.orgs.find(env.fixtures.merchantA) })
            #expect(principal.user.id == owner.id)
            #expect(principal.orgPath == merchantA.path)
            #expect(principal.orgKind == .merchant)
            #expect(principal.permissions == Role.merchantOwner.permissions)
            #expect(principal.credential == .session(idHash: login.session.idHash, csrfToken: login.session.csrfToken))
            #expect(principal.actor == AuditActor(kind: .user, id: owner.id.rawValue, name: owner.username))
            // The stored hash is not a usable cookie, nor is junk.
            #expect(try await env.access.principal(sessionSecret: login.session.idHash, origin: "x") == nil)
            #expect(try await env.access.principal(sessionSecret: "", origin: "x") == nil)

            let logins = try await env.events("session.login", resourceId: owner.id.rawValue, outcome: .success)
            #expect(logins.count == 1)
            #expect(logins.first?.origin == "203.0.113.7")
            #expect(logins.first?.orgPath == merchantA.path)

            try await env.access.logout(principal)
            #expect(try await env.access.principal(sessionSecret: login.cookieSecret, origin: "x") == nil)
            #expect(try await env.events("session.logout", resourceId: owner.id.rawValue).count == 1)
            try await env.expectChainIntact()
        }
    }

    @Test(arguments: TestBackend.allCases)
    func fiveWrongPasswordsLockTheAccountForFifteenMinutes(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let cashier = try env.user("storeA.cashier")
            for attempt in 1...4 {
                await #expect(throws: Self.wrong, "attempt \(attempt)") {
                    try await env.access.login(username: cashier.username, password: "Wrong-pass-\(attempt)", origin: "198.51.100.1")
                }
            }
            #expect(try await env.stored(cashier.id).failedLogins == 4)
            let fifth = await #expect(throws: DomainError.self) {
                try await env.access.login(username: cashier.username, password: "Wrong-pass-5", origin: "198.51.100.1")
            }
            #expect(fifth?.isTooManyRequests == true)
            let lockedAt = env.clock.clock.now()
            #expect(try await env.stored(cashier.id).lockedUntil == lockedAt.addingTimeInterval(15 * 60))

            // The right password is refused while locked, even near the end of the lock.
            let refused = await #expect(throws: DomainError.self) {
                try await env.access.login(username: cashier.username, password: Fixtures.password, origin: "198.51.100.1")
            }
            #expect(refused?.isTooManyRequests == true)
            env.clock.advance(15 * 60 - 1)
            let stillRefused = await #expect(throws: DomainError.self) {
                try await env.access.login(username: cashier.username, password: Fixtures.password, origin: "198.51.100.1")
            }
            #expect(stillRefused?.isTooManyRequests == true)

            env.clock.advance(2)   // 15 min + 1 s after the lock
            let login = try await env.access.login(username: cashier.username, password: Fixtures.password, origin: "198.51.100.1")
            #expect(login.user.id == cashier.id)
            let after = try await env.stored(cashier.id)
            #expect(after.failedLogins == 0)
            #expect(after.lockedUntil == nil)

            let failures = try await env.events("session.login", resourceId: cashier.id.rawValue, outcome: .failure)
            #expect(failures.count == 5)
            #expect(failures.first?.summary == #"{"reason":"wrong password; locked"}"#)
            let denied = try await env.events("session.login", resourceId: cashier.id.rawValue, outcome: .denied)
            #expect(denied.count == 2)
            #expect(denied.allSatisfy { $0.summary == #"{"reason":"locked"}"# })
            #expect(try await env.events("session.login", resourceId: cashier.id.rawValue, outcome: .success).count == 1)
            try await env.expectChainIntact()
        }
    }

    @Test(arguments: TestBackend.allCases)
    func aSuccessfulLoginResetsTheFailureCount(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let cashier = try env.user("storeA.cashier")
            for _ in 1...4 {
                await #expect(throws: Self.wrong) { try await env.access.login(username: cashier.username, password: "nope", origin: "x") }
            }
            _ = try await env.access.login(username: cashier.username, password: Fixtures.password, origin: "x")
            for _ in 1...4 {
                await #expect(throws: Self.wrong) { try await env.access.login(username: cashier.username, password: "nope", origin: "x") }
            }
            #expect(try await env.stored(cashier.id).lockedUntil == nil)
            _ = try await env.access.login(username: cashier.username, password: Fixtures.password, origin: "x")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func unknownUserAndWrongPasswordLookTheSame(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let unknown = await #expect(throws: DomainError.self) {
                try await env.access.login(username: "no.such.user", password: Fixtures.password, origin: "x")
            }
            let wrongPassword = await #expect(throws: DomainError.self) {
                try await env.access.login(username: "merchantA.owner", password: "Not-the-password-1", origin: "x")
            }
            #expect(unknown == Self.wrong)
            #expect(wrongPassword == Self.wrong)
            #expect(unknown == wrongPassword)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func disabledUsersCannotLogInAndTheirSessionsEnd(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let cashier = try env.user("storeA.cashier")
            let login = try await env.access.login(username: cashier.username, password: Fixtures.password, origin: "x")
            #expect(try await env.access.principal(sessionSecret: login.cookieSecret, origin: "x") != nil)

            let owner = try await env.sessionPrincipal("merchantA.owner")
            let disabled = try await env.access.updateUser(cashier.id, UserChanges(status: .disabled, expectedVersion: cashier.version), by: owner)
            #expect(disabled.status == .disabled)
            #expect(disabled.version == cashier.version + 1)

            #expect(try await env.access.principal(sessionSecret: login.cookieSecret, origin: "x") == nil)
            #expect(try await env.store.read { try await $0.sessions.find(idHash: login.session.idHash) } == nil, "session row deleted")
            await #expect(throws: Self.wrong) {
                try await env.access.login(username: cashier.username, password: Fixtures.password, origin: "x")
            }
            let denied = try await env.events("session.login", resourceId: cashier.id.rawValue, outcome: .denied)
            #expect(denied.map(\.summary) == [#"{"reason":"disabled"}"#])
            let update = try #require(try await env.events("user.update", resourceId: cashier.id.rawValue).first)
            #expect(update.summary == #"{"status":"active → disabled"}"#)
            #expect(update.actor.name == "merchanta.owner")

            // Re-enabling lets them back in.
            _ = try await env.access.updateUser(cashier.id, UserChanges(status: .active, expectedVersion: disabled.version), by: owner)
            _ = try await env.access.login(username: cashier.username, password: Fixtures.password, origin: "x")
            try await env.expectChainIntact()
        }
    }

    @Test(arguments: TestBackend.allCases)
    func sessionsExpireAfterTwelveHours(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let login = try await env.access.login(username: "security", password: Fixtures.password, origin: "x")
            env.clock.advance(12 * 3600 - 1)
            #expect(try await env.access.principal(sessionSecret: login.cookieSecret, origin: "x") != nil)
            env.clock.advance(1)
            #expect(try await env.access.principal(sessionSecret: login.cookieSecret, origin: "x") == nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func resetPasswordClearsTheLockOutAndEndsSessions(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let owner = try env.user("merchantA.owner")
            let session = try await env.access.login(username: owner.username, password: Fixtures.password, origin: "x")
            for _ in 1...5 {
                await #expect(throws: DomainError.self) { try await env.access.login(username: owner.username, password: "bad", origin: "x") }
            }
            #expect(try await env.stored(owner.id).lockedUntil != nil)

            let admin = try await env.sessionPrincipal("regionA.admin")
            try await env.access.resetPassword(owner.id, newPassword: "Brand-new-pass-2", by: admin)
            #expect(try await env.access.principal(sessionSecret: session.cookieSecret, origin: "x") == nil)
            let stored = try await env.stored(owner.id)
            #expect(stored.failedLogins == 0 && stored.lockedUntil == nil)
            #expect(stored.version == owner.version + 1)

            // No waiting: the new password works at once, the old one no longer does.
            await #expect(throws: Self.wrong) { try await env.access.login(username: owner.username, password: Fixtures.password, origin: "x") }
            _ = try await env.access.login(username: owner.username, password: "Brand-new-pass-2", origin: "x")

            let reset = try await env.events("user.reset_password", resourceId: owner.id.rawValue)
            #expect(reset.count == 1)
            #expect(reset.first?.actor.name == "regiona.admin")
            #expect(reset.first?.summary.contains("Brand-new") == false, "never a secret in the trail")
            try await env.expectChainIntact()
        }
    }

    @Test(arguments: TestBackend.allCases)
    func resetPasswordFollowsThePolicyAndTheTree(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let admin = try await env.principal("regionA.admin")
            let owner = try env.user("merchantA.owner")
            let weak = await #expect(throws: DomainError.self) { try await env.access.resetPassword(owner.id, newPassword: "short", by: admin) }
            #expect(weak?.fieldNames == ["newPassword"])
            // Region B's owner is invisible to region A's administrator.
            let other = try env.user("merchantB.owner")
            await #expect(throws: DomainError.notFound(resource: "user", id: other.id.rawValue)) {
                _ = try await env.access.resetPassword(other.id, newPassword: "Brand-new-pass-2", by: admin)
            }
            // A merchant owner cannot reset the root administrator's password.
            let root = try env.user("admin")
            await #expect(throws: DomainError.notFound(resource: "user", id: root.id.rawValue)) {
                _ = try await env.access.resetPassword(root.id, newPassword: "Brand-new-pass-2", by: try await env.principal("merchantA.owner"))
            }
            // A cashier may change their own password, but nobody else's.
            let cashier = try await env.principal("storeA.cashier")
            try await env.access.resetPassword(cashier.user.id, newPassword: "Cashier-own-pass-3", by: cashier)
            _ = try await env.access.login(username: cashier.user.username, password: "Cashier-own-pass-3", origin: "x")
            let forbidden = await #expect(throws: DomainError.self) {
                try await env.access.resetPassword(owner.id, newPassword: "Brand-new-pass-2", by: cashier)
            }
            #expect(forbidden?.isForbidden == true)
            #expect(try await env.stored(other.id).passwordHash == other.passwordHash)
            try await env.expectChainIntact()
        }
    }

    /// One's own password, changed through a session or a token, needs the current one, checked like a
    /// login: a stolen session cannot take the account over, and guessing counts towards the lock-out.
    @Test(arguments: TestBackend.allCases)
    func ownPasswordChangeNeedsTheCurrentOne(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let cashier = try await env.sessionPrincipal("storeA.cashier")
            let id = cashier.user.id
            let before = try await env.stored(id)
            let missing = await #expect(throws: DomainError.self) {
                try await env.access.resetPassword(id, newPassword: "Cashier-own-pass-3", by: cashier)
            }
            #expect(missing?.fieldNames == ["currentPassword"])
            let wrong = await #expect(throws: DomainError.self) {
                try await env.access.resetPassword(id, newPassword: "Cashier-own-pass-3", currentPassword: "not-my-password", by: cashier)
            }
            #expect(wrong?.fieldNames == ["currentPassword"])
            let afterWrong = try await env.stored(id)
            #expect(afterWrong.passwordHash == before.passwordHash && afterWrong.failedLogins == 1, "a wrong guess counts like a failed login")
            #expect(try await env.events("user.change_password", resourceId: id.rawValue, outcome: .failure).count == 1)

            try await env.access.resetPassword(id, newPassword: "Cashier-own-pass-3", currentPassword: Fixtures.password, by: cashier)
            _ = try await env.access.login(username: cashier.user.username, password: "Cashier-own-pass-3", origin: "x")
            #expect(try await env.stored(id).failedLogins == 0)

            // An administrator setting someone else's password, and an operator at the server's command line,
            // give none.
            let admin = try await env.sessionPrincipal("regionA.admin")
            try await env.access.resetPassword(id, newPassword: "Cashier-own-pass-4", by: admin)
            let operatorPrincipal = try await env.principal("storeA.cashier")
            try await env.access.resetPassword(id, newPassword: "Cashier-own-pass-5", by: operatorPrincipal)
            _ = try await env.access.login(username: cashier.user.username, password: "Cashier-own-pass-5", origin: "x")
            try await env.expectChainIntact()
        }
    }

}
