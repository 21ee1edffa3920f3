package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/internal/ltitest"
	"github.com/tyokyky/tyokyky/lti"
	"github.com/tyokyky/tyokyky/media"
)

// testCertificate is a self-signed certificate for 127.0.0.1 and
// 127.0.0.2, and a pool that trusts it.
func testCertificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tyokyky test"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.2")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// frameSetup starts the course over TLS on 127.0.0.1 and a platform on
// 127.0.0.2 (another site) whose course page frames it, registered, with
// Kerttu Kehys queued for the hint "kehys", and chromium with third-party
// cookies blocked, as browsers do: only partitioned cookies work in the
// frame.
func frameSetup(t *testing.T) (*running, *ltitest.Platform, string, context.Context) {
	t.Helper()
	cert, pool := testCertificate(t)
	r := startOpts(t, fixture(t), func(o *api.Options, _ *media.Options) {
		o.BaseURL = "https://localhost" // https: __Host- cookies, Secure
	})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go r.Serve(ln)
	toolURL := "https://" + ln.Addr().String()
	r.lti.SetBaseURL(toolURL)
	r.lti.SetHTTPClient(&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}})
	pf, err := ltitest.StartTLS("127.0.0.2:0", cert, "tyokyky-client", "dep-1", toolURL+"/lti/launch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pf.Close)
	pf.ToolLoginURL = toolURL + "/lti/login"
	if _, errs := r.lti.AddRegistration(t.Context(), lti.Registration{Name: "Moodle", Issuer: pf.URL, ClientID: pf.ClientID, AuthURL: pf.AuthURL(),
		TokenURL: pf.TokenURL(), JWKSURL: pf.JWKSURL(), Deployments: []string{"dep-1"}, Org: "pirkanmaa"}); len(errs) > 0 {
		t.Fatal(errs)
	}
	pf.Queue("kehys", &ltitest.Person{Sub: "k-1", Name: "Kerttu Kehys", Email: "kerttu@pirha.fi", Roles: []string{ltitest.RoleLearner}})
	ctx := browser(t, chromedp.Flag("ignore-certificate-errors", true), chromedp.Flag("test-third-party-cookie-phaseout", true))
	t.Cleanup(func() { artifact(t, ctx) })
	return r, pf, toolURL, ctx
}

// attachFrame waits for the cross-site frame to reach an address that
// starts with prefix (chromium runs another site's frame as a target of
// its own) and attaches to it.
func attachFrame(t *testing.T, ctx context.Context, prefix string) context.Context {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && strings.HasPrefix(info.URL, prefix) {
				fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID))
				t.Cleanup(cancel)
				return fctx
			}
		}
		if time.Now().After(deadline) {
			var urls []string
			for _, info := range infos {
				urls = append(urls, info.Type+" "+info.URL)
			}
			t.Fatalf("the frame did not reach %s: %v", prefix, urls)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The iframe problem: the platform's course page on another site
// (https://127.0.0.2) frames the course (https://127.0.0.1) in chromium
// with third-party cookies blocked. The launch goes through in the frame
// on partitioned cookies, the section opens signed in, and the learner
// completes it there with the keyboard.
func TestLTILaunchInACrossSiteIframe(t *testing.T) {
	r, pf, toolURL, ctx := frameSetup(t)
	section := "/osiot/ensimmainen/tehtava"
	if err := chromedp.Do(ctx, chromedp.Navigate(pf.URL+"/course?"+url.Values{"hint": {"kehys"}, "target": {toolURL + section}}.Encode())); err != nil {
		t.Fatal(err)
	}
	frame := attachFrame(t, ctx, toolURL+section)
	// In the frame: the section, signed in as the platform's person.
	waitFor(t, frame, `document.readyState === "complete" && document.body.innerText.includes("Kerttu Kehys")`, "the section signed in, in the frame")
	u, err := r.Accounts().UserByIdentity(t.Context(), pf.URL, "k-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := evalString(frame, `window.top === window ? "top" : "framed"`); got != "framed" {
		t.Fatalf("the section is not in a frame: %s", got)
	}
	// The learner answers the section's task in the frame with the
	// keyboard (which completes the section): the keys go to the page,
	// which routes them to the focused element of the frame.
	focus := func(sel string) {
		t.Helper()
		if got := evalString(frame, `(() => { const e = document.querySelector("`+sel+`"); if (!e) return "missing"; e.focus(); return document.activeElement === e ? "focused" : "not focused"; })()`); got != "focused" {
			t.Fatalf("%s in the frame: %s", sel, got)
		}
	}
	kctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	// The keys reach the frame only while the platform's page has its
	// focus on the frame, as after a keyboard user tabs into it: a focus
	// given inside a cross-site frame does not move the page's (seen once
	// under a full run: the text went elsewhere and the submit saved an
	// empty answer).
	if got := evalString(ctx, `(() => { const f = document.querySelector("iframe"); if (!f) return "missing"; f.focus(); return document.activeElement === f ? "focused" : "not focused"; })()`); got != "focused" {
		t.Fatalf("the frame on the platform's page: %s", got)
	}
	focus(`form[action$='/vastaus'] textarea`)
	if err := chromedp.Do(kctx, chromedp.KeyEvent("Tuen työkykyä kehyksessä.")); err != nil {
		t.Fatal(err)
	}
	if got := evalString(frame, `document.querySelector("form[action$='/vastaus'] textarea").value`); got != "Tuen työkykyä kehyksessä." {
		t.Fatalf("the text typed in the frame's field: %q", got)
	}
	focus(`form[action$='/vastaus'] button[type=submit], form[action$='/vastaus'] button:not([type])`)
	if err := chromedp.Do(kctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	// The field saves itself after a pause in typing (which a loaded
	// machine can make between two keys), so a prefix of the text may be
	// saved, and the section completed, before the last key: wait for the
	// whole text, which the submit saves at the latest.
	const want = "Tuen työkykyä kehyksessä."
	deadline := time.Now().Add(15 * time.Second)
	for {
		recs, err := r.Progress().ForUser(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		answers, err := r.Progress().Answers(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		text := ""
		for _, a := range answers {
			text = a.Text
		}
		if rec := recs["ensimmainen/tehtava"]; rec != nil && rec.CompletedAt != nil && len(answers) == 1 && text == want {
			break
		}
		if len(answers) > 1 {
			t.Fatalf("answers %v", answers)
		}
		if time.Now().After(deadline) {
			done := recs["ensimmainen/tehtava"] != nil && recs["ensimmainen/tehtava"].CompletedAt != nil
			t.Fatalf("the section was not completed with the text typed in the frame: completed %v, %d answers, the text %q", done, len(answers), text)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The platform's postMessage storage, when the browser drops the tool's
// cookie: the platform names its storage (lti_storage_target=_parent)
// and the course's login page keeps the state and nonce there; the
// browser loses every cookie before the platform answers; the launch
// page finds both in the storage and posts the launch again from its own
// origin, and the section opens signed in, in the frame.
func TestLTILaunchThroughThePlatformsStorage(t *testing.T) {
	r, pf, toolURL, ctx := frameSetup(t)
	section := "/osiot/ensimmainen/tehtava"
	arrived, release := pf.Hold()
	defer release()
	// The course page's load may wait for its frame, which waits at the
	// platform until release: the navigation runs beside the test.
	navigated := make(chan error, 1)
	go func() {
		navigated <- chromedp.Do(ctx, chromedp.Navigate(pf.URL+"/course?"+url.Values{"hint": {"kehys"}, "target": {toolURL + section}, "storage": {"1"}}.Encode()))
	}()
	select {
	case <-arrived:
	case err := <-navigated:
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-arrived:
		case <-time.After(20 * time.Second):
			t.Fatal("the login did not reach the platform")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the login did not reach the platform")
	}
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.ClearBrowserCookies, cdp.Empty{})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	release() // (the navigation's own wait ends with the test: the frame's arrival below is what counts)
	frame := attachFrame(t, ctx, toolURL+section)
	waitFor(t, frame, `document.readyState === "complete" && document.body.innerText.includes("Kerttu Kehys")`, "the section signed in through the storage")
	log, err := chromedp.Run(ctx, chromedp.Evaluate[[]map[string]string](`window.storageLog`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range log {
		if m["origin"] != toolURL {
			t.Errorf("a message from %s", m["origin"])
		}
		got = append(got, m["subject"]+" "+strings.SplitN(m["key"], "_", 2)[0])
	}
	if want := "lti.put_data state,lti.put_data nonce,lti.get_data state,lti.get_data nonce"; strings.Join(got, ",") != want {
		t.Fatalf("the storage saw %v, want %s", got, want)
	}
	if _, err := r.Accounts().UserByIdentity(t.Context(), pf.URL, "k-1"); err != nil {
		t.Fatal(err)
	}
}
