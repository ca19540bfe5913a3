package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

const eventsUsage = `Usage:
  twofold events [--user EMAIL] [--type TYPE] [--limit N] [--json] [flags]

Prints the audit trail, newest first: every event, or those of one user
and/or of one type (e.g. login.failed, 2fa.locked, admin.unlocked). --limit
is 1..200 (default 50). --json prints one JSON object per line, the Event
object of the API. The other flags are the database settings of serve.
`

func events(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if wantsHelp(args) {
		fmt.Fprint(stdout, eventsUsage)
		return nil
	}
	var email, typ string
	var limit int
	var asJSON bool
	c, err := openCommand(ctx, "events", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "user", "", "only this user's events (email)")
		fs.StringVar(&typ, "type", "", "only events of this type")
		fs.IntVar(&limit, "limit", 50, "at most this many events (1..200)")
		fs.BoolVar(&asJSON, "json", false, "one JSON object per line")
	}, func(rest []string) error {
		if len(rest) > 0 {
			return usageError{fmt.Sprintf("events takes no arguments (got %q)", rest[0])}
		}
		if limit < 1 || limit > 200 {
			return usageError{"--limit must be from 1 to 200"}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer c.db.Close()
	f := auth.EventFilter{Type: typ, Limit: limit}
	if email != "" {
		u, err := c.svc.FindUser(ctx, email)
		if err != nil {
			return err
		}
		f.UserID = u.ID
	}
	evs, err := c.svc.ListEvents(ctx, f)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range evs {
			if err := enc.Encode(map[string]any{
				"id": e.ID, "time": e.Time.UTC(), "type": e.Type, "user_id": e.UserID,
				"ip": e.IP, "user_agent": e.UserAgent, "detail": e.Detail,
			}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTYPE\tUSER\tIP\tDETAIL")
	for _, e := range evs {
		detail, _ := json.Marshal(e.Detail)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), e.Type, orDash(e.UserID), orDash(e.IP), detail)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
