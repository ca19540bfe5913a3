// Package seal encrypts small secrets at rest with AES-256-GCM under a ring of keys that can rotate.
package seal
