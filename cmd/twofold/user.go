package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/config"
)

const userUsage = `Usage:
  twofold user add EMAIL [flags]          create a user; the password is read from standard input
  twofold user list [--email EMAIL] [flags]
                                          list users: id, email, second factor, lockout
  twofold user reset-2fa EMAIL [flags]    remove every second factor, backup code and remembered
                                          device of a user: the password alone signs in again
  twofold user unlock EMAIL [flags]       lift a second-factor lockout and clear the failure count
  twofold user import FILE [flags]        import users from JSON lines (twofold user import --help)

The flags are the database settings of serve (--data-dir, --database-url,
--encryption-key, ...; or their TWOFOLD_* environment variables; twofold serve
--help lists them): give the user commands the same settings as the server.
They work while it runs, on SQLite as on PostgreSQL.

user add never takes the password as an argument (other users could read it
in the process list): on a terminal it asks for it twice, without echo;
otherwise it reads the first line of standard input:
  printf '%s\n' "$PASSWORD" | twofold user add ada@example.com

Exit codes: 0 done, 1 failed (no such user, email taken, database error), 2 usage.
`

// stdin is where `user add` reads the password; a variable so that
// in-process tests can replace it.
var stdin io.Reader = os.Stdin

// cliClient describes the command line in the audit trail.
var cliClient = auth.Client{UserAgent: "twofold cli"}

// cliCommand is an open database and service for one command.
type cliCommand struct {
	svc  *auth.Service
	db   database
	args []string
}

// openCommand parses a command's settings, own flags (extra) and
// arguments, then opens the existing database and the service, and checks
// that its keys open what the database holds sealed (cli_open.go). The
// caller closes db.
func openCommand(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet), validate func(rest []string) error) (*cliCommand, error) {
	cfg, rest, err := config.ParseCommand(name, args, getenv, stderr, extra)
	if errors.Is(err, flag.ErrHelp) {
		return nil, errHelp
	}
	if err != nil {
		return nil, usageError{err.Error()}
	}
	// Usage errors first, before the database is looked for.
	if err := validate(rest); err != nil {
		return nil, err
	}
	db, err := openExistingStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	svc, err := newCLIService(ctx, cfg, db, newLogger(stderr, cfg.LogLevel))
	if err != nil {
		db.Close()
		return nil, err
	}
	return &cliCommand{svc: svc, db: db, args: rest}, nil
}

// oneEmail returns the command's single EMAIL argument.
func (c *cliCommand) oneEmail(name string) (string, error) {
	if len(c.args) != 1 {
		return "", usageError{fmt.Sprintf("%s needs exactly one EMAIL argument (see twofold user --help)", name)}
	}
	return c.args[0], nil
}

func user(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		io.WriteString(stderr, userUsage)
		return usageError{"user needs a subcommand: add, list, reset-2fa or unlock"}
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "--help", "help":
		io.WriteString(stdout, userUsage)
		return nil
	case "import":
		return userImport(ctx, rest, getenv, stdout, stderr)
	case "add", "list", "reset-2fa", "unlock":
		if wantsHelp(rest) {
			io.WriteString(stdout, userUsage)
			return nil
		}
	default:
		io.WriteString(stderr, userUsage)
		return usageError{fmt.Sprintf("unknown user subcommand %q", sub)}
	}
	var email string
	var extra func(*flag.FlagSet)
	if sub == "list" {
		extra = func(fs *flag.FlagSet) { fs.StringVar(&email, "email", "", "list only the user with this email") }
	}
	c, err := openCommand(ctx, "user "+sub, rest, getenv, stderr, extra, func(rest []string) error {
		if sub == "list" {
			if len(rest) > 0 {
				return usageError{fmt.Sprintf("user list takes no arguments (got %q); use --email", rest[0])}
			}
			return nil
		}
		_, err := (&cliCommand{args: rest}).oneEmail("user " + sub)
		return err
	})
	if err != nil {
		return err
	}
	defer c.db.Close()
	switch sub {
	case "add":
		return userAdd(ctx, c, stdout, stderr)
	case "list":
		return userList(ctx, c, email, stdout)
	case "reset-2fa":
		email, err := c.oneEmail("user reset-2fa")
		if err != nil {
			return err
		}
		u, err := c.svc.FindUser(ctx, email)
		if err != nil {
			return err
		}
		if err := c.svc.ResetTwoFactor(ctx, cliClient, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed every second factor, backup code and remembered device of %s; the password alone signs in now\n", u.Email)
		return nil
	default: // unlock
		email, err := c.oneEmail("user unlock")
		if err != nil {
			return err
		}
		u, err := c.svc.FindUser(ctx, email)
		if err != nil {
			return err
		}
		if err := c.svc.Unlock(ctx, cliClient, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "unlocked %s (it had %d consecutive failed second-factor attempts)\n", u.Email, u.FailedAttempts)
		return nil
	}
}

func userAdd(ctx context.Context, c *cliCommand, stdout, stderr io.Writer) error {
	email, err := c.oneEmail("user add")
	if err != nil {
		return err
	}
	pw, err := readPassword(ctx, stdin, stderr, email)
	if err != nil {
		return err
	}
	u, err := c.svc.CreateUser(ctx, cliClient, email, pw)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %s %s\n", u.ID, u.Email)
	return nil
}

// readPassword reads a new password: from a terminal, asked twice without
// echo; from anything else, the first line.
func readPassword(ctx context.Context, in io.Reader, prompt io.Writer, email string) (string, error) {
	if f, ok := in.(*os.File); ok && isTerminal(f) {
		fmt.Fprintf(prompt, "Password for %s: ", email)
		first, err := readHidden(ctx, f)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(prompt, "Repeat it: ")
		second, err := readHidden(ctx, f)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if first != second {
			return "", errors.New("the two passwords differ")
		}
		return first, nil
	}
	line, err := bufio.NewReaderSize(io.LimitReader(in, 8<<10), 8<<10).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input: pipe it in, e.g. printf '%s\\n' \"$PASSWORD\" | twofold user add EMAIL")
	}
	return line, nil
}

func userList(ctx context.Context, c *cliCommand, email string, stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tSECOND FACTOR\tFAILED\tLOCKED UNTIL\tCREATED")
	after := ""
	for {
		ps, err := c.svc.ListUsers(ctx, email, after, 1000)
		if err != nil {
			return err
		}
		for _, p := range ps {
			u := p.User
			factors := describeFactors(p)
			locked := "-"
			if ok, until := c.svc.Locked(u); ok {
				locked = until.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", u.ID, u.Email, factors, u.FailedAttempts, locked, u.CreatedAt.UTC().Format(time.RFC3339))
		}
		if email != "" || len(ps) < 1000 {
			break
		}
		after = ps[len(ps)-1].User.ID
	}
	return tw.Flush()
}

// describeFactors summarises a user's second factors: "totp:1 backup_codes:10", or "none".
func describeFactors(p auth.Profile) string {
	var parts []string
	for _, m := range []struct {
		name string
		n    int
	}{{"totp", len(p.TOTP)}, {"webauthn", len(p.WebAuthn)}, {"sms", len(p.SMS)}} {
		if m.n > 0 {
			parts = append(parts, fmt.Sprintf("%s:%d", m.name, m.n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(append(parts, fmt.Sprintf("backup_codes:%d", p.BackupCodesRemaining)), " ")
}

// wantsHelp reports whether args ask for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}
