package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

func newCredential(id, userID string) auth.WebAuthnCredential {
	return auth.WebAuthnCredential{
		ID:                id,
		UserID:            userID,
		CredentialID:      "cred-" + id,
		Name:              "Key " + id,
		PublicKey:         "pk-" + id,
		SignCount:         5,
		AAGUID:            "00000000000000000000000000000000",
		Transports:        []string{"usb", "nfc"},
		AttestationFormat: "packed",
		UserVerified:      true,
		BackupEligible:    false,
		BackupState:       false,
		CreatedAt:         t0,
	}
}

func newChallenge(owner, kind, challenge string) auth.WebAuthnChallenge {
	return auth.WebAuthnChallenge{Owner: owner, Kind: kind, Challenge: challenge, UserID: "u1", Name: "Key", ExpiresAt: t0.Add(5 * time.Minute)}
}

func credentials(t *testing.T, s auth.Store, userID string) []auth.WebAuthnCredential {
	t.Helper()
	cs, err := s.WebAuthnCredentials(ctx(t), userID)
	must(t, "list webauthn credentials", err)
	return cs
}

var webauthnCases = []testCase{
	{"AddWebAuthnCredential stores every field", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		want := newCredential("w1", "u1")
		must(t, "add", s.AddWebAuthnCredential(ctx(t), want, nil, t0, 20))
		cs := credentials(t, s, "u1")
		if len(cs) != 1 {
			t.Fatalf("got %d credentials, want 1", len(cs))
		}
		got := cs[0]
		if got.ID != want.ID || got.UserID != want.UserID || got.CredentialID != want.CredentialID || got.Name != want.Name ||
			got.PublicKey != want.PublicKey || got.SignCount != want.SignCount || got.AAGUID != want.AAGUID ||
			!slices.Equal(got.Transports, want.Transports) || got.AttestationFormat != want.AttestationFormat ||
			got.UserVerified != want.UserVerified || got.BackupEligible != want.BackupEligible || got.BackupState != want.BackupState {
			t.Errorf("got %+v, want %+v", got, want)
		}
		wantTime(t, "created at", got.CreatedAt, t0)
		wantTime(t, "last used at", got.LastUsedAt, time.Time{})
		if len(credentials(t, s, "nobody")) != 0 {
			t.Errorf("another user sees the credential")
		}
	}},
	{"AddWebAuthnCredential keeps a large counter and no transports", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		c := newCredential("w1", "u1")
		c.SignCount, c.Transports = 1<<32-1, nil
		must(t, "add", s.AddWebAuthnCredential(ctx(t), c, nil, t0, 20))
		got := credentials(t, s, "u1")[0]
		if got.SignCount != 1<<32-1 || len(got.Transports) != 0 {
			t.Errorf("got count %d transports %v, want %d and none", got.SignCount, got.Transports, uint32(1<<32-1))
		}
	}},
	{"AddWebAuthnCredential refuses a credential id registered to anyone", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		must(t, "add", s.AddWebAuthnCredential(ctx(t), newCredential("w1", "u1"), nil, t0, 20))
		dup := newCredential("w2", "u2")
		dup.CredentialID = "cred-w1"
		wantIs(t, "add the same credential id", s.AddWebAuthnCredential(ctx(t), dup, []string{"h"}, t0, 20), auth.ErrDuplicate)
		if len(credentials(t, s, "u2")) != 0 || remaining(t, s, "u2") != 0 {
			t.Errorf("a refused credential left rows behind")
		}
	}},
	{"AddWebAuthnCredential replaces backup codes when given", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "replace backup codes", s.ReplaceBackupCodes(ctx(t), "u1", []string{"old"}, t0))
		must(t, "add without codes", s.AddWebAuthnCredential(ctx(t), newCredential("w1", "u1"), nil, t0, 20))
		wantInt(t, "remaining after adding without codes", remaining(t, s, "u1"), 1)
		must(t, "add with codes", s.AddWebAuthnCredential(ctx(t), newCredential("w2", "u1"), []string{"a", "b", "c"}, t0, 20))
		wantInt(t, "remaining after adding with codes", remaining(t, s, "u1"), 3)
		ok, err := s.UseBackupCode(ctx(t), "u1", "old", t0, nil)
		wantBool(t, "use an old code", ok, err, false)
	}},
	{"WebAuthnCredentials lists oldest first", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		for _, id := range []string{"w2", "w1", "w3"} {
			must(t, "add "+id, s.AddWebAuthnCredential(ctx(t), newCredential(id, "u1"), nil, t0, 20))
		}
		var ids []string
		for _, c := range credentials(t, s, "u1") {
			ids = append(ids, c.ID)
		}
		if !slices.Equal(ids, []string{"w1", "w2", "w3"}) {
			t.Errorf("got %v, want [w1 w2 w3]", ids)
		}
	}},
	{"UseWebAuthnCredential writes only an advancing counter", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "add", s.AddWebAuthnCredential(ctx(t), newCredential("w1", "u1"), nil, t0, 20))
		at := t0.Add(time.Minute)
		ok, err := s.UseWebAuthnCredential(ctx(t), "w1", 5, true, false, false, at, nil)
		wantBool(t, "use with an equal counter", ok, err, false)
		ok, err = s.UseWebAuthnCredential(ctx(t), "w1", 4, true, false, false, at, nil)
		wantBool(t, "use with a lower counter", ok, err, false)
		ok, err = s.UseWebAuthnCredential(ctx(t), "w1", 0, true, false, false, at, nil)
		wantBool(t, "use with 0 after 5", ok, err, false)
		ok, err = s.UseWebAuthnCredential(ctx(t), "w1", 9, false, false, true, at, nil)
		wantBool(t, "use with a higher counter", ok, err, true)
		got := credentials(t, s, "u1")[0]
		if got.SignCount != 9 || got.UserVerified || !got.BackupState {
			t.Errorf("got count %d uv %v bs %v, want 9, false, true", got.SignCount, got.UserVerified, got.BackupState)
		}
		wantTime(t, "last used at", got.LastUsedAt, at)
		ok, err = s.UseWebAuthnCredential(ctx(t), "nope", 100, true, false, false, at, nil)
		wantBool(t, "use an unknown credential", ok, err, false)
	}},
	{"UseWebAuthnCredential with a session rotation is all or nothing", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "add", s.AddWebAuthnCredential(ctx(t), newCredential("w1", "u1"), nil, t0, 20))
		addSession(t, s, newSession("s1", "u1", "h1"))
		at := t0.Add(time.Minute)
		rotate := func(old, hash string) *auth.SessionRotation { return rotation("s1", "u1", old, hash, at) }
		counter := func() uint32 { return credentials(t, s, "u1")[0].SignCount }
		start := counter()
		ok, err := s.UseWebAuthnCredential(ctx(t), "w1", start+1, true, false, false, at, rotate("stale", "h2"))
		wantIs(t, "an advancing counter with a stale rotation", err, auth.ErrSessionRotated)
		if ok || counter() != start {
			t.Errorf("after a lost rotation: ok %v, counter %d; want false, %d", ok, counter(), start)
		}
		ok, err = s.UseWebAuthnCredential(ctx(t), "w1", start, true, false, false, at, rotate("stale", "h2"))
		wantBool(t, "a counter that did not advance, with a stale rotation", ok, err, false)
		ok, err = s.UseWebAuthnCredential(ctx(t), "w1", start+1, true, false, false, at, rotate("h1", "h2"))
		wantBool(t, "an advancing counter with a rotation", ok, err, true)
		wantInt(t, "counter", int(counter()), int(start+1))
		_, err = s.SessionByTokenHash(ctx(t), "h2")
		must(t, "rotated session", err)
	}},
	{"UseWebAuthnCredential refuses a changed backup eligibility", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "add", s.AddWebAuthnCredential(ctx(t), newCredential("w1", "u1"), nil, t0, 20))
		ok, err := s.UseWebAuthnCredential(ctx(t), "w1", 6, true, true, true, t0, nil)
		wantBool(t, "use claiming BE", ok, err, false)
	}},
	{"UseWebAuthnCredential accepts 0 after 0", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		c := newCredential("w1", "u1")
		c.SignCount = 0
		must(t, "add", s.AddWebAuthnCredential(ctx(t), c, nil, t0, 20))
		for i := range 2 {
			ok, err := s.UseWebAuthnCredential(ctx(t), "w1", 0, true, false, false, t0.Add(time.Duration(i)*time.Minute), nil)
			wantBool(t, fmt.Sprintf("use #%d with 0", i), ok, err, true)
		}
		wantTime(t, "last used at", credentials(t, s, "u1")[0].LastUsedAt, t0.Add(time.Minute))
	}},
	{"DeleteWebAuthnCredential removes only the owner's credential", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		must(t, "add", s.AddWebAuthnCredential(ctx(t), newCredential("w1", "u1"), nil, t0, 20))
		wantIs(t, "delete as another user", s.DeleteWebAuthnCredential(ctx(t), "u2", "w1"), auth.ErrNotFound)
		must(t, "delete", s.DeleteWebAuthnCredential(ctx(t), "u1", "w1"))
		wantIs(t, "delete again", s.DeleteWebAuthnCredential(ctx(t), "u1", "w1"), auth.ErrNotFound)
		if len(credentials(t, s, "u1")) != 0 {
			t.Errorf("credential still listed")
		}
	}},
	{"DeleteSecondFactors removes credentials and open ceremonies", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		must(t, "add", s.AddWebAuthnCredential(ctx(t), newCredential("w1", "u1"), nil, t0, 20))
		must(t, "add other", s.AddWebAuthnCredential(ctx(t), newCredential("w2", "u2"), nil, t0, 20))
		must(t, "put challenge", s.PutWebAuthnChallenge(ctx(t), newChallenge("session:s1", auth.ChallengeRegister, "c1")))
		must(t, "delete second factors", s.DeleteSecondFactors(ctx(t), "u1"))
		if len(credentials(t, s, "u1")) != 0 || len(credentials(t, s, "u2")) != 1 {
			t.Errorf("wrong credentials removed")
		}
		_, err := s.TakeWebAuthnChallenge(ctx(t), "session:s1", auth.ChallengeRegister, "c1", t0)
		wantIs(t, "take the removed user's ceremony", err, auth.ErrNotFound)
	}},
	{"TakeWebAuthnChallenge returns the ceremony once", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		want := newChallenge("session:s1", auth.ChallengeRegister, "c1")
		must(t, "put", s.PutWebAuthnChallenge(ctx(t), want))
		got, err := s.TakeWebAuthnChallenge(ctx(t), "session:s1", auth.ChallengeRegister, "c1", t0)
		must(t, "take", err)
		if got.Owner != want.Owner || got.Kind != want.Kind || got.Challenge != want.Challenge || got.UserID != want.UserID || got.Name != want.Name {
			t.Errorf("got %+v, want %+v", got, want)
		}
		wantTime(t, "expires at", got.ExpiresAt, want.ExpiresAt)
		_, err = s.TakeWebAuthnChallenge(ctx(t), "session:s1", auth.ChallengeRegister, "c1", t0)
		wantIs(t, "take again", err, auth.ErrNotFound)
	}},
	{"TakeWebAuthnChallenge matches owner, kind and challenge", func(t *testing.T, s auth.Store) {
		must(t, "put", s.PutWebAuthnChallenge(ctx(t), newChallenge("session:s1", auth.ChallengeLogin, "c1")))
		for _, k := range []struct{ owner, kind, challenge string }{
			{"session:s2", auth.ChallengeLogin, "c1"},
			{"session:s1", auth.ChallengeRegister, "c1"},
			{"session:s1", auth.ChallengeLogin, "c2"},
		} {
			_, err := s.TakeWebAuthnChallenge(ctx(t), k.owner, k.kind, k.challenge, t0)
			wantIs(t, fmt.Sprintf("take %v", k), err, auth.ErrNotFound)
		}
		_, err := s.TakeWebAuthnChallenge(ctx(t), "session:s1", auth.ChallengeLogin, "c1", t0)
		must(t, "take after the misses", err)
	}},
	{"TakeWebAuthnChallenge refuses an expired ceremony", func(t *testing.T, s auth.Store) {
		c := newChallenge("passkey:h", auth.ChallengePasskey, "c1")
		must(t, "put", s.PutWebAuthnChallenge(ctx(t), c))
		_, err := s.TakeWebAuthnChallenge(ctx(t), c.Owner, c.Kind, c.Challenge, c.ExpiresAt)
		wantIs(t, "take at expiry", err, auth.ErrNotFound)
		_, err = s.TakeWebAuthnChallenge(ctx(t), c.Owner, c.Kind, c.Challenge, c.ExpiresAt.Add(-time.Microsecond))
		must(t, "take just before expiry", err)
	}},
	{"PutWebAuthnChallenge replaces the owner's open ceremony of that kind", func(t *testing.T, s auth.Store) {
		must(t, "put first", s.PutWebAuthnChallenge(ctx(t), newChallenge("session:s1", auth.ChallengeLogin, "c1")))
		must(t, "put other kind", s.PutWebAuthnChallenge(ctx(t), newChallenge("session:s1", auth.ChallengeRegister, "r1")))
		must(t, "put second", s.PutWebAuthnChallenge(ctx(t), newChallenge("session:s1", auth.ChallengeLogin, "c2")))
		_, err := s.TakeWebAuthnChallenge(ctx(t), "session:s1", auth.ChallengeLogin, "c1", t0)
		wantIs(t, "take the replaced challenge", err, auth.ErrNotFound)
		_, err = s.TakeWebAuthnChallenge(ctx(t), "session:s1", auth.ChallengeLogin, "c2", t0)
		must(t, "take the new challenge", err)
		_, err = s.TakeWebAuthnChallenge(ctx(t), "session:s1", auth.ChallengeRegister, "r1", t0)
		must(t, "take the other kind", err)
	}},
	{"DeleteExpiredWebAuthnChallenges removes only expired ones", func(t *testing.T, s auth.Store) {
		old := newChallenge("session:s1", auth.ChallengeLogin, "c1")
		old.ExpiresAt = t0
		must(t, "put expired", s.PutWebAuthnChallenge(ctx(t), old))
		must(t, "put live", s.PutWebAuthnChallenge(ctx(t), newChallenge("session:s2", auth.ChallengeLogin, "c2")))
		n, err := s.DeleteExpiredWebAuthnChallenges(ctx(t), t0)
		must(t, "delete expired", err)
		wantInt(t, "deleted", int(n), 1)
		_, err = s.TakeWebAuthnChallenge(ctx(t), "session:s2", auth.ChallengeLogin, "c2", t0)
		must(t, "take the live one", err)
	}},
}

var webauthnRaceCases = []testCase{
	{"TakeWebAuthnChallenge succeeds once among concurrent callers", func(t *testing.T, s auth.Store) {
		must(t, "put", s.PutWebAuthnChallenge(ctx(t), newChallenge("session:s1", auth.ChallengeLogin, "c1")))
		_, errs := concurrently(racers, func(int) (auth.WebAuthnChallenge, error) {
			return s.TakeWebAuthnChallenge(ctx(t), "session:s1", auth.ChallengeLogin, "c1", t0)
		})
		wantOneNil(t, "take c1", errs, auth.ErrNotFound)
	}},
	{"UseWebAuthnCredential with one counter value wins once", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "add", s.AddWebAuthnCredential(ctx(t), newCredential("w1", "u1"), nil, t0, 20))
		oks, errs := concurrently(racers, func(int) (bool, error) {
			return s.UseWebAuthnCredential(ctx(t), "w1", 6, true, false, false, t0, nil)
		})
		wantOneTrue(t, "use counter 6", oks, errs)
	}},
	{"UseWebAuthnCredential racing counters keep the highest", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "add", s.AddWebAuthnCredential(ctx(t), newCredential("w1", "u1"), nil, t0, 20))
		_, errs := concurrently(racers, func(i int) (bool, error) {
			return s.UseWebAuthnCredential(ctx(t), "w1", uint32(6+i), true, false, false, t0, nil)
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("use #%d: %v", i, err)
			}
		}
		if got := credentials(t, s, "u1")[0].SignCount; got != 6+racers-1 {
			t.Errorf("sign count: got %d, want %d", got, 6+racers-1)
		}
	}},
	{"AddWebAuthnCredential refuses a credential past the limit", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		must(t, "add", s.AddWebAuthnCredential(ctx(t), newCredential("w1", "u1"), nil, t0, 2))
		must(t, "add", s.AddWebAuthnCredential(ctx(t), newCredential("w2", "u1"), nil, t0, 2))
		wantIs(t, "add a third", s.AddWebAuthnCredential(ctx(t), newCredential("w3", "u1"), []string{"h"}, t0, 2), auth.ErrLimit)
		if n := len(credentials(t, s, "u1")); n != 2 {
			t.Errorf("got %d credentials, want 2", n)
		}
		if n := remaining(t, s, "u1"); n != 0 {
			t.Errorf("refused add replaced backup codes: %d remaining, want 0", n)
		}
		must(t, "another user's first", s.AddWebAuthnCredential(ctx(t), newCredential("w4", "u2"), nil, t0, 2))
	}},
	{"AddWebAuthnCredential racing itself stays within the limit", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		const limit = 3
		_, errs := concurrently(8, func(i int) (struct{}, error) {
			return struct{}{}, s.AddWebAuthnCredential(ctx(t), newCredential(fmt.Sprintf("w%d", i), "u1"), nil, t0, limit)
		})
		added := 0
		for i, err := range errs {
			if err == nil {
				added++
			} else {
				wantIs(t, fmt.Sprintf("add %d", i), err, auth.ErrLimit)
			}
		}
		if n := len(credentials(t, s, "u1")); added != limit || n != limit {
			t.Errorf("added %d, stored %d, want %d", added, n, limit)
		}
	}},
	{"AddWebAuthnCredential racing DeleteSecondFactors leaves both or neither", func(t *testing.T, s auth.Store) {
		// In any serial order the result is consistent: the delete first
		// leaves the new key with its backup codes, the add first leaves
		// nothing. Never a key without its codes, or codes without a key.
		addUser(t, s, "u1")
		for round := range 20 {
			id := fmt.Sprintf("w%02d", round)
			_, errs := concurrently(2, func(i int) (struct{}, error) {
				if i == 0 {
					return struct{}{}, s.AddWebAuthnCredential(ctx(t), newCredential(id, "u1"), []string{"h-" + id}, t0, 20)
				}
				return struct{}{}, s.DeleteSecondFactors(ctx(t), "u1")
			})
			must(t, fmt.Sprintf("round %d: add", round), errs[0])
			must(t, fmt.Sprintf("round %d: delete second factors", round), errs[1])
			keys, codes := len(credentials(t, s, "u1")), remaining(t, s, "u1")
			if keys != codes {
				t.Fatalf("round %d: got %d keys and %d backup codes, want both 0 or both 1", round, keys, codes)
			}
			must(t, "clean up", s.DeleteSecondFactors(ctx(t), "u1"))
		}
	}},
}
