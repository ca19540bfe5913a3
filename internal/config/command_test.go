package config_test

import (
	"flag"
	"io"
	"slices"
	"testing"

	"github.com/twofold-auth/twofold/internal/config"
)

func TestParseCommandTakesFlagsAroundArguments(t *testing.T) {
	cases := []struct {
		args     []string
		wantArgs []string
	}{
		{[]string{"ada@example.com", "--data-dir", "/d", "--limit", "3"}, []string{"ada@example.com"}},
		{[]string{"--data-dir", "/d", "ada@example.com", "--limit=3"}, []string{"ada@example.com"}},
		{[]string{"--limit", "3", "--data-dir=/d", "a", "b"}, []string{"a", "b"}},
		{[]string{"--data-dir", "/d", "--limit", "3", "--", "--not-a-flag"}, []string{"--not-a-flag"}},
	}
	for _, tc := range cases {
		var limit int
		c, rest, err := config.ParseCommand("user add", tc.args, func(string) string { return "" }, io.Discard,
			func(fs *flag.FlagSet) { fs.IntVar(&limit, "limit", 0, "") })
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if c.DataDir != "/d" || limit != 3 || !slices.Equal(rest, tc.wantArgs) {
			t.Errorf("%v: got data dir %q, limit %d, args %q; want /d, 3, %q", tc.args, c.DataDir, limit, rest, tc.wantArgs)
		}
	}
	if _, err := config.Parse("serve", []string{"extra"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Errorf("Parse accepted an argument that is not a flag")
	}
}
