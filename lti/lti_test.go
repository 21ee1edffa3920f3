package lti

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/egress"
	"github.com/tyokyky/tyokyky/internal/ltitest"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/org"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.StartDatabase) }

const toolURL = "https://kurssi.example.fi"

type fixture struct {
	svc      *Service
	accounts *account.Store
	pf       *ltitest.Platform
	reg      *Registration
}

// setup: the organisation Pirkanmaa, a platform simulator registered in
// it with the deployment "dep-1", and the tool at toolURL.
func setup(t testing.TB) *fixture {
	t.Helper()
	ctx := t.Context()
	db := env.Database()
	if err := EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := account.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	dir := org.NewDirectory(db)
	if _, errs := dir.Add(ctx, org.Organisation{ID: "pirkanmaa", NameFI: "Pirkanmaan hyvinvointialue", Active: true}); len(errs) > 0 {
		t.Fatal(errs)
	}
	keys, err := cert.NewKeys(db, cert.KeyOptions{Alg: cert.AlgRS256, Dir: t.TempDir(), Collection: KeysCollection, RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	accounts := account.NewStore(db)
	svc := New(Options{DB: db, Accounts: accounts, Directory: dir, Keys: keys, BaseURL: toolURL, UnknownKeyEvery: time.Millisecond, Allow: egress.Loopback,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(svc.Close)
	pf, err := ltitest.Start("tyokyky-client", "dep-1", svc.LaunchURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pf.Close)
	reg, errs := svc.AddRegistration(ctx, Registration{Name: "Moodle", Issuer: pf.URL, ClientID: pf.ClientID, AuthURL: pf.AuthURL(),
		TokenURL: pf.TokenURL(), JWKSURL: pf.JWKSURL(), Deployments: []string{"dep-1", "dep-2"}, Org: "pirkanmaa"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return &fixture{svc: svc, accounts: accounts, pf: pf, reg: reg}
}

var learner = &ltitest.Person{Sub: "moodle-user-42", Name: "Liisa Oppija", Email: "liisa.oppija@pirha.fi", Roles: []string{ltitest.RoleLearner}}

// launch runs a whole launch: the login, the platform's authentication
// answer, and Launch with the browser's cookie (the state).
func (f *fixture) launch(t testing.TB, person *ltitest.Person, target string) (*Launch, error) {
	t.Helper()
	req, err := f.start(t, person, target)
	if err != nil {
		return nil, err
	}
	return f.svc.Launch(t.Context(), req)
}

// start does the login and the platform's answer: the request Launch
// would get.
func (f *fixture) start(t testing.TB, person *ltitest.Person, target string) (LaunchRequest, error) {
	t.Helper()
	hint := "hint-" + person.Sub
	f.pf.Queue(hint, person)
	authURL, state, err := f.svc.Login(t.Context(), LoginRequest{Issuer: f.pf.URL, LoginHint: hint, TargetLinkURI: target, MessageHint: target,
		ClientID: f.pf.ClientID, DeploymentID: "dep-1"})
	if err != nil {
		return LaunchRequest{}, err
	}
	resp, err := http.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the platform refused the authentication request: %d %s", resp.StatusCode, body)
	}
	action, form, err := ltitest.ReadPostPage(string(body))
	if err != nil {
		t.Fatal(err)
	}
	if action != toolURL+"/lti/launch" {
		t.Fatalf("the platform posts to %s", action)
	}
	return LaunchRequest{IDToken: form.Get("id_token"), State: form.Get("state"), Cookie: state}, nil
}

func TestLaunchSignsInJustInTime(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	l, err := f.launch(t, learner, toolURL+"/osiot/ensimmainen/tehtava?x=1")
	if err != nil {
		t.Fatal(err)
	}
	if l.Target != "/osiot/ensimmainen/tehtava?x=1" || !l.Created || l.MessageType != MessageResourceLink || l.Deployment != "dep-1" || !l.Frame {
		t.Fatalf("launch %+v", l)
	}
	u := l.User
	if u.Name != "Liisa Oppija" || u.Email != "liisa.oppija@pirha.fi" || u.OrgID != "pirkanmaa" || u.Organisation != "Pirkanmaan hyvinvointialue" || u.Role != account.RoleLearner {
		t.Fatalf("the account made just in time: %+v", u)
	}
	// The authentication request was an LTI one.
	q := f.pf.AuthRequests()[0]
	for k, want := range map[string]string{"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
		"client_id": "tyokyky-client", "redirect_uri": toolURL + "/lti/launch", "login_hint": "hint-" + learner.Sub} {
		if q.Get(k) != want {
			t.Errorf("authentication request %s = %q, want %q", k, q.Get(k), want)
		}
	}
	// The same person again, with another address at the platform: the
	// same account, by (issuer, sub).
	again := *learner
	again.Email = "liisa.uusi@pirha.fi"
	l2, err := f.launch(t, &again, toolURL+"/kurssi")
	if err != nil {
		t.Fatal(err)
	}
	if l2.User.ID != u.ID || l2.Created {
		t.Fatalf("a second launch made another account: %s vs %s", l2.User.ID, u.ID)
	}
	// Without an address, or with one another account has: a placeholder,
	// never a link to that account.
	if _, errs := f.accounts.Register(ctx, account.Registration{Email: "toinen@pirha.fi", Name: "Toinen Tili", Password: "oma pitkä salalause 2026", Organisation: account.OtherOrganisation, OrganisationOther: "Yksityinen Oy"}); len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, p := range []*ltitest.Person{{Sub: "no-mail", Name: "Ei Osoitetta", Roles: []string{}}, {Sub: "taker", GivenName: "Vieras", FamilyName: "Henkilö", Email: "toinen@pirha.fi", Roles: []string{}}} {
		l, err := f.launch(t, p, toolURL+"/")
		if err != nil {
			t.Fatal(err)
		}
		if !IsPlaceholder(l.User.Email) {
			t.Errorf("%s: address %s", p.Sub, l.User.Email)
		}
		if p.Sub == "taker" && l.User.Name != "Vieras Henkilö" {
			t.Errorf("the name from given_name and family_name: %q", l.User.Name)
		}
	}
	if u, _ := f.accounts.UserByEmail(ctx, "toinen@pirha.fi"); u.Name != "Toinen Tili" {
		t.Error("the existing account changed")
	}
	// A disabled account is refused.
	if err := f.accounts.SetDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.launch(t, learner, toolURL+"/"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("a disabled account: %v", err)
	}
}

// Review findings: a platform's person cannot take another person's
// placeholder address (and so their account), and the address a platform
// sends is unverified: whoever proves it by a reset link takes the
// account over, the platform's person no longer signs in to it.
func TestPlaceholdersAndAddressesCannotBeTakenOver(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	victim := &ltitest.Person{Sub: "victim-7", Name: "Ville Uhri", Roles: []string{ltitest.RoleLearner}}
	squatter := &ltitest.Person{Sub: "squatter", Name: "Kaappaaja", Email: placeholder(f.pf.URL, victim.Sub), Roles: []string{ltitest.RoleLearner}}
	ls, err := f.launch(t, squatter, toolURL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if ls.User.Email == placeholder(f.pf.URL, victim.Sub) {
		t.Fatal("a platform's person was given another person's placeholder")
	}
	lv, err := f.launch(t, victim, toolURL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if lv.User.ID == ls.User.ID {
		t.Fatal("the victim was signed in to the squatter's account")
	}
	// The placeholder taken anyway (an account made by another way):
	// an account of the person's own, never the holder's.
	other := &ltitest.Person{Sub: "other-8", Name: "Olli Muu", Roles: []string{ltitest.RoleLearner}}
	holder, err := f.accounts.CreateExternal(ctx, account.External{ID: account.NewID(), Email: placeholder(f.pf.URL, other.Sub), Name: "Haltija"})
	if err != nil {
		t.Fatal(err)
	}
	lo, err := f.launch(t, other, toolURL+"/")
	if err != nil || lo.User.ID == holder.ID || !IsPlaceholder(lo.User.Email) {
		t.Fatalf("a taken placeholder: %+v %v", lo, err)
	}
	// An address from the platform is unverified; its owner's reset
	// takes the account over.
	mallory := &ltitest.Person{Sub: "mallory", Name: "Mallory", Email: "aino.aito@pirha.fi", Roles: []string{ltitest.RoleLearner}}
	lm, err := f.launch(t, mallory, toolURL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if lm.User.EmailVerified {
		t.Fatal("an address from the platform counts as verified")
	}
	token, u, err := f.accounts.IssueReset(ctx, "aino.aito@pirha.fi", time.Hour)
	if err != nil || u.ID != lm.User.ID {
		t.Fatalf("reset: %v %v", u, err)
	}
	if _, err := f.accounts.UseReset(ctx, token, "ainon oma pitkä salalause"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.accounts.UserByIdentity(ctx, f.pf.URL, mallory.Sub); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("the platform's person still signs in to the account: %v", err)
	}
	if u, _ := f.accounts.User(ctx, lm.User.ID); !u.EmailVerified {
		t.Fatal("the reset did not verify the address")
	}
	again, err := f.launch(t, mallory, toolURL+"/")
	if err != nil || again.User.ID == lm.User.ID {
		t.Fatalf("the platform's person after the takeover: %+v %v", again, err)
	}
}

// Every forged launch is refused, each for its reason; a control re-signed
// unchanged passes (so the refusals are the checks', not the forging's).
func TestLaunchAttacks(t *testing.T) {
	f := setup(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	resign := func(change func(jwt.MapClaims)) func(map[string]any, jwt.MapClaims) string {
		return func(_ map[string]any, c jwt.MapClaims) string {
			change(c)
			return f.pf.Sign(c)
		}
	}
	cases := []struct {
		name  string
		forge func(map[string]any, jwt.MapClaims) string
		want  error
	}{
		{"control: re-signed unchanged", resign(func(jwt.MapClaims) {}), nil},
		{"signed with another key under the platform's kid", func(h map[string]any, c jwt.MapClaims) string {
			return ltitest.SignWith(other, c, map[string]any{"kid": h["kid"]})
		}, ErrToken},
		{"signed with another key under its own kid", func(_ map[string]any, c jwt.MapClaims) string { return ltitest.SignWith(other, c, nil) }, ErrToken},
		{"alg none", func(h map[string]any, c jwt.MapClaims) string {
			t := jwt.NewWithClaims(jwt.SigningMethodNone, c)
			t.Header["kid"] = h["kid"]
			s, _ := t.SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}, ErrToken},
		{"HS256 with the public key as the secret", func(h map[string]any, c jwt.MapClaims) string {
			resp, _ := http.Get(f.pf.JWKSURL())
			pub, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
			t.Header["kid"] = h["kid"]
			s, _ := t.SignedString(pub)
			return s
		}, ErrToken},
		{"a key of its own in the header (jwk)", func(h map[string]any, c jwt.MapClaims) string {
			return ltitest.SignWith(other, c, map[string]any{"jwk": map[string]any{"kty": "RSA"}})
		}, ErrToken},
		{"expired", resign(func(c jwt.MapClaims) {
			c["exp"] = time.Now().Add(-10 * time.Minute).Unix()
			c["iat"] = time.Now().Add(-20 * time.Minute).Unix()
		}), ErrToken},
		{"issued in the future", resign(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() }), ErrToken},
		{"no iat", resign(func(c jwt.MapClaims) { delete(c, "iat") }), ErrToken},
		{"no exp", resign(func(c jwt.MapClaims) { delete(c, "exp") }), ErrToken},
		{"wrong audience", resign(func(c jwt.MapClaims) { c["aud"] = "another-tool"; delete(c, "azp") }), ErrToken},
		{"several audiences without azp", resign(func(c jwt.MapClaims) { c["aud"] = []any{"tyokyky-client", "another-tool"}; delete(c, "azp") }), ErrToken},
		{"azp of another client", resign(func(c jwt.MapClaims) { c["azp"] = "another-tool" }), ErrToken},
		{"unregistered issuer", resign(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), ErrToken},
		{"another nonce", resign(func(c jwt.MapClaims) { c["nonce"] = "made-up" }), ErrToken},
		{"unregistered deployment", resign(func(c jwt.MapClaims) { c[ClaimDeploymentID] = "dep-9" }), ErrDeployment},
		{"no deployment", resign(func(c jwt.MapClaims) { delete(c, ClaimDeploymentID) }), ErrDeployment},
		{"another registered deployment than the login's", resign(func(c jwt.MapClaims) { c[ClaimDeploymentID] = "dep-2" }), ErrDeployment},
		{"another message type", resign(func(c jwt.MapClaims) { c[ClaimMessageType] = "LtiSubmissionReviewRequest" }), ErrMessageType},
		{"LTI 1.1 version", resign(func(c jwt.MapClaims) { c[ClaimVersion] = "1.1.0" }), ErrMessageType},
		{"no resource link", resign(func(c jwt.MapClaims) { delete(c, ClaimResourceLink) }), ErrToken},
		{"no roles", resign(func(c jwt.MapClaims) { delete(c, ClaimRoles) }), ErrToken},
		{"anonymous (no sub)", resign(func(c jwt.MapClaims) { delete(c, "sub") }), ErrToken},
		{"target_link_uri on another host", resign(func(c jwt.MapClaims) { c[ClaimTargetLinkURI] = "https://evil.example/kurssi" }), ErrTarget},
		{"target_link_uri with our host as user info", resign(func(c jwt.MapClaims) { c[ClaimTargetLinkURI] = "https://kurssi.example.fi@evil.example/" }), ErrTarget},
		{"target_link_uri over http", resign(func(c jwt.MapClaims) { c[ClaimTargetLinkURI] = "http://kurssi.example.fi/kurssi" }), ErrTarget},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.pf.Forge(c.forge)
			defer f.pf.Forge(nil)
			_, err := f.launch(t, learner, toolURL+"/kurssi")
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestLoginRefusals(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	good := LoginRequest{Issuer: f.pf.URL, LoginHint: "h", TargetLinkURI: toolURL + "/kurssi", MessageHint: toolURL + "/kurssi", ClientID: f.pf.ClientID, DeploymentID: "dep-2"}
	if _, _, err := f.svc.Login(ctx, good); err != nil {
		t.Fatalf("control: %v", err)
	}
	noClient := good
	noClient.ClientID = ""
	if _, _, err := f.svc.Login(ctx, noClient); err != nil {
		t.Fatalf("without client_id (optional): %v", err)
	}
	for name, change := range map[string]func(*LoginRequest){
		"unregistered issuer":     func(r *LoginRequest) { r.Issuer = "https://moodle.evil.example" },
		"unregistered client":     func(r *LoginRequest) { r.ClientID = "other" },
		"unregistered deployment": func(r *LoginRequest) { r.DeploymentID = "dep-9" },
		"no login_hint":           func(r *LoginRequest) { r.LoginHint = "" },
		"no target":               func(r *LoginRequest) { r.TargetLinkURI = "" },
	} {
		r := good
		change(&r)
		if _, _, err := f.svc.Login(ctx, r); !errors.Is(err, ErrLogin) {
			t.Errorf("%s: %v", name, err)
		}
	}
	r := good
	r.TargetLinkURI = "https://evil.example/kurssi"
	if _, _, err := f.svc.Login(ctx, r); !errors.Is(err, ErrTarget) {
		t.Errorf("a target on another host: %v", err)
	}
	// An inactive registration launches nothing.
	reg := *f.reg
	reg.Active = false
	if _, errs := f.svc.ChangeRegistration(ctx, reg); len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, _, err := f.svc.Login(ctx, good); !errors.Is(err, ErrLogin) {
		t.Errorf("an inactive registration: %v", err)
	}
}

// The state is used once (also by two launches at the same moment), must
// be this browser's, and the nonce is claimed once under its unique
// index.
func TestStateAndNonceUsedOnce(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	req, err := f.start(t, learner, toolURL+"/kurssi")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, replay := 0, 0
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.Launch(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrState):
				replay++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || replay != 4 {
		t.Fatalf("five launches of one state: %d accepted, %d refused", ok, replay)
	}
	// Another browser's state cookie.
	req, _ = f.start(t, learner, toolURL+"/kurssi")
	other, _ := f.start(t, learner, toolURL+"/kurssi")
	req.Cookie = other.Cookie
	if _, err := f.svc.Launch(ctx, req); !errors.Is(err, ErrState) {
		t.Fatalf("another browser's state: %v", err)
	}
	// A state nobody started.
	if _, err := f.svc.Launch(ctx, LaunchRequest{IDToken: req.IDToken, State: "made-up", Cookie: "made-up"}); !errors.Is(err, ErrState) {
		t.Fatalf("an unknown state: %v", err)
	}
	// The nonce of an accepted token is claimed by an insert: a second
	// claim is refused.
	tok, _, _ := jwt.NewParser().ParseUnverified(other.IDToken, jwt.MapClaims{})
	nonce := tok.Claims.(jwt.MapClaims)["nonce"].(string)
	if _, err := f.svc.Launch(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.useNonce(ctx, f.pf.URL, nonce); !errors.Is(err, ErrReplay) {
		t.Fatalf("the nonce claimed again: %v", err)
	}
	// Too old.
	late, _ := f.start(t, learner, toolURL+"/kurssi")
	f.svc.SetClock(func() time.Time { return time.Now().Add(FlowTTL + time.Minute) })
	defer f.svc.SetClock(time.Now)
	if _, err := f.svc.Launch(ctx, late); !errors.Is(err, ErrState) {
		t.Fatalf("a launch after the flow's lifetime: %v", err)
	}
}

// A browser that did not send the state cookie back (blocked in a frame)
// is told apart, and the login can start again in a window of its own.
func TestMissingCookieOffersRestart(t *testing.T) {
	f := setup(t)
	req, err := f.start(t, learner, toolURL+"/osiot/a/b")
	if err != nil {
		t.Fatal(err)
	}
	req.Cookie = ""
	if _, err := f.svc.Launch(t.Context(), req); !errors.Is(err, ErrNoCookie) {
		t.Fatalf("no cookie: %v", err)
	}
	again, err := f.svc.Restart(t.Context(), req.State)
	if err != nil {
		t.Fatal(err)
	}
	if again.Issuer != f.pf.URL || again.LoginHint != "hint-"+learner.Sub || again.TargetLinkURI != toolURL+"/osiot/a/b" || again.DeploymentID != "dep-1" || again.ClientID != f.pf.ClientID {
		t.Fatalf("restart %+v", again)
	}
	if _, err := f.svc.Restart(t.Context(), "made-up"); !errors.Is(err, ErrState) {
		t.Fatalf("restart of an unknown state: %v", err)
	}
}

// The platform rotates its key: the next launch, signed with the new
// key, is verified after fetching the key set again.
func TestPlatformKeyRotation(t *testing.T) {
	f := setup(t)
	if _, err := f.launch(t, learner, toolURL+"/kurssi"); err != nil {
		t.Fatal(err)
	}
	if err := f.pf.Rotate(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.launch(t, learner, toolURL+"/kurssi"); err != nil {
		t.Fatalf("a launch signed with the rotated key: %v", err)
	}
}

func TestRegistrations(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	_, errs := f.svc.AddRegistration(ctx, Registration{Name: "x", Issuer: "ftp://a", ClientID: "", AuthURL: "javascript:alert(1)",
		TokenURL: "http://evil.example/token", JWKSURL: "", Deployments: []string{" "}, Org: "eiole"})
	want := []error{ErrRegName, ErrRegIssuer, ErrRegClient, ErrRegAuthURL, ErrRegTokenURL, ErrRegJWKSURL, ErrRegDeployment, ErrRegOrg}
	if len(errs) != len(want) {
		t.Fatalf("refusals %v", errs)
	}
	for i := range want {
		if !errors.Is(errs[i], want[i]) {
			t.Errorf("refusal %d = %v, want %v", i, errs[i], want[i])
		}
	}
	dup := *f.reg
	if _, errs := f.svc.AddRegistration(ctx, dup); len(errs) != 1 || !errors.Is(errs[0], ErrRegTaken) {
		t.Fatalf("the same issuer and client again: %v", errs)
	}
	// The tool's key set: RS256, public only.
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(f.svc.JWKS(ctx), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %v %v", set, err)
	}
	if k := set.Keys[0]; k["alg"] != "RS256" || k["kty"] != "RSA" || k["use"] != "sig" || k["d"] != nil || !strings.HasPrefix(f.svc.JWKSURL(), toolURL) {
		t.Fatalf("key %v", k)
	}
}

var teacher = &ltitest.Person{Sub: "teacher-7", Name: "Outi Opettaja", Email: "outi@pirha.fi", MessageType: MessageDeepLinking,
	Roles: []string{"http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"}}

// A teacher's deep linking launch waits for the choice; the answer is a
// signed LtiDeepLinkingResponse that the platform verifies against the
// tool's key set, with line items and the platform's data back, given
// once; a learner may not place anything.
func TestDeepLinking(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	tool := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(f.svc.JWKS(r.Context())) }))
	defer tool.Close()
	f.pf.ToolJWKSURL = tool.URL
	l, err := f.launch(t, teacher, toolURL+"/lti/launch")
	if err != nil {
		t.Fatal(err)
	}
	if l.MessageType != MessageDeepLinking || l.DeepLink == "" {
		t.Fatalf("launch %+v", l)
	}
	req, err := f.svc.DeepLink(ctx, l.DeepLink, l.User.ID)
	if err != nil || req.ReturnURL != f.pf.URL+"/deep-link-return" || !req.Multiple || req.Data != "platform-data-teacher-7" {
		t.Fatalf("request %+v %v", req, err)
	}
	// Another person's request is nobody's business.
	if _, err := f.svc.DeepLink(ctx, l.DeepLink, "someone-else"); !errors.Is(err, ErrDeepLinkGone) {
		t.Fatalf("another user's request: %v", err)
	}
	if _, _, err := f.svc.DeepLinkResponse(ctx, l.DeepLink, l.User.ID, []ContentItem{{Title: "x", URL: "https://evil.example/"}}); !errors.Is(err, ErrTarget) {
		t.Fatalf("an item on another host: %v", err)
	}
	if _, _, err := f.svc.DeepLinkResponse(ctx, l.DeepLink, l.User.ID, nil); !errors.Is(err, ErrNoChoice) {
		t.Fatalf("nothing chosen: %v", err)
	}
	items := []ContentItem{{Title: "Työkyvyn tuki", URL: toolURL + "/osiot/tyokyvyn-tuki", ResourceID: "module:tyokyvyn-tuki", ScoreMaximum: 100},
		{Title: "Lopputentti", URL: toolURL + "/tentti", ResourceID: "exam", ScoreMaximum: 100}}
	ret, token, err := f.svc.DeepLinkResponse(ctx, l.DeepLink, l.User.ID, items)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(ret, url.Values{"JWT": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	answers := f.pf.DeepLinkAnswers()
	if resp.StatusCode != 200 || len(answers) != 1 || answers[0].Err != nil {
		t.Fatalf("the platform refused the response: %d %+v", resp.StatusCode, answers)
	}
	c := answers[0].Claims
	got, _ := json.Marshal(c[ClaimContentItems])
	want := `[{"lineItem":{"label":"Työkyvyn tuki","resourceId":"module:tyokyvyn-tuki","scoreMaximum":100,"tag":"tyokyky"},"title":"Työkyvyn tuki","type":"ltiResourceLink","url":"https://kurssi.example.fi/osiot/tyokyvyn-tuki"},` +
		`{"lineItem":{"label":"Lopputentti","resourceId":"exam","scoreMaximum":100,"tag":"tyokyky"},"title":"Lopputentti","type":"ltiResourceLink","url":"https://kurssi.example.fi/tentti"}]`
	if string(got) != want || c[ClaimDeepLinkingData] != "platform-data-teacher-7" {
		t.Fatalf("content items %s, data %v", got, c[ClaimDeepLinkingData])
	}
	// Once only.
	if _, _, err := f.svc.DeepLinkResponse(ctx, l.DeepLink, l.User.ID, items); !errors.Is(err, ErrDeepLinkGone) {
		t.Fatalf("a second response: %v", err)
	}
	// A learner's deep linking launch is refused before any account is
	// made for them.
	student := *teacher
	student.Sub, student.Roles = "student-8", []string{ltitest.RoleLearner, "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"}
	if _, err := f.launch(t, &student, toolURL+"/lti/launch"); !errors.Is(err, ErrNotInstructor) {
		t.Fatalf("a learner's deep linking launch: %v", err)
	}
	if _, err := f.accounts.UserByIdentity(ctx, f.pf.URL, "student-8"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("an account was made for the refused learner: %v", err)
	}
	// Settings without ltiResourceLink among the accepted types.
	odd := *teacher
	odd.Sub, odd.Extra = "teacher-9", map[string]any{ClaimDeepLinkingSettings: map[string]any{"deep_link_return_url": f.pf.URL + "/r", "accept_types": []any{"file"}}}
	if _, err := f.launch(t, &odd, toolURL+"/lti/launch"); !errors.Is(err, ErrDeepLink) {
		t.Fatalf("settings without ltiResourceLink: %v", err)
	}
}

func TestMayPlace(t *testing.T) {
	for roles, want := range map[string]bool{
		"http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor":                   true,
		"http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant": true,
		"http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper":             true,
		"http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator":        true,
		"http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator":             true,
		"http://purl.imsglobal.org/vocab/lis/v2/membership#Learner":                      false,
		"http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor":                       false,
		"http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student":              false,
		"Instructor": false, // LTI 1.1's short names are not LTI 1.3 roles
		"":           false,
	} {
		if MayPlace([]string{roles}) != want {
			t.Errorf("MayPlace(%q) = %v", roles, !want)
		}
	}
}

// A login that names the platform's postMessage storage: the
// authentication request passes the frame on, the storage is the
// platform's authentication origin with the flow's state and nonce; a
// launch without the cookie is bound through it only when the caller says
// the storage held them (and only for a login that named one).
func TestLaunchBoundThroughPlatformStorage(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	login := func(target string) (string, string) {
		t.Helper()
		hint := "hint-" + learner.Sub
		f.pf.Queue(hint, learner)
		authURL, state, err := f.svc.Login(ctx, LoginRequest{Issuer: f.pf.URL, LoginHint: hint, TargetLinkURI: toolURL + "/kurssi", MessageHint: toolURL + "/kurssi", ClientID: f.pf.ClientID,
			DeploymentID: "dep-1", StorageTarget: target})
		if err != nil {
			t.Fatal(err)
		}
		return authURL, state
	}
	post := func(authURL string) LaunchRequest {
		t.Helper()
		resp, err := http.Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_, form, err := ltitest.ReadPostPage(string(body))
		if err != nil {
			t.Fatal(err)
		}
		return LaunchRequest{IDToken: form.Get("id_token"), State: form.Get("state")}
	}
	// A frame name that is not one: no storage.
	authURL, state := login("<x>")
	if st, err := f.svc.StorageOf(ctx, state); err != nil || st != nil || strings.Contains(authURL, "lti_storage_target") {
		t.Fatalf("storage of a bad target: %+v %v", st, err)
	}
	req := post(authURL)
	req.Stored = true
	if _, err := f.svc.Launch(ctx, req); !errors.Is(err, ErrState) {
		t.Fatalf("bound through a storage the login did not name: %v", err)
	}
	authURL, state = login("_parent")
	u, _ := url.Parse(authURL)
	st, err := f.svc.StorageOf(ctx, state)
	if err != nil || st == nil || st.Target != "_parent" || st.Origin != f.pf.URL || st.State != state || st.Nonce != u.Query().Get("nonce") || u.Query().Get("lti_storage_target") != "_parent" {
		t.Fatalf("storage %+v %v (auth request %s)", st, err, authURL)
	}
	req = post(authURL)
	if _, err := f.svc.Launch(ctx, req); !errors.Is(err, ErrNoCookie) {
		t.Fatalf("without the cookie and the storage: %v", err)
	}
	req.Stored = true
	l, err := f.svc.Launch(ctx, req)
	if err != nil || l.User == nil {
		t.Fatalf("bound through the storage: %+v %v", l, err)
	}
	if _, err := f.svc.Launch(ctx, req); !errors.Is(err, ErrState) {
		t.Fatalf("the same launch again: %v", err)
	}
}
