// Package auth holds twofold's product rules: accounts, sessions, second factors,
// lockout and the audit trail, above the storage interfaces it declares.
package auth
