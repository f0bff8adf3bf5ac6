import Foundation

extension SalesService {
    /// A store's stock of the given products (milli-units; products never counted are left out):
    /// one query for a page of the catalog, so the console can show a stock column beside it.
    public func stockLevels(storeId: OrgID, products: [ProductID], by principal: Principal) async throws -> [ProductID: Int64] {
        try principal.require(.salesRead)
        return try await store.read { repos in
            let (storeOrg, _) = try await Self.store(storeId, repos: repos, principal: principal)
            return try await repos.stock.levels(store: storeOrg.id, products: products)
        }
    }
}
