package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/twofold-auth/twofold/internal/auth"
)

// imported returns an ImportedUser for id with n authenticators.
func imported(id string, n int) auth.ImportedUser {
	iu := auth.ImportedUser{User: newUser(id), Event: newEvent("ev-"+id, auth.EventUserRegistered, id, map[string]any{"source": "import"})}
	for i := range n {
		iu.TOTP = append(iu.TOTP, auth.TOTPAuthenticator{
			ID: fmt.Sprintf("%s-totp%d", id, i), UserID: id, Name: "Imported", Secret: "sealed-" + id,
			Algorithm: "SHA1", Digits: 6, Period: 30, LastStep: 12345, CreatedAt: t0,
		})
	}
	return iu
}

var importCases = []testCase{
	{"import inserts users with their authenticators and events, skipping taken emails", func(t *testing.T, s auth.Store) {
		addUser(t, s, "old")
		dup := imported("dup", 1)
		dup.User.Email = "new1@example.com" // taken by an earlier user of the same batch
		taken := imported("taken", 1)
		taken.User.Email = "old@example.com" // taken by an existing user
		got, err := s.ImportUsers(ctx(t), []auth.ImportedUser{imported("new1", 2), taken, dup, imported("new2", 0)})
		must(t, "import", err)
		if fmt.Sprint(got) != "[true false false true]" {
			t.Fatalf("inserted: got %v, want [true false false true]", got)
		}
		u, err := s.UserByEmail(ctx(t), "new1@example.com")
		must(t, "user new1", err)
		wantString(t, "new1 id", u.ID, "new1")
		as, err := s.TOTPAuthenticators(ctx(t), "new1")
		must(t, "authenticators", err)
		wantInt(t, "authenticators of new1", len(as), 2)
		if len(as) > 0 {
			wantInt(t, "last step", int(as[0].LastStep), 12345)
		}
		for _, id := range []string{"taken", "dup"} {
			if _, err := s.UserByID(ctx(t), id); !isNotFound(err) {
				t.Errorf("user %s of a taken email: got %v, want not found", id, err)
			}
			if as, _ := s.TOTPAuthenticators(ctx(t), id); len(as) != 0 {
				t.Errorf("authenticators of skipped user %s stored", id)
			}
		}
		wantIDs(t, "import events", eventIDs(listEvents(t, s, auth.EventFilter{Type: auth.EventUserRegistered, Limit: 10})), []string{"ev-new2", "ev-new1"})
		// Key rotation finds imported secrets.
		sealed, err := s.SealedValues(ctx(t))
		must(t, "sealed values", err)
		n := 0
		for _, v := range sealed {
			if v.Kind == "totp" && v.Value == "sealed-new1" {
				n++
			}
		}
		wantInt(t, "imported secrets among sealed values", n, 2)
	}},
	{"concurrent imports of the same emails insert each once", func(t *testing.T, s auth.Store) {
		const users, runs = 20, 4
		results := make([][]bool, runs)
		errs := make([]error, runs)
		var wg sync.WaitGroup
		for r := range runs {
			wg.Go(func() {
				batch := make([]auth.ImportedUser, users)
				for i := range batch {
					batch[i] = imported(fmt.Sprintf("r%du%d", r, i), 1)
					batch[i].User.Email = fmt.Sprintf("u%d@example.com", i)
				}
				results[r], errs[r] = s.ImportUsers(ctx(t), batch)
			})
		}
		wg.Wait()
		for i := range users {
			won := 0
			for r := range runs {
				must(t, "import", errs[r])
				if results[r][i] {
					won++
				}
			}
			wantInt(t, fmt.Sprintf("imports of u%d that won", i), won, 1)
		}
	}},
}
