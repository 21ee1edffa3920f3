package org

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/internal/seal"
)

// Provider is an organisation's OpenID Connect identity provider, as an
// administrator registered it. Its ID names it in the callback address
// (/kirjaudu/oidc/{id}/paluu). The client secret is kept sealed with the
// key secret (TYOKYKY_CERT_KEY_SECRET, AES-256-GCM, the provider's id as
// additional data), as the certificate signing keys are.
type Provider struct {
	ID       string   `bson:"_id" json:"id"`
	Org      string   `bson:"org" json:"org"`
	Issuer   string   `bson:"issuer" json:"issuer"`
	ClientID string   `bson:"client_id" json:"client_id"`
	Sealed   []byte   `bson:"secret_sealed" json:"-"`
	Scopes   []string `bson:"scopes" json:"scopes"`
	// Claims names the claims that carry the e-mail address, the name,
	// the unit (department) and the groups (empty: e-mail, name, none).
	Claims Claims `bson:"claims" json:"claims"`
	// ReporterGroup: a member of this group (in the groups claim) is a
	// reporter of the organisation; empty grants nothing.
	ReporterGroup string `bson:"reporter_group,omitempty" json:"reporter_group,omitempty"`
	// TrustMFA: an ID token whose amr has "mfa" counts as the second
	// factor.
	TrustMFA  bool      `bson:"trust_mfa" json:"trust_mfa"`
	Active    bool      `bson:"active" json:"active"`
	CreatedAt time.Time `bson:"created_at" json:"-"`
}

// Claims maps our fields to the provider's claim names.
type Claims struct {
	Email  string `bson:"email" json:"email"`
	Name   string `bson:"name" json:"name"`
	Unit   string `bson:"unit,omitempty" json:"unit,omitempty"`
	Groups string `bson:"groups,omitempty" json:"groups,omitempty"`
	// Verified names the claim that vouches for the address (empty:
	// email_verified). Microsoft Entra ID sends no email_verified; its
	// optional claim xms_edov says the tenant owns the address's domain.
	Verified string `bson:"verified,omitempty" json:"verified,omitempty"`
}

// VerifiedClaim is the claim that vouches for the address
// (email_verified unless the provider says otherwise).
func (c Claims) VerifiedClaim() string {
	if c.Verified == "" {
		return "email_verified"
	}
	return c.Verified
}

// Provider refusals.
var (
	ErrProviderID       = fault.New(fault.Invalid, "org_provider_id_invalid", "id", "the provider's id is 2–32 characters: a–z, 0–9 and -")
	ErrProviderIssuer   = fault.New(fault.Invalid, "org_provider_issuer_invalid", "issuer", "the issuer is an https URL (http only for localhost) without a query or fragment")
	ErrProviderClient   = fault.New(fault.Invalid, "org_provider_client_invalid", "client_id", "the client id and the client secret are 1–500 characters")
	ErrProviderClaim    = fault.New(fault.Invalid, "org_provider_claim_invalid", "claims", "a claim name is 1–100 characters: letters, digits, _ - : . /")
	ErrProviderTaken    = fault.New(fault.Conflict, "org_provider_taken", "id", "another provider has that id")
	ErrProviderNotFound = fault.New(fault.NotFound, "org_provider_not_found", "", "no such identity provider")
	ErrNoKeySecret      = fault.New(fault.Conflict, "org_provider_no_key_secret", "", "a client secret is kept sealed with TYOKYKY_CERT_KEY_SECRET, which is not set")
)

var claimRE = regexp.MustCompile(`^[A-Za-z0-9_\-:./]{1,100}$`)

// check validates and normalises a new provider.
func (p *Provider) check(clientSecret string) []error {
	var errs []error
	if !ValidCode(p.ID) {
		errs = append(errs, ErrProviderID)
	}
	p.Issuer = strings.TrimRight(strings.TrimSpace(p.Issuer), "/")
	u, err := url.Parse(p.Issuer)
	local := err == nil && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1")
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || !(u.Scheme == "https" || u.Scheme == "http" && local) {
		errs = append(errs, ErrProviderIssuer)
	}
	p.ClientID = strings.TrimSpace(p.ClientID)
	if len(p.ClientID) == 0 || len(p.ClientID) > 500 || len(clientSecret) == 0 || len(clientSecret) > 500 {
		errs = append(errs, ErrProviderClient)
	}
	if p.Claims.Email == "" {
		p.Claims.Email = "email"
	}
	if p.Claims.Name == "" {
		p.Claims.Name = "name"
	}
	if p.Claims.Verified == "" {
		p.Claims.Verified = "email_verified"
	}
	for _, c := range []string{p.Claims.Email, p.Claims.Name, p.Claims.Unit, p.Claims.Groups, p.Claims.Verified} {
		if c != "" && !claimRE.MatchString(c) {
			errs = append(errs, ErrProviderClaim)
			break
		}
	}
	scopes := []string{"openid"}
	for _, s := range p.Scopes {
		for _, f := range strings.Fields(s) {
			if !slices.Contains(scopes, f) && claimRE.MatchString(f) {
				scopes = append(scopes, f)
			}
		}
	}
	if len(scopes) == 1 {
		scopes = append(scopes, "email", "profile")
	}
	p.Scopes = scopes
	return errs
}

// sealSecret seals a client secret with the 32-byte key secret.
func sealSecret(key []byte, id, secret string) ([]byte, error) {
	if len(key) != 32 {
		return nil, ErrNoKeySecret
	}
	return seal.Seal(key, []byte(secret), "oidc-client:"+id)
}

// ClientSecret opens the provider's client secret with the key secret.
func (p *Provider) ClientSecret(key []byte) (string, error) {
	if len(key) != 32 {
		return "", ErrNoKeySecret
	}
	plain, err := seal.Open(key, p.Sealed, "oidc-client:"+p.ID)
	if errors.Is(err, seal.ErrOpen) {
		return "", errors.New("org: the key secret does not open the client secret (a different TYOKYKY_CERT_KEY_SECRET?)")
	}
	return string(plain), err
}
