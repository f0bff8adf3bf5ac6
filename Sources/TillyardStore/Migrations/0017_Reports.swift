import SQLKit
import TillyardKit

/// Report rollups kept by the writes they summarise: the daily sales rollup per (dimension, store
/// path, business day, key) from completed sales and refunds, terminal transactions per (owner path,
/// business day), and per merchant in aligned blocks of 1, 2, 4 … 64 days. The step fills them
/// from the history already stored (the same code as `tillyard reports rebuild`).
enum Migration0017Reports {
    static let migration = Migration(version: 17, name: "reports", statements: [
        """
        CREATE TABLE report_sales_daily (
            dimension TEXT NOT NULL,
            org_path {PATH} NOT NULL,
            day BIGINT NOT NULL,
            key TEXT NOT NULL,
            store_id TEXT NOT NULL REFERENCES organizations(id),
            merchant_id TEXT NOT NULL REFERENCES organizations(id),
            label TEXT NOT NULL,
            sales BIGINT NOT NULL,
            amount BIGINT NOT NULL,
            refunds BIGINT NOT NULL,
            refund_amount BIGINT NOT NULL,
            quantity BIGINT NOT NULL,
            refund_quantity BIGINT NOT NULL,
            discount BIGINT NOT NULL,
            cost BIGINT NOT NULL,
            costed_amount BIGINT NOT NULL,
            PRIMARY KEY (dimension, org_path, day, key)
        )
        """,
        """
        CREATE TABLE report_transactions_daily (
            org_path {PATH} NOT NULL,
            day BIGINT NOT NULL,
            count BIGINT NOT NULL,
            approved BIGINT NOT NULL,
            amount BIGINT NOT NULL,
            refund_amount BIGINT NOT NULL,
            PRIMARY KEY (org_path, day)
        )
        """,
        """
        CREATE TABLE report_transaction_merchants (
            span INTEGER NOT NULL,
            start_day BIGINT NOT NULL,
            org_path {PATH} NOT NULL,
            merchant_id TEXT NOT NULL,
            count BIGINT NOT NULL,
            approved BIGINT NOT NULL,
            amount BIGINT NOT NULL,
            refund_amount BIGINT NOT NULL,
            PRIMARY KEY (span, start_day, org_path, merchant_id)
        )
        """,
        // The fleet dashboard groups the terminals of a subtree by state, model, owner and version: covering
        // indexes for its two halves (owned in the subtree, bound to a merchant in it) make that an index-only scan.
        "CREATE INDEX terminals_report_owner ON terminals(owner_path, state, model_id, app_version, merchant_path)",
        "CREATE INDEX terminals_report_merchant ON terminals(merchant_path, state, model_id, app_version, owner_path)",
    ], step: { db in
        _ = try await ReportsService.rebuild(SQLRepositories(db: db, backend: db.dialect.name == "sqlite" ? .sqlite : .postgres))
    })
}
