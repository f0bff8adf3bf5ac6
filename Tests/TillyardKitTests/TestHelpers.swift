import TillyardKit

extension DomainError {
    /// The field names of a validation error (empty for other cases).
    var fieldNames: [String] {
        if case .validation(let fields) = self { return fields.map(\.field) }
        return []
    }

    /// Whether this is `unprocessable`.
    var isUnprocessable: Bool {
        if case .unprocessable = self { return true }
        return false
    }
}
