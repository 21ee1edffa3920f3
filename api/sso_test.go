package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/sso"
)

// oidcPerson is a user of the test provider with chosen claims.
type oidcPerson struct {
	sub    string
	claims map[string]any
}

func (p *oidcPerson) ID() string { return p.sub }
func (p *oidcPerson) Userinfo([]string) ([]byte, error) {
	return []byte(`{"sub":"` + p.sub + `"}`), nil
}
func (p *oidcPerson) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	c := jwt.MapClaims{"nonce": base.Nonce, "iss": base.Issuer, "sub": base.Subject, "aud": []string(base.Audience),
		"exp": base.ExpiresAt.Unix(), "iat": base.IssuedAt.Unix(), "nbf": base.NotBefore.Unix()}
	for k, v := range p.claims {
		c[k] = v
	}
	return c, nil
}

var ssoKey = bytes.Repeat([]byte{9}, 32)

// startSSO starts the platform with employer sign-in and a real OpenID
// provider (mockoidc) on a free port, registered for Pirkanmaa
// (pirha.fi, a unit Perhekeskus), and for HUS (hus.fi) a provider that
// does not answer.
func startSSO(t testing.TB, loginPage ...bool) (*running, *mockoidc.MockOIDC, *sso.Service) {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The provider publishes an end_session_endpoint (RP-initiated
	// logout), which mockoidc leaves out; with loginPage, its
	// authorization endpoint first shows a sign-in form, as a real one
	// does (mockoidc signs the queued person in at once).
	err = m.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if len(loginPage) > 0 && loginPage[0] && r.URL.Path == "/oidc/authorize" && r.URL.Query().Get("username") == "" {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				providerLoginPage.Execute(w, r.URL.Query())
				return
			}
			if !strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Error(err)
			}
			doc["end_session_endpoint"] = doc["issuer"].(string) + "/logout"
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(doc)
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
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	var svc *sso.Service
	r := startOpts(t, fixture(t), func(o *api.Options, _ *media.Options) {
		ctx := t.Context()
		dir := o.Directory
		for _, d := range [][2]string{{"pirkanmaa", "pirha.fi"}, {"hus", "hus.fi"}} {
			if err := dir.AddDomain(ctx, d[0], d[1]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := dir.AddUnit(ctx, "pirkanmaa", "", "Perhekeskus", "test"); err != nil {
			t.Fatal(err)
		}
		cfg := m.Config()
		if _, errs := dir.AddProvider(ctx, org.Provider{ID: "pirha", Org: "pirkanmaa", Issuer: cfg.Issuer, ClientID: cfg.ClientID,
			Claims: org.Claims{Unit: "department", Groups: "groups"}, ReporterGroup: "raportoijat", TrustMFA: true}, cfg.ClientSecret, ssoKey); len(errs) > 0 {
			t.Fatal(errs)
		}
		if _, errs := dir.AddProvider(ctx, org.Provider{ID: "hus", Org: "hus", Issuer: "http://" + deadAddr + "/oidc", ClientID: "c"}, "s", ssoKey); len(errs) > 0 {
			t.Fatal(errs)
		}
		flows := env.Database()
		if err := sso.EnsureIndexes(ctx, flows); err != nil {
			t.Fatal(err)
		}
		svc = sso.New(sso.Options{Directory: dir, Accounts: o.Accounts, DB: flows, KeySecret: ssoKey, Logger: o.Logger,
			HTTPClient: &http.Client{Timeout: 3 * time.Second}})
		o.SSO = svc
	})
	svc.SetBaseURL(r.URL)
	return r, m, svc
}

// providerSignsIn follows the redirect to the provider, which signs the
// queued person in at once, and returns the callback's path and query.
func providerSignsIn(t testing.TB, authURL string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != 302 {
		t.Fatalf("the provider answered %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	return back.RequestURI()
}

// The whole flow over HTTP: the sign-in page offers the employer's
// sign-in; the address's domain finds the provider; back from it, the
// learner is signed in (the account made just in time, unit from the
// claim) and lands on /omat-opinnot even when the return address pointed
// elsewhere; the callback cannot be replayed or used by another browser.
func TestEmployerSignInOverHTTP(t *testing.T) {
	r, m, _ := startSSO(t)
	b := newClient(t, r.URL)
	resp, page := b.get("/kirjaudu")
	if !strings.Contains(page, `action="/kirjaudu/sso"`) || !strings.Contains(page, "Kirjaudu työnantajan tunnuksella") {
		t.Fatal("the sign-in page does not offer the employer's sign-in")
	}
	// A browser follows the form's redirect to the provider only when the
	// page's form-action allows the provider's origin.
	issuer, _ := url.Parse(m.Issuer())
	if _, formAction, _ := strings.Cut(resp.Header.Get("Content-Security-Policy"), "form-action 'self' "); !strings.Contains(" "+formAction+" ", " http://"+issuer.Host+" ") {
		t.Fatalf("the sign-in page's policy does not let its form lead to the provider: %s", resp.Header.Get("Content-Security-Policy"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Count(csp, "form-action") != 1 {
		t.Fatalf("the rest of the policy changed: %s", csp)
	}
	m.QueueUser(&oidcPerson{sub: "niina", claims: map[string]any{"email": "niina@pirha.fi", "email_verified": true, "name": "Niina Neuvola", "department": "Perhekeskus"}})
	resp, _ = b.get("/kirjaudu/sso?email=Niina%40PIRHA.fi&jatka=" + url.QueryEscape("https://evil.example/x"))
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasPrefix(loc, m.AuthorizationEndpoint()+"?") || !strings.Contains(resp.Header.Get("Set-Cookie"), "oidc_state=") {
		t.Fatalf("home realm discovery = %d %s", resp.StatusCode, loc)
	}
	callback := providerSignsIn(t, loc)
	if !strings.HasPrefix(callback, "/kirjaudu/oidc/pirha/paluu?") {
		t.Fatalf("callback %s", callback)
	}
	// Another browser cannot use the callback (no state cookie).
	if resp, page := newClient(t, r.URL).get(callback); resp.StatusCode != 400 || !strings.Contains(page, "Kirjautumista ei aloitettu tässä selaimessa") {
		t.Fatalf("the callback in another browser = %d", resp.StatusCode)
	}
	resp, _ = b.get(callback)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/omat-opinnot" {
		t.Fatalf("callback = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, page := b.get("/omat-opinnot"); resp.StatusCode != 200 || !strings.Contains(page, `action="/kirjaudu-ulos"`) {
		t.Fatalf("signed in? %d", resp.StatusCode)
	}
	u, err := r.Accounts().UserByEmail(t.Context(), "niina@pirha.fi")
	if err != nil || u.OrgID != "pirkanmaa" || u.UnitID == "" || u.PasswordHash != "" {
		t.Fatalf("the account: %+v %v", u, err)
	}
	// Replayed, in the same browser: refused.
	if resp, _ := b.get(callback); resp.StatusCode != 400 {
		t.Fatalf("a replayed callback = %d", resp.StatusCode)
	}
	if entries, err := r.Accounts().AuditLog(t.Context(), 10); err != nil || len(entries) == 0 || entries[0].Action != "signin.oidc" {
		t.Fatalf("the sign-in is not in the audit log: %+v %v", entries, err)
	}
}

// Home realm discovery for an address without a provider answers with
// the sign-in page and a message; a provider that is down gives a clear
// 503 page while password sign-in for others goes on; an organisation
// that requires its provider refuses password sign-in for its domain.
func TestEmployerSignInRefusals(t *testing.T) {
	r, _, _ := startSSO(t)
	b := newClient(t, r.URL)
	if resp, page := b.get("/kirjaudu/sso?email=joku%40example.fi"); resp.StatusCode != 200 || !strings.Contains(page, "ei ole käytössä työnantajan tunnuksella kirjautumista") {
		t.Fatalf("no provider = %d", resp.StatusCode)
	}
	if resp, _ := b.get("/kirjaudu/sso?email=ei-osoite"); resp.StatusCode != 200 {
		t.Fatalf("not an address = %d", resp.StatusCode)
	}
	start := time.Now()
	resp, page := b.get("/kirjaudu/sso?email=hoitaja%40hus.fi")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(page, "tunnistuspalvelu ei nyt vastaa") {
		t.Fatalf("a provider that is down = %d\n%s", resp.StatusCode, page)
	}
	t.Logf("the down provider was told in %v", time.Since(start).Round(time.Millisecond))
	other := newClient(t, r.URL)
	other.register("paula@example.fi", "Paula Salasana")
	if resp := newClient(t, r.URL).login("paula@example.fi", "oma pitkä salalause 2026"); resp.StatusCode != 303 {
		t.Fatalf("password sign-in while a provider is down = %d", resp.StatusCode)
	}
	// SSO required for Pirkanmaa: its addresses cannot use a password.
	pirha := newClient(t, r.URL)
	pirha.registerIn("pekka@pirha.fi", "Pekka Salasana", "pirkanmaa")
	if err := org.NewDirectory(r.db).SetSSORequired(t.Context(), "pirkanmaa", true); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, r.URL)
	resp, page = c.post("/kirjaudu", url.Values{"csrf": {c.csrf("/kirjaudu")}, "email": {"pekka@pirha.fi"}, "password": {"oma pitkä salalause 2026"}})
	if resp.StatusCode != 403 || !strings.Contains(page, "Organisaatiosi henkilöstö kirjautuu työnantajan tunnuksella") || !strings.Contains(page, `id="sso-email" name="email" type="email" autocomplete="email" required aria-describedby="sso-ohje" value="pekka@pirha.fi"`) {
		t.Fatalf("password sign-in of an SSO-required domain = %d\n%s", resp.StatusCode, page)
	}
	if resp := newClient(t, r.URL).login("paula@example.fi", "oma pitkä salalause 2026"); resp.StatusCode != 303 {
		t.Fatalf("password sign-in of another domain = %d", resp.StatusCode)
	}
	_ = account.RoleLearner
}

func init() {
	// The provider in the callback's path is public (it names a sign-in
	// service), but a sign-in started for one provider cannot finish at
	// another.
	idorMatrix["GET /kirjaudu/oidc/:provider/paluu"] = func(t *testing.T, r *running) {
		b := newClient(t, r.URL)
		if resp, _ := b.get("/kirjaudu/oidc/muu/paluu?state=x&code=y"); resp.StatusCode != 400 && resp.StatusCode != 404 {
			t.Errorf("a callback without a started sign-in = %d", resp.StatusCode)
		}
	}
	idorMatrix["HEAD /kirjaudu/oidc/:provider/paluu"] = idorMatrix["GET /kirjaudu/oidc/:provider/paluu"]
}

// An administrator registers a provider on the organisation's page: a
// bad one is refused with its messages (the secret never shown back), a
// good one is listed with the callback address to register at the
// provider, and password sign-in can be turned off for the domains.
func TestAdminRegistersAProvider(t *testing.T) {
	r, _, _ := startSSO(t)
	admin := newClient(t, r.URL)
	ae := account.NewID()[:10] + "@example.fi"
	admin.register(ae, "Ylli")
	signInAdmin(t, admin, r.Accounts(), ae)
	token := admin.csrf("/yllapito/organisaatiot/lappi")
	add := url.Values{"csrf": {token}, "toiminto": {"lisaa-tunnistus"}, "provider_id": {"lapha"}, "issuer": {"http://login.example.fi"},
		"client_id": {"lapin-sovellus"}, "client_secret": {"hyvin-salainen-arvo"}, "claim_unit": {"department"}, "claim_verified": {"xms_edov"}}
	resp, page := admin.post("/yllapito/organisaatiot/lappi", add)
	if resp.StatusCode != 422 || !strings.Contains(page, `<a href="#issuer">Issuer on https-osoite`) || strings.Contains(page, "hyvin-salainen-arvo") || !strings.Contains(page, `value="lapin-sovellus"`) {
		t.Fatalf("an http issuer = %d\n%s", resp.StatusCode, page)
	}
	add.Set("issuer", "https://login.microsoftonline.com/lappi-tenant/v2.0/")
	if resp, _ := admin.post("/yllapito/organisaatiot/lappi", add); resp.StatusCode != 303 {
		t.Fatalf("add = %d", resp.StatusCode)
	}
	_, page = admin.get("/yllapito/organisaatiot/lappi")
	if !strings.Contains(page, "<td>https://login.microsoftonline.com/lappi-tenant/v2.0</td>") || !strings.Contains(page, "<code>"+r.URL+"/kirjaudu/oidc/lapha/paluu</code>") || strings.Contains(page, "hyvin-salainen-arvo") {
		t.Fatalf("the provider on the page:\n%s", page)
	}
	if resp, page := admin.post("/yllapito/organisaatiot/lappi", add); resp.StatusCode != 422 || !strings.Contains(page, "Toisella tunnistuspalvelulla on jo sama tunniste.") {
		t.Fatalf("a second provider of one id = %d", resp.StatusCode)
	}
	dir := org.NewDirectory(r.db)
	p, err := dir.Provider(t.Context(), "lapha")
	if err != nil || p.Org != "lappi" || bytes.Contains(p.Sealed, []byte("hyvin-salainen-arvo")) || p.Claims.Unit != "department" || p.Claims.Verified != "xms_edov" {
		t.Fatalf("stored %+v %v", p, err)
	}
	if s, err := p.ClientSecret(ssoKey); err != nil || s != "hyvin-salainen-arvo" {
		t.Fatalf("the sealed secret opens to %q %v", s, err)
	}
	if resp, _ := admin.post("/yllapito/organisaatiot/lappi", url.Values{"csrf": {token}, "toiminto": {"vaadi-sso"}, "required": {"on"}}); resp.StatusCode != 303 {
		t.Fatalf("requiring SSO = %d", resp.StatusCode)
	}
	if o, _ := dir.Get(t.Context(), "lappi"); !o.SSORequired {
		t.Fatal("SSO is not required")
	}
	if _, log := admin.get("/yllapito/loki"); !strings.Contains(log, "org.lisaa-tunnistus") || strings.Contains(log, "hyvin-salainen-arvo") {
		t.Fatal("the audit log lacks the provider, or holds its secret")
	}
}

// signInThroughProvider runs the whole flow for a person and returns
// where the callback sent the browser.
func signInThroughProvider(t *testing.T, b *browserClient, m *mockoidc.MockOIDC, who *oidcPerson, next string) string {
	t.Helper()
	m.QueueUser(who)
	resp, _ := b.get("/kirjaudu/sso?email=" + url.QueryEscape(who.claims["email"].(string)) + "&jatka=" + url.QueryEscape(next))
	if resp.StatusCode != 303 {
		t.Fatalf("home realm discovery = %d", resp.StatusCode)
	}
	resp, _ = b.get(providerSignsIn(t, resp.Header.Get("Location")))
	if resp.StatusCode != 303 {
		t.Fatalf("callback = %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// A member of the provider's reporters' group is a reporter of the
// organisation; with the provider's multi-factor sign-in (trusted, amr
// "mfa") the reports open at once, without it our TOTP is set up first.
func TestReporterFromTheProviderWithItsMFA(t *testing.T) {
	r, m, _ := startSSO(t)
	b := newClient(t, r.URL)
	who := &oidcPerson{sub: "rauni", claims: map[string]any{"email": "rauni@pirha.fi", "email_verified": true, "name": "Rauni Raportoija",
		"groups": []string{"raportoijat"}, "amr": []string{"pwd", "mfa"}}}
	if to := signInThroughProvider(t, b, m, who, "/raportit"); to != "/raportit" {
		t.Fatalf("after the sign-in: %s", to)
	}
	if resp, page := b.get("/raportit"); resp.StatusCode != 200 || !strings.Contains(page, "Pirkanmaan hyvinvointialue") {
		t.Fatalf("the reports with the provider's MFA = %d", resp.StatusCode)
	}
	u, _ := r.Accounts().UserByEmail(t.Context(), "rauni@pirha.fi")
	if u.Role != account.RoleReporter || u.TOTPEnabled {
		t.Fatalf("%+v", u)
	}
	// Without "mfa" in amr: TOTP first.
	b2 := newClient(t, r.URL)
	who.claims["amr"] = []string{"pwd"}
	if to := signInThroughProvider(t, b2, m, who, "/raportit"); to != "/tili/kaksivaiheinen" {
		t.Fatalf("without the provider's MFA: %s", to)
	}
	if resp, _ := b2.get("/raportit"); resp.StatusCode != 303 || resp.Header.Get("Location") != "/tili/kaksivaiheinen" {
		t.Fatalf("the reports without a second factor = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// Signing out of a session the provider signed in ends ours and offers
// the provider's RP-initiated logout (client_id and the front page to
// come back to); a password session just ends.
func TestSignOutOffersTheProvidersLogout(t *testing.T) {
	r, m, _ := startSSO(t)
	b := newClient(t, r.URL)
	who := &oidcPerson{sub: "olli", claims: map[string]any{"email": "olli@pirha.fi", "email_verified": true, "name": "Olli Oppija"}}
	signInThroughProvider(t, b, m, who, "/omat-opinnot")
	resp, page := b.post("/kirjaudu-ulos", url.Values{"csrf": {b.csrf("/omat-opinnot")}})
	want := m.Issuer() + "/logout?client_id=" + url.QueryEscape(m.Config().ClientID) + "&amp;post_logout_redirect_uri=" + url.QueryEscape(r.URL+"/")
	if resp.StatusCode != 200 || !strings.Contains(page, "Olet kirjautunut ulos") || !strings.Contains(page, `<a href="`+want+`">Kirjaudu ulos myös työnantajan palvelusta</a>`) {
		t.Fatalf("sign-out = %d, want a link to %s\n%s", resp.StatusCode, want, page)
	}
	if resp, _ := b.get("/omat-opinnot"); resp.StatusCode != 303 {
		t.Fatal("still signed in here")
	}
	p := newClient(t, r.URL)
	p.register("salasana@example.fi", "Sari Salasana")
	if resp, _ := p.post("/kirjaudu-ulos", url.Values{"csrf": {p.csrf("/omat-opinnot")}}); resp.StatusCode != 303 || resp.Header.Get("Location") != "/" {
		t.Fatalf("a password session's sign-out = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// providerLoginPage is the test provider's sign-in form: it sends the
// authorization request on with the person's username.
var providerLoginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="fi"><head><meta charset="utf-8"><title>Pirhan kirjautuminen</title></head><body><main>
<h1>Pirkanmaan hyvinvointialue – kirjautuminen</h1>
<form method="get" action="/oidc/authorize">
{{range $k, $v := .}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}
<label for="username">Käyttäjätunnus</label> <input id="username" name="username" autocomplete="username">
<label for="pw">Salasana</label> <input id="pw" name="pw" type="password">
<button type="submit">Kirjaudu</button>
</form></main></body></html>`))

// BenchmarkEmployerSignIn measures a sign-in through the provider on our
// side: the two requests the browser makes to us (home realm discovery,
// the callback) with what the callback asks the provider (the token; the
// keys and discovery only the first time). The provider's own answer to
// the browser is left out of the time.
func BenchmarkEmployerSignIn(b *testing.B) {
	r, m, _ := startSSO(b)
	c := newClient(b, r.URL)
	var discovery, callback time.Duration
	for i := 0; b.Loop(); i++ {
		who := &oidcPerson{sub: fmt.Sprintf("bench-%d", i%20), claims: map[string]any{"email": fmt.Sprintf("bench-%d@pirha.fi", i%20), "email_verified": true, "name": "Penkki Testaaja"}}
		m.QueueUser(who)
		start := time.Now()
		resp, _ := c.get("/kirjaudu/sso?email=" + url.QueryEscape(who.claims["email"].(string)))
		discovery += time.Since(start)
		if resp.StatusCode != 303 {
			b.Fatalf("discovery = %d", resp.StatusCode)
		}
		back := providerSignsIn(b, resp.Header.Get("Location"))
		start = time.Now()
		resp, _ = c.get(back)
		callback += time.Since(start)
		if resp.StatusCode != 303 {
			b.Fatalf("callback = %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(discovery.Microseconds())/float64(b.N)/1000, "ms-discovery/op")
	b.ReportMetric(float64(callback.Microseconds())/float64(b.N)/1000, "ms-callback/op")
}
