package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The org commands on a data folder: the seeded organisations are
// listed, one is added with its domains, a units file is imported once
// (a second import adds nothing) and shown as a tree; bad input is told.
func TestOrgCommands(t *testing.T) {
	data := t.TempDir()
	orgRun := func(wantCode int, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if code := run(append(args, "--data-dir", data), mapEnv(nil), &out, &out); code != wantCode {
			t.Fatalf("%v = %d, want %d:\n%s", args, code, wantCode, out.String())
		}
		return out.String()
	}
	orgRun(0, "migrate", "up")
	list := orgRun(0, "org", "list")
	if n := strings.Count(list, "\n"); n != 24 || !strings.Contains(list, "pirkanmaa") || !strings.Contains(list, "HUS-yhtymä") {
		t.Fatalf("org list (%d lines):\n%s", n, list)
	}
	if out := orgRun(0, "org", "add", "--code", "esimerkki-oy", "--name-fi", "Esimerkki Oy", "--domains", "esimerkki.fi,ESIMERKKI.com"); !strings.Contains(out, "added esimerkki-oy") {
		t.Fatal(out)
	}
	if out := orgRun(0, "org", "list"); !strings.Contains(out, "esimerkki.fi,esimerkki.com") {
		t.Fatalf("the new organisation's domains:\n%s", out)
	}
	if out := orgRun(1, "org", "add", "--code", "Bad Code", "--name-fi", "X"); !strings.Contains(out, "short code") || !strings.Contains(out, "2–150") {
		t.Fatalf("bad add said:\n%s", out)
	}
	if out := orgRun(1, "org", "add", "--code", "toinen", "--name-fi", "Toinen Oy", "--domains", "esimerkki.fi"); !strings.Contains(out, "esimerkki.fi belongs to another organisation") {
		t.Fatalf("a taken domain said:\n%s", out)
	}
	file := filepath.Join(t.TempDir(), "yksikot.csv")
	if err := os.WriteFile(file, []byte("Yksikkö;Taso 2\nHoitotyö;Osasto 1\nHoitotyö;Osasto 2\nHallinto\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := orgRun(0, "org", "units", "import", file, "--org", "esimerkki-oy"); !strings.Contains(out, "4 units created (3 rows read)") {
		t.Fatal(out)
	}
	if out := orgRun(0, "org", "units", "import", file, "--org", "esimerkki-oy"); !strings.Contains(out, "0 units created") {
		t.Fatal(out)
	}
	tree := orgRun(0, "org", "units", "list", "--org", "esimerkki-oy")
	if !strings.HasPrefix(tree, "Hallinto  (") || !strings.Contains(tree, "\nHoitotyö  (") || !strings.Contains(tree, "\n  Osasto 2  (") {
		t.Fatalf("units list:\n%s", tree)
	}
	if out := orgRun(1, "org", "units", "import", file, "--org", "nosuch"); !strings.Contains(out, "no such organisation") {
		t.Fatal(out)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("A,,B\n"), 0o600)
	if out := orgRun(1, "org", "units", "import", bad, "--org", "esimerkki-oy"); !strings.Contains(out, "line 1 of the units file") {
		t.Fatal(out)
	}
	orgRun(2, "org", "units", "import", file)
	orgRun(2, "org", "frobnicate")

	// A provider: its client secret from a file, sealed with the key
	// secret, which must be set.
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("asiakassalaisuus\n"), 0o600)
	provider := []string{"org", "provider", "add", "--org", "esimerkki-oy", "--id", "esimerkki", "--issuer", "https://login.example.fi/tenant/v2.0",
		"--client-id", "abc", "--client-secret-file", secretFile, "--claim-unit", "department", "--require", "yes"}
	if out := orgRun(2, provider...); !strings.Contains(out, "which is not set: make one with") {
		t.Fatalf("provider add without a key secret said:\n%s", out)
	}
	withKey := func(wantCode int, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		env := mapEnv(map[string]string{"TYOKYKY_CERT_KEY_SECRET": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="})
		if code := run(append(args, "--data-dir", data), env, &out, &out); code != wantCode {
			t.Fatalf("%v = %d, want %d:\n%s", args, code, wantCode, out.String())
		}
		return out.String()
	}
	if out := withKey(0, provider...); !strings.Contains(out, "http://localhost:8080/kirjaudu/oidc/esimerkki/paluu") || !strings.Contains(out, "scopes openid email profile") {
		t.Fatalf("provider add said:\n%s", out)
	}
	if out := withKey(1, provider...); !strings.Contains(out, "another provider has that id") {
		t.Fatalf("a second add said:\n%s", out)
	}
	if out := withKey(0, "org", "provider", "list", "--org", "esimerkki-oy"); !strings.Contains(out, "esimerkki  https://login.example.fi/tenant/v2.0  client abc") || strings.Contains(out, "asiakassalaisuus") {
		t.Fatalf("provider list:\n%s", out)
	}
}
