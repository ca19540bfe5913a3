package notify_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/notify"
)

func TestOutbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "outbox.jsonl")
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	o := notify.NewOutbox(path, func() time.Time { return at })

	t.Run("OneJSONObjectPerLineWithSpecFields", func(t *testing.T) {
		if err := o.Send(context.Background(), notify.Message{Channel: "email", To: "a@example.com", Subject: "hi", Body: "line1\nline2"}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("not one JSON line: %v", err)
		}
		want := map[string]string{"time": "2026-11-26T12:00:00Z", "channel": "email", "to": "a@example.com", "subject": "hi", "body": "line1\nline2"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: got %q, want %q", k, got[k], v)
			}
		}
		st, _ := os.Stat(path)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode got %v, want 0600", st.Mode().Perm())
		}
	})

	t.Run("ConcurrentSendsKeepLinesWhole", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = o.Send(context.Background(), notify.Message{Channel: "sms", To: "+15550100", Body: "Your code is 123456"})
			}()
		}
		wg.Wait()
		f, _ := os.Open(path)
		defer f.Close()
		n := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var m map[string]string
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("line %d is not JSON: %v", n+1, err)
			}
			n++
		}
		if n != 51 {
			t.Errorf("got %d lines, want 51", n)
		}
	})
}
