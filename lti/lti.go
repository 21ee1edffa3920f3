// Package lti is the course as an LTI 1.3 tool (IMS LTI Core 1.3 and the
// IMS Security Framework 1.0): learning platforms registered by the
// administrators (Registration), third-party initiated login (Login:
// the OpenID Connect implicit flow with form_post, state and nonce), the
// launch (Launch: the platform's ID token verified against its JWKS,
// fetched, cached and refetched on rotation by keyfunc; issuer,
// audience and azp, expiry and issue time, the nonce used once under a
// unique index, the deployment, the message type and version, the
// target on our own host) and the person signed in with an account keyed
// by (platform issuer, sub), made just in time in the registration's
// organisation. The tool's own signing keys are an exam/cert key set of
// their own (RS256), published as the tool's JWKS. It knows nothing of
// our HTTP server: the api package calls Login and Launch.
package lti

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/egress"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/org"
)

// The claims of LTI Core 1.3 this tool reads.
const (
	ClaimMessageType   = "https://purl.imsglobal.org/spec/lti/claim/message_type"
	ClaimVersion       = "https://purl.imsglobal.org/spec/lti/claim/version"
	ClaimDeploymentID  = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
	ClaimTargetLinkURI = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri"
	ClaimResourceLink  = "https://purl.imsglobal.org/spec/lti/claim/resource_link"
	ClaimRoles         = "https://purl.imsglobal.org/spec/lti/claim/roles"
	ClaimContext       = "https://purl.imsglobal.org/spec/lti/claim/context"
	ClaimPresentation  = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation"

	MessageResourceLink = "LtiResourceLinkRequest"
	Version             = "1.3.0"
)

// FlowTTL is how long a started login may take at the platform.
const FlowTTL = 10 * time.Minute

// Refusals. None of them tells whether an account exists.
var (
	ErrLogin       = fault.New(fault.Invalid, "lti_login_invalid", "", "the login request lacks iss, login_hint or target_link_uri, or names a platform or deployment that is not registered")
	ErrTarget      = fault.New(fault.Invalid, "lti_target_invalid", "", "the target link is not an address of this site")
	ErrState       = fault.New(fault.Invalid, "lti_state", "", "the launch was not started in this browser, was used already or took too long")
	ErrNoCookie    = fault.New(fault.Forbidden, "lti_cookie_blocked", "", "the browser did not send the launch's cookie back (third-party cookies blocked in a frame)")
	ErrToken       = fault.New(fault.Forbidden, "lti_token", "", "the platform's ID token did not pass the checks")
	ErrReplay      = fault.New(fault.Forbidden, "lti_nonce_used", "", "the ID token's nonce was used already")
	ErrDeployment  = fault.New(fault.Forbidden, "lti_deployment", "", "the launch's deployment is not registered")
	ErrMessageType = fault.New(fault.Invalid, "lti_message_type", "", "the launch's message type or LTI version is not supported")
	ErrPlatform    = fault.New(fault.Forbidden, "lti_platform_error", "", "the platform refused the launch")
	ErrDisabled    = fault.New(fault.Forbidden, "lti_account_disabled", "", "the account is disabled")
)

// Options configure a Service.
type Options struct {
	DB        *database.DB
	Accounts  *account.Store
	Directory *org.Directory
	// Keys are the tool's signing keys (RS256; exam/cert.Keys on
	// KeysCollection).
	Keys *cert.Keys
	// BaseURL is the site's public address: the launch URL is
	// BaseURL/lti/launch and target links must be on its host.
	BaseURL string
	// HTTPClient calls the platforms: key sets, tokens, scores, rosters,
	// dynamic registration (default: 10 s timeout, public addresses and
	// the Allow networks only — see internal/egress).
	HTTPClient *http.Client
	// Allow are the networks outside the public internet the default
	// client may call (a platform on the organisation's intranet).
	Allow []netip.Prefix
	// UnknownKeyEvery is how often a token with an unknown kid may fetch
	// a platform's key set again (default a minute): rotation at the
	// platform is followed at once, a flood of made-up kids is not.
	UnknownKeyEvery time.Duration
	// Leeway is the clock skew allowed for exp and iat (default 60 s).
	Leeway time.Duration
	// ScoreBackoff is the wait after a score's first failed try (default
	// a minute); it doubles up to an hour. A platform's Retry-After
	// overrides it.
	ScoreBackoff time.Duration
	Logger       *slog.Logger
}

// Service runs logins and launches and keeps the registrations.
type Service struct {
	o   Options
	now func() time.Time

	ctx    context.Context // ends the key sets' refreshing (Close)
	cancel context.CancelFunc
	mu     sync.Mutex
	jwks   map[string]*platformKeys // by registration id
	keysAt time.Time                // when the tool's keys were last read
	// frames caches FrameOrigins for a minute ("" for every platform).
	frames   map[string][]string
	framesAt time.Time
	sweptAt  time.Time // when old flows were last dropped
	// tokens are the platforms' access tokens by registration and scopes.
	tokens map[string]cachedToken
	// wake tells the score sender a score was queued; holder names this
	// process's claims.
	wake   chan struct{}
	holder string
}

type platformKeys struct {
	url string
	kf  keyfunc.Keyfunc
}

// New makes a Service; Close ends its background refreshing.
func New(o Options) *Service {
	if o.HTTPClient == nil {
		o.HTTPClient = egress.Client(10*time.Second, o.Allow)
	}
	guardRedirects(o.HTTPClient)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.UnknownKeyEvery == 0 {
		o.UnknownKeyEvery = time.Minute
	}
	if o.Leeway == 0 {
		o.Leeway = time.Minute
	}
	if o.ScoreBackoff == 0 {
		o.ScoreBackoff = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{o: o, now: time.Now, ctx: ctx, cancel: cancel, jwks: map[string]*platformKeys{}, frames: map[string][]string{},
		tokens: map[string]cachedToken{}, wake: make(chan struct{}, 1), holder: random()[:12]}
}

// guardRedirects makes c follow a redirect only to an address the tool
// would call itself (https; webURL) on the same host: the platform's
// addresses are checked when they are registered or claimed, and a
// redirect must not take a token or a score elsewhere, or to cleartext.
func guardRedirects(c *http.Client) {
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("lti: too many redirects")
		}
		if !webURL(req.URL.String(), true) || req.URL.Host != via[0].URL.Host {
			return fmt.Errorf("lti: a redirect to %s refused (another host, or not https)", req.URL.Redacted())
		}
		return nil
	}
}

// Close stops refreshing the platforms' key sets.
func (s *Service) Close() { s.cancel() }

// SetBaseURL changes the public address (tests learn it after listening).
func (s *Service) SetBaseURL(u string) { s.o.BaseURL = strings.TrimRight(u, "/") }

// SetHTTPClient replaces the client that fetches the platforms' key sets
// (tests: a client that trusts a test certificate).
func (s *Service) SetHTTPClient(c *http.Client) {
	guardRedirects(c)
	s.mu.Lock()
	s.o.HTTPClient, s.jwks = c, map[string]*platformKeys{}
	s.mu.Unlock()
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// LoginURL, LaunchURL and JWKSURL are the tool's addresses to give a
// platform.
func (s *Service) BaseURL() string   { return strings.TrimRight(s.o.BaseURL, "/") }
func (s *Service) LoginURL() string  { return strings.TrimRight(s.o.BaseURL, "/") + "/lti/login" }
func (s *Service) LaunchURL() string { return strings.TrimRight(s.o.BaseURL, "/") + "/lti/launch" }
func (s *Service) JWKSURL() string   { return strings.TrimRight(s.o.BaseURL, "/") + "/lti/jwks.json" }

// JWKS is the tool's public key set, read again from the store at most
// once a minute (another instance may have rotated it).
func (s *Service) JWKS(ctx context.Context) []byte {
	s.mu.Lock()
	stale := s.now().Sub(s.keysAt) > time.Minute
	if stale {
		s.keysAt = s.now()
	}
	s.mu.Unlock()
	if stale {
		if err := s.o.Keys.Refresh(ctx); err != nil {
			s.o.Logger.Warn("lti: reading the tool's keys", "err", err)
		}
	}
	return s.o.Keys.JWKS()
}

// FrameOrigins are the origins that may frame the tool: the
// registration's (id), or every active registration's (""). Read from
// the store at most once a minute.
func (s *Service) FrameOrigins(ctx context.Context, id string) []string {
	s.mu.Lock()
	if s.now().Sub(s.framesAt) > time.Minute {
		s.frames, s.framesAt = map[string][]string{}, s.now()
	}
	out, ok := s.frames[id]
	s.mu.Unlock()
	if ok {
		return out
	}
	regs, err := s.Registrations(ctx)
	if err != nil {
		s.o.Logger.Warn("lti: reading the registrations", "err", err)
		return nil
	}
	for _, r := range regs {
		if !r.Active || id != "" && r.ID != id {
			continue
		}
		for _, o := range r.Origins() {
			if !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	s.mu.Lock()
	s.frames[id] = out
	s.mu.Unlock()
	return out
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// AddRegistration registers a platform in an organisation of the
// directory.
func (s *Service) AddRegistration(ctx context.Context, r Registration) (*Registration, []error) {
	if errs := s.checkRegistration(ctx, &r); len(errs) > 0 {
		return nil, errs
	}
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	r.ID = hex.EncodeToString(b)
	r.Active = true
	r.CreatedAt = s.now().UTC().Truncate(time.Millisecond)
	if err := s.insertRegistration(ctx, &r); err != nil {
		return nil, []error{err}
	}
	return &r, nil
}

// checkRegistration checks a registration's fields and its organisation.
func (s *Service) checkRegistration(ctx context.Context, r *Registration) []error {
	errs := r.check()
	if _, err := s.o.Directory.Get(ctx, r.Org); errors.Is(err, org.ErrNotFound) || r.Org == "" {
		errs = append(errs, ErrRegOrg)
	} else if err != nil {
		return []error{err}
	}
	return errs
}

// ChangeRegistration saves what may change of a registration (not its
// issuer or client id, which name it at the platform).
func (s *Service) ChangeRegistration(ctx context.Context, r Registration) (*Registration, []error) {
	old, err := s.Registration(ctx, r.ID)
	if err != nil {
		return nil, []error{err}
	}
	r.Issuer, r.ClientID, r.CreatedAt = old.Issuer, old.ClientID, old.CreatedAt
	errs := r.check()
	if _, err := s.o.Directory.Get(ctx, r.Org); errors.Is(err, org.ErrNotFound) || r.Org == "" {
		errs = append(errs, ErrRegOrg)
	} else if err != nil {
		return nil, []error{err}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if err := s.saveRegistration(ctx, &r); err != nil {
		return nil, []error{err}
	}
	s.mu.Lock()
	delete(s.jwks, r.ID) // the key set URL may have changed
	s.frames = map[string][]string{}
	s.mu.Unlock()
	return &r, nil
}

// LoginRequest is a third-party initiated login (LTI Core 1.3 § 5.1.1,
// OpenID Connect Third Party Initiated Login): what the platform sends
// to the login URL by GET or POST.
type LoginRequest struct {
	Issuer, LoginHint, TargetLinkURI, MessageHint, ClientID, DeploymentID string
	// StorageTarget is lti_storage_target: the platform keeps data for
	// the tool in the browser (LTI Client Side postMessages, postMessage
	// storage) in the frame of that name ("_parent": the framing page).
	// The launch may then be bound to the browser through that storage
	// when the state cookie does not come back.
	StorageTarget string
}

// storageTarget is a frame name a platform may name (else none is used).
var storageTarget = regexp.MustCompile(`^(_parent|[A-Za-z0-9_-]{1,64})$`)

// Storage is how a launch's page reaches the platform's postMessage
// storage: the frame, the platform's origin (the only one messages go to
// and are taken from), and the values the tool keeps there (state and
// nonce, under the keys "state_"+State and "nonce_"+Nonce).
type Storage struct {
	Target, Origin, State, Nonce string
}

// StorageOf is the storage of a started launch (nil: its login named
// none).
func (s *Service) StorageOf(ctx context.Context, state string) (*Storage, error) {
	f, err := s.peekFlow(ctx, state)
	if err != nil {
		return nil, err
	}
	if f.StorageTarget == "" || f.StorageOrigin == "" {
		return nil, nil
	}
	return &Storage{Target: f.StorageTarget, Origin: f.StorageOrigin, State: f.State, Nonce: f.Nonce}, nil
}

// Login starts a launch: the platform must be registered (by issuer and,
// when sent, client id), the deployment (when sent) one of its
// deployments and the target on our host. It returns the platform's
// authentication request URL to send the browser to and the state, which
// the caller also keeps in a cookie of the browser (Launch compares
// them).
func (s *Service) Login(ctx context.Context, req LoginRequest) (authURL, state string, err error) {
	if req.Issuer == "" || req.LoginHint == "" || req.TargetLinkURI == "" || len(req.LoginHint) > 2048 || len(req.MessageHint) > 4096 {
		return "", "", ErrLogin
	}
	if _, err := s.targetPath(req.TargetLinkURI); err != nil {
		return "", "", err
	}
	regs, err := s.byIssuer(ctx, req.Issuer)
	if err != nil {
		return "", "", err
	}
	var reg *Registration
	for i := range regs {
		if req.ClientID == "" || regs[i].ClientID == req.ClientID {
			if reg != nil {
				return "", "", ErrLogin // several clients of one issuer: the platform must say which
			}
			reg = &regs[i]
		}
	}
	if reg == nil || req.DeploymentID != "" && !slices.Contains(reg.Deployments, req.DeploymentID) {
		return "", "", ErrLogin
	}
	f := flow{State: random(), Registration: reg.ID, Nonce: random(), Target: req.TargetLinkURI, LoginHint: req.LoginHint,
		MessageHint: req.MessageHint, Deployment: req.DeploymentID, CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	if storageTarget.MatchString(req.StorageTarget) {
		// The storage answers from the platform's origin: that of its
		// authentication endpoint, as the specification has it.
		f.StorageTarget, f.StorageOrigin = req.StorageTarget, origin(reg.AuthURL)
	}
	if err := s.saveFlow(ctx, f); err != nil {
		return "", "", err
	}
	u, err := url.Parse(reg.AuthURL)
	if err != nil {
		return "", "", err
	}
	q := u.Query()
	q.Set("scope", "openid")
	q.Set("response_type", "id_token")
	q.Set("response_mode", "form_post")
	q.Set("prompt", "none")
	q.Set("client_id", reg.ClientID)
	q.Set("redirect_uri", s.LaunchURL())
	q.Set("login_hint", req.LoginHint)
	q.Set("state", f.State)
	q.Set("nonce", f.Nonce)
	if req.MessageHint != "" {
		q.Set("lti_message_hint", req.MessageHint)
	}
	if f.StorageTarget != "" {
		q.Set("lti_storage_target", f.StorageTarget)
	}
	u.RawQuery = q.Encode()
	return u.String(), f.State, nil
}

// Restart is the login of a launch whose state cookie the browser did
// not send back (third-party cookies blocked in the platform's frame):
// the parameters to start it again in a window of its own. The flow is
// not used up; it expires.
func (s *Service) Restart(ctx context.Context, state string) (*LoginRequest, error) {
	f, err := s.peekFlow(ctx, state)
	if err != nil {
		return nil, err
	}
	if s.now().Sub(f.CreatedAt) > FlowTTL {
		return nil, ErrState
	}
	reg, err := s.Registration(ctx, f.Registration)
	if err != nil {
		return nil, ErrState
	}
	return &LoginRequest{Issuer: reg.Issuer, LoginHint: f.LoginHint, TargetLinkURI: f.Target, MessageHint: f.MessageHint,
		ClientID: reg.ClientID, DeploymentID: f.Deployment}, nil
}

// targetPath is the local path (with query and fragment) of a target
// link, which must be on our own scheme and host.
func (s *Service) targetPath(target string) (string, error) {
	base, err := url.Parse(s.o.BaseURL)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != base.Scheme || !strings.EqualFold(u.Host, base.Host) || u.User != nil || u.Opaque != "" {
		return "", ErrTarget
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.Contains(p, "\\") {
		return "", ErrTarget
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		p += "#" + u.EscapedFragment()
	}
	return p, nil
}

// LaunchRequest is what the platform's form posted to the launch URL.
type LaunchRequest struct {
	IDToken, State string
	// Cookie is the state kept in the browser's cookie ("" when the
	// browser sent none).
	Cookie string
	// Stored: without the cookie, the launch's page found the state and
	// nonce in the platform's postMessage storage in this browser, and
	// posted the launch again from our own origin (the caller checks
	// that: Sec-Fetch-Site same-origin). Only a launch whose login named
	// a storage may be bound so.
	Stored bool
	// Error is the platform's error answer (error, error_description).
	Error string
}

// Launch is a launch accepted.
type Launch struct {
	User         *account.User
	Registration *Registration
	// Target is the local path to open.
	Target      string
	MessageType string
	Deployment  string
	Roles       []string
	// Created: the account was made just now.
	Created bool
	// Frame: the platform opens the tool in a frame (launch_presentation
	// document_target iframe or frame).
	Frame bool
	// DeepLink is the waiting deep linking request of a
	// LtiDeepLinkingRequest launch (the teacher chooses what to place).
	DeepLink string
	Claims   jwt.MapClaims
}

// Launch completes a launch: the state must be this browser's, unused
// and recent; the ID token must be the registered platform's, signed by
// a key of its key set (RS256), for this tool, fresh, with the flow's
// nonce (never seen before), a registered deployment, a resource link
// request (or a deep linking request by a teacher) of LTI 1.3.0 and a
// target on our host. Then the person is
// signed in: the account of (issuer, sub), made just in time.
func (s *Service) Launch(ctx context.Context, req LaunchRequest) (*Launch, error) {
	if req.State == "" {
		return nil, ErrState
	}
	if req.Cookie == "" {
		// Told apart from a wrong state: the caller offers to start again
		// in a window of its own, where the cookie is first-party, or
		// (when the login named the platform's storage) to bind the
		// launch to the browser through it.
		f, err := s.peekFlow(ctx, req.State)
		if err != nil {
			return nil, err
		}
		if !req.Stored {
			return nil, ErrNoCookie
		}
		if f.StorageTarget == "" {
			return nil, ErrState
		}
		req.Cookie = req.State // the storage held it in this browser
	}
	if subtle.ConstantTimeCompare([]byte(req.State), []byte(req.Cookie)) != 1 {
		return nil, ErrState
	}
	f, err := s.takeFlow(ctx, req.State)
	if err != nil {
		return nil, err
	}
	if s.now().Sub(f.CreatedAt) > FlowTTL {
		return nil, ErrState
	}
	if req.Error != "" {
		return nil, ErrPlatform
	}
	reg, err := s.Registration(ctx, f.Registration)
	if errors.Is(err, ErrRegNotFound) {
		return nil, ErrState
	}
	if err != nil {
		return nil, err
	}
	if !reg.Active {
		return nil, ErrState
	}
	claims, err := s.verify(ctx, reg, req.IDToken)
	if err != nil {
		s.o.Logger.Warn("lti: ID token refused", "registration", reg.ID, "err", err)
		return nil, ErrToken
	}
	if nonce, _ := claims["nonce"].(string); nonce == "" || subtle.ConstantTimeCompare([]byte(nonce), []byte(f.Nonce)) != 1 {
		s.o.Logger.Warn("lti: ID token with another nonce", "registration", reg.ID)
		return nil, ErrToken
	} else if err := s.useNonce(ctx, reg.Issuer, nonce); err != nil {
		return nil, err
	}
	l := &Launch{Registration: reg, Claims: claims}
	l.Deployment, _ = claims[ClaimDeploymentID].(string)
	if l.Deployment == "" || !slices.Contains(reg.Deployments, l.Deployment) || f.Deployment != "" && f.Deployment != l.Deployment {
		// Registered, and the one the login named, when it named one.
		return nil, ErrDeployment
	}
	l.MessageType, _ = claims[ClaimMessageType].(string)
	if v, _ := claims[ClaimVersion].(string); v != Version || l.MessageType != MessageResourceLink && l.MessageType != MessageDeepLinking {
		return nil, ErrMessageType
	}
	if l.MessageType == MessageResourceLink {
		if rl, _ := claims[ClaimResourceLink].(map[string]any); rl == nil {
			return nil, ErrToken
		} else if id, _ := rl["id"].(string); id == "" {
			return nil, ErrToken
		}
	}
	rolesClaim, ok := claims[ClaimRoles].([]any)
	if !ok {
		return nil, ErrToken
	}
	for _, r := range rolesClaim {
		if r, ok := r.(string); ok {
			l.Roles = append(l.Roles, r)
		}
	}
	target, _ := claims[ClaimTargetLinkURI].(string)
	if l.Target, err = s.targetPath(target); err != nil {
		return nil, err
	}
	if p, _ := claims[ClaimPresentation].(map[string]any); p != nil {
		dt, _ := p["document_target"].(string)
		l.Frame = dt == "iframe" || dt == "frame"
		// The return address is a page of the platform, whose origin
		// frames the tool (a Canvas school's own host, not its issuer's).
		if ret, _ := p["return_url"].(string); ret != "" {
			if err := s.learnOrigin(ctx, reg, origin(ret)); err != nil {
				return nil, err
			}
		}
	}
	sub, _ := claims["sub"].(string)
	if sub == "" || len(sub) > 255 {
		return nil, ErrToken // an anonymous launch: nobody to sign in
	}
	if l.MessageType == MessageDeepLinking && !MayPlace(l.Roles) {
		return nil, ErrNotInstructor // before an account is made for them
	}
	if l.User, l.Created, err = s.account(ctx, reg, sub, claims); err != nil {
		return nil, err
	}
	if l.MessageType == MessageDeepLinking {
		if l.DeepLink, err = s.deepLinkRequest(ctx, reg, l.Deployment, l.User.ID, l.Roles, claims); err != nil {
			return nil, err
		}
	}
	if u := rosterURLOf(claims); u != "" && reg.Roster {
		if err := s.saveRoster(ctx, reg, u); err != nil {
			return nil, err
		}
	}
	if gl := gradeLinkOf(reg, l.User.ID, sub, l.Target, claims); gl != nil && l.MessageType == MessageResourceLink {
		if err := s.saveGradeLink(ctx, gl); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// verify checks an ID token's signature against the registration's key
// set and its registered claims: alg RS256 only (never none or HMAC),
// iss the registration's, aud containing the client id (azp the client
// id when present, required with several audiences), exp in the future
// and iat present and not in the future, both with the leeway.
func (s *Service) verify(ctx context.Context, reg *Registration, raw string) (jwt.MapClaims, error) {
	if raw == "" || len(raw) > 64<<10 {
		return nil, errors.New("no ID token, or an oversized one")
	}
	kf, err := s.platformKeys(reg)
	if err != nil {
		return nil, err
	}
	claims := jwt.MapClaims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(reg.Issuer), jwt.WithAudience(reg.ClientID),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(s.o.Leeway), jwt.WithTimeFunc(s.now))
	tok, err := p.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		for _, h := range []string{"jwk", "jku", "x5u", "x5c"} {
			if _, ok := t.Header[h]; ok {
				return nil, errors.New("the token names a key of its own (" + h + ")")
			}
		}
		// An unknown kid fetches the set again: the fetch, and any
		// wait for the rate limiter, get keyFetchWait at most.
		kctx, cancel := context.WithTimeout(ctx, keyFetchWait)
		defer cancel()
		return kf.KeyfuncCtx(kctx)(t)
	})
	if err != nil {
		return nil, err
	}
	if !tok.Valid {
		return nil, errors.New("invalid token")
	}
	if _, ok := claims["iat"]; !ok {
		return nil, errors.New("no iat")
	}
	aud, _ := claims.GetAudience()
	azp, hasAzp := claims["azp"]
	if hasAzp && azp != reg.ClientID || len(aud) > 1 && !hasAzp {
		return nil, errors.New("azp is not the client id")
	}
	return claims, nil
}

// keyFetchWait bounds a fetch of a platform's key set for a token
// with an unknown kid, the rate limiter's wait included: a limiter
// that would make it wait longer refuses at once.
const keyFetchWait = 10 * time.Second

// platformKeys is the registration's key set, fetched once and kept
// fresh by keyfunc: refreshed hourly, and fetched again for an unknown
// kid (at most once per UnknownKeyEvery), so a platform's rotation is
// followed at once.
func (s *Service) platformKeys(reg *Registration) (keyfunc.Keyfunc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pk := s.jwks[reg.ID]; pk != nil && pk.url == reg.JWKSURL {
		return pk.kf, nil
	}
	kf, err := keyfunc.NewDefaultOverrideCtx(s.ctx, []string{reg.JWKSURL}, keyfunc.Override{
		Client:            s.o.HTTPClient,
		HTTPTimeout:       10 * time.Second,
		RefreshInterval:   time.Hour,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(s.o.UnknownKeyEvery), 1),
		// Negative: jwkset then puts no deadline of its own on the
		// refresh (a positive one would bound the fetch too, and a
		// fetch under a millisecond fails); verify's context does.
		RateLimitWaitMax: -1,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				s.o.Logger.Warn("lti: fetching a platform's key set", "url", u, "err", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	s.jwks[reg.ID] = &platformKeys{url: reg.JWKSURL, kf: kf}
	return kf, nil
}

// account finds or makes the account of (issuer, sub). An account made
// just in time is a learner of the registration's organisation with the
// name and address the claims give; an address is never used to link
// the launch to an existing account (a platform does not say it verified
// it), so a missing or taken one is replaced by a placeholder that
// cannot receive mail.
func (s *Service) account(ctx context.Context, reg *Registration, sub string, claims jwt.MapClaims) (*account.User, bool, error) {
	u, err := s.o.Accounts.UserByIdentity(ctx, reg.Issuer, sub)
	created := false
	switch {
	case err == nil:
	case errors.Is(err, account.ErrNotFound):
		o, err := s.o.Directory.Get(ctx, reg.Org)
		if err != nil {
			return nil, false, err
		}
		name := nameOf(claims)
		orgName := o.NameFI
		if o.Legacy != "" {
			orgName = o.Legacy
		}
		email, _ := claims["email"].(string)
		if email, err = account.NormalizeEmail(email); err != nil || IsPlaceholder(email) {
			// A platform may not hand out our placeholders: one names
			// another platform's person.
			email = placeholder(reg.Issuer, sub)
		}
		id := account.NewID()
		// The platform does not vouch for the address: the account's is
		// unverified, and its owner can take the account over by a reset
		// link (account.Store.UseReset).
		e := account.External{ID: id, Email: email, Name: name, OrgID: o.ID, Organisation: orgName, Unverified: true}
		u, err = s.o.Accounts.CreateExternal(ctx, e)
		if errors.Is(err, account.ErrEmailTaken) && e.Email != placeholder(reg.Issuer, sub) {
			e.Email = placeholder(reg.Issuer, sub)
			u, err = s.o.Accounts.CreateExternal(ctx, e)
		}
		if errors.Is(err, account.ErrEmailTaken) {
			// The placeholder is taken: by a launch of the same person at
			// the same moment (whose link below wins), or by an account
			// that is not this person's. Never look it up by address: an
			// account of its own, under a random placeholder.
			e.Email = "lti-" + random() + "@lti.invalid"
			u, err = s.o.Accounts.CreateExternal(ctx, e)
		}
		if err != nil {
			return nil, false, err
		}
		created = true
		if err := s.o.Accounts.LinkIdentity(ctx, reg.Issuer, sub, u.ID); errors.Is(err, account.ErrIdentityTaken) {
			if u, err = s.o.Accounts.UserByIdentity(ctx, reg.Issuer, sub); err != nil {
				return nil, false, err
			}
			created = false
		} else if err != nil {
			return nil, false, err
		}
	default:
		return nil, false, err
	}
	if u.Disabled {
		return nil, false, ErrDisabled
	}
	return u, created, nil
}

// placeholder is the address of an account whose platform sent none
// (or one taken by another account): unique per (issuer, sub), in the
// reserved .invalid domain (RFC 2606), so nothing is ever delivered.
func placeholder(issuer, sub string) string {
	sum := sha256.Sum256([]byte(issuer + " " + sub))
	return "lti-" + hex.EncodeToString(sum[:10]) + "@lti.invalid"
}

// IsPlaceholder tells whether an address is a placeholder of an LTI
// account.
func IsPlaceholder(email string) bool { return strings.HasSuffix(email, "@lti.invalid") }

func nameOf(claims jwt.MapClaims) string {
	if n, _ := claims["name"].(string); strings.TrimSpace(n) != "" {
		return n
	}
	g, _ := claims["given_name"].(string)
	f, _ := claims["family_name"].(string)
	return strings.TrimSpace(g + " " + f)
}
