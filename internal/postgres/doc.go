// Package postgres stores twofold's data in PostgreSQL through a pgx
// connection pool, with the same schema, migrations and semantics as package
// sqlite, so several instances can share one database.
package postgres
