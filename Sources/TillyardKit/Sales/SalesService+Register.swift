import Foundation

/// Reads the browser register needs before its first sale.
extension SalesService {
    /// Most stores the register's picker lists (a merchant with more names its store in the URL).
    public static let registerStoreLimit = 200

    /// The stores where the caller may sell, in id order: the caller's own store, or the stores of its
    /// subtree (a merchant's owner sells in any of its stores).
    public func sellingStores(by principal: Principal) async throws -> [Organization] {
        try principal.require(.salesSell)
        return try await store.read { repos in
            try await repos.orgs.list(under: principal.orgPath, kind: .store, page: PageRequest(limit: Self.registerStoreLimit)).items
        }
    }
}
