import Foundation
import Hummingbird
import TillyardKit

/// Forms that carry the `_csrf` field.
protocol CSRFCarrying { var _csrf: String { get } }

/// What every console form handler needs: decoding with CSRF and card-data checks, `<option>`
/// lists, and the HTTP status for a refused form.
struct ConsoleForms {
    let access: AccessService
    let renderer: ConsoleRenderer

    /// Decodes a form, checks its CSRF token against the session's and refuses card data in any
    /// field (except the named ones, which the handler masks at once, like a settlement account).
    func decode<T: Decodable & CSRFCarrying>(_ type: T.Type, _ request: Request, _ context: AppRequestContext,
                                             allowing: Set<String> = []) async throws -> T {
        let form: T
        do {
            form = try await URLEncodedFormDecoder().decode(T.self, from: request, context: context)
        } catch let error as DecodingError {
            throw DomainError.validation([JSONIO.fieldError(error)])
        }
        if let principal = context.principal, case .session(_, let csrf) = principal.credential,
           !Secrets.constantTimeEquals(csrf, form._csrf) {
            throw DomainError.forbidden("the form expired or did not come from this console; reload the page and try again")
        }
        // Forms get the same card-data guard as JSON bodies: no full PAN, CVV or track data is ever stored.
        var fields: [String: Any] = [:]
        for child in Mirror(reflecting: form).children {
            if let label = child.label { fields[label] = child.value }
        }
        try CardDataGuard.check(fields, allowing: allowing)
        return form
    }

    /// `<option>` entries for the organisations the caller can see (the first 200, newest first),
    /// filtered, with the previously chosen one selected.
    func orgOptions(_ principal: Principal, selected: String?,
                    where include: (Organization) -> Bool) async throws -> [[String: Any]] {
        let orgs = try await access.organizations(kind: nil, page: PageRequest(limit: PageRequest.maxLimit), by: principal)
        return orgs.items.filter(include).map { ["id": $0.id.rawValue, "name": $0.name, "selected": selected == $0.id.rawValue] }
    }

    /// `<option>` entries for an enumeration, labelled from the catalog (`prefix_rawValue`).
    func options<E: RawRepresentable>(_ values: [E], prefix: String, selected: String?, locale: String) -> [[String: Any]]
    where E.RawValue == String {
        values.map { ["value": $0.rawValue, "label": renderer.text("\(prefix)_\($0.rawValue)", locale: locale), "selected": selected == $0.rawValue] }
    }

    /// The status of a page re-rendered with a form error.
    static func status(_ error: DomainError) -> HTTPResponse.Status {
        .init(code: Problem.from(error, instance: nil).status)
    }
}
