import Foundation
import SQLKit
import TillyardKit

/// SQL storage of the catalog: the product row, its barcodes and the search terms of its names
/// (both replaced whole on every change, in the caller's transaction).
struct SQLProductRepository: ProductRepository {
    let db: any SQLDatabase
    /// The engine behind `db` (search sizes its name terms differently on each).
    let backend: SQLBackend
    /// Most products a search source may match and still be listed by its own index; a broader
    /// source is walked instead (newest first, stopping after a page). Tests lower it to try both ways.
    var narrowSource = 2_000

    func insert(_ product: Product, orgPath: String, terms: Set<String>) async throws {
        try await insert(batch: [(product: product, terms: terms)], orgPath: orgPath)
    }

    func update(_ product: Product, terms: Set<String>) async throws {
        try await update(batch: [(product: product, terms: terms)])
    }

    /// Rows per multi-row INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
    static let rowsPerInsert = 100

    func insert(batch: [(product: Product, terms: Set<String>)], orgPath: String) async throws {
        try await lockCounts(of: batch.map(\.product))
        for chunk in batch.map(\.product).chunked(Self.rowsPerInsert) {
            try await insertRows(
                "products (id, merchant_id, org_path, sku, name_zh, name_en, category, unit, price, member_price, tax_rate, cost, scale_code, active, created_at, updated_at, version)",
                chunk) { product in
                    "\(bind: product.id.rawValue), \(bind: product.merchantId.rawValue), \(bind: orgPath), \(bind: product.sku), \(bind: product.nameZh), \(bind: product.nameEn), \(bind: product.category), \(bind: product.unit.rawValue), \(bind: product.price), \(bind: product.memberPrice), \(bind: product.taxRate), \(bind: product.cost), \(bind: product.scaleCode), \(bind: product.active ? 1 : 0), \(bind: product.createdAt.millis), \(bind: product.updatedAt.millis), \(bind: product.version)"
                }
        }
        let indexed: [(product: Product, terms: Set<String>?)] = batch.map { (product: $0.product, terms: $0.terms) }
        try await insertIndexes(indexed)
        try await count(TermCounts(adding: indexed))
    }

    func update(batch: [(product: Product, terms: Set<String>?)]) async throws {
        guard !batch.isEmpty else { return }
        try await lockCounts(of: batch.map(\.product))
        let ids = batch.map { $0.product.id.rawValue }
        // Release every code of the batch first, so codes can move between its products (the unique
        // indexes hold at every statement, not only at commit).
        for chunk in ids.chunked(500) {
            try await db.raw("UPDATE products SET scale_code = NULL WHERE id IN (\(binds: chunk)) AND scale_code IS NOT NULL").run()
            try await db.raw("DELETE FROM product_barcodes WHERE product_id IN (\(binds: chunk))").run()
        }
        let renamed = batch.filter { $0.terms != nil }.map { $0.product.id.rawValue }
        // The renamed products' old terms leave the counts, their new ones join them.
        var counts = TermCounts(adding: batch)
        for chunk in renamed.chunked(500) {
            for row in try await db.raw("""
                SELECT merchant_id, term, COUNT(*) AS n FROM product_terms WHERE product_id IN (\(binds: chunk)) GROUP BY merchant_id, term
                """).all() {
                counts.add(-(try row.decode(column: "n", as: Int.self)), merchant: try row.decode(column: "merchant_id", as: String.self),
                           term: try row.decode(column: "term", as: String.self))
            }
            try await db.raw("DELETE FROM product_terms WHERE product_id IN (\(binds: chunk))").run()
        }
        // One statement per 100 products: the new values as a VALUES list, joined by id and the
        // version read (SQLite ≥ 3.33 and PostgreSQL both take UPDATE … FROM). The casts give
        // PostgreSQL the column types a list of bound values (some all NULL) does not carry.
        for chunk in batch.map(\.product).chunked(Self.rowsPerInsert) {
            var update: SQLQueryString = """
                WITH v(v_id, v_version, v_sku, v_name_zh, v_name_en, v_category, v_unit, v_price, v_member_price, v_tax_rate, v_cost,
                       v_scale_code, v_active, v_updated_at) AS (VALUES 
                """
            for (index, product) in chunk.enumerated() {
                update += index == 0 ? "(" : ", ("
                update += """
                    \(bind: product.id.rawValue), \(bind: product.version), \(bind: product.sku), \(bind: product.nameZh), \(bind: product.nameEn), \(bind: product.category), \(bind: product.unit.rawValue), \(bind: product.price), \(bind: product.memberPrice), \(bind: product.taxRate), \(bind: product.cost), \(bind: product.scaleCode), \(bind: product.active ? 1 : 0), \(bind: product.updatedAt.millis)
                    """
                update += ")"
            }
            update += """
                )
                UPDATE products SET sku = CAST(v_sku AS TEXT), name_zh = CAST(v_name_zh AS TEXT), name_en = CAST(v_name_en AS TEXT),
                       category = CAST(v_category AS TEXT), unit = CAST(v_unit AS TEXT), price = CAST(v_price AS BIGINT),
                       member_price = CAST(v_member_price AS BIGINT), tax_rate = CAST(v_tax_rate AS BIGINT), cost = CAST(v_cost AS BIGINT),
                       scale_code = CAST(v_scale_code AS TEXT), active = CAST(v_active AS BIGINT),
                       updated_at = CAST(v_updated_at AS BIGINT), version = CAST(v_version AS BIGINT)
                FROM v WHERE id = v_id AND version = CAST(v_version AS BIGINT) - 1
                RETURNING id
                """
            let changed = Set(try await db.raw(update).all().map { try $0.decode(column: "id", as: String.self) })
            if let stale = chunk.first(where: { !changed.contains($0.id.rawValue) }) {
                throw DomainError.conflict("product \(stale.sku) was changed by someone else; reload it")
            }
        }
        try await insertIndexes(batch)
        try await count(counts)
    }

    /// Changes to `product_term_counts` (how many products of a merchant hold a term), by merchant and term.
    private struct TermCounts {
        /// A merchant's term, the key of a count.
        struct Key: Hashable, Comparable {
            var merchant: String
            var term: String
            static func < (a: Key, b: Key) -> Bool { (a.merchant, a.term) < (b.merchant, b.term) }
        }

        private(set) var changes: [Key: Int] = [:]

        /// One for each term given with a product (its terms are a set); none for a product given without.
        init(adding batch: [(product: Product, terms: Set<String>?)]) {
            for entry in batch {
                for term in entry.terms ?? [] { add(1, merchant: entry.product.merchantId.rawValue, term: term) }
            }
        }

        mutating func add(_ change: Int, merchant: String, term: String) {
            changes[Key(merchant: merchant, term: term), default: 0] += change
        }
    }

    /// Serialises the catalog writers of the products' merchants until the caller's transaction ends
    /// (PostgreSQL; SQLite has one writer). An import adds to most of its merchant's term counts, and two
    /// writers adding to them in different orders (an import's updated products, then its new ones)
    /// could otherwise deadlock.
    private func lockCounts(of products: [Product]) async throws {
        for merchant in Set(products.map(\.merchantId.rawValue)).sorted() {
            try await Dialect.lock(db, backend: backend, space: Self.termCountsLockSpace, name: merchant)
        }
    }

    /// Applies counted changes in the caller's transaction, in key order.
    private func count(_ counts: TermCounts) async throws {
        let rows = counts.changes.filter { $0.value != 0 }.sorted { $0.key < $1.key }
        for chunk in rows.chunked(Self.rowsPerInsert * 5) {
            var upsert: SQLQueryString = "INSERT INTO product_term_counts (merchant_id, term, n) VALUES "
            for (index, row) in chunk.enumerated() {
                upsert += (index == 0 ? "(" : ", (") + "\(bind: row.key.merchant), \(bind: row.key.term), \(bind: row.value))"
            }
            upsert += " ON CONFLICT (merchant_id, term) DO UPDATE SET n = product_term_counts.n + excluded.n"
            try await db.raw(upsert).run()
        }
    }

    /// How many times longer than the rarest term's postings the second rarest's may be and still be
    /// merged with them on PostgreSQL (reading a posting in order costs about 1/25 of a probe there).
    static let mergedRatio = 24

    /// The PostgreSQL advisory lock space of term counts (the names locked in it are merchant ids).
    static let termCountsLockSpace: Int32 = 0x5443_4e54

    /// Counts every merchant's terms again from `product_terms`: the step of the migration that added the
    /// counts, and the end of a bulk load that wrote terms directly (the benchmark's loader).
    func recountTerms() async throws {
        try await db.raw("DELETE FROM product_term_counts").run()
        try await db.raw("""
            INSERT INTO product_term_counts (merchant_id, term, n)
            SELECT merchant_id, term, COUNT(*) FROM product_terms GROUP BY merchant_id, term
            """).run()
    }

    /// Barcodes and name terms (where given) of freshly inserted (or just released) products, many rows a statement.
    private func insertIndexes(_ batch: [(product: Product, terms: Set<String>?)]) async throws {
        let codes = batch.flatMap { entry in entry.product.barcodes.map { (entry.product, $0) } }
        for chunk in codes.chunked(Self.rowsPerInsert * 5) {
            try await insertRows("product_barcodes (merchant_id, code, product_id)", chunk) { row in
                "\(bind: row.0.merchantId.rawValue), \(bind: row.1), \(bind: row.0.id.rawValue)"
            }
        }
        try await insertTerms(batch.compactMap { entry in
            entry.terms.map { (merchantId: entry.product.merchantId.rawValue, productId: entry.product.id.rawValue, terms: $0) }
        })
    }

    /// Name terms of products, many rows a statement (a product has a few dozen).
    private func insertTerms(_ batch: [(merchantId: String, productId: String, terms: Set<String>)]) async throws {
        let rows = batch.flatMap { entry in entry.terms.sorted().map { (entry, $0) } }
        for chunk in rows.chunked(Self.rowsPerInsert * 5) {
            try await insertRows("product_terms (merchant_id, term, product_id)", chunk) { row in
                "\(bind: row.0.merchantId), \(bind: row.1), \(bind: row.0.productId)"
            }
        }
    }

    /// Writes the name terms of every product again from its names (`CatalogRules.terms`) into an
    /// emptied `product_terms`: the step of the migration that changed how names are indexed. Reads
    /// the catalog `batch` products at a time along the primary key, so memory stays flat.
    func rebuildTerms(batch: Int = 1_000) async throws {
        var after = ""
        while true {
            let rows = try await db.raw("""
                SELECT id, merchant_id, name_zh, name_en FROM products WHERE id > \(bind: after) ORDER BY id LIMIT \(bind: batch)
                """).all()
            guard let last = rows.last else { return }
            try await insertTerms(rows.map { row in
                (merchantId: try row.decode(column: "merchant_id", as: String.self), productId: try row.decode(column: "id", as: String.self),
                 terms: CatalogRules.terms([try row.decode(column: "name_zh", as: String.self)]
                                           + [try row.decode(column: "name_en", as: String?.self)].compactMap { $0 }))
            })
            after = try last.decode(column: "id", as: String.self)
        }
    }

    /// One `INSERT INTO <table> VALUES (…), (…)` of the given rows.
    private func insertRows<Row>(_ table: String, _ rows: [Row], values: (Row) -> SQLQueryString) async throws {
        guard !rows.isEmpty else { return }
        var insert: SQLQueryString = "INSERT INTO \(unsafeRaw: table) VALUES "
        for (index, row) in rows.enumerated() {
            insert += index == 0 ? "(" : ", ("
            insert += values(row)
            insert += ")"
        }
        try await db.raw(insert).run()
    }

    func find(merchant: OrgID, skus: [String]) async throws -> [Product] {
        var found: [Product] = []
        for chunk in Array(Set(skus)).chunked(500) {
            found += try await products(db.raw("SELECT " + columns + " FROM products p WHERE p.merchant_id = \(bind: merchant.rawValue) AND p.sku IN (\(binds: chunk))").all())
        }
        return found
    }

    func barcodeOwners(merchant: OrgID, codes: [String]) async throws -> [ProductCode] {
        try await owners(codes) { chunk in """
            SELECT b.code AS code, p.id AS id, p.sku AS sku FROM product_barcodes b JOIN products p ON p.id = b.product_id
            WHERE b.merchant_id = \(bind: merchant.rawValue) AND b.code IN (\(binds: chunk))
            """
        }
    }

    func scaleCodeOwners(merchant: OrgID, codes: [String]) async throws -> [ProductCode] {
        try await owners(codes) { chunk in
            "SELECT scale_code AS code, id, sku FROM products WHERE merchant_id = \(bind: merchant.rawValue) AND scale_code IN (\(binds: chunk))"
        }
    }

    private func owners(_ codes: [String], query: ([String]) -> SQLQueryString) async throws -> [ProductCode] {
        var found: [ProductCode] = []
        for chunk in codes.chunked(500) {
            for row in try await db.raw(query(chunk)).all() {
                found.append(ProductCode(code: try row.decode(column: "code", as: String.self),
                                         productId: ProductID(rawValue: try row.decode(column: "id", as: String.self)),
                                         sku: try row.decode(column: "sku", as: String.self)))
            }
        }
        return found
    }

    func find(_ id: ProductID) async throws -> Product? {
        try await one("SELECT " + columns + " FROM products p WHERE p.id = \(bind: id.rawValue)")
    }

    func find(ids: [ProductID]) async throws -> [Product] {
        guard !ids.isEmpty else { return [] }
        let unique = Array(Set(ids.map(\.rawValue)))
        return try await products(db.raw("SELECT " + columns + " FROM products p WHERE p.id IN (\(binds: unique))").all())
    }

    func find(merchant: OrgID, sku: String) async throws -> Product? {
        try await one("SELECT " + columns + " FROM products p WHERE p.merchant_id = \(bind: merchant.rawValue) AND p.sku = \(bind: sku)")
    }

    func find(merchant: OrgID, barcode: String) async throws -> Product? {
        try await one("SELECT " + columns + """
             FROM product_barcodes b JOIN products p ON p.id = b.product_id
            WHERE b.merchant_id = \(bind: merchant.rawValue) AND b.code = \(bind: barcode)
            """)
    }

    func find(merchant: OrgID, scaleCode: String) async throws -> Product? {
        try await one("SELECT " + columns + " FROM products p WHERE p.merchant_id = \(bind: merchant.rawValue) AND p.scale_code = \(bind: scaleCode)")
    }


    /// A search is the union of three sources, each answered by its own index: the barcode (exact),
    /// the SKU prefix (a range of `products_sku`) and the name (products holding every term of the
    /// query, `product_terms`: each typed word as a word prefix, the pairs of Chinese text). One query
    /// OR-ing them would use no index and read the whole catalog whenever few products match (a
    /// barcode, an exact SKU, a rare name). Each source is first sized (the SKU prefix along its index up
    /// to `narrowSource`, name terms by their stored counts): a narrow one is listed, and the page is then picked from
    /// the listed ids; a broad one is walked newest first in its own index order (a SKU prefix of a
    /// whole category along the catalog; a common name along the postings of its rarest term), each
    /// walk stopping after a page. A name's candidates are the postings of its rarest term, or those its two
    /// rarest terms share when both are short, each checked for the remaining terms rarest first.
    func search(merchant: OrgID, filter: ProductFilter, page: PageRequest) async throws -> Page<Product> {
        guard let text = filter.query?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            return try await pageOf(filter: filter, page: page, listed: [],
                                    walks: [Walk(query: "SELECT " + columns + " FROM products p WHERE p.merchant_id = \(bind: merchant.rawValue)", key: "p.id")])
        }
        let merchantId = merchant.rawValue
        let code = text.uppercased()
        // Narrow sources are id subqueries (the engine reads them through their indexes and drives the
        // page from the ids); broad ones are walks.
        var listed: [SQLQueryString] = ["SELECT product_id AS id FROM product_barcodes WHERE merchant_id = \(bind: merchantId) AND code = \(bind: code)"]
        var walks: [Walk] = []
        // `sku` is byte-ordered on both engines ({PATH} type), so a prefix is an index range.
        let prefix = Subtree.prefixRange(code)
        let skus: SQLQueryString = "FROM products WHERE merchant_id = \(bind: merchantId) AND sku >= \(bind: prefix.lower) AND sku < \(bind: prefix.upper)"
        // Longest first: a long word is usually the rarer one ("kangshifu" before "bee").
        let terms = CatalogRules.queryTerms(text).sorted { ($0.count, $1) > ($1.count, $0) }
        // One statement sizes every source: the SKU prefix counted along its index up to `narrowSource` + 1,
        // each name term by its stored count (`product_term_counts`, kept by every catalog write). Counting
        // postings instead read ~16,000 of them for a brand + item at 1,000,000 products (about 4 ms on
        // PostgreSQL), and against a server each statement is a round trip.
        var sizing: SQLQueryString = "SELECT (SELECT COUNT(*) FROM (SELECT 1 " + skus + " LIMIT \(bind: narrowSource + 1)) AS probe) AS skus"
        for (index, term) in terms.enumerated() {
            sizing += ", (SELECT n FROM product_term_counts WHERE merchant_id = \(bind: merchantId) AND term = \(bind: term)) AS n\(unsafeRaw: String(index))"
        }
        let sized = try await db.raw(sizing).first()
        if try sized?.decode(column: "skus", as: Int.self) ?? 0 <= narrowSource {
            listed.append("SELECT id " + skus)
        } else {
            // Many match: along the catalog newest first (`|| ''` keeps the engine off the SKU index, which
            // would return the whole range to be sorted).
            walks.append(Walk(query: "SELECT " + columns + """
                 FROM products p WHERE p.merchant_id = \(bind: merchantId)
                AND (p.sku || '') >= \(bind: prefix.lower) AND (p.sku || '') < \(bind: prefix.upper)
                """, key: "p.id"))
        }
        let sizes = try terms.enumerated().map { index, term in
            (term: term, size: try sized?.decode(column: "n\(index)", as: Int?.self) ?? 0)
        }
        // Rarest first (a stable sort: equal sizes keep the longest-first order).
        let byRarity = sizes.enumerated().sorted { ($0.element.size, $0.offset) < ($1.element.size, $1.offset) }.map(\.element)
        if let rarest = byRarity.first, rarest.size > 0 {
            // `r.product_id` runs over the candidates: the rarest term's postings, or, when the second rarest
            // is not much longer, the postings both terms share. Walking the rarest term's postings and probing
            // the index once per posting for another term costs far more than reading a posting in order (about
            // 6 times on SQLite, 25 times on PostgreSQL: 5 µs against 0.2 at 1,000,000 products), so two lists of
            // similar length are merged instead: "康师傅牛肉面" probed the ~1,700 postings of "傅牛" (every 师傅
            // brand's beef noodles) where merging them with the 2,500 of "康师" leaves the ~80 products of the
            // brand's item.
            // - SQLite merges an INTERSECT in index order only when it keeps the ORDER BY, which it drops from a
            //   subquery without a LIMIT: the LIMIT is there for that and never cuts (no intersection is longer
            //   than a posting list). Only a second rarest of at most twice `narrowSource` (in a brand + item
            //   the brand's own pair is usually just above `narrowSource`: ~2,500 at 1,000,000 products) and 4
            //   times the rarest is merged: a longer one costs more to read than the probes it saves.
            // - PostgreSQL is given a join of the two lists and merges them along the index itself, newest first,
            //   stopping with the page when walked: a second rarest up to `mergedRatio` times the rarest reads
            //   faster than probing. `OFFSET 0` keeps the join a subquery: flattened, the checks of the other
            //   terms were pushed below it and probed every posting of the rarest (48 ms for a brand + item
            //   instead of 2.4). For an English brand and item prefix ("haili lau": 2,476 and 32,761
            //   postings) that took a median 5.1 ms instead of 7.6 over 40 such searches, and at most 8 ms
            //   instead of 19.5 (the brands whose item matched few products, so all postings were probed).
            let inProcess = Dialect.runsInProcess(backend)
            var candidates: SQLQueryString = "product_terms r"
            var conditions: [SQLQueryString] = ["r.merchant_id = \(bind: merchantId) AND r.term = \(bind: rarest.term)"]
            var probed = byRarity.dropFirst()
            if let second = probed.first,
               inProcess ? second.size <= narrowSource * 2 && second.size <= rarest.size * 4 : second.size <= rarest.size * Self.mergedRatio {
                probed = probed.dropFirst()
                if inProcess {
                    candidates = """
                        (SELECT product_id FROM product_terms WHERE merchant_id = \(bind: merchantId) AND term = \(bind: rarest.term) \
                        INTERSECT SELECT product_id FROM product_terms WHERE merchant_id = \(bind: merchantId) AND term = \(bind: second.term) \
                        ORDER BY 1 DESC LIMIT \(bind: Int(Int32.max))) r
                        """
                } else {
                    candidates = """
                        (SELECT r.product_id FROM product_terms r JOIN product_terms s ON s.merchant_id = \(bind: merchantId) \
                        AND s.term = \(bind: second.term) AND s.product_id = r.product_id \
                        WHERE r.merchant_id = \(bind: merchantId) AND r.term = \(bind: rarest.term)
                        """
                    // The page's cursor inside too: nothing is pushed into an `OFFSET 0` subquery, so a later page
                    // would merge from the newest posting again.
                    if let after = page.afterKey { candidates += " AND r.product_id < \(bind: after)" }
                    candidates += " ORDER BY r.product_id DESC OFFSET 0) r"
                }
                conditions = []
            }
            // Each candidate checked for the other terms, rarest first, by one probe of the index each (the
            // first that fails ends the checks). `LIMIT 1 OFFSET 0` keeps PostgreSQL from turning the check
            // into a join: it merged the postings of both terms (all 66,566 of "bee" read to check 718 of
            // "kangshifu") and started a parallel worker for it, 12–22 ms instead of 0.4–8 ms at 1,000,000
            // products. SQLite probes either way.
            for term in probed {
                conditions.append("""
                    EXISTS (SELECT 1 FROM product_terms t WHERE t.merchant_id = \(bind: merchantId) AND t.term = \(bind: term.term) \
                    AND t.product_id = r.product_id LIMIT 1 OFFSET 0)
                    """)
            }
            var matching: SQLQueryString = "TRUE"
            for (index, condition) in conditions.enumerated() { matching = index == 0 ? condition : matching + " AND " + condition }
            if rarest.size <= narrowSource {
                listed.append("SELECT r.product_id AS id FROM " + candidates + " WHERE " + matching)
            } else {
                // Every term is common: along the candidates newest first.
                walks.append(Walk(query: "SELECT " + columns + " FROM " + candidates + " JOIN products p ON p.id = r.product_id WHERE " + matching,
                                  key: "r.product_id"))
            }
        }
        return try await pageOf(filter: filter, page: page, listed: listed, walks: walks)
    }

    /// A walk over one broad source: products newest first along `key`, the column of the index walked.
    private struct Walk {
        var query: SQLQueryString
        var key: String
    }

    /// One page, newest first, from the listed ids (the products found by the id subqueries, by primary
    /// key) and each walk: every one gives at most a page, and the union is cut to one.
    ///
    /// The listed ids (each source at most `narrowSource` of them) are read first and the page picked from
    /// them here, newest first; then only the products of that page are read by primary key. Asked in
    /// one query (`p.id IN (ids) ORDER BY p.id DESC LIMIT n`), PostgreSQL costed the ids as spread evenly
    /// over the catalog and walked the whole primary key backwards until it met them: about 1 s at
    /// 1,000,000 products when the match was an old product.
    private func pageOf(filter: ProductFilter, page: PageRequest, listed: [SQLQueryString], walks: [Walk]) async throws -> Page<Product> {
        func narrowed(_ query: SQLQueryString, key: String) -> SQLQueryString {
            var query = query
            if let category = filter.category { query += " AND p.category = \(bind: category)" }
            if filter.activeOnly { query += " AND p.active = 1" }
            if let after = page.afterKey { query += " AND \(unsafeRaw: key) < \(bind: after)" }
            return query + " ORDER BY \(unsafeRaw: key) DESC LIMIT \(bind: page.limit + 1)"
        }
        var rows: [any SQLRow] = []
        if !listed.isEmpty {
            var union: SQLQueryString = ""
            for (index, ids) in listed.enumerated() { union += index == 0 ? ids : " UNION ALL " + ids }
            let after = page.afterKey
            let ids = Set(try await db.raw(union).all().map { try $0.decode(column: "id", as: String.self) })
                .filter { after == nil || $0 < after! }
                .sorted(by: >)
            // Unfiltered, the first limit + 1 ids are the page; a category or active filter may pass over
            // some, so those read on in larger steps until the page is full.
            let step = filter.category == nil && !filter.activeOnly ? page.limit + 1 : 500
            var found = 0
            for chunk in ids.chunked(step) where found <= page.limit {
                let chunkRows = try await db.raw(narrowed("SELECT " + columns + " FROM products p WHERE p.id IN (\(binds: chunk))", key: "p.id")).all()
                found += chunkRows.count
                rows += chunkRows
            }
        }
        for walk in walks {
            rows += try await db.raw(narrowed(walk.query, key: walk.key)).all()
        }
        var seen: Set<String> = []
        let ordered = try rows.map { (try $0.decode(column: "id", as: String.self), $0) }
            .sorted { $0.0 > $1.0 }
            .filter { seen.insert($0.0).inserted }
            .prefix(page.limit + 1)
        return Page.from(rows: try products(ordered.map(\.1)), limit: page.limit) { $0.id.rawValue }
    }

    private func one(_ query: SQLQueryString) async throws -> Product? {
        try await products(db.raw(query).all()).first
    }

    /// The columns every product read selects (as `p`): the row and its barcodes joined by spaces (codes
    /// are letters, digits and '-'), so a read is one round trip; a search page read its barcodes with a
    /// second query before, and each round trip to a database server costs more than the read.
    private var columns: SQLQueryString {
        """
        p.*, (SELECT \(unsafeRaw: Dialect.joined("pb.code", separator: " ", backend: backend)) \
        FROM product_barcodes pb WHERE pb.product_id = p.id) AS barcode_list
        """
    }

    /// Products from rows selected with `columns`.
    private func products(_ rows: [any SQLRow]) throws -> [Product] {
        try rows.map { row in
            let codes = try row.decode(column: "barcode_list", as: String?.self)?.split(separator: " ").map(String.init) ?? []
            return try Self.decode(row, id: try row.decode(column: "id", as: String.self), barcodes: codes.sorted())
        }
    }

    private static func decode(_ row: any SQLRow, id: String, barcodes: [String]) throws -> Product {
        Product(
            id: ProductID(rawValue: id),
            merchantId: OrgID(rawValue: try row.decode(column: "merchant_id", as: String.self)),
            sku: try row.decode(column: "sku", as: String.self),
            barcodes: barcodes,
            nameZh: try row.decode(column: "name_zh", as: String.self),
            nameEn: try row.decode(column: "name_en", as: String?.self),
            category: try row.decode(column: "category", as: String?.self),
            unit: try row.enumValue("unit", as: SaleUnit.self),
            price: try row.decode(column: "price", as: Int64.self),
            memberPrice: try row.decode(column: "member_price", as: Int64?.self),
            taxRate: try row.decode(column: "tax_rate", as: Int.self),
            cost: try row.decode(column: "cost", as: Int64?.self),
            scaleCode: try row.decode(column: "scale_code", as: String?.self),
            active: try row.decode(column: "active", as: Int.self) != 0,
            createdAt: try row.requiredDate("created_at"),
            updatedAt: try row.requiredDate("updated_at"),
            version: try row.decode(column: "version", as: Int.self))
    }
}

extension Database {
    /// Counts every merchant's product name terms again, after a bulk load that wrote `product_terms`
    /// directly instead of through the catalog (the benchmark's loader): search sizes terms by these counts.
    public func recountProductTerms() async throws {
        let backend = self.backend
        try await transaction { db in try await SQLProductRepository(db: db, backend: backend).recountTerms() }
    }
}

extension Array {
    /// The array in consecutive slices of at most `size` elements (batched statements).
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
