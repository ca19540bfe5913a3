// Package server is twofold's HTTP interface: the JSON API of SPEC §3, the ops
// endpoints, and the middleware every request passes through.
package server
