package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFlagsWinOverEnvironment(t *testing.T) {
	c, _, err := Parse("t", []string{"--listen", "127.0.0.1:9999"}, env(map[string]string{
		"TYOKYKY_LISTEN":   "127.0.0.1:7777",
		"TYOKYKY_BASE_URL": "https://kurssi.example.fi",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" {
		t.Errorf("listen = %q, want the flag's value", c.Listen)
	}
	if c.BaseURL != "https://kurssi.example.fi" {
		t.Errorf("base URL = %q, want the environment's value", c.BaseURL)
	}
}

func TestDefaults(t *testing.T) {
	c, _, err := Parse("t", nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"listen": "127.0.0.1:8080", "base-url": "http://localhost:8080", "data-dir": "./data", "mongodb-database": "tyokyky", "s3-bucket": "tyokyky"}
	got := map[string]string{"listen": c.Listen, "base-url": c.BaseURL, "data-dir": c.DataDir, "mongodb-database": c.MongoDatabase, "s3-bucket": c.S3Bucket}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s default = %q, want %q", k, got[k], v)
		}
	}
	if c.ShutdownTimeout.String() != "10s" {
		t.Errorf("shutdown timeout = %s", c.ShutdownTimeout)
	}
}

func TestProblems(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"malformed mongodb uri", map[string]string{"TYOKYKY_MONGODB_URI": "mongodb://user:s3cret@"}, "mongodb-uri: malformed MongoDB URI"},
		{"not a mongodb scheme", map[string]string{"TYOKYKY_MONGODB_URI": "postgres://localhost/x"}, "mongodb-uri: malformed MongoDB URI"},
		{"unwritable data dir", map[string]string{"TYOKYKY_DATA_DIR": filepath.Join(file, "sub")}, "data-dir: cannot create"},
		{"s3 endpoint without keys", map[string]string{"TYOKYKY_S3_ENDPOINT": "http://127.0.0.1:9000"}, "s3-endpoint: is set, so s3-access-key and s3-secret-key are required"},
		{"relative base url", map[string]string{"TYOKYKY_BASE_URL": "/kurssi"}, "base-url: \"/kurssi\" is not an absolute http(s) URL"},
		{"log level", map[string]string{"TYOKYKY_LOG_LEVEL": "loud"}, "log-level:"},
		{"log format", map[string]string{"TYOKYKY_LOG_FORMAT": "xml"}, "log-format:"},
		{"bucket", map[string]string{"TYOKYKY_S3_BUCKET": "Bad_Bucket"}, "s3-bucket:"},
		{"listen", map[string]string{"TYOKYKY_LISTEN": "8080"}, "listen:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{"TYOKYKY_DATA_DIR": t.TempDir()}
			for k, v := range tc.env {
				m[k] = v
			}
			c, _, err := Parse("t", nil, env(m), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			p := c.Problems()
			if len(p) != 1 || !strings.Contains(p[0], tc.want) {
				t.Fatalf("problems = %q, want one containing %q", p, tc.want)
			}
			if strings.Contains(p[0], "s3cret") {
				t.Fatalf("problem leaks the password: %q", p[0])
			}
		})
	}
}

func TestValidConfigHasNoProblems(t *testing.T) {
	c, _, err := Parse("t", []string{"--data-dir", t.TempDir(), "--mongodb-uri", "mongodb://a:b@db1:27017,db2:27017/?replicaSet=rs0",
		"--s3-endpoint", "https://s3.example.fi", "--s3-access-key", "a", "--s3-secret-key", "b"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Problems(); len(p) != 0 {
		t.Fatalf("problems = %q", p)
	}
}

func TestBindReportsPortInUse(t *testing.T) {
	c, _, _ := Parse("t", []string{"--listen", "127.0.0.1:0"}, env(nil), io.Discard)
	ln, err := c.Bind()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c.Listen = ln.Addr().String()
	_, err = c.Bind()
	if err == nil || !strings.Contains(err.Error(), "is already in use") {
		t.Fatalf("second bind error = %v", err)
	}
}

func TestBadShutdownTimeout(t *testing.T) {
	_, _, err := Parse("t", []string{"--shutdown-timeout", "soon"}, env(nil), io.Discard)
	if err == nil {
		t.Fatal("no error for a malformed duration")
	}
}

// FuzzParse: any command line gives a config or an error, never a panic,
// and validation never panics either.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"--listen 127.0.0.1:0", "--shutdown-timeout -1s", "--base-url ::", "--mongodb-uri mongodb://a:b@", "--no-such", "--s3-bucket A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, _, err := Parse("t", strings.Fields(line), env(map[string]string{"TYOKYKY_DATA_DIR": t.TempDir()}), io.Discard)
		if err != nil {
			return
		}
		c.DataDir = t.TempDir()
		_ = c.Problems()
	})
}
