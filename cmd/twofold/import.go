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
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

const importUsage = `Usage:
  twofold user import [--check] [--batch N] FILE     (FILE "-": standard input)

Imports users from another system: one JSON object per line,
  {"email": "ada@example.com", "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$...",
   "totp_secrets": ["JBSWY3DPEHPK3PXP..."]}
password_hash is an argon2id PHC string or a bcrypt hash ($2a$, $2b$, $2y$);
it is stored as it is and re-hashed with twofold's parameters at the user's
next sign-in when weaker. totp_secrets (or one "totp_secret") are base32
secrets of at least 128 bits for SHA-1, 6-digit, 30-second authenticator
apps; they become confirmed apps named "Imported", sealed with the server's
key. Imported users get no backup codes. Blank lines are ignored.

A line whose email is already taken, in the database or by an earlier line,
is skipped and counted (first one wins): running an import again is safe.
Lines are written in transactions of --batch users. At the first bad line
the import stops: every line before it is written, none after; the error
names the line and what is wrong (never a hash or secret). --check reads the
whole file, reports every bad line (up to 20) and writes nothing.

The database flags are those of serve (twofold serve --help).
Exit codes: 0 done, 1 a bad line or a database error, 2 usage.
`

// maxReportedLines bounds the bad or skipped lines named in the output.
const maxReportedLines = 20

func userImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if wantsHelp(args) {
		io.WriteString(stdout, importUsage)
		return nil
	}
	var check bool
	var batchSize int
	c, err := openCommand(ctx, "user import", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&check, "check", false, "check every line, write nothing")
		fs.IntVar(&batchSize, "batch", 1000, "users per transaction (1..10000)")
	}, func(rest []string) error {
		if len(rest) != 1 {
			return usageError{"user import needs exactly one FILE argument (- for standard input; see twofold user import --help)"}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer c.db.Close()
	if batchSize < 1 || batchSize > 10000 {
		return usageError{fmt.Sprintf("--batch %d: want 1 to 10000", batchSize)}
	}
	in := stdin
	if name := c.args[0]; name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open import file: %w", err)
		}
		defer f.Close()
		in = f
	}
	im := &importer{svc: c.svc, check: check, batchSize: batchSize, stderr: stderr}
	start := time.Now()
	err = im.run(ctx, in)
	took := time.Since(start)
	if check {
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "checked %d users: every line is good (nothing written)\n", im.lines)
		return nil
	}
	rate := float64(im.imported) / max(took.Seconds(), 1e-9)
	fmt.Fprintf(stdout, "imported %d users (%d with TOTP), skipped %d whose email was taken, in %.1fs (%.0f users/s)\n",
		im.imported, im.withTOTP, im.skipped, took.Seconds(), rate)
	return err
}

// importer reads import lines and writes them in batches.
type importer struct {
	svc       *auth.Service
	check     bool
	batchSize int
	stderr    io.Writer

	lines, imported, withTOTP, skipped, bad int

	batch     []auth.ImportUser
	batchLine []int // line number of each batch entry
}

// run reads every line of in. It stops at the first bad line (or, with
// check, after reading everything) with an error naming the line.
func (im *importer) run(ctx context.Context, in io.Reader) error {
	r := bufio.NewReaderSize(in, auth.MaxImportLine+2)
	var firstBad error
	for n := 1; ; n++ {
		line, tooLong, err := readImportLine(r)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read import file at line %d: %w", n, err)
		}
		if errors.Is(err, io.EOF) && len(line) == 0 && !tooLong {
			break
		}
		var u auth.ImportUser
		var perr error
		if tooLong {
			perr = fmt.Errorf("longer than %d bytes", auth.MaxImportLine)
		} else if len(strings.TrimSpace(string(line))) == 0 {
			if errors.Is(err, io.EOF) {
				break
			}
			continue
		} else if u, perr = auth.ParseImportLine(line); perr != nil {
			var ae *auth.Error
			if errors.As(perr, &ae) {
				perr = errors.New(ae.Message)
			}
		}
		if perr != nil {
			bad := fmt.Errorf("line %d: %w", n, perr)
			if !im.check {
				if ferr := im.flush(ctx); ferr != nil {
					return ferr
				}
				return fmt.Errorf("%w; lines before it are imported, nothing from it on was written: fix it and run the import again (users already imported are skipped)", bad)
			}
			im.bad++
			if firstBad == nil {
				firstBad = bad
			}
			if im.bad <= maxReportedLines {
				fmt.Fprintln(im.stderr, "twofold:", bad)
			}
			if im.bad == maxReportedLines {
				fmt.Fprintln(im.stderr, "twofold: (not naming more bad lines)")
			}
		} else {
			im.lines++
			if !im.check {
				im.batch = append(im.batch, u)
				im.batchLine = append(im.batchLine, n)
				if len(im.batch) == im.batchSize {
					if err := im.flush(ctx); err != nil {
						return err
					}
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if im.check && im.bad > 0 {
		return fmt.Errorf("%d bad lines, the first: %w (nothing written)", im.bad, firstBad)
	}
	return im.flush(ctx)
}

// flush writes the pending batch.
func (im *importer) flush(ctx context.Context) error {
	if len(im.batch) == 0 {
		return nil
	}
	done, err := im.svc.ImportUsers(ctx, cliClient, im.batch)
	if err != nil {
		return fmt.Errorf("import lines %d to %d: %w", im.batchLine[0], im.batchLine[len(im.batchLine)-1], err)
	}
	for i, ok := range done {
		switch {
		case ok:
			im.imported++
			if len(im.batch[i].TOTPSecrets) > 0 {
				im.withTOTP++
			}
		default:
			im.skipped++
			if im.skipped <= maxReportedLines {
				fmt.Fprintf(im.stderr, "twofold: line %d: skipped: the email is taken\n", im.batchLine[i])
			}
			if im.skipped == maxReportedLines {
				fmt.Fprintln(im.stderr, "twofold: (not naming more skipped lines)")
			}
		}
	}
	im.batch, im.batchLine = im.batch[:0], im.batchLine[:0]
	return nil
}

// readImportLine reads one line without its "\n" (or "\r\n"). A line longer than
// the reader's buffer is read to its end and reported as tooLong. err is
// io.EOF with the last line when it has no newline.
func readImportLine(r *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, err = r.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		tooLong = true
		_, err = r.ReadSlice('\n')
	}
	if tooLong {
		return nil, true, err
	}
	line = line[:len(line)-trailingNewline(line)]
	return line, false, err
}

func trailingNewline(b []byte) int {
	switch {
	case len(b) >= 2 && b[len(b)-2] == '\r' && b[len(b)-1] == '\n':
		return 2
	case len(b) >= 1 && b[len(b)-1] == '\n':
		return 1
	}
	return 0
}
