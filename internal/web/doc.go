// Package web is twofold's hosted web UI (SPEC §5): server-rendered pages for
// sign-up, login, the second-factor prompt and account settings. Every rule is
// the auth.Service's; the pages only turn forms into its calls and its errors
// into messages.
package web
