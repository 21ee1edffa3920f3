// Package ltitest is an LTI 1.3 platform (a learning management system)
// for tests, listening on a free port of this process: its own RSA keys
// and JWKS (rotated on request), an OpenID Connect authorization endpoint
// that checks the tool's authentication request and answers, as a real
// platform does, with a page whose form posts the signed ID token to the
// tool's launch URL; a token endpoint (client credentials with the tool's
// signed assertion) and line items' score endpoints with scope checks; a
// deep linking return URL; a course page that frames the tool. A test
// queues who the next launch is (Queue) and may forge the token (Forge).
package ltitest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Role URIs of the LIS vocabulary (LTI Core 1.3 § A.2).
const (
	RoleLearner    = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
	RoleInstructor = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
)

// Platform is a running test platform.
type Platform struct {
	// URL is the platform's address and issuer.
	URL          string
	ClientID     string
	DeploymentID string
	// ToolLaunchURL is where the ID token is posted (the tool's
	// redirect_uri, which must be registered).
	ToolLaunchURL string
	// ToolJWKSURL is the tool's key set, which verifies its deep linking
	// responses.
	ToolJWKSURL string
	// ToolLoginURL is the tool's login initiation URL, which the course
	// page frames.
	ToolLoginURL string

	srv *http.Server
	ln  net.Listener

	mu      sync.Mutex
	keys    []*rsa.PrivateKey // newest last; all published
	next    map[string]*Person
	forge   func(header map[string]any, claims jwt.MapClaims) string
	authLog []url.Values
	hold    *hold
	links   []DeepLinkAnswer
	// The AGS side: the scopes the token endpoint grants, the tokens it
	// gave, the assertions' ids seen, the gradebook (line item → userId →
	// the latest score), every score post's status, and how many of the
	// next score posts to answer 429.
	grant     []string
	tokens    map[string][]string
	jtis      map[string]bool
	gradebook map[string]map[string]map[string]any
	posts     []int
	throttle  int
	// RegistrationToken is what the registration endpoint wants as the
	// bearer token; Registrations are the tool configurations it took.
	RegistrationToken string
	registered        []map[string]any
	// Members is the course's roster (Names and Role Provisioning), two
	// to a page.
	members []map[string]any
}

// ScopeNRPS is the membership service's scope.
const ScopeNRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

// SetMembers sets the course's roster.
func (p *Platform) SetMembers(members ...map[string]any) {
	p.mu.Lock()
	p.members = members
	p.mu.Unlock()
}

// serveMembers is the context membership service: a bearer token with
// the scope, two members a page with a Link to the next.
func (p *Platform) serveMembers(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	scopes, ok := p.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	members := p.members
	p.mu.Unlock()
	has := false
	for _, s := range scopes {
		has = has || s == ScopeNRPS
	}
	switch {
	case !ok:
		w.WriteHeader(401)
		return
	case !has:
		w.WriteHeader(403)
		return
	}
	page := 0
	fmt.Sscan(r.URL.Query().Get("page"), &page)
	end := min(len(members), page*2+2)
	start := min(page*2, end)
	if end < len(members) {
		w.Header().Set("Link", fmt.Sprintf(`<%s/memberships?page=%d>; rel="next"`, p.URL, page+1))
	}
	w.Header().Set("Content-Type", "application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": p.URL + "/memberships", "context": map[string]any{"id": "course-7"}, "members": members[start:end]})
}

// The AGS scopes.
const (
	ScopeLineItem = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
	ScopeResult   = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
	ScopeScore    = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
)

// DeepLinkAnswer is a deep linking response the platform received: its
// verified claims, or why it was refused.
type DeepLinkAnswer struct {
	Claims jwt.MapClaims
	Err    error
}

// Person is who the platform launches, with the launch's particulars.
type Person struct {
	Sub, Name, GivenName, FamilyName, Email string
	Roles                                   []string
	// MessageType (default LtiResourceLinkRequest), the resource link id
	// (default "rl-1") and the target (default what login named).
	MessageType, ResourceLink, Target string
	// Extra claims, set last (nil values remove a claim).
	Extra map[string]any
}

// Start starts a platform on a free port of 127.0.0.1 over HTTP.
func Start(clientID, deploymentID, toolLaunchURL string) (*Platform, error) {
	return start("127.0.0.1:0", nil, clientID, deploymentID, toolLaunchURL)
}

// StartTLS starts the platform on addr (another 127.0.0.x for another
// site) over HTTPS with cert.
func StartTLS(addr string, cert tls.Certificate, clientID, deploymentID, toolLaunchURL string) (*Platform, error) {
	return start(addr, &tls.Config{Certificates: []tls.Certificate{cert}}, clientID, deploymentID, toolLaunchURL)
}

func start(addr string, tc *tls.Config, clientID, deploymentID, toolLaunchURL string) (*Platform, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	scheme := "http"
	if tc != nil {
		ln = tls.NewListener(ln, tc)
		scheme = "https"
	}
	p := &Platform{URL: scheme + "://" + ln.Addr().String(), ClientID: clientID, DeploymentID: deploymentID, ToolLaunchURL: toolLaunchURL,
		ln: ln, keys: []*rsa.PrivateKey{key}, next: map[string]*Person{}, grant: []string{ScopeLineItem, ScopeResult, ScopeScore, ScopeNRPS},
		tokens: map[string][]string{}, jtis: map[string]bool{}, gradebook: map[string]map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", p.serveJWKS)
	mux.HandleFunc("GET /auth", p.serveAuth)
	mux.HandleFunc("POST /auth", p.serveAuth)
	mux.HandleFunc("POST /deep-link-return", p.serveDeepLinkReturn)
	mux.HandleFunc("GET /course", p.serveCourse)
	mux.HandleFunc("POST /token", p.serveToken)
	mux.HandleFunc("GET /.well-known/openid-configuration", p.serveConfiguration)
	mux.HandleFunc("POST /register", p.serveRegister)
	mux.HandleFunc("GET /memberships", p.serveMembers)
	mux.HandleFunc("POST /lineitems/{item}/scores", p.serveScore)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

// Close stops the platform.
func (p *Platform) Close() { _ = p.srv.Close() }

// AuthURL, TokenURL and JWKSURL are the platform's endpoints.
func (p *Platform) AuthURL() string  { return p.URL + "/auth" }
func (p *Platform) TokenURL() string { return p.URL + "/token" }
func (p *Platform) JWKSURL() string  { return p.URL + "/jwks" }

// Rotate makes a new signing key; the old ones stay published.
func (p *Platform) Rotate() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.keys = append(p.keys, key)
	p.mu.Unlock()
	return nil
}

// Forge replaces the signing of the next ID tokens: f gets the header
// and claims the platform would sign and returns the token to send (nil:
// sign normally).
func (p *Platform) Forge(f func(header map[string]any, claims jwt.MapClaims) string) {
	p.mu.Lock()
	p.forge = f
	p.mu.Unlock()
}

type hold struct{ arrived, release chan struct{} }

// Hold makes the next authentication request wait: arrived is closed
// when it comes, and it is answered once release is called (a test
// changes the browser in between, as a browser that drops the tool's
// cookie would).
func (p *Platform) Hold() (arrived <-chan struct{}, release func()) {
	h := &hold{arrived: make(chan struct{}), release: make(chan struct{})}
	p.mu.Lock()
	p.hold = h
	p.mu.Unlock()
	var once sync.Once
	return h.arrived, func() { once.Do(func() { close(h.release) }) }
}

// Queue makes person the one launched for login_hint.
func (p *Platform) Queue(loginHint string, person *Person) {
	p.mu.Lock()
	p.next[loginHint] = person
	p.mu.Unlock()
}

// AuthRequests are the authentication requests received so far.
func (p *Platform) AuthRequests() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]url.Values(nil), p.authLog...)
}

// Kid is the key id of a key (the RFC 7638 thumbprint).
func Kid(k *rsa.PublicKey) string {
	canon := fmt.Sprintf(`{"e":"%s","kty":"RSA","n":"%s"}`, b64(big.NewInt(int64(k.E)).Bytes()), b64(k.N.Bytes()))
	sum := sha256.Sum256([]byte(canon))
	return b64(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (p *Platform) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	var keys []map[string]string
	for _, k := range p.keys {
		keys = append(keys, map[string]string{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": Kid(&k.PublicKey),
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())})
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
}

// Sign signs claims with the current key (RS256, its kid in the header).
func (p *Platform) Sign(claims jwt.MapClaims) string {
	p.mu.Lock()
	key := p.keys[len(p.keys)-1]
	p.mu.Unlock()
	return SignWith(key, claims, nil)
}

// SignWith signs claims with key under its own kid, with extra header
// members.
func SignWith(key *rsa.PrivateKey, claims jwt.MapClaims, header map[string]any) string {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = Kid(&key.PublicKey)
	for k, v := range header {
		t.Header[k] = v
	}
	s, err := t.SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}

// Claims are the ID token claims of a launch of person, before signing.
func (p *Platform) Claims(person *Person, nonce, target string) jwt.MapClaims {
	now := time.Now()
	mt := person.MessageType
	if mt == "" {
		mt = "LtiResourceLinkRequest"
	}
	rl := person.ResourceLink
	if rl == "" {
		rl = "rl-1"
	}
	if person.Target != "" {
		target = person.Target
	}
	roles := []any{}
	for _, r := range person.Roles {
		roles = append(roles, r)
	}
	c := jwt.MapClaims{
		"iss": p.URL, "aud": p.ClientID, "azp": p.ClientID, "sub": person.Sub, "exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(),
		"nonce": nonce, "name": person.Name, "given_name": person.GivenName, "family_name": person.FamilyName, "email": person.Email,
		"https://purl.imsglobal.org/spec/lti/claim/message_type":        mt,
		"https://purl.imsglobal.org/spec/lti/claim/version":             "1.3.0",
		"https://purl.imsglobal.org/spec/lti/claim/deployment_id":       p.DeploymentID,
		"https://purl.imsglobal.org/spec/lti/claim/target_link_uri":     target,
		"https://purl.imsglobal.org/spec/lti/claim/resource_link":       map[string]any{"id": rl, "title": "Työkyvyn tuki"},
		"https://purl.imsglobal.org/spec/lti/claim/roles":               roles,
		"https://purl.imsglobal.org/spec/lti/claim/context":             map[string]any{"id": "course-7", "label": "TK101", "title": "Työkyky", "type": []any{"http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"}},
		"https://purl.imsglobal.org/spec/lti/claim/tool_platform":       map[string]any{"guid": "sim-" + p.ClientID, "name": "Simulaattori", "product_family_code": "ltitest"},
		"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": map[string]any{"document_target": "iframe", "return_url": p.URL + "/return"},
		"https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": map[string]any{"scope": []any{ScopeLineItem, ScopeResult, ScopeScore},
			"lineitems": p.URL + "/lineitems", "lineitem": p.URL + "/lineitems/" + rl},
		"https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": map[string]any{"context_memberships_url": p.URL + "/memberships",
			"service_versions": []any{"2.0"}},
	}
	if mt == "LtiDeepLinkingRequest" {
		// Only a resource link request carries a resource link; a deep
		// linking request carries its settings.
		delete(c, "https://purl.imsglobal.org/spec/lti/claim/resource_link")
		c["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = map[string]any{
			"deep_link_return_url": p.URL + "/deep-link-return", "accept_types": []any{"ltiResourceLink"},
			"accept_presentation_document_targets": []any{"iframe", "window"}, "accept_multiple": true, "auto_create": true,
			"title": "Työkyky", "data": "platform-data-" + person.Sub}
	}
	for k, v := range person.Extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// serveAuth is the OpenID Connect authentication endpoint: the tool's
// request must be an LTI one (scope openid, response_type id_token,
// response_mode form_post, prompt none, the client id, the registered
// redirect_uri, a nonce and a queued login_hint); the answer is the page
// whose form posts id_token and state to the redirect_uri.
func (p *Platform) serveAuth(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", 400)
		return
	}
	p.mu.Lock()
	h := p.hold
	p.hold = nil
	p.mu.Unlock()
	if h != nil {
		close(h.arrived)
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
	}
	q := r.Form
	p.mu.Lock()
	p.authLog = append(p.authLog, q)
	person := p.next[q.Get("login_hint")]
	forge := p.forge
	p.mu.Unlock()
	switch {
	case q.Get("scope") != "openid" || q.Get("response_type") != "id_token" || q.Get("response_mode") != "form_post" || q.Get("prompt") != "none":
		http.Error(w, "invalid_request: not an LTI authentication request", 400)
		return
	case q.Get("client_id") != p.ClientID:
		http.Error(w, "unauthorized_client", 400)
		return
	case q.Get("redirect_uri") != p.ToolLaunchURL:
		http.Error(w, "invalid_request: redirect_uri is not registered", 400)
		return
	case q.Get("nonce") == "" || q.Get("state") == "":
		http.Error(w, "invalid_request: no nonce or state", 400)
		return
	case person == nil:
		http.Error(w, "login_required", 400)
		return
	}
	target := q.Get("lti_message_hint") // the simulator's hint is the target
	claims := p.Claims(person, q.Get("nonce"), target)
	var tok string
	if forge != nil {
		p.mu.Lock()
		key := p.keys[len(p.keys)-1]
		p.mu.Unlock()
		tok = forge(map[string]any{"alg": "RS256", "kid": Kid(&key.PublicKey), "typ": "JWT"}, claims)
	}
	if tok == "" {
		tok = p.Sign(claims)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = postPage.Execute(w, map[string]string{"Action": p.ToolLaunchURL, "IDToken": tok, "State": q.Get("state")})
}

// Grant sets the scopes the token endpoint grants (of those asked).
func (p *Platform) Grant(scopes ...string) {
	p.mu.Lock()
	p.grant = scopes
	p.mu.Unlock()
}

// Throttle makes the next n score posts answer 429 Too Many Requests
// with Retry-After: 1.
func (p *Platform) Throttle(n int) {
	p.mu.Lock()
	p.throttle = n
	p.mu.Unlock()
}

// Gradebook is the latest score of userId on a line item (nil: none).
func (p *Platform) Gradebook(lineItem, userID string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gradebook[lineItem][userID]
}

// ScorePosts are the statuses the score endpoint answered, in order.
func (p *Platform) ScorePosts() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.posts...)
}

// serveToken is the OAuth 2 token endpoint: client credentials with a
// JWT client assertion (RFC 7523) that the tool signed (its key set),
// iss and sub the client id, aud this endpoint, fresh, its jti used
// once. It grants the asked scopes it grants at all.
func (p *Platform) serveToken(w http.ResponseWriter, r *http.Request) {
	fail := func(code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": msg})
	}
	if r.FormValue("grant_type") != "client_credentials" || r.FormValue("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		fail("unsupported_grant_type", "client credentials with a JWT assertion")
		return
	}
	claims, err := p.verifyToolJWT(r.FormValue("client_assertion"), p.TokenURL())
	if err != nil || claims["iss"] != p.ClientID || claims["sub"] != p.ClientID {
		fail("invalid_client", fmt.Sprint("the assertion: ", err))
		return
	}
	jti, _ := claims["jti"].(string)
	p.mu.Lock()
	used := jti == "" || p.jtis[jti]
	p.jtis[jti] = true
	var granted []string
	for _, s := range strings.Fields(r.FormValue("scope")) {
		for _, g := range p.grant {
			if s == g {
				granted = append(granted, s)
			}
		}
	}
	tok := b64(randomBytes(24))
	p.tokens[tok] = granted
	p.mu.Unlock()
	if used {
		fail("invalid_client", "the assertion's jti was used already")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600, "scope": strings.Join(granted, " ")})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// serveScore is a line item's scores endpoint: a bearer token with the
// score scope, the score media type, a valid score; the gradebook keeps
// the newest by timestamp.
func (p *Platform) serveScore(w http.ResponseWriter, r *http.Request) {
	status := p.score(r)
	p.mu.Lock()
	p.posts = append(p.posts, status)
	p.mu.Unlock()
	if status == 429 {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
}

func (p *Platform) score(r *http.Request) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.throttle > 0 {
		p.throttle--
		return 429
	}
	scopes, ok := p.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	if !ok {
		return 401
	}
	hasScope := false
	for _, s := range scopes {
		hasScope = hasScope || s == ScopeScore
	}
	if !hasScope {
		return 403
	}
	if r.Header.Get("Content-Type") != "application/vnd.ims.lis.v1.score+json" {
		return 415
	}
	var sc map[string]any
	if err := json.NewDecoder(r.Body).Decode(&sc); err != nil {
		return 400
	}
	given, g1 := sc["scoreGiven"].(float64)
	max, g2 := sc["scoreMaximum"].(float64)
	user, _ := sc["userId"].(string)
	ts, _ := sc["timestamp"].(string)
	at, err := time.Parse(time.RFC3339Nano, ts)
	activities := map[any]bool{"Initialized": true, "Started": true, "InProgress": true, "Submitted": true, "Completed": true}
	gradings := map[any]bool{"FullyGraded": true, "Pending": true, "PendingManual": true, "Failed": true, "NotReady": true}
	if !g1 || !g2 || given < 0 || max <= 0 || user == "" || err != nil || !activities[sc["activityProgress"]] || !gradings[sc["gradingProgress"]] {
		return 400
	}
	item := p.URL + "/lineitems/" + r.PathValue("item")
	if p.gradebook[item] == nil {
		p.gradebook[item] = map[string]map[string]any{}
	}
	if old := p.gradebook[item][user]; old != nil {
		if oldAt, _ := time.Parse(time.RFC3339Nano, old["timestamp"].(string)); !at.After(oldAt) {
			return 200 // an older score: ignored, as the spec says
		}
	}
	p.gradebook[item][user] = sc
	return 200
}

// ConfigurationURL is the platform's OpenID configuration, which LTI
// Dynamic Registration gives the tool.
func (p *Platform) ConfigurationURL() string { return p.URL + "/.well-known/openid-configuration" }

func (p *Platform) serveConfiguration(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer": p.URL, "authorization_endpoint": p.AuthURL(), "token_endpoint": p.TokenURL(), "jwks_uri": p.JWKSURL(),
		"registration_endpoint": p.URL + "/register", "scopes_supported": []string{"openid", ScopeLineItem, ScopeResult, ScopeScore},
		"response_types_supported": []string{"id_token"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"}, "subject_types_supported": []string{"public", "pairwise"},
		"https://purl.imsglobal.org/spec/lti-platform-configuration": map[string]any{"product_family_code": "ltitest", "version": "1.0",
			"messages_supported": []map[string]string{{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}}},
	})
}

// serveRegister is the registration endpoint (LTI Dynamic Registration
// 1.0 § 3.5): the registration token as the bearer token, and a tool
// configuration whose addresses are the ones the platform was told
// (ToolLoginURL, ToolLaunchURL, ToolJWKSURL); it answers with the client
// id and the deployment id.
func (p *Platform) serveRegister(w http.ResponseWriter, r *http.Request) {
	if p.RegistrationToken != "" && r.Header.Get("Authorization") != "Bearer "+p.RegistrationToken {
		http.Error(w, `{"error":"invalid_token"}`, 401)
		return
	}
	var c map[string]any
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		http.Error(w, `{"error":"invalid_client_metadata"}`, 400)
		return
	}
	tool, _ := c["https://purl.imsglobal.org/spec/lti-tool-configuration"].(map[string]any)
	redirects, _ := c["redirect_uris"].([]any)
	if tool == nil || c["initiate_login_uri"] != p.ToolLoginURL || len(redirects) == 0 || redirects[0] != p.ToolLaunchURL || c["jwks_uri"] != p.ToolJWKSURL ||
		c["token_endpoint_auth_method"] != "private_key_jwt" || tool["domain"] == nil || tool["target_link_uri"] == nil {
		http.Error(w, `{"error":"invalid_client_metadata"}`, 400)
		return
	}
	p.mu.Lock()
	p.registered = append(p.registered, c)
	p.mu.Unlock()
	c["client_id"] = p.ClientID
	tool["deployment_id"] = p.DeploymentID
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	_ = json.NewEncoder(w).Encode(c)
}

// Registrations are the tool configurations registered.
func (p *Platform) Registrations() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.registered...)
}

// DeepLinkAnswers are the deep linking responses received so far.
func (p *Platform) DeepLinkAnswers() []DeepLinkAnswer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]DeepLinkAnswer(nil), p.links...)
}

// serveDeepLinkReturn is the deep linking return URL: the form field JWT
// must be the tool's LtiDeepLinkingResponse, signed (RS256) by a key of
// the tool's key set, for this platform.
func (p *Platform) serveDeepLinkReturn(w http.ResponseWriter, r *http.Request) {
	claims, err := p.verifyToolJWT(r.FormValue("JWT"), p.URL)
	if err == nil && (claims["https://purl.imsglobal.org/spec/lti/claim/message_type"] != "LtiDeepLinkingResponse" ||
		claims["https://purl.imsglobal.org/spec/lti/claim/version"] != "1.3.0" ||
		claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] != p.DeploymentID || claims["nonce"] == nil || claims["iss"] != p.ClientID) {
		err = errors.New("not a deep linking response of this deployment")
	}
	p.mu.Lock()
	p.links = append(p.links, DeepLinkAnswer{Claims: claims, Err: err})
	p.mu.Unlock()
	if err != nil {
		http.Error(w, "invalid deep linking response: "+err.Error(), 400)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = placedPage.Execute(w, nil)
}

// serveCourse is a course page of the platform that opens the tool in an
// iframe, as Moodle's embedded launch does: the frame starts at the
// tool's login URL for the queued login_hint (hint) and the target.
// serveCourse is the platform's course page framing the tool's login;
// with storage=1 it offers the LTI postMessage storage (the page itself,
// lti_storage_target _parent), which keeps values per tool origin and
// logs every message in window.storageLog.
func (p *Platform) serveCourse(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("target")
	q := url.Values{"iss": {p.URL}, "login_hint": {r.URL.Query().Get("hint")}, "target_link_uri": {target}, "lti_message_hint": {target},
		"client_id": {p.ClientID}, "lti_deployment_id": {p.DeploymentID}}
	storage := r.URL.Query().Get("storage") == "1"
	if storage {
		q.Set("lti_storage_target", "_parent")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = coursePage.Execute(w, map[string]any{"Login": p.ToolLoginURL + "?" + q.Encode(), "Storage": storage})
}

var coursePage = template.Must(template.New("course").Parse(`<!DOCTYPE html>
<html lang="fi"><head><meta charset="utf-8"><title>Oppimisympäristön kurssi</title>
{{if .Storage}}<script>
window.storageLog = [];
(function () {
  var kept = {};
  window.addEventListener("message", function (ev) {
    var d = ev.data;
    if (!d || typeof d !== "object" || (d.subject !== "lti.put_data" && d.subject !== "lti.get_data")) return;
    window.storageLog.push({ origin: ev.origin, subject: d.subject, key: d.key });
    var box = kept[ev.origin] || (kept[ev.origin] = {});
    var answer = { subject: d.subject + ".response", message_id: d.message_id, key: d.key };
    if (d.subject === "lti.put_data") {
      box[d.key] = d.value;
      answer.value = d.value;
    } else if (Object.prototype.hasOwnProperty.call(box, d.key)) {
      answer.value = box[d.key];
    } else {
      answer.error = { code: "bad_request", message: "no such key" };
    }
    ev.source.postMessage(answer, ev.origin);
  });
})();
</script>{{end}}
</head>
<body><h1>Oppimisympäristön kurssi</h1>
<iframe id="tool" src="{{.Login}}" title="Työkyvyn tuki" width="1100" height="800"></iframe>
</body></html>`))

var placedPage = template.Must(template.New("placed").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Placed</title></head>
<body><p id="placed">Placed</p></body></html>`))

// verifyToolJWT verifies a JWT of the tool against its key set: RS256,
// a kid of the set, aud the given audience, exp and iat.
func (p *Platform) verifyToolJWT(raw, aud string) (jwt.MapClaims, error) {
	resp, err := http.Get(p.ToolJWKSURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, err
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		for _, k := range set.Keys {
			if k["kid"] == t.Header["kid"] && k["kty"] == "RSA" {
				n, err1 := base64.RawURLEncoding.DecodeString(k["n"])
				e, err2 := base64.RawURLEncoding.DecodeString(k["e"])
				if err1 != nil || err2 != nil {
					return nil, errors.New("bad key")
				}
				return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
			}
		}
		return nil, errors.New("unknown kid")
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(aud), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return nil, err
	}
	return claims, nil
}

var postPage = template.Must(template.New("post").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Launching</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
<input type="hidden" name="id_token" value="{{.IDToken}}">
<input type="hidden" name="state" value="{{.State}}">
<noscript><button type="submit">Continue</button></noscript>
</form></body></html>`))

var formField = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)

// ReadPostPage reads the platform's auto-posting page: the form's action
// and fields.
func ReadPostPage(page string) (action string, form url.Values, err error) {
	m := formAction.FindStringSubmatch(page)
	if m == nil {
		return "", nil, errors.New("ltitest: no form on the page: " + page)
	}
	form = url.Values{}
	for _, f := range formField.FindAllStringSubmatch(page, -1) {
		form.Set(f[1], html.UnescapeString(f[2]))
	}
	return html.UnescapeString(m[1]), form, nil
}
