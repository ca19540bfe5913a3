// Package password hashes and checks passwords with argon2id, bounding how many hashes run at once.
package password
