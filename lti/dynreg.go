package lti

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tyokyky/tyokyky/internal/fault"
)

// LTI Dynamic Registration 1.0: an administrator of ours makes a
// single-use registration address for an organisation; the platform's
// administrator pastes it into the platform, which opens it with its
// openid_configuration (and a registration_token); the tool reads the
// platform's configuration, registers itself at the platform's
// registration endpoint and keeps the registration.

// InvitationTTL is how long a registration address works.
const InvitationTTL = 7 * 24 * time.Hour

// The claims of the configurations.
const (
	platformConfiguration = "https://purl.imsglobal.org/spec/lti-platform-configuration"
	toolConfiguration     = "https://purl.imsglobal.org/spec/lti-tool-configuration"
)

// Dynamic registration refusals.
var (
	ErrInvitation   = fault.New(fault.NotFound, "lti_invitation", "", "no such registration address, or it was used already or is over a week old")
	ErrPlatformConf = fault.New(fault.Invalid, "lti_platform_configuration", "", "the platform's configuration could not be read or is not an LTI platform's")
	ErrRegistering  = fault.New(fault.Busy, "lti_registration_refused", "", "the platform did not accept the tool's registration")
)

// Invitation is a registration address made by an administrator.
type Invitation struct {
	ID        string    `bson:"_id"` // sha256 of the token
	Org       string    `bson:"org"`
	By        string    `bson:"by"`
	CreatedAt time.Time `bson:"created_at"`
}

func invitationID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Invite makes a single-use registration address for an organisation of
// the directory; only its hash is kept.
func (s *Service) Invite(ctx context.Context, orgID, by string) (string, error) {
	if _, err := s.o.Directory.Get(ctx, orgID); err != nil || orgID == "" {
		return "", ErrRegOrg
	}
	token := random()
	if err := s.saveInvitation(ctx, Invitation{ID: invitationID(token), Org: orgID, By: by, CreatedAt: s.now().UTC().Truncate(time.Millisecond)}); err != nil {
		return "", err
	}
	return s.BaseURL() + "/lti/rekisteroi/" + token, nil
}

// platformConfig is what the tool reads of a platform's OpenID
// configuration.
type platformConfig struct {
	Issuer       string `json:"issuer"`
	Auth         string `json:"authorization_endpoint"`
	Token        string `json:"token_endpoint"`
	JWKS         string `json:"jwks_uri"`
	Registration string `json:"registration_endpoint"`
	LTI          *struct {
		Product string `json:"product_family_code"`
		Version string `json:"version"`
	} `json:"https://purl.imsglobal.org/spec/lti-platform-configuration"`
}

// RegisterDynamically registers the tool at the platform whose
// configuration is at configURL, for the invitation's organisation: the
// configuration must be an LTI platform's whose issuer is on the
// configuration's own host, with its endpoints; the invitation is used
// once; the platform must answer the registration with a client id and a
// deployment id.
func (s *Service) RegisterDynamically(ctx context.Context, token, configURL, registrationToken string) (*Registration, error) {
	inv, err := s.findInvitation(ctx, invitationID(token))
	if err != nil {
		return nil, err
	}
	if s.now().Sub(inv.CreatedAt) > InvitationTTL {
		return nil, ErrInvitation
	}
	if !webURL(configURL, true) {
		return nil, ErrPlatformConf
	}
	// The address is used up before anything is fetched, whatever
	// follows: the claim decides who uses it (also across instances), and
	// the invitation then goes, so that it never works again (the claims
	// themselves are swept after two hours).
	if err := s.claimOnce(ctx, "invitation:"+inv.ID); err != nil {
		return nil, ErrInvitation
	}
	if err := s.dropInvitation(ctx, inv.ID); err != nil {
		return nil, err
	}
	conf, err := s.fetchConfig(ctx, configURL)
	if err != nil {
		s.o.Logger.Warn("lti: reading a platform's configuration", "url", configURL, "err", err)
		return nil, ErrPlatformConf
	}
	u, _ := url.Parse(conf.Issuer)
	reg := Registration{Name: registrationName(conf.LTI.Product, u.Host), Issuer: conf.Issuer, AuthURL: conf.Auth,
		TokenURL: conf.Token, JWKSURL: conf.JWKS, Org: inv.Org}
	// What the platform sends is checked before the tool registers there:
	// a registration we would then refuse must not leave a tool behind in
	// the platform.
	probe := reg
	probe.ClientID, probe.Deployments = "probe", []string{"probe"}
	if errs := s.checkRegistration(ctx, &probe); len(errs) > 0 {
		s.o.Logger.Warn("lti: a dynamic registration refused before registering", "issuer", conf.Issuer, "err", errs[0])
		return nil, errs[0]
	}
	clientID, deployment, err := s.register(ctx, conf, registrationToken)
	if err != nil {
		s.o.Logger.Warn("lti: registering at a platform", "issuer", conf.Issuer, "err", err)
		return nil, ErrRegistering
	}
	reg.ClientID, reg.Deployments = clientID, []string{deployment}
	added, errs := s.AddRegistration(ctx, reg)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return added, nil
}

// registrationName names a platform registered dynamically: its product
// (at most 60 characters, without markup characters; "LTI" when it names
// none) and its issuer's host.
func registrationName(product, host string) string {
	product = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if r == '<' || r == '>' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, product)), " ")
	if r := []rune(product); len(r) > 60 {
		product = strings.TrimSpace(string(r[:60]))
	}
	if product == "" {
		product = "LTI"
	}
	if r := []rune(host); len(r) > 39 {
		host = string(r[:39])
	}
	return product + " " + host
}

func (s *Service) fetchConfig(ctx context.Context, configURL string) (*platformConfig, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, configURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.o.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%d", resp.StatusCode)
	}
	var c platformConfig
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<10)).Decode(&c); err != nil {
		return nil, err
	}
	cu, _ := url.Parse(configURL)
	iu, err := url.Parse(c.Issuer)
	switch {
	case err != nil || !webURL(c.Issuer, false) || iu.Scheme != cu.Scheme || !strings.EqualFold(iu.Host, cu.Host):
		return nil, errors.New("the issuer is not on the configuration's host")
	case !webURL(c.Auth, true) || !webURL(c.Token, true) || !webURL(c.JWKS, true) || !webURL(c.Registration, true):
		return nil, errors.New("an endpoint is missing")
	case c.LTI == nil:
		return nil, errors.New("not an LTI platform's configuration")
	}
	return &c, nil
}

// register posts the tool's configuration to the platform's registration
// endpoint (OpenID Connect Dynamic Client Registration with the LTI tool
// configuration) and returns the client id and deployment id it gave.
func (s *Service) register(ctx context.Context, c *platformConfig, registrationToken string) (clientID, deployment string, err error) {
	base := s.BaseURL()
	u, _ := url.Parse(base)
	body := map[string]any{
		"application_type":           "web",
		"response_types":             []string{"id_token"},
		"grant_types":                []string{"implicit", "client_credentials"},
		"initiate_login_uri":         s.LoginURL(),
		"redirect_uris":              []string{s.LaunchURL()},
		"client_name":                "Työkyvyn tuen johtaminen",
		"jwks_uri":                   s.JWKSURL(),
		"token_endpoint_auth_method": "private_key_jwt",
		"scope":                      ScopeLineItem + " " + ScopeResult + " " + ScopeScore + " " + ScopeNRPS,
		toolConfiguration: map[string]any{
			"domain":          u.Host,
			"target_link_uri": base + "/",
			"description":     "Työkyvyn tuen johtaminen sosiaali- ja terveydenhuollossa",
			"claims":          []string{"iss", "sub", "name", "given_name", "family_name", "email"},
			"messages": []map[string]any{
				{"type": MessageResourceLink, "target_link_uri": base + "/"},
				{"type": MessageDeepLinking, "target_link_uri": s.LaunchURL(), "label": "Työkyvyn tuen johtaminen"},
			},
		},
	}
	data, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Registration, bytes.NewReader(data))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if registrationToken != "" {
		req.Header.Set("Authorization", "Bearer "+registrationToken)
	}
	resp, err := s.o.HTTPClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 256<<10))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("%d %s", resp.StatusCode, clip(string(answer)))
	}
	var got struct {
		ClientID string `json:"client_id"`
		Tool     struct {
			Deployment string `json:"deployment_id"`
		} `json:"https://purl.imsglobal.org/spec/lti-tool-configuration"`
	}
	if err := json.Unmarshal(answer, &got); err != nil || got.ClientID == "" || got.Tool.Deployment == "" {
		return "", "", errors.New("no client_id or deployment_id in the answer")
	}
	return got.ClientID, got.Tool.Deployment, nil
}
