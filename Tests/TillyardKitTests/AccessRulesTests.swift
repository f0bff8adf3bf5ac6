import Foundation
import Testing
import TillyardKit

/// Input rules shared by the API, console and CLI: usernames, passwords, display text.
@Suite struct AccessRulesTests {
    @Test(arguments: [
        ("alice", "alice"), ("  Alice.Smith  ", "alice.smith"), ("BOB_1", "bob_1"), ("a-b", "a-b"),
        ("abc", "abc"), (String(repeating: "x", count: 64), String(repeating: "x", count: 64)), ("\tCarol\t", "carol"),
    ])
    func usernamesAreTrimmedAndLowercased(raw: String, normalised: String) throws {
        #expect(try AccessRules.username(raw) == normalised)
    }

    @Test(arguments: [
        "", "ab", "  ab  ", String(repeating: "x", count: 65), "a b", "alice@example.com", "ålice", "用户名",
        "alice\n", "alice/admin", "alice;drop", "al'ice", "a+b",
    ])
    func badUsernamesAreRefused(raw: String) {
        let error = #expect(throws: DomainError.self) { try AccessRules.username(raw) }
        #expect(error?.fieldNames == ["username"])
    }

    @Test(arguments: ["abcdefghi1", "correct horse battery", "Pässwörter!", "Fixture-pass-1", String(repeating: "a1", count: 64)])
    func goodPasswordsPass(password: String) {
        #expect(throws: Never.self) { try AccessRules.password(password) }
    }

    @Test(arguments: [
        "", "short1", "abcdefgh1", "abcdefghij", "ABCDEFGHIJKLMN", "1234567890", "!@#$%^&*()_+",
        String(repeating: "a1", count: 64) + "b",
    ])
    func weakPasswordsAreRefused(password: String) {
        let error = #expect(throws: DomainError.self) { try AccessRules.password(password) }
        #expect(error?.fieldNames == ["password"])
    }

    @Test func passwordErrorsNameTheGivenField() {
        let error = #expect(throws: DomainError.self) { try AccessRules.password("short", field: "newPassword") }
        #expect(error?.fieldNames == ["newPassword"])
    }

    @Test func policyConstants() {
        #expect(AccessRules.maxFailedLogins == 5)
        #expect(AccessRules.lockout == 15 * 60)
        #expect(AccessRules.minPasswordLength == 10)
    }

    @Test func textIsTrimmedRequiredAndBounded() throws {
        #expect(try AccessRules.text("  Shop 1 \n", field: "name") == "Shop 1")
        #expect(try AccessRules.text(String(repeating: "x", count: 200), field: "name").count == 200)
        #expect(throws: DomainError.invalid("name", "is required")) { try AccessRules.text(" \n\t ", field: "name") }
        #expect(throws: DomainError.invalid("code", "must be at most 32 characters")) {
            try AccessRules.text(String(repeating: "x", count: 33), field: "code", max: 32)
        }
    }

    @Test func generatedPasswordsMeetThePolicy() throws {
        for _ in 0..<200 {
            let password = Secrets.generatedPassword()
            #expect(password.count == 16)
            try AccessRules.password(password)
            #expect(password.contains { $0.isNumber })
        }
    }
}

/// Hashing and comparison helpers behind sessions and tokens.
@Suite struct SecretsTests {
    @Test func sha256MatchesTheStandardVector() {
        #expect(Secrets.sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func randomHexHasTheRequestedLengthAndDiffers() {
        let first = Secrets.randomHex(bytes: 32)
        #expect(first.wholeMatch(of: /[0-9a-f]{64}/) != nil)
        #expect(first != Secrets.randomHex(bytes: 32))
        #expect(Secrets.randomHex(bytes: 0).isEmpty)
    }

    @Test func constantTimeEquals() {
        #expect(Secrets.constantTimeEquals("abc", "abc"))
        #expect(!Secrets.constantTimeEquals("abc", "abd"))
        #expect(!Secrets.constantTimeEquals("abc", "abcd"))
        #expect(Secrets.constantTimeEquals("", ""))
    }

    @Test func tokenUsability() {
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        let token = APIToken(id: TokenID(rawValue: "t"), orgId: OrgID(rawValue: "o"), userId: UserID(rawValue: "u"), name: "n",
                             prefix: "p", secretHash: "h", scopes: [], createdAt: now, expiresAt: now.addingTimeInterval(60))
        #expect(token.isUsable(at: now))
        #expect(!token.isUsable(at: now.addingTimeInterval(60)), "expired at the expiry instant")
        var revoked = token
        revoked.revokedAt = now
        #expect(!revoked.isUsable(at: now))
        var forever = token
        forever.expiresAt = nil
        #expect(forever.isUsable(at: now.addingTimeInterval(1e9)))
    }
}
