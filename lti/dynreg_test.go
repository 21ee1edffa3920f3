package lti

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/internal/egress"
	"github.com/tyokyky/tyokyky/internal/ltitest"
)

// Dynamic registration: a registration address made for an
// organisation, opened by a platform with its configuration and a
// registration token, registers the tool there (the configuration the
// platform checks) and keeps the platform; the address works once, for
// a week; a configuration whose issuer is on another host, or a platform
// that refuses the registration, registers nothing; the platform then
// launches.
func TestDynamicRegistration(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	pf, err := ltitest.Start("dyn-client-1", "dep-1", f.svc.LaunchURL())
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	pf.ToolLoginURL, pf.ToolJWKSURL, pf.RegistrationToken = f.svc.LoginURL(), f.svc.JWKSURL(), "reg-token-1"
	if _, err := f.svc.Invite(ctx, "eiole", "admin"); !errors.Is(err, ErrRegOrg) {
		t.Fatalf("an invitation for an unknown organisation: %v", err)
	}
	link, err := f.svc.Invite(ctx, "pirkanmaa", "admin")
	if err != nil {
		t.Fatal(err)
	}
	token := link[len(toolURL+"/lti/rekisteroi/"):]
	// A wrong registration token: the platform refuses, and the address
	// is used up (it was claimed before the platform was asked).
	other, _ := f.svc.Invite(ctx, "pirkanmaa", "admin")
	if _, err := f.svc.RegisterDynamically(ctx, other[len(toolURL+"/lti/rekisteroi/"):], pf.ConfigurationURL(), "wrong"); !errors.Is(err, ErrRegistering) {
		t.Fatalf("a refused registration: %v", err)
	}
	// Configurations that are not a platform's on its own host.
	third, _ := f.svc.Invite(ctx, "pirkanmaa", "admin")
	// A configuration on another host than its issuer's: pf's, served by
	// a stranger.
	stranger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(pf.ConfigurationURL())
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	}))
	defer stranger.Close()
	for _, u := range []string{"ftp://x", pf.URL + "/ei-ole", stranger.URL + "/.well-known/openid-configuration"} {
		// Each address is used up by the first try that fetches anything
		// (an address that is not a web address is refused before).
		addr, _ := f.svc.Invite(ctx, "pirkanmaa", "admin")
		if _, err := f.svc.RegisterDynamically(ctx, addr[len(toolURL+"/lti/rekisteroi/"):], u, "reg-token-1"); !errors.Is(err, ErrPlatformConf) {
			t.Fatalf("configuration %s: %v", u, err)
		}
		if u == "ftp://x" {
			continue
		}
		if _, err := f.svc.RegisterDynamically(ctx, addr[len(toolURL+"/lti/rekisteroi/"):], pf.ConfigurationURL(), "reg-token-1"); !errors.Is(err, ErrInvitation) {
			t.Fatalf("the address after configuration %s: %v", u, err)
		}
	}
	_ = third
	if len(pf.Registrations()) != 0 {
		t.Fatal("registered at a platform whose configuration was refused")
	}
	reg, err := f.svc.RegisterDynamically(ctx, token, pf.ConfigurationURL(), "reg-token-1")
	if err != nil {
		t.Fatal(err)
	}
	if reg.Issuer != pf.URL || reg.ClientID != "dyn-client-1" || reg.AuthURL != pf.AuthURL() || reg.TokenURL != pf.TokenURL() || reg.JWKSURL != pf.JWKSURL() ||
		len(reg.Deployments) != 1 || reg.Deployments[0] != "dep-1" || reg.Org != "pirkanmaa" || !reg.Active {
		t.Fatalf("registration %+v", reg)
	}
	if got := pf.Registrations(); len(got) != 1 || got[0]["scope"] == nil {
		t.Fatalf("the platform's registrations %v", got)
	}
	if _, err := f.svc.RegisterDynamically(ctx, token, pf.ConfigurationURL(), "reg-token-1"); !errors.Is(err, ErrInvitation) {
		t.Fatalf("the address used again: %v", err)
	}
	if _, err := f.svc.RegisterDynamically(ctx, "made-up", pf.ConfigurationURL(), "reg-token-1"); !errors.Is(err, ErrInvitation) {
		t.Fatalf("a made-up address: %v", err)
	}
	old, _ := f.svc.Invite(ctx, "pirkanmaa", "admin")
	f.svc.SetClock(func() time.Time { return time.Now().Add(InvitationTTL + time.Hour) })
	if _, err := f.svc.RegisterDynamically(ctx, old[len(toolURL+"/lti/rekisteroi/"):], pf.ConfigurationURL(), "reg-token-1"); !errors.Is(err, ErrInvitation) {
		t.Fatalf("an address over a week old: %v", err)
	}
	f.svc.SetClock(time.Now)
	// The registered platform launches.
	dyn := &fixture{svc: f.svc, accounts: f.accounts, pf: pf, reg: reg}
	if _, err := dyn.launch(t, &ltitest.Person{Sub: "dyn-user", Name: "Dyna Mic", Roles: []string{ltitest.RoleLearner}}, toolURL+"/"); err != nil {
		t.Fatalf("a launch from the registered platform: %v", err)
	}
}

// A platform's product name becomes a registration name our own check
// accepts, whatever the platform sends (checked before the tool registers
// at the platform, so nothing is left behind there).
func TestRegistrationName(t *testing.T) {
	for _, c := range []struct{ product, host, want string }{
		{"moodle", "moodle.pirha.fi", "moodle moodle.pirha.fi"},
		{"", "lms.example.fi", "LTI lms.example.fi"},
		{"<script>x</script>\n\t", "lms.example.fi", "scriptx/script lms.example.fi"},
		{strings.Repeat("ä", 80), strings.Repeat("h", 50), strings.Repeat("ä", 60) + " " + strings.Repeat("h", 39)},
	} {
		got := registrationName(c.product, c.host)
		if got != c.want {
			t.Errorf("registrationName(%q, %q) = %q, want %q", c.product, c.host, got, c.want)
		}
		r := Registration{Name: got, Issuer: "https://lms.example.fi", ClientID: "c", AuthURL: "https://lms.example.fi/a", TokenURL: "https://lms.example.fi/t",
			JWKSURL: "https://lms.example.fi/k", Deployments: []string{"1"}}
		if errs := r.check(); len(errs) > 0 {
			t.Errorf("%q refused: %v", got, errs)
		}
	}
}

// The default client calls public addresses only: a configuration
// address on this machine (as an intranet's or the cloud metadata
// service's would be) is refused, and nothing is registered.
func TestDynamicRegistrationToAPrivateAddress(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	pf, err := ltitest.Start("dyn-client-2", "dep-1", f.svc.LaunchURL())
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	pf.ToolLoginURL, pf.ToolJWKSURL, pf.RegistrationToken = f.svc.LoginURL(), f.svc.JWKSURL(), "reg-token-1"
	f.svc.SetHTTPClient(egress.Client(5*time.Second, nil)) // as New makes it without Allow
	link, err := f.svc.Invite(ctx, "pirkanmaa", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RegisterDynamically(ctx, link[len(toolURL+"/lti/rekisteroi/"):], pf.ConfigurationURL(), "reg-token-1"); !errors.Is(err, ErrPlatformConf) {
		t.Fatalf("a configuration on a loopback address: %v", err)
	}
	if len(pf.Registrations()) != 0 {
		t.Fatal("registered at a private address")
	}
}
