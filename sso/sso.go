// Package sso signs people in with their employer's OpenID Connect
// provider (package org keeps the providers): the authorization code flow
// with PKCE, state and nonce; the ID token verified by go-oidc (issuer,
// audience, expiry, signature by the provider's JWKS, which it fetches
// again for an unknown key); accounts keyed by (issuer, subject) and made
// just in time, or linked to an existing account only for a verified
// address in one of the organisation's domains. It knows nothing of our
// HTTP server: the api package calls Start and Finish.
package sso

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/org"
)

// FlowTTL is how long a started sign-in may take at the provider.
const FlowTTL = 10 * time.Minute

// Refusals. None of them tells whether an account exists.
var (
	ErrNoProvider = fault.New(fault.NotFound, "sso_no_provider", "email", "no employer sign-in is set up for this address")
	ErrState      = fault.New(fault.Invalid, "sso_state", "", "the sign-in was not started here, was used already or took too long")
	ErrDown       = fault.New(fault.Busy, "sso_provider_down", "", "the identity provider does not answer")
	ErrDenied     = fault.New(fault.Forbidden, "sso_denied", "", "the identity provider did not sign the person in")
	ErrToken      = fault.New(fault.Forbidden, "sso_token", "", "the identity provider's answer did not pass the checks")
	ErrUnverified = fault.New(fault.Forbidden, "sso_email_unverified", "", "the identity provider does not say the address is verified")
	ErrDomain     = fault.New(fault.Forbidden, "sso_foreign_domain", "", "the address is not in the organisation's domains")
	ErrDisabled   = fault.New(fault.Forbidden, "sso_account_disabled", "", "the account is disabled")
	// ErrRequired refuses password sign-in for an organisation that signs
	// its people in with its own provider.
	ErrRequired = fault.New(fault.Forbidden, "sso_required", "email", "this organisation signs its people in with its own identity provider")
)

// Options configure a Service.
type Options struct {
	Directory *org.Directory
	Accounts  *account.Store
	DB        *database.DB
	// KeySecret opens the providers' client secrets (TYOKYKY_CERT_KEY_SECRET).
	KeySecret []byte
	// BaseURL is the site's public address; callbacks are
	// BaseURL/kirjaudu/oidc/{provider}/paluu.
	BaseURL string
	// HTTPClient talks to the providers (default: 10 s timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Service runs sign-ins.
type Service struct {
	o   Options
	now func() time.Time
	mu  sync.Mutex
	// remote caches each provider's discovery document and key set.
	remote map[string]*remote
	// origins caches FormOrigins for a minute.
	origins   []string
	originsAt time.Time
}

type remote struct {
	issuer string
	p      *oidc.Provider
	at     time.Time
}

// New makes a Service.
func New(o Options) *Service {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{o: o, now: time.Now, remote: map[string]*remote{}}
}

// SetBaseURL changes the public address (tests learn it after listening).
func (s *Service) SetBaseURL(u string) { s.o.BaseURL = u }

// CallbackPath is where the provider sends the browser back.
func CallbackPath(providerID string) string { return "/kirjaudu/oidc/" + providerID + "/paluu" }

func (s *Service) callback(providerID string) string {
	return strings.TrimRight(s.o.BaseURL, "/") + CallbackPath(providerID)
}

// discover is the provider's discovery document and keys, cached for an
// hour; a failure is not cached, so a provider back up works at once.
func (s *Service) discover(ctx context.Context, p *org.Provider) (*oidc.Provider, error) {
	s.mu.Lock()
	r := s.remote[p.ID]
	s.mu.Unlock()
	if r != nil && r.issuer == p.Issuer && s.now().Sub(r.at) < time.Hour {
		return r.p, nil
	}
	// The key set keeps the context it was made with for its later
	// fetches: not the request's.
	bg := oidc.ClientContext(context.WithoutCancel(ctx), s.o.HTTPClient)
	dctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	op, err := oidc.NewProvider(dctx, p.Issuer)
	if err != nil {
		s.o.Logger.Warn("sso: discovery failed", "provider", p.ID, "issuer", p.Issuer, "err", err)
		return nil, ErrDown
	}
	s.mu.Lock()
	s.remote[p.ID] = &remote{issuer: p.Issuer, p: op, at: s.now()}
	s.mu.Unlock()
	return op, nil
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HomeRealm is the identity provider of the organisation that owns the
// address's domain (home realm discovery), or ErrNoProvider.
func (s *Service) HomeRealm(ctx context.Context, email string) (*org.Provider, error) {
	o, err := s.o.Directory.ByEmail(ctx, email)
	if errors.Is(err, org.ErrNotFound) {
		return nil, ErrNoProvider
	}
	if err != nil {
		return nil, err
	}
	if !o.Active {
		return nil, ErrNoProvider
	}
	ps, err := s.o.Directory.Providers(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	for i := range ps {
		if ps[i].Active {
			return &ps[i], nil
		}
	}
	return nil, ErrNoProvider
}

// PasswordAllowed refuses password sign-in (ErrRequired) for an address
// of an organisation that requires its own provider and has one.
func (s *Service) PasswordAllowed(ctx context.Context, email string) error {
	o, err := s.o.Directory.ByEmail(ctx, email)
	if errors.Is(err, org.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !o.SSORequired {
		return nil
	}
	if _, err := s.HomeRealm(ctx, email); errors.Is(err, ErrNoProvider) {
		return nil // required, but nothing to sign in with: do not lock people out
	} else if err != nil {
		return err
	}
	return ErrRequired
}

// Start begins a sign-in at the provider: it returns the address to send
// the browser to and the state, which the caller also keeps in a cookie
// of the browser (Finish compares them). next is where the person goes
// afterwards (the caller has made it a local path).
func (s *Service) Start(ctx context.Context, providerID, next string) (authURL, state string, err error) {
	p, err := s.o.Directory.Provider(ctx, providerID)
	if err != nil {
		return "", "", err
	}
	if !p.Active {
		return "", "", org.ErrProviderNotFound
	}
	op, err := s.discover(ctx, p)
	if err != nil {
		return "", "", err
	}
	f := flow{State: random(), Provider: p.ID, Nonce: random(), Verifier: oauth2.GenerateVerifier(), Next: next,
		CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	if err := s.saveFlow(ctx, f); err != nil {
		return "", "", err
	}
	cfg := oauth2.Config{ClientID: p.ClientID, Endpoint: op.Endpoint(), RedirectURL: s.callback(p.ID), Scopes: p.Scopes}
	return cfg.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), f.State, nil
}

// Callback is what came back to the callback address.
type Callback struct {
	Provider string // from the path
	State    string // the query's
	Cookie   string // the state kept in the browser's cookie
	Code     string
	Error    string // the provider's error, if it refused
}

// Result is a finished sign-in.
type Result struct {
	User *account.User
	Next string
	// MFA: the provider is trusted for the second factor and said the
	// person used more than one factor.
	MFA bool
	// Created: the account was made just now; Linked: an existing account
	// was linked to the identity now.
	Created, Linked bool
	// IDToken is the raw ID token; Provider the provider's id.
	IDToken, Provider string
}

// Finish completes a sign-in: the state must be this browser's, unused
// and recent; the code is exchanged with the PKCE verifier; the ID token
// must pass go-oidc's checks and carry the flow's nonce; then the account
// is found by (issuer, subject), linked or made.
func (s *Service) Finish(ctx context.Context, cb Callback) (*Result, error) {
	if cb.State == "" || cb.Cookie == "" || subtle.ConstantTimeCompare([]byte(cb.State), []byte(cb.Cookie)) != 1 {
		return nil, ErrState
	}
	f, err := s.takeFlow(ctx, cb.State)
	if err != nil {
		return nil, err
	}
	if f.Provider != cb.Provider || s.now().Sub(f.CreatedAt) > FlowTTL {
		return nil, ErrState
	}
	if cb.Error != "" {
		return nil, ErrDenied
	}
	if cb.Code == "" {
		return nil, ErrState
	}
	p, err := s.o.Directory.Provider(ctx, f.Provider)
	if err != nil {
		return nil, err
	}
	o, err := s.o.Directory.Get(ctx, p.Org)
	if err != nil {
		return nil, err
	}
	if !p.Active || !o.Active {
		return nil, org.ErrProviderNotFound
	}
	secret, err := p.ClientSecret(s.o.KeySecret)
	if err != nil {
		return nil, err
	}
	op, err := s.discover(ctx, p)
	if err != nil {
		return nil, err
	}
	cfg := oauth2.Config{ClientID: p.ClientID, ClientSecret: secret, Endpoint: op.Endpoint(), RedirectURL: s.callback(p.ID), Scopes: p.Scopes}
	hctx := oidc.ClientContext(ctx, s.o.HTTPClient)
	tok, err := cfg.Exchange(hctx, cb.Code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			s.o.Logger.Warn("sso: the provider refused the code", "provider", p.ID, "err", err)
			return nil, ErrToken
		}
		s.o.Logger.Warn("sso: token exchange failed", "provider", p.ID, "err", err)
		return nil, ErrDown
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, ErrToken
	}
	idt, err := op.Verifier(&oidc.Config{ClientID: p.ClientID, Now: s.now}).Verify(hctx, raw)
	if err != nil {
		s.o.Logger.Warn("sso: ID token refused", "provider", p.ID, "err", err)
		return nil, ErrToken
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		s.o.Logger.Warn("sso: ID token with another nonce", "provider", p.ID)
		return nil, ErrToken
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, ErrToken
	}
	// The e-mail claim may be only in userinfo (Entra ID, some Keycloak
	// set-ups): fetch it, for the same subject only.
	if _, ok := claims[p.Claims.Email].(string); !ok && op.UserInfoEndpoint() != "" {
		if ui, err := op.UserInfo(hctx, oauth2.StaticTokenSource(tok)); err == nil && ui.Subject == idt.Subject {
			extra := map[string]any{}
			if ui.Claims(&extra) == nil {
				for k, v := range extra {
					if _, has := claims[k]; !has {
						claims[k] = v
					}
				}
			}
		}
	}
	res, err := s.account(ctx, o, p, idt.Issuer, idt.Subject, claims)
	if err != nil {
		return nil, err
	}
	res.Next, res.IDToken, res.Provider = f.Next, raw, p.ID
	if p.TrustMFA {
		res.MFA = slices.Contains(stringsOf(claims["amr"]), "mfa")
	}
	return res, nil
}

// account finds, links or makes the account of (issuer, subject).
func (s *Service) account(ctx context.Context, o *org.Organisation, p *org.Provider, issuer, subject string, claims map[string]any) (*Result, error) {
	res := &Result{}
	u, err := s.o.Accounts.UserByIdentity(ctx, issuer, subject)
	switch {
	case err == nil:
		// Known by (issuer, subject): whatever the address says now.
	case errors.Is(err, account.ErrNotFound):
		email, _ := claims[p.Claims.Email].(string)
		email, eerr := account.NormalizeEmail(email)
		if eerr != nil {
			return nil, ErrUnverified
		}
		if !verified(claims, p.Claims.VerifiedClaim()) {
			return nil, ErrUnverified
		}
		if !slices.Contains(o.Domains, org.DomainOf(email)) {
			return nil, ErrDomain
		}
		name, _ := claims[p.Claims.Name].(string)
		u, err = s.o.Accounts.CreateExternal(ctx, account.External{ID: account.NewID(), Email: email, Name: name,
			OrgID: o.ID, Organisation: orgName(o)})
		switch {
		case err == nil:
			res.Created = true
		case errors.Is(err, account.ErrEmailTaken):
			// An account with the verified address in the organisation's
			// domain: the provider vouches for its owner.
			if u, err = s.o.Accounts.UserByEmail(ctx, email); err != nil {
				return nil, err
			}
			res.Linked = true
		default:
			return nil, err
		}
		if err := s.o.Accounts.LinkIdentity(ctx, issuer, subject, u.ID); errors.Is(err, account.ErrIdentityTaken) {
			// Another sign-in of the same person linked it first.
			if u, err = s.o.Accounts.UserByIdentity(ctx, issuer, subject); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if u.Disabled {
		return nil, ErrDisabled
	}
	if err := s.unitFromClaim(ctx, o, p, u, claims); err != nil {
		return nil, err
	}
	if u, err = s.roleFromGroups(ctx, o, p, u, claims); err != nil {
		return nil, err
	}
	if p.Claims.Groups != "" && u.OrgID == o.ID {
		// The groups, for assignments to a group (package assign).
		groups := stringsOf(claims[p.Claims.Groups])
		if err := s.o.Accounts.SetGroups(ctx, u.ID, groups); err != nil {
			return nil, err
		}
		u.Groups = groups
	}
	res.User = u
	return res, nil
}

// roleFromGroups gives the reporter role to a learner of the
// organisation whom the groups claim puts in the provider's reporter
// group, and takes it back when the claim no longer does (only a role
// the provider gave). Nothing else is ever granted by a claim.
func (s *Service) roleFromGroups(ctx context.Context, o *org.Organisation, p *org.Provider, u *account.User, claims map[string]any) (*account.User, error) {
	if p.ReporterGroup == "" || p.Claims.Groups == "" || u.OrgID != o.ID {
		return u, nil
	}
	member := slices.Contains(stringsOf(claims[p.Claims.Groups]), p.ReporterGroup)
	before := u.Role
	changed, err := s.o.Accounts.SetRoleFromProvider(ctx, u.ID, member)
	if errors.Is(err, account.ErrReporterOrganisation) {
		return u, nil
	}
	if err != nil {
		return nil, err
	}
	if changed.Role != before {
		if err := s.o.Accounts.Audit(ctx, u.ID, "role.provider", u.ID, before+" → "+changed.Role+" ("+p.ID+": "+p.ReporterGroup+")"); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// unitFromClaim sets the account's unit from the provider's unit claim,
// when it names a unit of the account's organisation (by its name, or
// its path joined with " / " or " › ").
func (s *Service) unitFromClaim(ctx context.Context, o *org.Organisation, p *org.Provider, u *account.User, claims map[string]any) error {
	if p.Claims.Unit == "" || u.OrgID != o.ID {
		return nil
	}
	want, _ := claims[p.Claims.Unit].(string)
	want = strings.TrimSpace(want)
	if want == "" {
		return nil
	}
	t, err := s.o.Directory.Units(ctx, o.ID)
	if err != nil {
		return err
	}
	for _, e := range t.Flat() {
		if strings.EqualFold(e.Name, want) || strings.EqualFold(strings.Join(e.Path, " / "), want) || strings.EqualFold(strings.Join(e.Path, " › "), want) {
			if u.UnitID != e.ID {
				if err := s.o.Accounts.SetUnitFromProvider(ctx, u.ID, e.ID); err != nil {
					return err
				}
				u.UnitID = e.ID
			}
			return nil
		}
	}
	return nil
}

func orgName(o *org.Organisation) string {
	if o.Legacy != "" {
		return o.Legacy
	}
	return o.NameFI
}

func stringsOf(v any) []string {
	switch x := v.(type) {
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		return []string{x}
	}
	return nil
}

// EndSessionURL is the provider's RP-initiated logout address (OpenID
// Connect RP-Initiated Logout 1.0: client_id and post_logout_redirect_uri,
// the site's front page, which must be registered at the provider), or
// "" when the provider publishes no end_session_endpoint.
func (s *Service) EndSessionURL(ctx context.Context, providerID string) (string, error) {
	p, err := s.o.Directory.Provider(ctx, providerID)
	if err != nil {
		return "", err
	}
	op, err := s.discover(ctx, p)
	if err != nil {
		return "", err
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := op.Claims(&meta); err != nil || meta.EndSession == "" {
		return "", nil
	}
	u, err := url.Parse(meta.EndSession)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" {
		return "", nil
	}
	q := u.Query()
	q.Set("client_id", p.ClientID)
	q.Set("post_logout_redirect_uri", strings.TrimRight(s.o.BaseURL, "/")+"/")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// AddProvider registers an organisation's provider, its client secret
// sealed with the service's key secret.
func (s *Service) AddProvider(ctx context.Context, p org.Provider, clientSecret string) (*org.Provider, []error) {
	return s.o.Directory.AddProvider(ctx, p, clientSecret, s.o.KeySecret)
}

// CallbackURL is the address to register at the provider for providerID.
func (s *Service) CallbackURL(providerID string) string { return s.callback(providerID) }

// FormOrigins are the origins the sign-in form may lead to: each active
// provider's issuer and, once discovered, its authorization endpoint.
// The sign-in page's Content-Security-Policy (form-action) must name
// them, for a browser follows the form's redirect to the provider only
// when the page's policy allows it. Read from the store at most once a
// minute; never from the providers (a provider that is down must not
// slow the sign-in page).
func (s *Service) FormOrigins(ctx context.Context) []string {
	s.mu.Lock()
	if !s.originsAt.IsZero() && s.now().Sub(s.originsAt) < time.Minute {
		defer s.mu.Unlock()
		return s.origins
	}
	s.mu.Unlock()
	ps, err := s.o.Directory.AllProviders(ctx)
	if err != nil {
		s.o.Logger.Warn("sso: reading the providers", "err", err)
		return nil
	}
	var out []string
	add := func(raw string) {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http" {
			return
		}
		if o := u.Scheme + "://" + u.Host; !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		if !p.Active {
			continue
		}
		add(p.Issuer)
		if r := s.remote[p.ID]; r != nil {
			add(r.p.Endpoint().AuthURL)
		}
	}
	s.origins, s.originsAt = out, s.now()
	return out
}

// verified says whether the claim asserts a verified address: true as a
// JSON boolean, or as the string "true" or "1" that some providers
// (Entra ID's xms_edov among them, depending on the token version) send.
// Anything else, and a missing claim, is not verified.
func verified(claims map[string]any, name string) bool {
	switch v := claims[name].(type) {
	case bool:
		return v
	case string:
		return v == "true" || v == "1"
	case float64:
		return v == 1
	}
	return false
}
