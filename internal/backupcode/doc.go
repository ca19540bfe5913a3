// Package backupcode generates one-time recovery codes and turns what a user types back into the canonical form that is hashed.
package backupcode
