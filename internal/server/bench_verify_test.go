package server_test

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkVerifyReject is a wrong TOTP code from a pending session over
// HTTP, from 64 concurrent clients on a SQLite file: the session and user
// look-ups, the lockout claim, the code check and the failure event. The
// lockout threshold is out of reach here (the benchmark measures the
// rejection, not the lockout). Profile with
//
//	go test ./internal/server -run '^$' -bench VerifyReject -cpuprofile cpu.out
func BenchmarkVerifyReject(b *testing.B) {
	e := newEnv(b, func(o *options) { o.auth.LockoutThreshold = 1 << 30 })
	const clients = 64
	pending := make([]*client, clients)
	for i := range pending {
		u := e.enroll(fmt.Sprintf("bench%d@example.com", i))
		pending[i] = e.pendingLogin(u.email)
	}
	wrong := "000000"
	var next atomic.Int64
	b.SetParallelism((clients + 1) / 2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := pending[int(next.Add(1)-1)%clients]
		for pb.Next() {
			if r := c.verify("totp", wrong); r.Status != 401 {
				b.Errorf("wrong code: %d", r.Status)
				return
			}
		}
	})
}
