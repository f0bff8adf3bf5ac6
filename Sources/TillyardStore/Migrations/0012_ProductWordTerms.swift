/// Names are found by word prefixes (letters and digits) and character pairs (Chinese) instead of
/// letter pairs everywhere (`CatalogRules.terms`), so the terms of every product are computed
/// again. Version 11 is another change's.
enum Migration0012ProductWordTerms {
    static let migration = Migration(version: 12, name: "product_word_terms", statements: [
        "DELETE FROM product_terms",
    ], step: { db in
        try await SQLProductRepository(db: db, backend: db.dialect.name == "sqlite" ? .sqlite : .postgres).rebuildTerms()
    })
}
