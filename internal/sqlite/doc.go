// Package sqlite stores twofold's data in an embedded SQLite database
// (modernc.org/sqlite, pure Go): one writer connection, a pool of readers,
// WAL, and embedded versioned migrations.
package sqlite
