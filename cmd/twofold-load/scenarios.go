package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twofold-auth/twofold/internal/totp"
)

// scenario prepares what a run needs (not measured) and returns its work.
type scenario func(ctx context.Context, c *client, o options) (work, error)

var scenarios = map[string]scenario{
	"health":        health,
	"login":         login,
	"verify-reject": verifyReject,
	"verify-accept": verifyAccept,
	"full-login":    fullLogin,
}

func scenarioNames() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func health(ctx context.Context, c *client, o options) (work, error) {
	return func(i int) request {
		c := c.on(i)
		return func(ctx context.Context) (int, error) { return c.call(ctx, nil, "GET", "/healthz", nil, nil) }
	}, nil
}

// runUsers returns the run's n users: generated ones from an import (-imported)
// or new ones registered through the API.
func runUsers(ctx context.Context, c *client, o options, n int, withTOTP bool) ([]loadUser, error) {
	if !o.imported {
		return makeUsers(ctx, c, o, n, withTOTP)
	}
	kind := "plain"
	if withTOTP {
		kind = "totp"
	}
	users := make([]loadUser, n)
	for i := range users {
		users[i].email = importedEmail(kind, o.first+i)
		if withTOTP {
			users[i].secret = importedSecret(o.seed, users[i].email)
		}
	}
	return users, nil
}

// loadUser is a user made for this run.
type loadUser struct {
	email  string
	secret []byte // nil without an authenticator app
}

// makeUsers registers n users named for this run (so reruns never collide),
// with an authenticator app each when withTOTP, using a few clients at once.
func makeUsers(ctx context.Context, c *client, o options, n int, withTOTP bool) ([]loadUser, error) {
	var runID [4]byte
	_, _ = rand.Read(runID[:])
	users := make([]loadUser, n)
	errs := make(chan error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				u, err := makeUser(ctx, c, o, fmt.Sprintf("load-%s-%d@load.test", hex.EncodeToString(runID[:]), i), withTOTP)
				if err != nil {
					errs <- err
					continue
				}
				users[i] = u
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return users, nil
}

func makeUser(ctx context.Context, c *client, o options, email string, withTOTP bool) (loadUser, error) {
	s := &session{}
	body, _ := json.Marshal(map[string]string{"email": email, "password": o.password})
	st, err := c.call(ctx, s, "POST", "/api/register", body, nil)
	if err != nil {
		return loadUser{}, err
	}
	if st != 201 {
		return loadUser{}, fmt.Errorf("register: HTTP %d (is TWOFOLD_AUTH_RATE_LIMIT=0 and registration open?)", st)
	}
	u := loadUser{email: email}
	if !withTOTP {
		return u, nil
	}
	var setup struct {
		ManualKey string `json:"manual_key"`
	}
	if st, err := c.call(ctx, s, "POST", "/api/2fa/setup", nil, &setup); err != nil || st != 200 {
		return u, fmt.Errorf("2fa setup: HTTP %d %v", st, err)
	}
	if u.secret, err = totp.DecodeSecret(setup.ManualKey); err != nil {
		return u, fmt.Errorf("2fa setup: %w", err)
	}
	body, _ = json.Marshal(map[string]string{"token": totp.Code(u.secret, time.Now(), totp.Default)})
	if st, err := c.call(ctx, s, "POST", "/api/2fa/verify-setup", body, nil); err != nil || st != 200 {
		return u, fmt.Errorf("2fa verify-setup: HTTP %d %v", st, err)
	}
	return u, nil
}

func login(ctx context.Context, c *client, o options) (work, error) {
	users, err := runUsers(ctx, c, o, o.users, false)
	if err != nil {
		return nil, err
	}
	return func(i int) request {
		c := c.on(i)
		body, _ := json.Marshal(map[string]string{"email": users[i%len(users)].email, "password": o.password})
		return func(ctx context.Context) (int, error) {
			return c.call(ctx, &session{}, "POST", "/api/login", body, nil)
		}
	}, nil
}

// pendingSession logs u in with the password alone.
func pendingSession(ctx context.Context, c *client, o options, u loadUser) (*session, error) {
	s := &session{}
	body, _ := json.Marshal(map[string]string{"email": u.email, "password": o.password})
	var res struct {
		Status string `json:"status"`
	}
	st, err := c.call(ctx, s, "POST", "/api/login", body, &res)
	if err != nil {
		return nil, err
	}
	if st != 200 || res.Status != "2fa_required" {
		return nil, fmt.Errorf("login: HTTP %d %q, want 200 2fa_required", st, res.Status)
	}
	return s, nil
}

// perSession is how many wrong codes one pending session sends: below the
// largest lockout threshold allowed (100), so no account locks during a run.
const perSession = 90

// pendingSessions logs every user in with the password, o.concurrency at
// a time (each costs the server one password hash).
func pendingSessions(ctx context.Context, c *client, o options, users []loadUser) ([]*session, error) {
	sessions := make([]*session, len(users))
	next := make(chan int)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for w := range min(len(users), o.concurrency) {
		wg.Go(func() {
			c := c.on(w)
			defer c.close() // not left idle on the server during the run
			for i := range next {
				s, err := pendingSession(ctx, c, o, users[i])
				if err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					continue
				}
				sessions[i] = s
			}
		})
	}
	for i := range users {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return sessions, ctx.Err()
}

// verifyAccept sends each prepared session's one correct code.
func verifyAccept(ctx context.Context, c *client, o options) (work, error) {
	users, err := runUsers(ctx, c, o, o.users, true)
	if err != nil {
		return nil, err
	}
	sessions, err := pendingSessions(ctx, c, o, users)
	if err != nil {
		return nil, err
	}
	return func(i int) request {
		c := c.on(i)
		next := i // client i takes sessions i, i+c, i+2c, ...
		return func(ctx context.Context) (int, error) {
			if next >= len(sessions) {
				return 0, errExhausted
			}
			n := next
			next += o.concurrency
			body, _ := json.Marshal(map[string]string{"method": "totp", "code": freshCode(users[n].secret, time.Now())})
			return c.call(ctx, sessions[n], "POST", "/api/2fa/verify", body, nil)
		}
	}, nil
}

// fullLogin signs each user in once: password, then a correct code. Its
// latency and status are those of the pair (the status is the verify's,
// or the login's when that failed).
func fullLogin(ctx context.Context, c *client, o options) (work, error) {
	users, err := runUsers(ctx, c, o, o.users, true)
	if err != nil {
		return nil, err
	}
	return func(i int) request {
		c := c.on(i)
		next := i
		return func(ctx context.Context) (int, error) {
			if next >= len(users) {
				return 0, errExhausted
			}
			u := users[next]
			next += o.concurrency
			s := &session{}
			body, _ := json.Marshal(map[string]string{"email": u.email, "password": o.password})
			var res struct {
				Status string `json:"status"`
			}
			st, err := c.call(ctx, s, "POST", "/api/login", body, &res)
			if err != nil || st != 200 || res.Status != "2fa_required" {
				return st, err
			}
			body, _ = json.Marshal(map[string]string{"method": "totp", "code": freshCode(u.secret, time.Now())})
			return c.call(ctx, s, "POST", "/api/2fa/verify", body, nil)
		}
	}, nil
}

// freshCode is the code of the time step after t's: the server accepts it
// (with the default skew of one step) and it is later than any step used at
// enrollment, which happened before t. An import refuses codes up to one
// step after its own (at the default skew), so an imported user's fresh
// code is accepted once the step after the import's has begun: perf.sh
// runs verify-accept and full-login minutes after its import, and ab.sh
// waits for the next 30-second boundary.
func freshCode(secret []byte, t time.Time) string {
	return totp.Code(secret, t.Add(30*time.Second), totp.Default)
}

func verifyReject(ctx context.Context, c *client, o options) (work, error) {
	users, err := runUsers(ctx, c, o, o.users, true)
	if err != nil {
		return nil, err
	}
	sessions, err := pendingSessions(ctx, c, o, users)
	if err != nil {
		return nil, err
	}
	return func(i int) request {
		c := c.on(i)
		// Client i takes sessions i, i+c, i+2c, ... in turn, perSession
		// requests each.
		next, used := i, 0
		return func(ctx context.Context) (int, error) {
			if used == perSession {
				next, used = next+o.concurrency, 0
			}
			if next >= len(sessions) {
				return 0, errExhausted
			}
			used++
			body, _ := json.Marshal(map[string]string{"method": "totp", "code": wrongCode(users[next].secret, time.Now())})
			return c.call(ctx, sessions[next], "POST", "/api/2fa/verify", body, nil)
		}
	}, nil
}

// wrongCode is a code that no step within ±2 of t accepts.
func wrongCode(secret []byte, t time.Time) string {
	for guess := 0; ; guess++ {
		code := fmt.Sprintf("%06d", guess)
		ok := true
		for d := -2; d <= 2; d++ {
			if totp.Code(secret, t.Add(time.Duration(d)*30*time.Second), totp.Default) == code {
				ok = false
			}
		}
		if ok {
			return code
		}
	}
}
