// Package server is twofold's HTTP interface: the JSON API of SPEC §3, the ops
// endpoints, the web UI's pages (package web, mounted in routes.go), and the
// middleware every request passes through.
package server
