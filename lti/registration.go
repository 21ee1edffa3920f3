package lti

import (
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tyokyky/tyokyky/internal/fault"
)

// Registration is a learning platform (an LMS) registered to launch the
// tool: the platform's issuer and the client id it gave the tool, its
// OpenID Connect authorization endpoint (where third-party initiated
// login sends the browser), its OAuth 2 token endpoint (for the LTI
// Advantage services), its key set, the deployment ids it may launch
// with, and the organisation whose people it signs in.
type Registration struct {
	ID          string   `bson:"_id" json:"id"`
	Issuer      string   `bson:"issuer" json:"issuer"`
	ClientID    string   `bson:"client_id" json:"client_id"`
	AuthURL     string   `bson:"auth_url" json:"auth_url"`
	TokenURL    string   `bson:"token_url" json:"token_url"`
	JWKSURL     string   `bson:"jwks_url" json:"jwks_url"`
	Deployments []string `bson:"deployments" json:"deployments"`
	Org         string   `bson:"org" json:"org"`
	Name        string   `bson:"name" json:"name"`
	Active      bool     `bson:"active" json:"active"`
	// Roster: the course rosters of the platform's launches are read
	// (Names and Role Provisioning), so that people who never launched
	// have accounts too.
	Roster bool `bson:"roster" json:"roster"`
	// FrameOrigins are the origins the platform's pages were seen at (the
	// launches' launch_presentation return_url), which may frame the tool
	// besides the issuer's and the authentication endpoint's.
	FrameOrigins []string  `bson:"frame_origins,omitempty" json:"frame_origins,omitempty"`
	CreatedAt    time.Time `bson:"created_at" json:"created_at"`
}

// Registration refusals.
var (
	ErrRegName       = fault.New(fault.Invalid, "lti_registration_name_invalid", "name", "the platform's name is 2–100 characters")
	ErrRegIssuer     = fault.New(fault.Invalid, "lti_registration_issuer_invalid", "issuer", "the issuer is an https URL (http only for localhost) without a query or fragment")
	ErrRegClient     = fault.New(fault.Invalid, "lti_registration_client_invalid", "client_id", "the client id is 1–255 printable characters")
	ErrRegAuthURL    = fault.New(fault.Invalid, "lti_registration_auth_url_invalid", "auth_url", "the authentication request URL is an https URL (http only for localhost)")
	ErrRegTokenURL   = fault.New(fault.Invalid, "lti_registration_token_url_invalid", "token_url", "the access token URL is an https URL (http only for localhost)")
	ErrRegJWKSURL    = fault.New(fault.Invalid, "lti_registration_jwks_url_invalid", "jwks_url", "the key set URL is an https URL (http only for localhost)")
	ErrRegDeployment = fault.New(fault.Invalid, "lti_registration_deployment_invalid", "deployments", "a deployment id is 1–255 printable characters, and at least one is needed")
	ErrRegOrg        = fault.New(fault.Invalid, "lti_registration_org_invalid", "org", "choose an organisation of the directory")
	ErrRegTaken      = fault.New(fault.Conflict, "lti_registration_taken", "client_id", "this issuer and client id are registered already")
	ErrRegNotFound   = fault.New(fault.NotFound, "lti_registration_not_found", "", "no such platform registration")
)

var printable = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// webURL tells whether raw is an absolute https URL (http for the local
// host only) without user info or fragment; query allows a query.
func webURL(raw string, query bool) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || !query && u.RawQuery != "" {
		return false
	}
	h := u.Hostname()
	ip := net.ParseIP(h)
	local := h == "localhost" || ip != nil && ip.IsLoopback() // never a name that only begins with 127.
	return u.Scheme == "https" || u.Scheme == "http" && local
}

// check validates and normalises a registration; the organisation is
// checked by the caller against the directory.
func (r *Registration) check() []error {
	var errs []error
	r.Name = strings.TrimSpace(r.Name)
	if n := len([]rune(r.Name)); n < 2 || n > 100 || strings.ContainsAny(r.Name, "<>\x00") {
		errs = append(errs, ErrRegName)
	}
	// The issuer is compared with the token's iss exactly: kept as given
	// (a platform's issuer may end in a slash), only trimmed of spaces.
	r.Issuer = strings.TrimSpace(r.Issuer)
	if !webURL(r.Issuer, false) {
		errs = append(errs, ErrRegIssuer)
	}
	r.ClientID = strings.TrimSpace(r.ClientID)
	if !printable.MatchString(r.ClientID) {
		errs = append(errs, ErrRegClient)
	}
	r.AuthURL, r.TokenURL, r.JWKSURL = strings.TrimSpace(r.AuthURL), strings.TrimSpace(r.TokenURL), strings.TrimSpace(r.JWKSURL)
	if !webURL(r.AuthURL, true) {
		errs = append(errs, ErrRegAuthURL)
	}
	if !webURL(r.TokenURL, true) {
		errs = append(errs, ErrRegTokenURL)
	}
	if !webURL(r.JWKSURL, true) {
		errs = append(errs, ErrRegJWKSURL)
	}
	var deps []string
	bad := false
	for _, d := range r.Deployments {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		if !printable.MatchString(d) {
			bad = true
		}
		if !slices.Contains(deps, d) {
			deps = append(deps, d)
		}
	}
	if bad || len(deps) == 0 || len(deps) > 100 {
		errs = append(errs, ErrRegDeployment)
	}
	r.Deployments = deps
	return errs
}

// origin is the scheme and host of a web URL, or "".
func origin(raw string) string {
	if !webURL(raw, true) {
		return ""
	}
	u, _ := url.Parse(raw)
	return u.Scheme + "://" + u.Host
}

// Origins are the origins that may frame the tool for the registration.
func (r *Registration) Origins() []string {
	var out []string
	for _, raw := range append([]string{r.Issuer, r.AuthURL}, r.FrameOrigins...) {
		if o := origin(raw); o != "" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// SplitList splits a form's list (deployment ids) at commas, spaces and
// line breaks.
func SplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}
