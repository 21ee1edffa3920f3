package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/database"
)

// keys rotate and list, and cert verify offline with a saved key set and
// with the key set's address.
func TestKeysAndOfflineVerification(t *testing.T) {
	data := t.TempDir()
	var out bytes.Buffer
	if code := run([]string{"keys", "rotate", "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 || !strings.Contains(out.String(), "new signing key") {
		t.Fatalf("keys rotate = %d: %s", code, out.String())
	}
	if code := run([]string{"keys", "rotate", "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 {
		t.Fatalf("second rotate = %d: %s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"keys", "list", "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 || strings.Count(out.String(), "\tEdDSA\t") != 2 {
		t.Fatalf("keys list = %d: %s", code, out.String())
	}
	if fi, err := os.Stat(filepath.Join(data, "keys")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("key folder: %v %v", fi, err)
	}
	if code := run([]string{"keys", "rotate", "--data-dir", data, "--cert-alg", "HS256"}, mapEnv(nil), &out, &out); code != 2 {
		t.Fatalf("an HMAC key = %d", code)
	}
	// The LTI tool's keys are a set of their own: RS256, listed apart.
	out.Reset()
	if code := run([]string{"keys", "rotate", "--set", "lti", "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 || !strings.Contains(out.String(), "(RS256)") {
		t.Fatalf("keys rotate --set lti = %d: %s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"keys", "list", "--set", "lti", "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 || strings.Count(out.String(), "\tRS256\t") != 1 || strings.Contains(out.String(), "EdDSA") {
		t.Fatalf("keys list --set lti = %d: %s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"keys", "list", "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 || strings.Contains(out.String(), "RS256") {
		t.Fatalf("the certificate keys list the LTI key: %s", out.String())
	}
	if code := run([]string{"keys", "list", "--set", "muu", "--data-dir", data}, mapEnv(nil), &out, &out); code != 2 {
		t.Fatalf("an unknown key set = %d", code)
	}

	// A certificate signed with the newest key, and the key set saved.
	ctx := context.Background()
	db, err := database.Open(ctx, database.Options{Database: "tyokyky", Dir: filepath.Join(data, "db")})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := cert.NewKeys(db, cert.KeyOptions{Dir: filepath.Join(data, "keys")})
	if err := keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	certs := cert.NewStore(db, keys, cert.Options{BaseURL: "https://kurssi.example", Issuer: cert.Issuer{ID: "https://kurssi.example/myontaja", Name: "Koulutus Oy"},
		Course: func() cert.Course {
			return cert.Course{ID: "https://kurssi.example/", Title: "Työkyvyn tuen johtaminen", Credits: 1, Hours: 27}
		},
		HolderName: func(context.Context, string) (string, error) { return "Väinö Ölander", nil }})
	c, err := certs.Issue(ctx, "u1", "a1")
	if err != nil {
		t.Fatal(err)
	}
	jwks := keys.JWKS()
	db.Close(ctx)
	file := filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(file, jwks, 0o600)
	tokenFile := filepath.Join(t.TempDir(), "todistus.jwt")
	os.WriteFile(tokenFile, []byte(c.Token+"\n"), 0o600)

	out.Reset()
	if code := run([]string{"cert", "verify", "--jwks", file, "--issuer", "https://kurssi.example/myontaja", c.Token}, mapEnv(nil), &out, &out); code != 0 ||
		!strings.Contains(out.String(), "VALID SIGNATURE") || !strings.Contains(out.String(), "Väinö Ölander") || !strings.Contains(out.String(), "Revocation is not checked offline") {
		t.Fatalf("verify = %d: %s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"cert", "verify", "--jwks", file, "--issuer", "https://kurssi.example/myontaja", tokenFile}, mapEnv(nil), &out, &out); code != 0 {
		t.Fatalf("verify a token file = %d: %s", code, out.String())
	}
	out.Reset()
	altered := c.Token[:len(c.Token)-4] + "AAAA"
	if code := run([]string{"cert", "verify", "--jwks", file, "--issuer", "https://kurssi.example/myontaja", altered}, mapEnv(nil), &out, &out); code != 1 || !strings.Contains(out.String(), "INVALID") {
		t.Fatalf("an altered token = %d: %s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"cert", "verify", "--jwks", file, c.Token}, mapEnv(nil), &out, &out); code != 2 || !strings.Contains(out.String(), "--issuer") {
		t.Fatalf("a saved key set without --issuer = %d: %s", code, out.String())
	}
	// From the key set's address the issuer is the site's.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(jwks) }))
	defer srv.Close()
	out.Reset()
	code := run([]string{"cert", "verify", "--jwks", srv.URL + "/.well-known/jwks.json", c.Token}, mapEnv(nil), &out, &out)
	if code != 1 || !strings.Contains(out.String(), "issued by someone else") {
		t.Fatalf("a key set from another site = %d: %s", code, out.String())
	}
}

// content export writes the published course in the layout of content/,
// and importing it again changes nothing.
func TestContentExportImportRoundTrip(t *testing.T) {
	data := t.TempDir()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.CopyFS(src, contentFS("")); err != nil {
		t.Fatal(err)
	}
	// An archived section and a hidden module are part of the tree too.
	archived := filepath.Join("archive", "modules", "01-tyokyvyn-tuki", "08-vanha.md.20261124T120000")
	hidden := filepath.Join("modules", "05-tulossa", "module.md")
	for f, text := range map[string]string{
		archived: "---\ntitle: Vanha osio\nminutes: 5\n---\nArkistoitu teksti.\n",
		hidden:   "---\ntitle: Tulossa\norder: 5\nhidden: true\nsummary: Kirjoitetaan.\nobjectives: []\nminutes: 0\n---\nJohdanto.\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if code := run([]string{"content", "import", src, "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 {
		t.Fatalf("import = %d: %s", code, out.String())
	}
	dir := filepath.Join(t.TempDir(), "export")
	out.Reset()
	if code := run([]string{"content", "export", dir, "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 || !strings.Contains(out.String(), "files written") {
		t.Fatalf("export = %d: %s", code, out.String())
	}
	for _, f := range []string{"course.yaml", "legislation.yaml", "exam/exam.yaml", archived, hidden} {
		a, _ := os.ReadFile(filepath.Join(src, f))
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s differs after export: %v", f, err)
		}
	}
	out.Reset()
	if code := run([]string{"content", "import", dir, "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 || !strings.Contains(out.String(), "0 changed, 0 deleted") {
		t.Fatalf("importing the export = %d: %s", code, out.String())
	}
	if code := run([]string{"content", "export", "--drafts"}, mapEnv(nil), &out, &out); code != 2 {
		t.Fatalf("export without a folder = %d", code)
	}
}
