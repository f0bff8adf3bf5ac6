/// How many products of a merchant hold each name term, kept by every catalog write in the same
/// transaction. A search picks the rarest terms of its query from these counts instead of counting
/// postings: at 1,000,000 products on PostgreSQL counting read ~16,000 postings for a brand + item
/// ("康师傅牛肉面"), about 4 ms of its time (bench/README.md).
enum Migration0022ProductTermCounts {
    static let migration = Migration(version: 22, name: "product_term_counts", statements: [
        """
        CREATE TABLE product_term_counts (
            merchant_id TEXT NOT NULL REFERENCES organizations(id),
            term TEXT NOT NULL,
            n BIGINT NOT NULL,
            PRIMARY KEY (merchant_id, term)
        )
        """,
    ], step: { db in
        try await SQLProductRepository(db: db, backend: db.dialect.name == "sqlite" ? .sqlite : .postgres).recountTerms()
    })
}
