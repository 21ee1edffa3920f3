package api_test

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/internal/ltitest"
	"github.com/tyokyky/tyokyky/lti"
)

// startLTI starts the platform with a platform simulator registered for
// Pirkanmaa with the deployment dep-1.
func startLTI(t *testing.T) (*running, *ltitest.Platform, *lti.Registration) {
	t.Helper()
	r := start(t)
	pf, err := ltitest.Start("tyokyky-client", "dep-1", r.URL+"/lti/launch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pf.Close)
	reg, errs := r.lti.AddRegistration(t.Context(), lti.Registration{Name: "Moodle Pirha", Issuer: pf.URL, ClientID: pf.ClientID, AuthURL: pf.AuthURL(),
		TokenURL: pf.TokenURL(), JWKSURL: pf.JWKSURL(), Deployments: []string{"dep-1"}, Org: "pirkanmaa"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return r, pf, reg
}

// cookieAttrs reads a Set-Cookie header of resp by the cookie's name.
func cookieAttrs(resp *http.Response, name string) string {
	for _, h := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, name+"=") {
			return h
		}
	}
	return ""
}

// keepCookies puts the cookies resp sets into b's jar without Secure:
// Go's jar keeps Secure cookies from plain HTTP but never sends them
// back over it, as the test server is; a browser treats the local host
// as a secure context.
func keepCookies(t *testing.T, b *browserClient, resp *http.Response) {
	t.Helper()
	u, _ := url.Parse(b.base)
	var cs []*http.Cookie
	for _, c := range resp.Cookies() {
		cs = append(cs, &http.Cookie{Name: c.Name, Value: c.Value, Path: "/", MaxAge: c.MaxAge})
	}
	b.http.Jar.SetCookies(u, cs)
}

// ltiLogin is the platform's login initiation by b; it returns the
// platform's authentication request address.
func ltiLogin(t *testing.T, b *browserClient, pf *ltitest.Platform, hint, target string, post bool) *http.Response {
	t.Helper()
	q := url.Values{"iss": {pf.URL}, "login_hint": {hint}, "target_link_uri": {target}, "lti_message_hint": {target},
		"client_id": {pf.ClientID}, "lti_deployment_id": {"dep-1"}}
	var resp *http.Response
	if post {
		resp, _ = b.post("/lti/login", q)
	} else {
		resp, _ = b.get("/lti/login?" + q.Encode())
	}
	keepCookies(t, b, resp)
	return resp
}

// platformAnswers follows the browser to the platform and reads the
// auto-posting form it answers with.
func platformAnswers(t *testing.T, authURL string) (string, url.Values) {
	t.Helper()
	resp, err := http.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the platform = %d %s", resp.StatusCode, body)
	}
	action, form, err := ltitest.ReadPostPage(string(body))
	if err != nil {
		t.Fatal(err)
	}
	return action, form
}

// A launch over HTTP from login to the section page: the cookies that
// work in a frame, the person signed in just in time, the target opened,
// and the platform allowed to frame the pages of that session.
func TestLTILaunch(t *testing.T) {
	r, pf, _ := startLTI(t)
	pf.Queue("h-1", &ltitest.Person{Sub: "u-1", Name: "Liisa Oppija", Email: "liisa@pirha.fi", Roles: []string{ltitest.RoleLearner}})
	target := r.URL + "/osiot/ensimmainen/tehtava"
	for _, post := range []bool{false, true} {
		b := newClient(t, r.URL)
		resp := ltiLogin(t, b, pf, "h-1", target, post)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != 302 || !strings.HasPrefix(loc, pf.AuthURL()+"?") {
			t.Fatalf("login (post %v) = %d %s", post, resp.StatusCode, loc)
		}
		state := resp.Cookies()[0]
		attrs := strings.ToLower(cookieAttrs(resp, state.Name))
		for _, want := range []string{"samesite=none", "secure", "partitioned", "httponly", "path=/"} {
			if !strings.Contains(attrs, want) {
				t.Errorf("the state cookie %q lacks %s", attrs, want)
			}
		}
		action, form := platformAnswers(t, loc)
		if action != r.URL+"/lti/launch" || form.Get("state") != state.Value {
			t.Fatalf("the platform posts to %s with state %s", action, form.Get("state"))
		}
		resp, body := b.post("/lti/launch", form)
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/osiot/ensimmainen/tehtava" {
			t.Fatalf("launch = %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		session := strings.ToLower(cookieAttrs(resp, "lti_session"))
		for _, want := range []string{"samesite=none", "secure", "partitioned", "httponly"} {
			if !strings.Contains(session, want) {
				t.Errorf("the session cookie %q lacks %s", session, want)
			}
		}
		keepCookies(t, b, resp)
		resp, page := b.get("/osiot/ensimmainen/tehtava")
		if resp.StatusCode != 200 || !strings.Contains(page, "Liisa Oppija") {
			t.Fatalf("the target signed in = %d", resp.StatusCode)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'self' "+pf.URL) || resp.Header.Get("X-Frame-Options") != "" {
			t.Fatalf("the platform may not frame the launched session's page: %s / %s", csp, resp.Header.Get("X-Frame-Options"))
		}
		// The same launch posted again is refused.
		if resp, page := b.post("/lti/launch", form); resp.StatusCode != 400 || !strings.Contains(page, "on jo käytetty") {
			t.Fatalf("a replayed launch = %d", resp.StatusCode)
		}
	}
	u, err := r.Accounts().UserByIdentity(t.Context(), pf.URL, "u-1")
	if err != nil || u.OrgID != "pirkanmaa" || u.Email != "liisa@pirha.fi" {
		t.Fatalf("the account: %+v %v", u, err)
	}
	// Pages of a password session stay unframeable.
	other := newClient(t, r.URL)
	other.register(account.NewID()[:10]+"@example.fi", "Salasana Käyttäjä")
	if resp, _ := other.get("/osiot/ensimmainen/tehtava"); !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("a password session's page may be framed: %s", resp.Header.Get("Content-Security-Policy"))
	}
	// The audit log has the sign-in.
	entries, _ := r.Accounts().AuditLog(t.Context(), 50)
	found := false
	for _, e := range entries {
		found = found || e.Action == "signin.lti" && e.Target == u.ID
	}
	if !found {
		t.Error("the launch is not in the audit log")
	}
}

// A browser that does not send the state cookie back (third-party
// cookies blocked in the frame) gets a page, frameable by the platform,
// whose link opens the login again in a window of its own.
func TestLTILaunchWithoutCookieOffersWindow(t *testing.T) {
	r, pf, _ := startLTI(t)
	pf.Queue("h-2", &ltitest.Person{Sub: "u-2", Name: "Kalle Kehys", Roles: []string{ltitest.RoleLearner}})
	b := newClient(t, r.URL)
	target := r.URL + "/osiot"
	resp := ltiLogin(t, b, pf, "h-2", target, false)
	_, form := platformAnswers(t, resp.Header.Get("Location"))
	cookieless := newClient(t, r.URL)
	resp, page := cookieless.post("/lti/launch", form)
	if resp.StatusCode != 200 || !strings.Contains(page, `target="_blank" rel="noopener"`) || !strings.Contains(page, "Avaa kurssi uudessa ikkunassa") {
		t.Fatalf("without the cookie = %d\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' "+pf.URL) {
		t.Fatalf("the platform may not frame the page: %s", csp)
	}
	link := regexp.MustCompile(`href="(/lti/login\?[^"]+)"`).FindStringSubmatch(page)
	if link == nil {
		t.Fatal("no link to start again")
	}
	// In the new window the login starts again and the launch passes.
	resp, _ = cookieless.get(strings.ReplaceAll(link[1], "&amp;", "&"))
	keepCookies(t, cookieless, resp)
	if resp.StatusCode != 302 {
		t.Fatalf("the login again = %d", resp.StatusCode)
	}
	_, form = platformAnswers(t, resp.Header.Get("Location"))
	if resp, _ := cookieless.post("/lti/launch", form); resp.StatusCode != 303 || resp.Header.Get("Location") != "/osiot" {
		t.Fatalf("the launch in a window of its own = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// Forged launches are refused over HTTP with a page in the reader's
// language and no session.
func TestLTIForgedLaunches(t *testing.T) {
	r, pf, _ := startLTI(t)
	pf.Queue("h-3", &ltitest.Person{Sub: "u-3", Name: "Hyökkääjä", Roles: []string{ltitest.RoleLearner}})
	cases := []struct {
		name   string
		target string
		forge  func(map[string]any, jwt.MapClaims) string
		status int
		text   string
	}{
		{"target_link_uri to another host", r.URL + "/osiot", func(_ map[string]any, c jwt.MapClaims) string {
			c[lti.ClaimTargetLinkURI] = "https://evil.example/osiot"
			return pf.Sign(c)
		}, 400, "ei kuulu tähän palveluun"},
		{"expired", r.URL + "/osiot", func(_ map[string]any, c jwt.MapClaims) string {
			c["exp"], c["iat"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-2*time.Hour).Unix()
			return pf.Sign(c)
		}, 403, "ei läpäissyt tarkistuksia"},
		{"wrong audience", r.URL + "/osiot", func(_ map[string]any, c jwt.MapClaims) string {
			c["aud"], c["azp"] = "toinen", "toinen"
			return pf.Sign(c)
		}, 403, "ei läpäissyt tarkistuksia"},
		{"unregistered deployment", r.URL + "/osiot", func(_ map[string]any, c jwt.MapClaims) string {
			c[lti.ClaimDeploymentID] = "dep-x"
			return pf.Sign(c)
		}, 403, "käyttöönottoa ei ole rekisteröity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pf.Forge(c.forge)
			defer pf.Forge(nil)
			b := newClient(t, r.URL)
			resp := ltiLogin(t, b, pf, "h-3", c.target, false)
			_, form := platformAnswers(t, resp.Header.Get("Location"))
			resp, page := b.post("/lti/launch", form)
			if resp.StatusCode != c.status || !strings.Contains(page, c.text) || cookieAttrs(resp, "lti_session") != "" {
				t.Fatalf("= %d, want %d with %q\n%s", resp.StatusCode, c.status, c.text, page)
			}
		})
	}
	// A login naming another host's target, an unregistered platform or
	// deployment is refused before the platform is asked.
	b := newClient(t, r.URL)
	for _, q := range []url.Values{
		{"iss": {pf.URL}, "login_hint": {"h"}, "target_link_uri": {"https://evil.example/"}},
		{"iss": {"https://moodle.evil.example"}, "login_hint": {"h"}, "target_link_uri": {r.URL + "/"}},
		{"iss": {pf.URL}, "login_hint": {"h"}, "target_link_uri": {r.URL + "/"}, "lti_deployment_id": {"dep-x"}},
	} {
		if resp, _ := b.get("/lti/login?" + q.Encode()); resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
			t.Errorf("login %v = %d %s", q, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// One address's refused launches are limited: after 100 in ten
	// minutes (four above; the one past them sets the wait), it waits, told so.
	for i := range 97 {
		if resp, _ := b.post("/lti/launch", url.Values{"state": {"arvattu"}, "id_token": {"x.y.z"}}); resp.StatusCode != 400 && resp.StatusCode != 403 {
			t.Fatalf("forged launch %d = %d", i, resp.StatusCode)
		}
	}
	resp, page := b.post("/lti/launch", url.Values{"state": {"arvattu"}, "id_token": {"x.y.z"}})
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(page, "Liian monta yritystä") {
		t.Fatalf("launch after 100 refused = %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Logins (each stores a flow) are limited at 600 in ten minutes.
	for i := range 600 - 7 + 1 { // seven above
		if resp, _ := b.get("/lti/login?iss=" + url.QueryEscape(pf.URL)); resp.StatusCode != 400 {
			t.Fatalf("login %d = %d", i, resp.StatusCode)
		}
	}
	if resp, _ := b.get("/lti/login?iss=" + url.QueryEscape(pf.URL)); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("login after 600 = %d", resp.StatusCode)
	}
}

// The tool's key set: public RSA keys for RS256, which verify what the
// tool signs.
func TestLTIJWKS(t *testing.T) {
	r, _, _ := startLTI(t)
	resp, body := newClient(t, r.URL).get("/lti/jwks.json")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("jwks = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks %s", body)
	}
	k := set.Keys[0]
	if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["kid"] == "" || k["n"] == "" || k["d"] != "" {
		t.Fatalf("key %v", k)
	}
}

// Administrators register platforms on /yllapito/lti: refused input with
// the messages, a registration, changes of deployments and state, every
// change audited.
func TestLTIAdminPage(t *testing.T) {
	r, pf, reg := startLTI(t)
	admin := newClient(t, r.URL)
	ae := account.NewID()[:10] + "@example.fi"
	admin.register(ae, "Ylli")
	signInAdmin(t, admin, r.Accounts(), ae)
	resp, page := admin.get("/yllapito/lti")
	if resp.StatusCode != 200 || !strings.Contains(page, "<code>"+r.URL+"/lti/login</code>") || !strings.Contains(page, "<code>"+r.URL+"/lti/jwks.json</code>") ||
		!strings.Contains(page, "<th scope=\"row\">Moodle Pirha</th><td><code>"+pf.URL+"</code></td>") {
		t.Fatalf("the page = %d\n%s", resp.StatusCode, page)
	}
	token := csrfField.FindStringSubmatch(page)[1]
	resp, page = admin.post("/yllapito/lti", url.Values{"csrf": {token}, "name": {"Canvas"}, "issuer": {"https://canvas.instructure.com"}, "client_id": {"10000000000001"},
		"auth_url": {"http://evil.example/auth"}, "token_url": {"https://sso.canvaslms.com/login/oauth2/token"}, "jwks_url": {"https://sso.canvaslms.com/api/lti/security/jwks"},
		"deployments": {""}, "org": {"pirkanmaa"}})
	if resp.StatusCode != 422 || !strings.Contains(page, `<a href="#auth_url">Tunnistautumispyynnön osoite on https-osoite`) || !strings.Contains(page, `<a href="#deployments">`) || !strings.Contains(page, `value="10000000000001"`) {
		t.Fatalf("a bad registration = %d\n%s", resp.StatusCode, page)
	}
	resp, _ = admin.post("/yllapito/lti", url.Values{"csrf": {token}, "name": {"Canvas"}, "issuer": {"https://canvas.instructure.com"}, "client_id": {"10000000000001"},
		"auth_url": {"https://sso.canvaslms.com/api/lti/authorize_redirect"}, "token_url": {"https://sso.canvaslms.com/login/oauth2/token"}, "jwks_url": {"https://sso.canvaslms.com/api/lti/security/jwks"},
		"deployments": {"1:abc, 2:def"}, "org": {"hus"}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/yllapito/lti?ilmoitus=lisatty" {
		t.Fatalf("register = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, page = admin.get("/yllapito/lti?ilmoitus=lisatty"); !strings.Contains(page, "Oppimisympäristö on rekisteröity.") || !strings.Contains(page, "<td>1:abc, 2:def</td>") {
		t.Fatalf("after registering:\n%s", page)
	}
	// The same issuer and client id again.
	if resp, page := admin.post("/yllapito/lti", url.Values{"csrf": {token}, "name": {"Canvas 2"}, "issuer": {"https://canvas.instructure.com"}, "client_id": {"10000000000001"},
		"auth_url": {"https://sso.canvaslms.com/a"}, "token_url": {"https://sso.canvaslms.com/t"}, "jwks_url": {"https://sso.canvaslms.com/j"},
		"deployments": {"x"}, "org": {"hus"}}); resp.StatusCode != 409 && resp.StatusCode != 422 || !strings.Contains(page, "on jo rekisteröity") {
		t.Fatalf("a second registration of one client = %d", resp.StatusCode)
	}
	// Deployments and state change; an inactive platform launches nothing.
	if resp, _ := admin.post("/yllapito/lti/"+reg.ID, url.Values{"csrf": {token}, "deployments": {"dep-1 dep-2"}, "org": {"pirkanmaa"}, "roster": {"on"}}); resp.StatusCode != 303 {
		t.Fatalf("change = %d", resp.StatusCode)
	}
	got, _ := r.lti.Registration(t.Context(), reg.ID)
	if got.Active || !got.Roster || len(got.Deployments) != 2 {
		t.Fatalf("after the change %+v", got)
	}
	if resp, _ := admin.get("/lti/login?" + url.Values{"iss": {pf.URL}, "login_hint": {"h"}, "target_link_uri": {r.URL + "/"}}.Encode()); resp.StatusCode != 400 {
		t.Fatalf("a login of an inactive platform = %d", resp.StatusCode)
	}
	if resp, _ := admin.post("/yllapito/lti/eiole", url.Values{"csrf": {token}, "deployments": {"x"}, "org": {"pirkanmaa"}}); resp.StatusCode != 404 {
		t.Fatalf("an unknown registration = %d", resp.StatusCode)
	}
	_, logPage := admin.get("/yllapito/loki")
	for _, want := range []string{"lti.add", "lti.change", "Canvas client=10000000000001 org=hus deployments=1:abc,2:def"} {
		if !strings.Contains(logPage, want) {
			t.Errorf("the audit log lacks %q", want)
		}
	}
}

func init() {
	stateChanging["POST /yllapito/lti"] = adminRefused("/yllapito/lti", "name=x&issuer=https%3A%2F%2Fa.example")
	stateChanging["POST /yllapito/lti/:registration"] = adminRefused("/yllapito/lti/x", "deployments=x")
	// The platform's login and launch are cross-site posts by design,
	// authorised by what they carry: a login changes nothing of the
	// session that sends it, and a launch without the platform's signed
	// token and this browser's state is refused.
	stateChanging["POST /lti/login"] = func(t *testing.T, r *running) {
		b := newClient(t, r.URL)
		b.register(account.NewID()[:10]+"@example.fi", "Csrf Testaaja")
		if resp, _ := b.post("/lti/login", url.Values{"iss": {"https://moodle.evil.example"}, "login_hint": {"h"}, "target_link_uri": {r.URL + "/"}}); resp.StatusCode != 400 {
			t.Errorf("POST /lti/login from an unregistered platform = %d, want 400", resp.StatusCode)
		}
	}
	stateChanging["POST /lti/launch"] = func(t *testing.T, r *running) {
		b := newClient(t, r.URL)
		b.register(account.NewID()[:10]+"@example.fi", "Csrf Testaaja")
		if resp, _ := b.post("/lti/launch", url.Values{"id_token": {"x.y.z"}, "state": {"made-up"}}); resp.StatusCode != 400 || cookieAttrs(resp, "lti_session") != "" {
			t.Errorf("POST /lti/launch with a made-up state = %d, want 400", resp.StatusCode)
		}
	}
	stateChanging["POST /yllapito/lti/kutsu"] = adminRefused("/yllapito/lti/kutsu", "org=pirkanmaa")
	// A registration address is the authority of its registration: a
	// made-up one registers nothing.
	for _, method := range []string{"GET", "HEAD"} {
		idorMatrix[method+" /lti/rekisteroi/:invitation"] = func(t *testing.T, r *running) {
			before, _ := r.lti.Registrations(t.Context())
			resp, _ := newClient(t, r.URL).do(method, "/lti/rekisteroi/"+account.NewID()+"?openid_configuration=https%3A%2F%2Fmoodle.example.fi%2F.well-known%2Fopenid-configuration", nil)
			if resp.StatusCode != 404 {
				t.Errorf("%s /lti/rekisteroi/{made-up} = %d, want 404", method, resp.StatusCode)
			}
			if after, _ := r.lti.Registrations(t.Context()); len(after) != len(before) {
				t.Error("a made-up registration address registered a platform")
			}
		}
	}
	stateChanging["POST /lti/sisalto/:request"] = func(t *testing.T, r *running) {
		b := newClient(t, r.URL)
		b.register(account.NewID()[:10]+"@example.fi", "Csrf Testaaja")
		if resp, _ := b.post("/lti/sisalto/x", url.Values{"kohde": {"kurssi"}}); resp.StatusCode != 403 {
			t.Errorf("POST /lti/sisalto/{request} without a CSRF token = %d, want 403", resp.StatusCode)
		}
	}
	// A deep linking request is its teacher's: another signed-in person
	// finds nothing, reading or answering.
	for _, method := range []string{"GET", "HEAD", "POST"} {
		idorMatrix[method+" /lti/sisalto/:request"] = func(t *testing.T, r *running) {
			a, b := newClient(t, r.URL), newClient(t, r.URL)
			ae := account.NewID()[:10] + "@example.fi"
			a.register(ae, "Aino Opettaja")
			b.register(account.NewID()[:10]+"@example.fi", "Bertta Muu")
			ua, _ := r.Accounts().UserByEmail(t.Context(), ae)
			reg, errs := r.lti.AddRegistration(t.Context(), lti.Registration{Name: "Moodle", Issuer: "https://moodle.example.fi", ClientID: account.NewID()[:12], AuthURL: "https://moodle.example.fi/auth",
				TokenURL: "https://moodle.example.fi/token", JWKSURL: "https://moodle.example.fi/jwks", Deployments: []string{"1"}, Org: "pirkanmaa"})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			id, err := r.lti.WaitForChoice(t.Context(), lti.DeepLinkRequest{UserID: ua.ID, Registration: reg.ID, Deployment: "1", ReturnURL: "https://moodle.example.fi/return"})
			if err != nil {
				t.Fatal(err)
			}
			var resp *http.Response
			if method == "POST" {
				resp, _ = b.post("/lti/sisalto/"+id, url.Values{"csrf": {b.csrf("/tili")}, "kohde": {"kurssi"}})
			} else {
				resp, _ = b.do(method, "/lti/sisalto/"+id, nil)
			}
			if resp.StatusCode != 404 {
				t.Errorf("another person on %s /lti/sisalto/{request} = %d, want 404", method, resp.StatusCode)
			}
			if resp, _ := a.get("/lti/sisalto/" + id); resp.StatusCode != 200 {
				t.Errorf("the teacher's own request = %d (answered by another?)", resp.StatusCode)
			}
		}
	}
	// The registrations are administrators' only: a learner finds nothing.
	idorMatrix["POST /yllapito/lti/:registration"] = func(t *testing.T, r *running) {
		ctx := t.Context()
		reg, errs := r.lti.AddRegistration(ctx, lti.Registration{Name: "Moodle", Issuer: "https://moodle.example.fi", ClientID: account.NewID()[:12], AuthURL: "https://moodle.example.fi/auth",
			TokenURL: "https://moodle.example.fi/token", JWKSURL: "https://moodle.example.fi/jwks", Deployments: []string{"1"}, Org: "pirkanmaa"})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		b := newClient(t, r.URL)
		b.register(account.NewID()[:10]+"@example.fi", "Aapo Ei-ylläpitäjä")
		if resp, _ := b.post("/yllapito/lti/"+reg.ID, url.Values{"csrf": {b.csrf("/tili")}, "deployments": {"evil"}, "org": {"pirkanmaa"}, "active": {"on"}}); resp.StatusCode != 404 {
			t.Errorf("a learner on POST /yllapito/lti/{registration} = %d, want 404", resp.StatusCode)
		}
		if got, _ := r.lti.Registration(ctx, reg.ID); len(got.Deployments) != 1 || got.Deployments[0] != "1" {
			t.Errorf("a learner changed the registration: %v", got.Deployments)
		}
	}
}

var ltiTeacher = &ltitest.Person{Sub: "t-1", Name: "Outi Opettaja", Email: "outi@pirha.fi", MessageType: lti.MessageDeepLinking,
	Roles: []string{ltitest.RoleInstructor}}

// ltiDeepLink runs a teacher's deep linking launch by b and returns the
// selection page's address.
func ltiDeepLink(t *testing.T, r *running, b *browserClient, pf *ltitest.Platform, person *ltitest.Person) (*http.Response, string) {
	t.Helper()
	pf.Queue("dl-"+person.Sub, person)
	resp := ltiLogin(t, b, pf, "dl-"+person.Sub, r.URL+"/lti/launch", false)
	_, form := platformAnswers(t, resp.Header.Get("Location"))
	resp, page := b.post("/lti/launch", form)
	keepCookies(t, b, resp)
	return resp, page
}

// Deep Linking 2.0: a teacher chooses with the keyboard-operable form
// what to place; the answer is a signed LtiDeepLinkingResponse that the
// platform verifies against /lti/jwks.json, posted by the page to the
// platform's return address; a learner is refused, another person's
// request is not found, and a request is answered once.
func TestLTIDeepLinking(t *testing.T) {
	r, pf, _ := startLTI(t)
	pf.ToolJWKSURL = r.URL + "/lti/jwks.json"
	b := newClient(t, r.URL)
	resp, _ := ltiDeepLink(t, r, b, pf, ltiTeacher)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasPrefix(loc, "/lti/sisalto/") {
		t.Fatalf("a teacher's deep linking launch = %d %s", resp.StatusCode, loc)
	}
	resp, page := b.get(loc)
	if resp.StatusCode != 200 || !strings.Contains(page, `type="checkbox"`) || !strings.Contains(page, `value="osio:ensimmainen"`) || !strings.Contains(page, `value="kurssi"`) {
		t.Fatalf("the selection page = %d\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' "+pf.URL) {
		t.Fatalf("the platform may not frame the selection page: %s", csp)
	}
	token := csrfField.FindStringSubmatch(page)[1]
	// Another person, signed in, finds nothing there.
	other := newClient(t, r.URL)
	other.register(account.NewID()[:10]+"@example.fi", "Toinen Henkilö")
	if resp, _ := other.get(loc); resp.StatusCode != 404 {
		t.Fatalf("another person's request = %d", resp.StatusCode)
	}
	// Nothing chosen.
	if resp, page := b.post(loc, url.Values{"csrf": {token}}); resp.StatusCode != 422 || !strings.Contains(page, "Valitse, mitä lisäät.") {
		t.Fatalf("nothing chosen = %d", resp.StatusCode)
	}
	// A module and the whole course; an unknown value is ignored.
	resp, page = b.post(loc, url.Values{"csrf": {token}, "kohde": {"osio:ensimmainen", "kurssi", "osio:https://evil.example"}})
	if resp.StatusCode != 200 || !strings.Contains(page, `<form method="post" action="`+pf.URL+`/deep-link-return" data-autopost>`) {
		t.Fatalf("the answer page = %d\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+pf.URL) {
		t.Fatalf("the answer page's form may not lead to the platform: %s", csp)
	}
	jwtField := regexp.MustCompile(`name="JWT" value="([^"]+)"`).FindStringSubmatch(page)
	if jwtField == nil {
		t.Fatal("no JWT on the answer page")
	}
	// The browser posts it to the platform, which verifies it.
	answer, err := http.PostForm(pf.URL+"/deep-link-return", url.Values{"JWT": {jwtField[1]}})
	if err != nil {
		t.Fatal(err)
	}
	answer.Body.Close()
	got := pf.DeepLinkAnswers()
	if answer.StatusCode != 200 || len(got) != 1 || got[0].Err != nil {
		t.Fatalf("the platform refused the answer: %d %+v", answer.StatusCode, got)
	}
	items, _ := got[0].Claims[lti.ClaimContentItems].([]any)
	if len(items) != 2 {
		t.Fatalf("content items %v", items)
	}
	first := items[0].(map[string]any)
	line := first["lineItem"].(map[string]any)
	if first["type"] != "ltiResourceLink" || first["url"] != r.URL+"/" || line["resourceId"] != "course" || line["scoreMaximum"] != float64(100) {
		t.Fatalf("the first item %v", first)
	}
	if second := items[1].(map[string]any); second["url"] != r.URL+"/osiot/ensimmainen" {
		t.Fatalf("the second item %v", second)
	}
	if got[0].Claims[lti.ClaimDeepLinkingData] != "platform-data-t-1" {
		t.Fatalf("the platform's data was not returned: %v", got[0].Claims[lti.ClaimDeepLinkingData])
	}
	// Answered once.
	if resp, _ := b.post(loc, url.Values{"csrf": {token}, "kohde": {"kurssi"}}); resp.StatusCode != 404 {
		t.Fatalf("a second answer = %d", resp.StatusCode)
	}
	// A learner's deep linking launch is refused: no session, no request.
	learner := *ltiTeacher
	learner.Sub, learner.Roles = "s-1", []string{ltitest.RoleLearner}
	resp, page = ltiDeepLink(t, r, newClient(t, r.URL), pf, &learner)
	if resp.StatusCode != 403 || !strings.Contains(page, "Vain oppimisympäristön opettaja") || cookieAttrs(resp, "lti_session") != "" {
		t.Fatalf("a learner's deep linking launch = %d\n%s", resp.StatusCode, page)
	}
}

// Scores reach the platform's gradebook: a learner launched from a
// module's link and from the exam's; completing the module and passing
// the exam are reconciled from our records into the outbox, which posts
// them with a token of the platform (client credentials with the tool's
// signed assertion, checked by the simulator against /lti/jwks.json);
// the gradebook's view and ours agree.
func TestLTIScoresToTheGradebook(t *testing.T) {
	r, pf, _ := startLTI(t)
	pf.ToolJWKSURL = r.URL + "/lti/jwks.json"
	ctx := t.Context()
	person := &ltitest.Person{Sub: "g-1", Name: "Gunilla Gradebook", Email: "gunilla@pirha.fi", Roles: []string{ltitest.RoleLearner}, ResourceLink: "rl-mod"}
	b := newClient(t, r.URL)
	pf.Queue("g-mod", person)
	resp := ltiLogin(t, b, pf, "g-mod", r.URL+"/osiot/ensimmainen", false)
	_, form := platformAnswers(t, resp.Header.Get("Location"))
	resp, _ = b.post("/lti/launch", form)
	keepCookies(t, b, resp)
	examLink := *person
	examLink.ResourceLink = "rl-exam"
	pf.Queue("g-exam", &examLink)
	resp = ltiLogin(t, b, pf, "g-exam", r.URL+"/tentti", false)
	_, form = platformAnswers(t, resp.Header.Get("Location"))
	if resp, _ := b.post("/lti/launch", form); resp.StatusCode != 303 {
		t.Fatalf("the exam's launch = %d", resp.StatusCode)
	}
	src := lti.Sources{Course: r.Course, Progress: r.Progress(), Attempts: r.Exams()}
	send := func() {
		t.Helper()
		if _, err := r.lti.Reconcile(ctx, src.ScoreOf); err != nil {
			t.Fatal(err)
		}
		if _, err := r.lti.SendScoresOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing done yet: nothing sent.
	send()
	if posts := pf.ScorePosts(); len(posts) != 0 {
		t.Fatalf("scores before anything was done: %v", posts)
	}
	// The module completes.
	studied(t, b, "ensimmainen")
	send()
	mod := pf.Gradebook(pf.URL+"/lineitems/rl-mod", "g-1")
	if mod == nil || mod["scoreGiven"] != float64(100) || mod["activityProgress"] != "Completed" || mod["gradingProgress"] != "FullyGraded" {
		t.Fatalf("the module in the gradebook: %v", mod)
	}
	// The exam is graded: its percent to the exam's line item.
	passExam(t, b)
	send()
	ex := pf.Gradebook(pf.URL+"/lineitems/rl-exam", "g-1")
	attempts, _ := r.Exams().ForUser(ctx, mustUser(t, r, pf.URL, "g-1"))
	if ex == nil || len(attempts) != 1 || attempts[0].Result == nil || ex["scoreGiven"] != attempts[0].Result.Percent || ex["scoreMaximum"] != float64(100) {
		t.Fatalf("the exam in the gradebook: %v (attempts %d)", ex, len(attempts))
	}
	// Nothing changed: nothing more is sent.
	before := len(pf.ScorePosts())
	send()
	if after := len(pf.ScorePosts()); after != before {
		t.Fatalf("%d more scores sent with nothing changed", after-before)
	}
}

func mustUser(t *testing.T, r *running, issuer, sub string) string {
	t.Helper()
	u, err := r.Accounts().UserByIdentity(t.Context(), issuer, sub)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// LTI Dynamic Registration over HTTP: an administrator makes a
// registration address for Pirkanmaa on /yllapito/lti; the platform opens
// it with its configuration and registration token; the tool registers
// there, keeps the platform, and answers with a page the platform may
// frame and that asks it to close; the address works once; the platform
// then launches.
func TestLTIDynamicRegistration(t *testing.T) {
	r := start(t)
	pf, err := ltitest.Start("dyn-client", "dyn-dep", r.URL+"/lti/launch")
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	pf.ToolLoginURL, pf.ToolJWKSURL, pf.RegistrationToken = r.URL+"/lti/login", r.URL+"/lti/jwks.json", "rt-1"
	admin := newClient(t, r.URL)
	ae := account.NewID()[:10] + "@example.fi"
	admin.register(ae, "Ylli")
	signInAdmin(t, admin, r.Accounts(), ae)
	token := admin.csrf("/yllapito/lti")
	if resp, page := admin.post("/yllapito/lti/kutsu", url.Values{"csrf": {token}, "org": {""}}); resp.StatusCode != 422 || !strings.Contains(page, "Valitse organisaatio luettelosta.") {
		t.Fatalf("an invitation without an organisation = %d", resp.StatusCode)
	}
	resp, page := admin.post("/yllapito/lti/kutsu", url.Values{"csrf": {token}, "org": {"pirkanmaa"}})
	link := regexp.MustCompile(`<code id="kutsu">([^<]+)</code>`).FindStringSubmatch(page)
	if resp.StatusCode != 200 || link == nil || !strings.HasPrefix(link[1], r.URL+"/lti/rekisteroi/") {
		t.Fatalf("the invitation = %d\n%s", resp.StatusCode, page)
	}
	path := strings.TrimPrefix(link[1], r.URL) + "?" + url.Values{"openid_configuration": {pf.ConfigurationURL()}, "registration_token": {"rt-1"}}.Encode()
	b := newClient(t, r.URL)
	resp, page = b.get(path)
	if resp.StatusCode != 200 || !strings.Contains(page, "data-lti-close") || !strings.Contains(page, "on rekisteröity") {
		t.Fatalf("the registration = %d\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' "+pf.URL) {
		t.Fatalf("the platform may not frame the registration page: %s", csp)
	}
	if resp, _ := b.get(path); resp.StatusCode != 404 {
		t.Fatalf("the address used again = %d", resp.StatusCode)
	}
	if _, page := admin.get("/yllapito/lti"); !strings.Contains(page, "<code>dyn-client</code>") || !strings.Contains(page, "<td>dyn-dep</td>") {
		t.Fatalf("the registered platform is not listed:\n%s", page)
	}
	// The platform launches.
	pf.Queue("dyn", &ltitest.Person{Sub: "dyn-1", Name: "Dyna Mic", Roles: []string{ltitest.RoleLearner}})
	q := url.Values{"iss": {pf.URL}, "login_hint": {"dyn"}, "target_link_uri": {r.URL + "/osiot"}, "lti_message_hint": {r.URL + "/osiot"}, "client_id": {"dyn-client"}, "lti_deployment_id": {"dyn-dep"}}
	resp, _ = b.get("/lti/login?" + q.Encode())
	keepCookies(t, b, resp)
	_, form := platformAnswers(t, resp.Header.Get("Location"))
	if resp, _ := b.post("/lti/launch", form); resp.StatusCode != 303 || resp.Header.Get("Location") != "/osiot" {
		t.Fatalf("a launch from the registered platform = %d", resp.StatusCode)
	}
	_, logPage := admin.get("/yllapito/loki")
	for _, want := range []string{"lti.invite", "lti.register"} {
		if !strings.Contains(logPage, want) {
			t.Errorf("the audit log lacks %s", want)
		}
	}
}

// The session of a launch lives in its own partitioned cookie
// (lti_session), apart from the site's Lax "session": a second factor
// completed in the frame renews that cookie (a Lax one would not be kept
// there), signing out in the frame deletes it with a Set-Cookie that is
// partitioned too, and a launch from a platform on our own site ends the
// site cookie of whoever was signed in there.
func TestLTISessionInTheFrame(t *testing.T) {
	r, pf, _ := startLTI(t)
	target := r.URL + "/omat-opinnot"
	launch := func(b *browserClient, hint string, p *ltitest.Person) *http.Response {
		t.Helper()
		pf.Queue(hint, p)
		resp := ltiLogin(t, b, pf, hint, target, false)
		_, form := platformAnswers(t, resp.Header.Get("Location"))
		resp, body := b.post("/lti/launch", form)
		if resp.StatusCode != 303 {
			t.Fatalf("launch = %d\n%s", resp.StatusCode, body)
		}
		keepCookies(t, b, resp)
		return resp
	}
	tuula := &ltitest.Person{Sub: "u-7", Name: "Tuula Kaksivaihe", Email: "tuula@pirha.fi", Roles: []string{ltitest.RoleLearner}}
	b := newClient(t, r.URL)
	launch(b, "h-7", tuula)
	secret := enrolTOTP(t, b)

	// With two-factor on, the launch asks for the code, in the frame.
	f := newClient(t, r.URL)
	if resp := launch(f, "h-7b", tuula); !strings.HasPrefix(resp.Header.Get("Location"), "/kirjaudu/vahvista") {
		t.Fatalf("a launch with two-factor on = %s", resp.Header.Get("Location"))
	}
	code, _ := account.CodeAt(secret, time.Now().Add(30*time.Second))
	resp, _ := f.post("/kirjaudu/vahvista", url.Values{"csrf": {f.csrf("/kirjaudu/vahvista")}, "code": {code}, "jatka": {"/omat-opinnot"}})
	renewed := strings.ToLower(cookieAttrs(resp, "lti_session"))
	if resp.StatusCode != 303 || !strings.Contains(renewed, "partitioned") || !strings.Contains(renewed, "samesite=none") || cookieAttrs(resp, "session") != "" {
		t.Fatalf("the code in the frame = %d, lti_session %q, session %q", resp.StatusCode, renewed, cookieAttrs(resp, "session"))
	}
	keepCookies(t, f, resp)
	if resp, page := f.get("/omat-opinnot"); resp.StatusCode != 200 || !strings.Contains(page, "Tuula Kaksivaihe") {
		t.Fatalf("after the code = %d", resp.StatusCode)
	}
	// Signing out in the frame deletes the partitioned cookie.
	resp, _ = f.post("/kirjaudu-ulos", url.Values{"csrf": {f.csrf("/omat-opinnot")}})
	gone := strings.ToLower(cookieAttrs(resp, "lti_session"))
	if !strings.Contains(gone, "partitioned") || !strings.Contains(gone, "max-age=0") && !strings.Contains(gone, "expires=tue, 10 nov 2009") {
		t.Fatalf("sign-out in the frame: lti_session %q", gone)
	}
	keepCookies(t, f, resp)
	if resp, page := f.get("/omat-opinnot"); resp.StatusCode == 200 && strings.Contains(page, "Tuula Kaksivaihe") {
		t.Fatal("still signed in after signing out")
	}

	// A platform on our own site: the browser sends the site's cookie
	// with the launch, which ends it.
	s := newClient(t, r.URL)
	s.register(account.NewID()[:10]+"@example.fi", "Sivuston Käyttäjä")
	resp = launch(s, "h-8", &ltitest.Person{Sub: "u-8", Name: "Kalle Kehys", Roles: []string{ltitest.RoleLearner}})
	if site := strings.ToLower(cookieAttrs(resp, "session")); !strings.Contains(site, "max-age=0") && !strings.Contains(site, "expires=thu, 01 jan 1970") {
		t.Fatalf("the site's cookie after a launch: %q", site)
	}
	if resp, page := s.get("/omat-opinnot"); resp.StatusCode != 200 || !strings.Contains(page, "Kalle Kehys") {
		t.Fatalf("after the launch on the same site = %d", resp.StatusCode)
	}
}

// A launch that says the platform's storage bound it (lti_storage=1) is
// taken only from a page of our own origin (Sec-Fetch-Site same-origin):
// a cross-site form, or one without the header, is refused before the
// token is looked at, and the flow is left for the real page.
func TestLTIStorageLaunchOnlyFromOurOrigin(t *testing.T) {
	r, pf, _ := startLTI(t)
	pf.Queue("h-s", &ltitest.Person{Sub: "u-s", Name: "Säilö Oppija", Roles: []string{ltitest.RoleLearner}})
	b := newClient(t, r.URL)
	q := url.Values{"iss": {pf.URL}, "login_hint": {"h-s"}, "target_link_uri": {r.URL + "/osiot"}, "lti_message_hint": {r.URL + "/osiot"},
		"client_id": {pf.ClientID}, "lti_deployment_id": {"dep-1"}, "lti_storage_target": {"_parent"}}
	resp, page := b.get("/lti/login?" + q.Encode())
	m := regexp.MustCompile(`data-next="([^"]+)"`).FindStringSubmatch(page)
	if resp.StatusCode != 200 || m == nil || !strings.Contains(page, `data-lti-storage="put"`) || !strings.Contains(page, `data-origin="`+pf.URL+`"`) {
		t.Fatalf("the login naming a storage = %d:\n%s", resp.StatusCode, page)
	}
	_, form := platformAnswers(t, html.UnescapeString(m[1]))
	// No cookie sent (another jar): the page that looks in the storage,
	// with the token.
	b = newClient(t, r.URL)
	resp, page = b.post("/lti/launch", form)
	if resp.StatusCode != 200 || !strings.Contains(page, `data-lti-storage="get"`) || !strings.Contains(page, form.Get("id_token")) {
		t.Fatalf("the launch without the cookie = %d:\n%s", resp.StatusCode, page)
	}
	form.Set("lti_storage", "1")
	for _, site := range []string{"", "cross-site", "same-site"} {
		h := []string{"Content-Type", "application/x-www-form-urlencoded"}
		if site != "" {
			h = append(h, "Sec-Fetch-Site", site)
		}
		if resp, _ := b.do("POST", "/lti/launch", strings.NewReader(form.Encode()), h...); resp.StatusCode != 400 || cookieAttrs(resp, "lti_session") != "" {
			t.Fatalf("a stored launch with Sec-Fetch-Site %q = %d", site, resp.StatusCode)
		}
	}
	resp, _ = b.do("POST", "/lti/launch", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != 303 || !strings.Contains(cookieAttrs(resp, "lti_session"), "Partitioned") {
		t.Fatalf("the stored launch from our own page = %d", resp.StatusCode)
	}
}
