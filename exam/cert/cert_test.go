package cert

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.StartDatabase) }

const base = "https://kurssi.example.fi"

func newCertStore(t testing.TB, ko KeyOptions) *Store {
	t.Helper()
	db := env.Database()
	if err := EnsureIndexes(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if ko.Secret == nil && ko.Dir == "" {
		ko.Dir = t.TempDir()
	}
	keys, err := NewKeys(db, ko)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return NewStore(db, keys, Options{
		BaseURL: base,
		Issuer:  Issuer{ID: base + "/myontaja", Name: "Esimerkin koulutus Oy", Address: "Esimerkkikatu 1, 00100 Helsinki, Suomi", URL: base},
		Course: func() Course {
			return Course{ID: base + "/", Title: "Työkyvyn tuen johtaminen sosiaali- ja terveydenhuollossa",
				Description: "Verkkokurssi, 27 tuntia.", Criteria: "Hyväksytty loppukoe.", Credits: 1, Hours: 27, Language: "fi"}
		},
		HolderName: func(_ context.Context, user string) (string, error) {
			if user == "missing" {
				return "", errors.New("no such user")
			}
			return "Åsa Öhman-Järvinen", nil
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// A certificate is an Open Badges 3.0 credential in the VC-JWT form, and
// a second, independent JWT implementation verifies it against the JWKS.
func TestIssueMakesAVerifiableOpenBadge(t *testing.T) {
	ctx := context.Background()
	s := newCertStore(t, KeyOptions{})
	c, err := s.Issue(ctx, "u1", "attempt-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ID) != 22 || c.URL != base+"/todistus/"+c.ID || c.Holder != "Åsa Öhman-Järvinen" || c.Credits != 1 || c.Hours != 27 {
		t.Fatalf("certificate = %+v", c)
	}
	again, err := s.Issue(ctx, "u1", "attempt-1")
	if err != nil || again.ID != c.ID || again.Token != c.Token {
		t.Fatalf("issuing again = %v, %v; want the same certificate", again, err)
	}

	// go-jose reads our JWKS and verifies the token with it.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(s.Keys().JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatalf("the JWKS holds a private key: %s", k.KeyID)
		}
	}
	sig, err := jose.ParseSigned(c.Token, []jose.SignatureAlgorithm{jose.EdDSA, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	h := sig.Signatures[0].Header
	if h.KeyID != c.KeyID || h.Algorithm != "EdDSA" || h.ExtraHeaders["typ"] != "JWT" {
		t.Fatalf("header = %+v", h)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %s in the JWKS: %d keys", h.KeyID, len(keys))
	}
	payload, err := sig.Verify(keys[0])
	if err != nil {
		t.Fatalf("go-jose does not verify our token: %v", err)
	}
	var p map[string]any
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Fatal(err)
	}
	// Section 8.2: the credential at the top, with iss, nbf, jti, sub.
	ctxs, _ := p["@context"].([]any)
	types, _ := p["type"].([]any)
	subject, _ := p["credentialSubject"].(map[string]any)
	status, _ := p["credentialStatus"].(map[string]any)
	issuer, _ := p["issuer"].(map[string]any)
	if len(ctxs) != 2 || ctxs[0] != "https://www.w3.org/ns/credentials/v2" || !strings.HasPrefix(ctxs[1].(string), "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0") {
		t.Errorf("@context = %v", p["@context"])
	}
	if len(types) != 2 || types[1] != "OpenBadgeCredential" || p["vc"] != nil {
		t.Errorf("type = %v (vc wrapper %v)", types, p["vc"])
	}
	if p["iss"] != issuer["id"] || p["jti"] != p["id"] || p["sub"] != subject["id"] || p["id"] != c.URL {
		t.Errorf("registered claims do not mirror the credential: %v", p)
	}
	nbf, _ := p["nbf"].(float64)
	if vf, _ := time.Parse(time.RFC3339, p["validFrom"].(string)); vf.Unix() != int64(nbf) {
		t.Errorf("nbf %v ≠ validFrom %v", p["nbf"], p["validFrom"])
	}
	if status["type"] != "BitstringStatusListEntry" || status["statusPurpose"] != "revocation" || status["statusListCredential"] != base+"/credentials/status/1" {
		t.Errorf("credentialStatus = %v", status)
	}
	ach, _ := subject["achievement"].(map[string]any)
	if ach["name"] != "Työkyvyn tuen johtaminen sosiaali- ja terveydenhuollossa" || ach["creditsAvailable"] != float64(1) {
		t.Errorf("achievement = %v", ach)
	}
	if strings.Contains(string(payload), "@example") || strings.Contains(string(payload), "email") {
		t.Errorf("the payload holds an e-mail address: %s", payload)
	}
	if addr, _ := issuer["address"].(map[string]any); addr["postalCode"] != "00100" || addr["addressLocality"] != "Helsinki" || addr["streetAddress"] != "Esimerkkikatu 1" {
		t.Errorf("issuer address = %v", issuer["address"])
	}

	v := s.Verify(ctx, c.Token)
	if !v.Valid || v.Revoked || v.Claims["jti"] != c.URL {
		t.Fatalf("verify = %+v", v)
	}
	// Another learner cannot take over the attempt's certificate.
	if _, err := s.Issue(ctx, "u2", "attempt-1"); err == nil {
		t.Fatal("another learner was given the attempt's certificate")
	}
	if _, err := s.Issue(ctx, "missing", "attempt-x"); err == nil {
		t.Fatal("a certificate without a holder's name")
	}
}

// forge signs claims as an attacker would.
func forge(t *testing.T, method jwt.SigningMethod, header map[string]any, claims jwt.MapClaims, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRefusesForgeries(t *testing.T) {
	ctx := context.Background()
	s := newCertStore(t, KeyOptions{})
	c, err := s.Issue(ctx, "u1", "attempt-forge")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(c.Token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims jwt.MapClaims
	json.Unmarshal(payload, &claims)
	pub := s.Keys().Public(c.KeyID)
	pubDER, _ := x509.MarshalPKIXPublicKey(pub.Key)
	_, attackerKey, _ := ed25519.GenerateKey(rand.Reader)

	altered := strings.Replace(string(payload), "Åsa Öhman-Järvinen", "Matti Meikäläinen", 1)
	otherIssuer := jwt.MapClaims{}
	for k, v := range claims {
		otherIssuer[k] = v
	}
	otherIssuer["iss"] = "https://huijari.example/myontaja"
	noNbf := jwt.MapClaims{}
	for k, v := range claims {
		noNbf[k] = v
	}
	delete(noNbf, "nbf")
	cases := map[string]struct {
		token string
		want  string
	}{
		"altered payload":                     {parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(altered)) + "." + parts[2], "signature"},
		"alg none":                            {forge(t, jwt.SigningMethodNone, map[string]any{"kid": c.KeyID}, claims, jwt.UnsafeAllowNoneSignatureType), "signature"},
		"HS256 with the public key as secret": {forge(t, jwt.SigningMethodHS256, map[string]any{"kid": c.KeyID}, claims, pubDER), "signature"},
		"unknown kid":                         {forge(t, jwt.SigningMethodEdDSA, map[string]any{"kid": "someone-else"}, claims, attackerKey), "not one of the issuer's keys"},
		"our kid, their key":                  {forge(t, jwt.SigningMethodEdDSA, map[string]any{"kid": c.KeyID}, claims, attackerKey), "signature"},
		"embedded jwk":                        {forge(t, jwt.SigningMethodEdDSA, map[string]any{"kid": c.KeyID, "jwk": map[string]string{"kty": "OKP"}}, claims, attackerKey), "key of its own"},
		"jku":                                 {forge(t, jwt.SigningMethodEdDSA, map[string]any{"kid": c.KeyID, "jku": "https://huijari.example/jwks"}, claims, attackerKey), "key of its own"},
		"another issuer":                      {signWith(t, s, otherIssuer), "issued by someone else"},
		"no nbf":                              {signWith(t, s, noNbf), "nbf"},
		"not a JWT":                           {"abc", "well-formed"},
	}
	for name, tc := range cases {
		v := s.Verify(ctx, tc.token)
		if v.Valid || !strings.Contains(v.Reason, tc.want) {
			t.Errorf("%s: %+v, want refused with %q", name, v, tc.want)
		}
	}
}

// signWith signs claims with the store's own current key (what a bug or a
// stolen database row could produce), to test the claim checks alone.
func signWith(t *testing.T, s *Store, claims jwt.MapClaims) string {
	t.Helper()
	tok, _, err := s.Keys().sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestRevocationAndStatusList(t *testing.T) {
	ctx := context.Background()
	s := newCertStore(t, KeyOptions{})
	var certs []*Certificate
	for _, a := range []string{"r1", "r2", "r3"} {
		c, err := s.Issue(ctx, "u-"+a, "attempt-"+a)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if _, err := s.Revoke(ctx, certs[1].ID, "admin", ""); err == nil {
		t.Fatal("revoked without a reason")
	}
	if _, err := s.Revoke(ctx, certs[1].ID, "admin", "Suoritus hylätty vilpin vuoksi"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(ctx, certs[1].ID, "admin", "uudelleen"); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoking twice = %v", err)
	}
	if _, err := s.Revoke(ctx, "nosuch", "admin", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoking an unknown certificate = %v", err)
	}
	v := s.Verify(ctx, certs[1].Token)
	if v.Valid || !v.Revoked || !strings.Contains(v.Reason, "vilpin") {
		t.Fatalf("a revoked certificate = %+v", v)
	}
	if v := s.Verify(ctx, certs[0].Token); !v.Valid {
		t.Fatalf("an unrevoked certificate = %+v", v)
	}

	// The status list is a signed credential whose bit says revoked.
	token, err := s.StatusList(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(token, claims, func(tk *jwt.Token) (any, error) {
		return s.Keys().Public(tk.Header["kid"].(string)).Key, nil
	}, jwt.WithValidMethods([]string{"EdDSA"})); err != nil {
		t.Fatal(err)
	}
	subject := claims["credentialSubject"].(map[string]any)
	if subject["type"] != "BitstringStatusList" || subject["statusPurpose"] != "revocation" || claims["id"] != base+"/credentials/status/1" {
		t.Fatalf("status list = %v", claims)
	}
	bits, err := DecodeList(subject["encodedList"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if len(bits)*8 < 131072 {
		t.Fatalf("the list has %d entries, want at least 131,072", len(bits)*8)
	}
	set := func(i int) bool { return bits[i/8]&(0x80>>(i%8)) != 0 }
	for i, c := range certs {
		if set(c.Index) != (i == 1) {
			t.Errorf("certificate %d (index %d): bit = %v", i, c.Index, set(c.Index))
		}
	}
	if _, err := s.StatusList(ctx, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("list 0 = %v", err)
	}
}

func TestEncodeListRoundTrip(t *testing.T) {
	bits := make([]byte, ListSize/8)
	bits[0] = 0x80 // index 0
	bits[ListSize/8-1] = 0x01
	enc, err := EncodeList(bits)
	if err != nil || !strings.HasPrefix(enc, "u") || len(enc) > 200 {
		t.Fatalf("encoded = %d chars, %v", len(enc), err)
	}
	back, err := DecodeList(enc)
	if err != nil || len(back) != len(bits) || back[0] != 0x80 || back[len(back)-1] != 0x01 {
		t.Fatalf("decoded = %d bytes, %v", len(back), err)
	}
	if _, err := DecodeList("zabc"); err == nil {
		t.Fatal("a list without the multibase prefix was read")
	}
}

// Rotation: the new key signs, the old one stays published and its
// certificates stay valid. Keys are kept sealed or in 0600 files.
func TestKeyRotationKeepsOldCertificatesValid(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"file", "sealed", "rs256"} {
		t.Run(mode, func(t *testing.T) {
			// A database of its own: the key set is per database.
			ko := KeyOptions{}
			switch mode {
			case "sealed":
				ko.Secret = make([]byte, 32)
				rand.Read(ko.Secret)
			case "rs256":
				ko.Alg = AlgRS256
			}
			s := newIsolatedStore(t, ko)
			old, err := s.Issue(ctx, "u1", "a-"+mode)
			if err != nil {
				t.Fatal(err)
			}
			if mode == "file" {
				fi, err := os.Stat(filepath.Join(s.keys.opts.Dir, old.KeyID+".pem"))
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("private key file: %v %v", fi, err)
				}
			}
			next, err := s.Keys().Rotate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := s.Issue(ctx, "u2", "b-"+mode)
			if err != nil {
				t.Fatal(err)
			}
			if fresh.KeyID != next.ID || fresh.KeyID == old.KeyID {
				t.Fatalf("after rotation signed with %s, want %s", fresh.KeyID, next.ID)
			}
			for _, c := range []*Certificate{old, fresh} {
				if v := s.Verify(ctx, c.Token); !v.Valid {
					t.Fatalf("certificate signed with %s: %+v", c.KeyID, v)
				}
			}
			var set struct{ Keys []map[string]string }
			json.Unmarshal(s.Keys().JWKS(), &set)
			if len(set.Keys) != 2 {
				t.Fatalf("JWKS has %d keys, want both", len(set.Keys))
			}
			for _, k := range set.Keys {
				for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
					if k[private] != "" {
						t.Fatalf("JWKS key %s has the private member %s", k["kid"], private)
					}
				}
				if mode == "rs256" && k["alg"] != "RS256" {
					t.Fatalf("alg = %s", k["alg"])
				}
			}
			if mode == "sealed" {
				// The wrong secret cannot open the keys.
				wrong := make([]byte, 32)
				k2, _ := NewKeys(s.db, KeyOptions{Secret: wrong})
				if err := k2.Load(ctx); err == nil || !strings.Contains(err.Error(), "secret") {
					t.Fatalf("keys opened with the wrong secret: %v", err)
				}
			}
		})
	}
	if _, err := NewKeys(env.Database(), KeyOptions{Alg: "HS256", Dir: t.TempDir()}); err == nil {
		t.Fatal("HS256 accepted as the signing algorithm")
	}
	if _, err := NewKeys(env.Database(), KeyOptions{Secret: []byte("short")}); err == nil {
		t.Fatal("a short secret accepted")
	}
}

// newIsolatedStore is a store on a database of its own.
func newIsolatedStore(t *testing.T, ko KeyOptions) *Store {
	t.Helper()
	db := env.DB.Named("cert_" + strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	if ko.Secret == nil && ko.Dir == "" {
		ko.Dir = t.TempDir()
	}
	keys, err := NewKeys(db, ko)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := newCertStore(t, KeyOptions{})
	s.db, s.keys = db, keys
	return s
}

func TestConcurrentIssueGivesOneCertificate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := newCertStore(t, KeyOptions{})
	// Two instances on one database: their locks do not see each other,
	// so the claim's unique key decides.
	instances := []*Store{s, NewStore(s.db, s.keys, s.opts)}
	ids := make(chan string, 10)
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := instances[i%2].Issue(ctx, "u-c", "attempt-concurrent")
			if err != nil {
				t.Error(err)
				return
			}
			ids <- c.ID
		}()
	}
	wg.Wait()
	close(ids)
	first := ""
	for id := range ids {
		if first == "" {
			first = id
		}
		if id != first {
			t.Fatalf("two certificates for one attempt: %s, %s", first, id)
		}
	}
	list, err := s.ForUser(ctx, "u-c")
	if err != nil || len(list) != 1 {
		t.Fatalf("the learner has %d certificates, %v", len(list), err)
	}
}

func BenchmarkIssue(b *testing.B) {
	ctx := context.Background()
	s := newCertStore(b, KeyOptions{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Issue(ctx, "bench", "bench-"+time.Now().Format("150405.000000000")+string(rune('a'+i%26))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	s := newCertStore(b, KeyOptions{})
	c, err := s.Issue(ctx, "bench", "bench-verify")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if v := s.Verify(ctx, c.Token); !v.Valid {
				b.Fatal(v.Reason)
			}
		}
	})
}

// An offline verifier with a saved JWKS gets the same answer on the
// signature as the issuer.
func TestParseJWKSVerifiesOffline(t *testing.T) {
	ctx := context.Background()
	s := newCertStore(t, KeyOptions{})
	c, err := s.Issue(ctx, "u-off", "attempt-offline")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParseJWKS(s.Keys().JWKS())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(c.Token, keys, base+"/myontaja", time.Now()); err != nil {
		t.Fatalf("offline: %v", err)
	}
	if _, err := Parse(c.Token, keys, "https://toinen.example/myontaja", time.Now()); err == nil {
		t.Fatal("offline: another issuer accepted")
	}
	for name, doc := range map[string]string{
		"empty":   `{"keys":[]}`,
		"private": `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + strings.Repeat("A", 43) + `","d":"x","kid":"k"}]}`,
		"hmac":    `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"k"}]}`,
		"garbage": `not json`,
	} {
		if _, err := ParseJWKS([]byte(doc)); err == nil {
			t.Errorf("%s key set accepted", name)
		}
	}
}

func TestForAttemptsFindsByIDs(t *testing.T) {
	ctx := context.Background()
	s := newCertStore(t, KeyOptions{})
	a, _ := s.Issue(ctx, "u-fa", "fa-1")
	b, _ := s.Issue(ctx, "u-fa", "fa-2")
	s.Issue(ctx, "u-other", "fa-3")
	list, err := s.ForAttempts(ctx, "u-fa", []string{"fa-1", "fa-x", "fa-2", "fa-3"})
	if err != nil || len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
		t.Fatalf("for attempts = %v, %v", list, err)
	}
}

// A certificate's own standing: valid, revoked, or invalid when its stored
// token does not check out (a key gone, a token of another certificate).
func TestStatusOfARecord(t *testing.T) {
	ctx := context.Background()
	s := newCertStore(t, KeyOptions{})
	a, _ := s.Issue(ctx, "u-st", "st-1")
	b, _ := s.Issue(ctx, "u-st2", "st-2")
	if v := s.Status(a); !v.Valid {
		t.Fatalf("status = %+v", v)
	}
	swapped := *a
	swapped.Token = b.Token
	if v := s.Status(&swapped); v.Valid || !strings.Contains(v.Reason, "another certificate") {
		t.Fatalf("another certificate's token = %+v", v)
	}
	broken := *a
	broken.Token = a.Token[:len(a.Token)-3] + "AAA"
	if v := s.Status(&broken); v.Valid || v.Revoked || !strings.Contains(v.Reason, "signature") {
		t.Fatalf("a broken token = %+v", v)
	}
	r, _ := s.Revoke(ctx, a.ID, "admin", "syy")
	if v := s.Status(r); v.Valid || !v.Revoked {
		t.Fatalf("revoked = %+v", v)
	}
}

// A certificate whose holder has no verified address waits: Issue says
// so, Backfill steps over it, and once MayIssue allows it the next
// Backfill issues it and tells Issued once.
func TestCertificateWaitsForTheHolder(t *testing.T) {
	ctx := context.Background()
	s := newCertStore(t, KeyOptions{})
	verified := false
	var told []string
	s.opts.MayIssue = func(_ context.Context, user string) error {
		if !verified {
			return ErrWaiting
		}
		return nil
	}
	s.opts.Issued = func(_ context.Context, c *Certificate) { told = append(told, c.ID) }
	if _, err := s.Issue(ctx, "u-wait", "attempt-wait"); !errors.Is(err, ErrWaiting) {
		t.Fatalf("Issue before verification: %v", err)
	}
	passed := []exam.PassedAttempt{{UserID: "u-wait", Attempt: "attempt-wait"}}
	if n, err := s.Backfill(ctx, passed); err != nil || n != 0 {
		t.Fatalf("Backfill before verification: %d %v", n, err)
	}
	verified = true
	if n, err := s.Backfill(ctx, passed); err != nil || n != 1 {
		t.Fatalf("Backfill after verification: %d %v", n, err)
	}
	if _, err := s.Issue(ctx, "u-wait", "attempt-wait"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.ForUser(ctx, "u-wait"); len(list) != 1 || len(told) != 1 || told[0] != list[0].ID {
		t.Fatalf("certificates %v, told %v", list, told)
	}
}

// errStop stands for the process dying at a crash point: the test's hook
// panics there and Issue's caller recovers.
type errStop string

// Issuing cut short at any step (the claim made, the status entry taken,
// the certificate written but its holder not yet told) is finished by
// Backfill: one certificate per attempt, and its notice told once.
func TestIssueCutShortIsFinishedByBackfill(t *testing.T) {
	ctx := context.Background()
	s := newCertStore(t, KeyOptions{})
	told := map[string]int{}
	s.opts.Issued = func(_ context.Context, c *Certificate) { told[c.ID]++ }
	t.Cleanup(func() { crashpoint.Set(nil) })
	for _, step := range []string{"certificate/after-claim", "certificate/after-slot", "certificate/after-insert"} {
		user, attempt := "u-cut-"+step, "attempt-cut-"+step
		crashpoint.Set(func(at string) {
			if at == step {
				panic(errStop(at))
			}
		})
		func() {
			defer func() {
				if r := recover(); r != errStop(step) {
					t.Fatalf("%s: Issue was not stopped at its step (%v)", step, r)
				}
			}()
			s.Issue(ctx, user, attempt)
		}()
		crashpoint.Set(nil)
		if _, err := s.Backfill(ctx, []exam.PassedAttempt{{UserID: user, Attempt: attempt}}); err != nil {
			t.Fatalf("%s: Backfill: %v", step, err)
		}
		// A second run and a late Issue change nothing.
		if n, err := s.Backfill(ctx, []exam.PassedAttempt{{UserID: user, Attempt: attempt}}); err != nil || n != 0 {
			t.Fatalf("%s: second Backfill: %d %v", step, n, err)
		}
		c, err := s.Issue(ctx, user, attempt)
		if err != nil {
			t.Fatal(err)
		}
		list, err := s.ForUser(ctx, user)
		if err != nil || len(list) != 1 || list[0].ID != c.ID {
			t.Fatalf("%s: certificates %v (%v), want the one %s", step, list, err, c.ID)
		}
		if told[c.ID] != 1 {
			t.Errorf("%s: the holder was told %d times, want once", step, told[c.ID])
		}
		if stored, _ := s.Get(ctx, c.ID); stored == nil || stored.NoticePending {
			t.Errorf("%s: the notice is still pending after it was told", step)
		}
		if v := s.Verify(ctx, c.Token); !v.Valid {
			t.Errorf("%s: the finished certificate does not verify: %s", step, v.Reason)
		}
	}
}
