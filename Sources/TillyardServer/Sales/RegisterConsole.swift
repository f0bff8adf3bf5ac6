import Foundation
import Hummingbird
import TillyardKit

/// The browser register (`/console/register`): a cashier's till in the console. The page is a shell;
/// `static/register.js` does the selling through the JSON API with the session's CSRF token, and keeps
/// completed sales in the browser's storage until the server has them (see docs/ARCHITECTURE.md).
struct RegisterConsole {
    let sales: SalesService
    let renderer: ConsoleRenderer

    func register(on router: Router<AppRequestContext>) {
        let renderer = self.renderer
        router.get("static/register.js") { _, _ in ConsoleController.staticFile(renderer.registerScript, type: "text/javascript") }
        router.group("console").get("register", use: page)
    }

    @Sendable func page(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        try principal.require(.salesSell)
        let stores = try await sales.sellingStores(by: principal)
        return renderer.page("register", titleKey: "nav_register", context: context, data: [
            "stores": stores.map { ["id": $0.id.rawValue, "name": $0.name, "code": $0.code, "merchantId": $0.parentId?.rawValue ?? ""] },
            "messages": renderer.messages(prefix: "register_js_", locale: context.locale),
        ])
    }
}
