package sso_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/migrate"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/sso"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.StartDatabase) }

var quiet = slog.New(slog.DiscardHandler)

// person is a user of the test provider with the claims we choose.
type person struct {
	sub    string
	claims map[string]any
}

func (p *person) ID() string { return p.sub }
func (p *person) Userinfo([]string) ([]byte, error) {
	return json.Marshal(map[string]any{"sub": p.sub})
}
func (p *person) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	c := jwt.MapClaims{"nonce": base.Nonce, "iss": base.Issuer, "sub": base.Subject, "aud": []string(base.Audience),
		"exp": base.ExpiresAt.Unix(), "iat": base.IssuedAt.Unix(), "nbf": base.NotBefore.Unix(), "jti": base.ID}
	for k, v := range p.claims {
		c[k] = v
	}
	return c, nil
}

// provider is a real OpenID provider (mockoidc) on a free port of this
// process, whose token answers a test may forge: forge gets the ID
// token's header and claims and returns the token to send instead.
type provider struct {
	m     *mockoidc.MockOIDC
	mu    sync.Mutex
	forge func(t *testing.T, header map[string]any, claims jwt.MapClaims) string
	t     *testing.T
}

func startProvider(t *testing.T) *provider {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{m: m, t: t}
	err = m.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.mu.Lock()
			forge := p.forge
			p.mu.Unlock()
			if forge == nil || r.URL.Path != "/oidc/token" {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var body map[string]any
			if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes())
				return
			}
			raw, _ := body["id_token"].(string)
			tok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
			if err != nil {
				t.Error(err)
				return
			}
			body["id_token"] = forge(t, tok.Header, tok.Claims.(jwt.MapClaims))
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(body)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return p
}

func (p *provider) setForge(f func(t *testing.T, header map[string]any, claims jwt.MapClaims) string) {
	p.mu.Lock()
	p.forge = f
	p.mu.Unlock()
}

// sign signs claims as the provider does (its key and kid), with a
// change made first.
func (p *provider) sign(t *testing.T, claims jwt.MapClaims) string {
	s, err := p.m.Keypair.SignJWT(claims)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type fixture struct {
	svc      *sso.Service
	dir      *org.Directory
	accounts *account.Store
	op       *provider
}

var key = bytes.Repeat([]byte{7}, 32)

// setup: the directory seeded (migrations), Pirkanmaa with the domain
// pirha.fi, a unit tree, and its provider at the test OP.
func setup(t *testing.T) *fixture { t.Helper(); return setupWith(t, nil) }

// setupWith lets a test change the provider before it is registered.
func setupWith(t *testing.T, change func(*org.Provider)) *fixture {
	t.Helper()
	ctx := t.Context()
	db := env.Database()
	if _, err := migrate.Run(ctx, db, migrate.Options{Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	if err := account.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := org.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	dir := org.NewDirectory(db)
	if err := dir.AddDomain(ctx, "pirkanmaa", "pirha.fi"); err != nil {
		t.Fatal(err)
	}
	sote, _ := dir.AddUnit(ctx, "pirkanmaa", "", "Sosiaalipalvelut", "test")
	if _, err := dir.AddUnit(ctx, "pirkanmaa", sote.ID, "Perhekeskus Hervanta", "test"); err != nil {
		t.Fatal(err)
	}
	op := startProvider(t)
	cfg := op.m.Config()
	prov := org.Provider{ID: "pirha", Org: "pirkanmaa", Issuer: cfg.Issuer, ClientID: cfg.ClientID,
		Scopes: []string{"openid email profile"}, Claims: org.Claims{Unit: "department", Groups: "groups"}}
	if change != nil {
		change(&prov)
	}
	if _, errs := dir.AddProvider(ctx, prov, cfg.ClientSecret, key); len(errs) > 0 {
		t.Fatal(errs)
	}
	accounts := account.NewStore(db)
	svc := sso.New(sso.Options{Directory: dir, Accounts: accounts, DB: db, KeySecret: key, BaseURL: "https://kurssi.example.fi", Logger: quiet})
	return &fixture{svc: svc, dir: dir, accounts: accounts, op: op}
}

var noFollow = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// signIn runs the flow as a browser would: Start, the provider's
// authorization endpoint (which signs the queued person in at once) and
// the callback's query.
func (f *fixture) signIn(t *testing.T, who *person) (sso.Callback, error) {
	t.Helper()
	if who != nil {
		f.op.m.QueueUser(who)
	}
	authURL, state, err := f.svc.Start(t.Context(), "pirha", "/omat-opinnot")
	if err != nil {
		return sso.Callback{}, err
	}
	au, _ := url.Parse(authURL)
	q := au.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") != state ||
		q.Get("redirect_uri") != "https://kurssi.example.fi/kirjaudu/oidc/pirha/paluu" {
		t.Fatalf("the authorization request lacks PKCE, nonce, state or the callback: %s", authURL)
	}
	resp, err := noFollow.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != 302 {
		t.Fatalf("the provider answered %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	return sso.Callback{Provider: "pirha", State: back.Query().Get("state"), Cookie: state, Code: back.Query().Get("code"), Error: back.Query().Get("error")}, nil
}

func niina(sub string) *person {
	return &person{sub: sub, claims: map[string]any{"email": "niina.neuvola@pirha.fi", "email_verified": true, "name": "Niina Neuvola",
		"department": "Perhekeskus Hervanta", "groups": []string{"kaikki"}}}
}

// The whole flow against the provider over HTTP: the first sign-in makes
// the account (unit from the claim), the next finds it by (issuer,
// subject) even after the address changed at the provider.
func TestSignInMakesAndFindsTheAccount(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	cb, err := f.signIn(t, niina("niina-1"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Finish(ctx, cb)
	if err != nil {
		t.Fatal(err)
	}
	u := res.User
	if !res.Created || u.Email != "niina.neuvola@pirha.fi" || u.Name != "Niina Neuvola" || u.OrgID != "pirkanmaa" || !u.EmailVerified ||
		u.Organisation != "Pirkanmaan hyvinvointialue" || u.Role != account.RoleLearner || res.Next != "/omat-opinnot" || res.IDToken == "" {
		t.Fatalf("made %+v (%+v)", u, res)
	}
	tree, _ := f.dir.Units(ctx, "pirkanmaa")
	if p := tree.Path(u.UnitID); len(p) != 2 || p[1] != "Perhekeskus Hervanta" {
		t.Fatalf("unit %q: %v", u.UnitID, p)
	}
	// No password sign-in for an account without a password.
	if _, err := f.accounts.Authenticate(ctx, u.Email, ""); !errors.Is(err, account.ErrBadCredentials) {
		t.Fatalf("password sign-in of a provider-made account: %v", err)
	}
	// The address changes at the provider: the same account.
	moved := niina("niina-1")
	moved.claims["email"] = "niina.n@pirha.fi"
	cb, _ = f.signIn(t, moved)
	again, err := f.svc.Finish(ctx, cb)
	if err != nil || again.User.ID != u.ID || again.Created || again.Linked {
		t.Fatalf("second sign-in: %+v %v", again, err)
	}
	// A deleted account takes its link along: the next sign-in makes a
	// new account.
	if err := f.accounts.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	cb, _ = f.signIn(t, moved)
	fresh, err := f.svc.Finish(ctx, cb)
	if err != nil || !fresh.Created || fresh.User.ID == u.ID {
		t.Fatalf("after deleting the account: %+v %v", fresh, err)
	}
}

// The provider rotates its signing key: go-oidc fetches the key set
// again for the unknown kid, and the sign-in goes on.
func TestKeyRotationAtTheProvider(t *testing.T) {
	f := setup(t)
	cb, _ := f.signIn(t, niina("rotation"))
	if _, err := f.svc.Finish(t.Context(), cb); err != nil {
		t.Fatal(err)
	}
	kp, err := mockoidc.RandomKeypair(2048)
	if err != nil {
		t.Fatal(err)
	}
	oldKid, _ := f.op.m.Keypair.KeyID()
	f.op.m.Keypair = kp
	if newKid, _ := kp.KeyID(); newKid == oldKid {
		t.Fatal("the new key has the old kid")
	}
	cb, _ = f.signIn(t, niina("rotation"))
	if res, err := f.svc.Finish(t.Context(), cb); err != nil || res.Created {
		t.Fatalf("after the provider's key rotation: %+v %v", res, err)
	}
}

// Every attack on the callback and the token is refused, and none
// leaves an account or a link behind.
func TestAttacksAreRefused(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	b64 := base64.RawURLEncoding.EncodeToString
	unsigned := func(header map[string]any, claims jwt.MapClaims) string {
		h, _ := json.Marshal(header)
		c, _ := json.Marshal(claims)
		return b64(h) + "." + b64(c) + "."
	}
	cases := []struct {
		name  string
		forge func(t *testing.T, h map[string]any, c jwt.MapClaims) string
		cb    func(cb *sso.Callback)
		want  error
	}{
		{name: "missing state", cb: func(cb *sso.Callback) { cb.State = "" }, want: sso.ErrState},
		{name: "state of another browser", cb: func(cb *sso.Callback) { cb.Cookie = otherFirst(cb.Cookie) }, want: sso.ErrState},
		{name: "state unknown here", cb: func(cb *sso.Callback) { cb.State, cb.Cookie = "forged", "forged" }, want: sso.ErrState},
		{name: "state of another provider", cb: func(cb *sso.Callback) { cb.Provider = "muu" }, want: sso.ErrState},
		{name: "error from the provider", cb: func(cb *sso.Callback) { cb.Error = "access_denied" }, want: sso.ErrDenied},
		{name: "a code the provider does not know", cb: func(cb *sso.Callback) { cb.Code = "keksitty" }, want: sso.ErrToken},
		{name: "nonce mismatch", forge: func(t *testing.T, h map[string]any, c jwt.MapClaims) string {
			c["nonce"] = "toinen"
			return f.op.sign(t, c)
		}, want: sso.ErrToken},
		{name: "no nonce", forge: func(t *testing.T, h map[string]any, c jwt.MapClaims) string {
			delete(c, "nonce")
			return f.op.sign(t, c)
		}, want: sso.ErrToken},
		{name: "signed by another key under the provider's kid", forge: func(t *testing.T, h map[string]any, c jwt.MapClaims) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
			tok.Header["kid"] = h["kid"]
			s, _ := tok.SignedString(otherKey)
			return s
		}, want: sso.ErrToken},
		{name: "alg none", forge: func(t *testing.T, h map[string]any, c jwt.MapClaims) string {
			return unsigned(map[string]any{"alg": "none", "typ": "JWT", "kid": h["kid"]}, c)
		}, want: sso.ErrToken},
		{name: "HS256 with the public key as the secret", forge: func(t *testing.T, h map[string]any, c jwt.MapClaims) string {
			jwks, _ := f.op.m.Keypair.JWKS()
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
			tok.Header["kid"] = h["kid"]
			s, _ := tok.SignedString(jwks)
			return s
		}, want: sso.ErrToken},
		{name: "wrong audience", forge: func(t *testing.T, h map[string]any, c jwt.MapClaims) string {
			c["aud"] = []string{"toinen-sovellus"}
			return f.op.sign(t, c)
		}, want: sso.ErrToken},
		{name: "wrong issuer", forge: func(t *testing.T, h map[string]any, c jwt.MapClaims) string {
			c["iss"] = "https://evil.example/oidc"
			return f.op.sign(t, c)
		}, want: sso.ErrToken},
		{name: "expired", forge: func(t *testing.T, h map[string]any, c jwt.MapClaims) string {
			c["exp"] = time.Now().Add(-10 * time.Minute).Unix()
			c["iat"] = time.Now().Add(-time.Hour).Unix()
			return f.op.sign(t, c)
		}, want: sso.ErrToken},
		{name: "no ID token", forge: func(t *testing.T, h map[string]any, c jwt.MapClaims) string { return "" }, want: sso.ErrToken},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.op.setForge(tc.forge)
			defer f.op.setForge(nil)
			who := niina("attack-" + string(rune('a'+i)))
			cb, err := f.signIn(t, who)
			if err != nil {
				t.Fatal(err)
			}
			if tc.cb != nil {
				tc.cb(&cb)
			}
			if _, err := f.svc.Finish(ctx, cb); !errors.Is(err, tc.want) {
				t.Fatalf("Finish = %v, want %v", err, tc.want)
			}
			if _, err := f.accounts.UserByIdentity(ctx, f.op.m.Issuer(), who.sub); !errors.Is(err, account.ErrNotFound) {
				t.Fatalf("the refused sign-in left a link: %v", err)
			}
		})
	}
	if _, err := f.accounts.UserByEmail(ctx, "niina.neuvola@pirha.fi"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("a refused sign-in made an account: %v", err)
	}

	// The harness itself: a token re-signed unchanged by the provider's
	// key passes, so the refusals above are the changes'.
	t.Run("control: re-signed unchanged", func(t *testing.T) {
		f.op.setForge(func(t *testing.T, h map[string]any, c jwt.MapClaims) string { return f.op.sign(t, c) })
		defer f.op.setForge(nil)
		cb, _ := f.signIn(t, niina("control"))
		if _, err := f.svc.Finish(ctx, cb); err != nil {
			t.Fatalf("an unchanged token was refused: %v", err)
		}
	})

	t.Run("replayed callback", func(t *testing.T) {
		cb, _ := f.signIn(t, niina("replay"))
		if _, err := f.svc.Finish(ctx, cb); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Finish(ctx, cb); !errors.Is(err, sso.ErrState) {
			t.Fatalf("the replay = %v", err)
		}
		// Two at once: one wins.
		cb, _ = f.signIn(t, niina("replay"))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() { _, errs[i] = f.svc.Finish(ctx, cb) })
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("two callbacks at once: %v", errs)
		}
	})
}

// An existing account is linked only for a verified address in the
// organisation's domains; an unverified address cannot take it over, and
// a foreign domain makes no account.
func TestLinkingCannotBeAbused(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	victim, errs := f.accounts.Register(ctx, account.Registration{Email: "ville.virtanen@pirha.fi", Name: "Ville Virtanen",
		Password: "villen oma pitkä salalause", Organisation: "Pirkanmaan hyvinvointialue", OrgID: "pirkanmaa"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	attacker := &person{sub: "attacker", claims: map[string]any{"email": "ville.virtanen@pirha.fi", "email_verified": false, "name": "Hyökkääjä"}}
	cb, _ := f.signIn(t, attacker)
	if _, err := f.svc.Finish(ctx, cb); !errors.Is(err, sso.ErrUnverified) {
		t.Fatalf("an unverified address = %v", err)
	}
	noClaim := &person{sub: "attacker2", claims: map[string]any{"email": "ville.virtanen@pirha.fi", "name": "Hyökkääjä"}}
	cb, _ = f.signIn(t, noClaim)
	if _, err := f.svc.Finish(ctx, cb); !errors.Is(err, sso.ErrUnverified) {
		t.Fatalf("no email_verified claim = %v", err)
	}
	foreign := &person{sub: "foreign", claims: map[string]any{"email": "someone@evil.example", "email_verified": true, "name": "Vieras"}}
	cb, _ = f.signIn(t, foreign)
	if _, err := f.svc.Finish(ctx, cb); !errors.Is(err, sso.ErrDomain) {
		t.Fatalf("a foreign domain = %v", err)
	}
	lookalike := &person{sub: "lookalike", claims: map[string]any{"email": "ville.virtanen@pirha.fi.evil.example", "email_verified": true, "name": "Vieras"}}
	cb, _ = f.signIn(t, lookalike)
	if _, err := f.svc.Finish(ctx, cb); !errors.Is(err, sso.ErrDomain) {
		t.Fatalf("a look-alike domain = %v", err)
	}
	for _, sub := range []string{"attacker", "attacker2", "foreign", "lookalike"} {
		if _, err := f.accounts.UserByIdentity(ctx, f.op.m.Issuer(), sub); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("%s was linked: %v", sub, err)
		}
	}
	// The real Ville, verified by his employer: linked to his account.
	ville := &person{sub: "ville", claims: map[string]any{"email": "Ville.Virtanen@pirha.fi", "email_verified": true, "name": "Ville Virtanen"}}
	cb, _ = f.signIn(t, ville)
	res, err := f.svc.Finish(ctx, cb)
	if err != nil || res.User.ID != victim.ID || !res.Linked {
		t.Fatalf("linking the verified owner: %+v %v", res, err)
	}
	// A disabled account does not sign in through the provider either.
	if err := f.accounts.SetDisabled(ctx, victim.ID, true); err != nil {
		t.Fatal(err)
	}
	cb, _ = f.signIn(t, ville)
	if _, err := f.svc.Finish(ctx, cb); !errors.Is(err, sso.ErrDisabled) {
		t.Fatalf("a disabled account = %v", err)
	}
}

// A provider registered to vouch for addresses with Entra ID's xms_edov:
// that claim, true (as a boolean or the string "1"), links and makes
// accounts; email_verified from such a provider counts for nothing, and
// xms_edov false or missing is refused.
func TestVerifiedClaimOfEntraID(t *testing.T) {
	f := setupWith(t, func(p *org.Provider) { p.Claims.Verified = "xms_edov" })
	ctx := t.Context()
	for _, c := range []struct {
		sub    string
		claims map[string]any
	}{
		{"only-email-verified", map[string]any{"email": "anna@pirha.fi", "email_verified": true}},
		{"edov-false", map[string]any{"email": "anna@pirha.fi", "xms_edov": false}},
		{"edov-zero", map[string]any{"email": "anna@pirha.fi", "xms_edov": "0"}},
		{"edov-missing", map[string]any{"email": "anna@pirha.fi"}},
	} {
		cb, _ := f.signIn(t, &person{sub: c.sub, claims: c.claims})
		if _, err := f.svc.Finish(ctx, cb); !errors.Is(err, sso.ErrUnverified) {
			t.Fatalf("%s = %v", c.sub, err)
		}
	}
	cb, _ := f.signIn(t, &person{sub: "anna", claims: map[string]any{"email": "anna@pirha.fi", "xms_edov": true, "name": "Anna Entra"}})
	if res, err := f.svc.Finish(ctx, cb); err != nil || !res.Created {
		t.Fatalf("xms_edov true: %+v %v", res, err)
	}
	if _, err := f.accounts.Register(ctx, account.Registration{Email: "eero@pirha.fi", Name: "Eero Entra",
		Password: "eeron oma pitkä salalause", Organisation: "Pirkanmaan hyvinvointialue", OrgID: "pirkanmaa"}); err != nil {
		t.Fatal(err)
	}
	cb, _ = f.signIn(t, &person{sub: "eero", claims: map[string]any{"email": "eero@pirha.fi", "xms_edov": "1", "name": "Eero Entra"}})
	if res, err := f.svc.Finish(ctx, cb); err != nil || !res.Linked {
		t.Fatalf(`xms_edov "1" linking: %+v %v`, res, err)
	}
}

// Home realm discovery by the address's domain; a provider that is down
// is told as such (and fine again once it answers); SSO-required
// domains refuse password sign-in only while a provider exists.
func TestHomeRealmDownAndRequired(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	p, err := f.svc.HomeRealm(ctx, "Joku@PIRHA.fi")
	if err != nil || p.ID != "pirha" {
		t.Fatalf("home realm: %+v %v", p, err)
	}
	for _, e := range []string{"joku@hus.fi", "joku@pirha.fi.evil.example", "ei-osoite"} {
		if _, err := f.svc.HomeRealm(ctx, e); !errors.Is(err, sso.ErrNoProvider) {
			t.Errorf("HomeRealm(%q) = %v", e, err)
		}
	}
	if err := f.svc.PasswordAllowed(ctx, "joku@pirha.fi"); err != nil {
		t.Fatal(err)
	}
	if err := f.dir.SetSSORequired(ctx, "pirkanmaa", true); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.PasswordAllowed(ctx, "joku@pirha.fi"); !errors.Is(err, sso.ErrRequired) {
		t.Fatalf("password for an SSO-required domain: %v", err)
	}
	if err := f.svc.PasswordAllowed(ctx, "joku@hus.fi"); err != nil {
		t.Fatalf("another domain: %v", err)
	}
	// A provider that does not answer: a fresh service (no cache) fails
	// to start with ErrDown.
	down := setup(t)
	down.op.m.Shutdown()
	if _, _, err := down.svc.Start(ctx, "pirha", "/"); !errors.Is(err, sso.ErrDown) {
		t.Fatalf("a provider that is down = %v", err)
	}
	if _, _, err := f.svc.Start(ctx, "eiole", "/"); !errors.Is(err, org.ErrProviderNotFound) {
		t.Fatalf("an unknown provider = %v", err)
	}
}

// The client secret is stored sealed, not in clear, and opens only with
// the key secret.
func TestClientSecretIsSealed(t *testing.T) {
	f := setup(t)
	p, err := f.dir.Provider(t.Context(), "pirha")
	if err != nil {
		t.Fatal(err)
	}
	secret := f.op.m.Config().ClientSecret
	if bytes.Contains(p.Sealed, []byte(secret)) || len(p.Sealed) < len(secret)+28 {
		t.Fatal("the client secret is stored in clear")
	}
	if got, err := p.ClientSecret(key); err != nil || got != secret {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := p.ClientSecret(bytes.Repeat([]byte{8}, 32)); err == nil {
		t.Fatal("another key secret opened the client secret")
	}
	if _, errs := f.dir.AddProvider(t.Context(), org.Provider{ID: "toinen", Org: "pirkanmaa", Issuer: "https://login.example.fi", ClientID: "x"}, "s", nil); len(errs) != 1 || !errors.Is(errs[0], org.ErrNoKeySecret) {
		t.Fatalf("no key secret: %v", errs)
	}
	if _, errs := f.dir.AddProvider(t.Context(), org.Provider{ID: "http", Org: "pirkanmaa", Issuer: "http://login.example.fi", ClientID: "x"}, "s", key); len(errs) != 1 || !errors.Is(errs[0], org.ErrProviderIssuer) {
		t.Fatalf("an http issuer: %v", errs)
	}
}

// A group claim gives the reporter role of the organisation and takes it
// back with the claim; an author or an administrator is never changed,
// and a group named like a higher role grants nothing.
func TestGroupsGrantTheReporterRoleOnly(t *testing.T) {
	f := setupWith(t, func(p *org.Provider) { p.ReporterGroup = "tyokyky-raportoijat" })
	ctx := t.Context()
	inGroup := func(sub string, groups ...string) *person {
		p := niina(sub)
		p.claims["email"] = sub + "@pirha.fi"
		p.claims["groups"] = groups
		return p
	}
	finish := func(p *person) *account.User {
		t.Helper()
		cb, _ := f.signIn(t, p)
		res, err := f.svc.Finish(ctx, cb)
		if err != nil {
			t.Fatal(err)
		}
		return res.User
	}
	if u := finish(inGroup("rauni", "kaikki", "tyokyky-raportoijat")); u.Role != account.RoleReporter || !u.RoleFromProvider {
		t.Fatalf("a member of the reporters' group: %+v", u)
	}
	if u := finish(inGroup("rauni", "kaikki")); u.Role != account.RoleLearner {
		t.Fatalf("out of the group: %s", u.Role)
	}
	// The groups are kept for assignments to a group.
	if u, err := f.accounts.UserByEmail(ctx, "rauni@pirha.fi"); err != nil || !slices.Equal(u.Groups, []string{"kaikki"}) {
		t.Fatalf("the stored groups: %v %v", u.Groups, err)
	}
	for _, g := range []string{"admin", "tyokyky-admin", "author", "Tyokyky-Raportoijat"} {
		if u := finish(inGroup("kalle", g)); u.Role != account.RoleLearner {
			t.Fatalf("the group %q made a %s", g, u.Role)
		}
	}
	// An administrator's reporter stays when the claim lacks the group;
	// an author stays an author in the group.
	if _, err := f.accounts.SetRole(ctx, "rauni@pirha.fi", account.RoleReporter); err != nil {
		t.Fatal(err)
	}
	if u := finish(inGroup("rauni")); u.Role != account.RoleReporter || u.RoleFromProvider {
		t.Fatalf("an administrator's reporter after a sign-in without the group: %+v", u)
	}
	if _, err := f.accounts.SetRole(ctx, "kalle@pirha.fi", account.RoleAuthor); err != nil {
		t.Fatal(err)
	}
	if u := finish(inGroup("kalle", "tyokyky-raportoijat")); u.Role != account.RoleAuthor {
		t.Fatalf("an author in the reporters' group became %s", u.Role)
	}
	if entries, _ := f.accounts.AuditLog(ctx, 50); !slicesContainsAction(entries, "role.provider") {
		t.Fatal("the provider's role changes are not audited")
	}
}

func slicesContainsAction(entries []account.AuditEntry, action string) bool {
	for _, e := range entries {
		if e.Action == action {
			return true
		}
	}
	return false
}

// amr "mfa" counts as the second factor only from a provider trusted
// for it.
func TestMFAFromATrustedProviderOnly(t *testing.T) {
	for _, trusted := range []bool{true, false} {
		f := setupWith(t, func(p *org.Provider) { p.TrustMFA = trusted })
		for _, amr := range [][]string{{"pwd", "mfa"}, {"pwd"}, nil} {
			p := niina("mfa")
			if amr != nil {
				p.claims["amr"] = amr
			}
			cb, _ := f.signIn(t, p)
			res, err := f.svc.Finish(t.Context(), cb)
			if err != nil {
				t.Fatal(err)
			}
			if want := trusted && len(amr) == 2; res.MFA != want {
				t.Errorf("trusted %v, amr %v: MFA %v", trusted, amr, res.MFA)
			}
		}
	}
}

// otherFirst changes a token's first character (to another one: a random
// token may begin with any).
func otherFirst(s string) string {
	if s[0] == 'x' {
		return "y" + s[1:]
	}
	return "x" + s[1:]
}
