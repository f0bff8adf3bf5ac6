/// The register: sales, refunds and open orders (the whole document as JSON, its queried fields as
/// columns), the per-store journal head and counters, register numbering, shifts with running totals,
/// cash movements, Z reports, stock per store, register settings and wallet payments.
enum Migration0008Sales {
    static let migration = Migration(version: 8, name: "sales", statements: [
        """
        CREATE TABLE sales (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            merchant_id TEXT NOT NULL REFERENCES organizations(id),
            store_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            register_id TEXT NOT NULL,
            register_seq BIGINT,
            shift_id TEXT,
            receipt_number BIGINT,
            cashier_id TEXT NOT NULL,
            sold_at BIGINT NOT NULL,
            recorded_at BIGINT NOT NULL,
            total BIGINT NOT NULL,
            original_sale_id TEXT,
            hash TEXT,
            body TEXT NOT NULL,
            version BIGINT NOT NULL
        )
        """,
        // One document per register sequence number and per receipt number: races cannot double them.
        "CREATE UNIQUE INDEX sales_register_seq ON sales(register_id, register_seq)",
        "CREATE UNIQUE INDEX sales_receipt ON sales(store_id, receipt_number)",
        "CREATE INDEX sales_path ON sales(org_path, id)",
        "CREATE INDEX sales_store ON sales(store_id, id)",
        "CREATE INDEX sales_original ON sales(original_sale_id)",
        "CREATE INDEX sales_shift ON sales(shift_id, id)",
        """
        CREATE TABLE store_ledgers (
            store_id TEXT PRIMARY KEY REFERENCES organizations(id),
            receipt_number BIGINT NOT NULL,
            shift_number BIGINT NOT NULL,
            z_number BIGINT NOT NULL,
            hash TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE registers (
            id TEXT PRIMARY KEY,
            store_id TEXT NOT NULL REFERENCES organizations(id),
            last_seq BIGINT NOT NULL,
            received BIGINT NOT NULL,
            last_seen_at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE shifts (
            id TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL REFERENCES organizations(id),
            store_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            register_id TEXT NOT NULL,
            open_register TEXT UNIQUE,
            number BIGINT NOT NULL,
            status TEXT NOT NULL,
            opened_by_id TEXT NOT NULL,
            opened_by TEXT NOT NULL,
            opened_at BIGINT NOT NULL,
            opening_float BIGINT NOT NULL,
            closed_by TEXT,
            closed_at BIGINT,
            z_number BIGINT,
            sale_count BIGINT NOT NULL,
            sale_amount BIGINT NOT NULL,
            refund_count BIGINT NOT NULL,
            refund_amount BIGINT NOT NULL,
            discount BIGINT NOT NULL,
            rounding BIGINT NOT NULL,
            cash_in BIGINT NOT NULL,
            cash_out BIGINT NOT NULL,
            late_sales BIGINT NOT NULL,
            version BIGINT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX shifts_number ON shifts(store_id, number)",
        "CREATE INDEX shifts_path ON shifts(org_path, id)",
        """
        CREATE TABLE shift_tenders (
            shift_id TEXT NOT NULL REFERENCES shifts(id),
            kind TEXT NOT NULL,
            sales_amount BIGINT NOT NULL,
            sales_count BIGINT NOT NULL,
            refund_amount BIGINT NOT NULL,
            refund_count BIGINT NOT NULL,
            PRIMARY KEY (shift_id, kind)
        )
        """,
        """
        CREATE TABLE cash_movements (
            id TEXT PRIMARY KEY,
            shift_id TEXT NOT NULL REFERENCES shifts(id),
            direction TEXT NOT NULL,
            amount BIGINT NOT NULL,
            reason TEXT NOT NULL,
            by_user TEXT NOT NULL,
            at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX cash_movements_shift ON cash_movements(shift_id, id)",
        """
        CREATE TABLE z_reports (
            id TEXT PRIMARY KEY,
            store_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            shift_id TEXT NOT NULL UNIQUE REFERENCES shifts(id),
            z_number BIGINT NOT NULL,
            body TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX z_reports_number ON z_reports(store_id, z_number)",
        "CREATE INDEX z_reports_path ON z_reports(org_path, id)",
        """
        CREATE TABLE stock_levels (
            store_id TEXT NOT NULL REFERENCES organizations(id),
            product_id TEXT NOT NULL REFERENCES products(id),
            quantity BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (store_id, product_id)
        )
        """,
        """
        CREATE TABLE register_settings (
            store_id TEXT PRIMARY KEY REFERENCES organizations(id),
            body TEXT NOT NULL,
            version BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE payments (
            id TEXT PRIMARY KEY,
            reference TEXT NOT NULL UNIQUE,
            sale_id TEXT NOT NULL,
            store_id TEXT NOT NULL REFERENCES organizations(id),
            org_path {PATH} NOT NULL,
            body TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX payments_sale ON payments(sale_id)",
    ])
}
