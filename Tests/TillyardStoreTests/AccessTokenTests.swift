import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// API tokens end to end: issue, resolve, narrow, revoke, expire, and reject forgeries.
@Suite struct AccessTokenTests {
    @Test(arguments: TestBackend.allCases)
    func fixtureTokenResolvesWithTheOwnersRights(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let owner = try env.user("merchantA.owner")
            let plaintext = try #require(env.fixtures.tokens["merchantA.owner"])
            #expect(plaintext.wholeMatch(of: /tyd_[0-9a-f]{12}_[0-9a-f]{48}/) != nil)
            let principal = try #require(try await env.access.principal(bearer: plaintext, origin: "192.0.2.9"))
            #expect(principal.user.id == owner.id)
            #expect(principal.permissions == Role.merchantOwner.permissions)
            guard case .token(let tokenId) = principal.credential else {
                Issue.record("expected a token credential, got \(principal.credential)")
                return
            }
            #expect(principal.actor == AuditActor(kind: .token, id: tokenId.rawValue, name: "merchanta.owner (token)"))
            let stored = try #require(try await env.store.read { try await $0.tokens.find(tokenId) })
            #expect(stored.secretHash != plaintext && !plaintext.contains(stored.secretHash), "only a hash is stored")
            #expect(stored.lastUsedAt == env.clock.clock.now(), "use is recorded")
            // Acting through the token is audited as the token.
            let made = try await env.access.createUser(
                NewUser(orgId: env.fixtures.storeA, username: "via.token", displayName: "T", role: .cashier, password: "Good-pass-123"),
                by: principal)
            let event = try #require(try await env.events("user.create", resourceId: made.id.rawValue).first)
            #expect(event.actor.kind == .token)
            #expect(event.origin == "192.0.2.9")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func scopesNarrowTheTokensPermissions(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let owner = try await env.sessionPrincipal("merchantA.owner")
            let issued = try await env.access.createToken(name: "read-only export", scopes: [.usersRead, .orgsRead], expiresInDays: 30, by: owner)
            #expect(issued.token.scopes == [.usersRead, .orgsRead])
            let principal = try #require(try await env.access.principal(bearer: issued.plaintext, origin: "x"))
            #expect(principal.permissions == [.usersRead, .orgsRead])
            #expect(try await env.access.users(page: PageRequest(), by: principal).items.count == 2)
            await #expect(throws: DomainError.forbidden("your role does not allow users.manage")) {
                _ = try await env.access.createUser(
                    NewUser(orgId: env.fixtures.storeA, username: "nope", displayName: "N", role: .cashier, password: "Good-pass-123"),
                    by: principal)
            }
            await #expect(throws: DomainError.forbidden("your role does not allow tokens.manage")) {
                _ = try await env.access.createToken(name: "child", scopes: [], expiresInDays: nil, by: principal)
            }
            // A token can never hold more than its owner.
            let wider = await #expect(throws: DomainError.self) {
                try await env.access.createToken(name: "wide", scopes: [.auditRead, .usersRead], expiresInDays: nil, by: owner)
            }
            #expect(wider == .invalid("scopes", "you do not hold: audit.read"))
            let badExpiry = await #expect(throws: DomainError.self) {
                try await env.access.createToken(name: "forever", scopes: [], expiresInDays: 0, by: owner)
            }
            #expect(badExpiry?.fieldNames == ["expiresInDays"])

            let created = try #require(try await env.events("token.create", resourceId: issued.token.id.rawValue).first)
            #expect(created.summary == #"{"name":"read-only export","scopes":"orgs.read users.read"}"#)
            #expect(!created.summary.contains(issued.plaintext.suffix(48)))
            try await env.expectChainIntact()
        }
    }

    @Test(arguments: TestBackend.allCases)
    func revokedTokensStopWorking(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let security = try await env.principal("security")
            let issued = try await env.access.createToken(name: "siem", scopes: [.auditRead], expiresInDays: nil, by: security)
            #expect(try await env.access.principal(bearer: issued.plaintext, origin: "x") != nil)
            let revoked = try await env.access.revokeToken(issued.token.id, by: security)
            #expect(revoked.revokedAt == env.clock.clock.now())
            #expect(try await env.access.principal(bearer: issued.plaintext, origin: "x") == nil)
            // Revoking again is harmless and not audited twice.
            _ = try await env.access.revokeToken(issued.token.id, by: security)
            #expect(try await env.events("token.revoke", resourceId: issued.token.id.rawValue).count == 1)
            try await env.expectChainIntact()
        }
    }

    @Test(arguments: TestBackend.allCases)
    func tokensExpire(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let owner = try await env.principal("merchantA.owner")
            let issued = try await env.access.createToken(name: "one day", scopes: [], expiresInDays: 1, by: owner)
            #expect(issued.token.expiresAt == env.clock.clock.now().addingTimeInterval(86_400))
            env.clock.advance(86_400 - 1)
            #expect(try await env.access.principal(bearer: issued.plaintext, origin: "x") != nil)
            env.clock.advance(1)
            #expect(try await env.access.principal(bearer: issued.plaintext, origin: "x") == nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func forgedOrMalformedTokensResolveToNothing(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let plaintext = try #require(env.fixtures.tokens["security"])
            let parts = plaintext.split(separator: "_").map(String.init)
            #expect(parts.count == 3)
            let forgeries = [
                "tyd_\(parts[1])_\(String(repeating: "0", count: 48))",   // right prefix, wrong secret
                "tyd_\(parts[1])_\(parts[2].dropLast())",                 // truncated secret
                "tyd_\(parts[1])_\(parts[2].uppercased())",               // case matters
                "tyd_\(parts[1])_",                                       // no secret
                "tyd_\(String(repeating: "f", count: 12))_\(parts[2])",   // unknown prefix, right secret
                "tyx_\(parts[1])_\(parts[2])",                            // wrong scheme
                "tyd_\(parts[1])", "tyd", "", "Bearer \(plaintext)", "\(plaintext) ",
            ]
            for forged in forgeries {
                #expect(try await env.access.principal(bearer: forged, origin: "x") == nil, "accepted \(forged)")
            }
            #expect(try await env.access.principal(bearer: plaintext, origin: "x") != nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func disabledOwnersTokensStopWorking(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let plaintext = try #require(env.fixtures.tokens["merchantA.owner"])
            let owner = try env.user("merchantA.owner")
            let admin = try await env.principal("regionA.admin")
            // Resolved once first, so the refusal below is not just a fresh reading (tokens are kept briefly).
            #expect(try await env.access.principal(bearer: plaintext, origin: "x") != nil)
            _ = try await env.access.updateUser(owner.id, UserChanges(status: .disabled, expectedVersion: owner.version), by: admin)
            #expect(try await env.access.principal(bearer: plaintext, origin: "x") == nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func tokenListingAndRevocationFollowTheTree(backend: TestBackend) async throws {
        try await AccessHarness.with(backend) { env in
            let security = try await env.principal("security")
            let regionAdmin = try await env.principal("regionA.admin")
            let ownerPlaintext = try #require(env.fixtures.tokens["merchantA.owner"])
            let otherPlaintext = try #require(env.fixtures.tokens["merchantB.owner"])
            // Without users.manage only one's own tokens are listed, even at the root.
            let own = try await env.access.tokens(page: PageRequest(), by: security).items
            #expect(own.map(\.userId) == [security.user.id])
            // A user manager sees every token in their subtree and nothing outside it.
            let inRegion = try await env.access.tokens(page: PageRequest(), by: regionAdmin).items
            #expect(Set(inRegion.map(\.userId)) == [regionAdmin.user.id, try env.user("merchantA.owner").id])

            // Security cannot revoke someone else's token; region A cannot revoke region B's.
            let ownerId = try env.user("merchantA.owner").id
            let ownerToken = try #require(inRegion.first { $0.userId == ownerId })
            await #expect(throws: DomainError.notFound(resource: "api_token", id: ownerToken.id.rawValue)) {
                _ = try await env.access.revokeToken(ownerToken.id, by: security)
            }
            let bToken = try #require(try await env.access.principal(bearer: otherPlaintext, origin: "x"))
            guard case .token(let bTokenId) = bToken.credential else { Issue.record("no token id"); return }
            await #expect(throws: DomainError.notFound(resource: "api_token", id: bTokenId.rawValue)) {
                _ = try await env.access.revokeToken(bTokenId, by: regionAdmin)
            }
            // The manager may revoke their merchant's token.
            _ = try await env.access.revokeToken(ownerToken.id, by: regionAdmin)
            #expect(try await env.access.principal(bearer: ownerPlaintext, origin: "x") == nil)
            #expect(try await env.access.principal(bearer: otherPlaintext, origin: "x") != nil)
            try await env.expectChainIntact()
        }
    }
}
