package api_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/internal/testenv"
)

// checkHeaders asserts the headers every response must carry.
func checkHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	checkFramedHeaders(t, what, h, "")
}

// checkFramedHeaders is checkHeaders for a response that the origins
// framedBy may frame ("": none may): the LTI tool's pages in a learning
// platform's frame.
func checkFramedHeaders(t *testing.T, what string, h http.Header, framedBy string) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	frame, xfo := "frame-ancestors 'none'", "DENY"
	if framedBy != "" {
		frame, xfo = "frame-ancestors 'self' "+framedBy+";", ""
	}
	for _, want := range []string{"object-src 'none'", "base-uri 'none'", frame} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") && !strings.Contains(csp, "sandbox") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP allows unsafe code: %q", what, csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("X-Frame-Options") != xfo {
		t.Errorf("%s: missing nosniff, Referrer-Policy or X-Frame-Options", what)
	}
}

// Security headers on every page type of the registry, every API response
// and every other kind of response.
func TestSecurityHeadersOnEveryPageTypeAndAPI(t *testing.T) {
	base := bundledSite(t)
	var paths []string
	for _, p := range testenv.Pages {
		paths = append(paths, p.Path)
	}
	paths = append(paths, "/api/v1/course", "/api/v1/modules/tyokyvyn-tuki", "/api/v1/modules/tyokyvyn-tuki/sections/palvelupolku",
		"/api/v1/modules/ei-ole", "/api/v1/openapi.json", "/livez", "/readyz", "/metrics", "/static/app.css",
		"/api/v1/media", "/api/v1/media/m1-tyokyvyn-tuen-polku", "/media/m1-tyokyvyn-tuen-polku/tekstitys/fi.vtt",
		"/media/m1-tyokyvyn-tuen-polku/litterointi.txt", "/media/m1-tyokyvyn-tuen-polku/tila", "/media/ei-ole/tiedosto")
	_, section := get(t, base+"/osiot/tyokyvyn-tuki/palvelupolku")
	if fig := regexp.MustCompile(`/kurssi/kuvat/[0-9a-f]{16}\.svg`).FindString(section); fig != "" {
		paths = append(paths, fig)
	}
	for _, p := range paths {
		resp, _ := get(t, base+p)
		if strings.HasPrefix(p, "/lti/") && !strings.HasPrefix(p, "/lti/sisalto/") {
			// The LTI tool's own routes: the registered platform (and only
			// it) may frame them. (The deep linking choice needs the
			// teacher's session; without it the answer is the sign-in
			// page, which stays unframeable.)
			checkFramedHeaders(t, p, resp.Header, "https://moodle.pirha.fi")
			continue
		}
		checkHeaders(t, p, resp.Header)
	}
}

// stateChanging lists every route that changes state, with how the test
// proves that a cookie-authenticated request without a CSRF token is
// refused. Each state-changing route must have an entry.
var stateChanging = map[string]func(t *testing.T, r *running){}

func TestEveryStateChangingRouteRequiresCSRF(t *testing.T) {
	r := start(t)
	for _, route := range r.App().GetRoutes(true) {
		switch route.Method {
		case "GET", "HEAD", "OPTIONS", "CONNECT", "TRACE":
			continue
		}
		if strings.HasPrefix(route.Path, "/test/") {
			continue
		}
		check, ok := stateChanging[route.Method+" "+route.Path]
		if !ok {
			t.Errorf("state-changing route %s %s has no CSRF test in stateChanging", route.Method, route.Path)
			continue
		}
		check(t, r)
	}
}

// publicParams are route parameters that name published course content,
// which everyone may read. A route with any other parameter names an
// object that belongs to someone and needs an entry in the IDOR matrix.
var publicParams = map[string]bool{"module": true, "section": true, "concept": true, "name": true, "theme": true,
	// Media items, their caption tracks and languages are course material.
	"media": true, "track": true, "lang": true,
	// The certificates' status lists are the issuer's, public by standard.
	"list": true}

// idorMatrix: for each route that takes an object id, a test that calls it
// with another user's ids and expects 403/404 and nothing leaked.
var idorMatrix = map[string]func(t *testing.T, r *running){}

func TestIDORMatrixCoversEveryObjectRoute(t *testing.T) {
	r := start(t)
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	for _, route := range r.App().GetRoutes(true) {
		if strings.HasPrefix(route.Path, "/test/") {
			continue
		}
		for _, m := range param.FindAllStringSubmatch(route.Path, -1) {
			if publicParams[m[1]] {
				continue
			}
			check, ok := idorMatrix[route.Method+" "+route.Path]
			if !ok {
				t.Errorf("%s %s takes the object id %q but has no IDOR test", route.Method, route.Path, m[1])
				continue
			}
			check(t, r)
		}
		// Routes whose scope is the viewer (no id in the path) have their
		// test here too when they have one (the reports: one organisation).
		if !param.MatchString(route.Path) {
			if check, ok := idorMatrix[route.Method+" "+route.Path]; ok {
				check(t, r)
			}
		}
	}
}

// No open redirects: no address, with any of the usual redirect
// parameters or a protocol-relative path, sends the browser elsewhere.
func TestNoOpenRedirects(t *testing.T) {
	base := bundledSite(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	evil := "https://evil.example/x"
	var urls []string
	for _, p := range testenv.Pages {
		sep := "?"
		if strings.Contains(p.Path, "?") {
			sep = "&"
		}
		for _, k := range []string{"next", "redirect", "url", "return_to", "continue", "lang"} {
			urls = append(urls, base+p.Path+sep+k+"="+url.QueryEscape(evil))
		}
	}
	urls = append(urls, base+"//evil.example/", base+"/%2F%2Fevil.example/", base+"/osiot/", base+"/\\evil.example")
	for _, u := range urls {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "" {
			target, err := url.Parse(loc)
			if err != nil || target.Host != "" || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
				t.Errorf("%s redirects to %q", u, loc)
			}
		}
		if resp.StatusCode >= 500 {
			t.Errorf("%s = %d", u, resp.StatusCode)
		}
	}
}

// Methods a route does not have are refused without side effects.
func TestUnexpectedMethodsAreRefused(t *testing.T) {
	base := bundledSite(t)
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		for _, p := range []string{"/", "/osiot/tyokyvyn-tuki", "/api/v1/course"} {
			req, _ := http.NewRequest(m, base+p, strings.NewReader("x=1"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 405 && resp.StatusCode != 404 {
				t.Errorf("%s %s = %d, want 404 or 405", m, p, resp.StatusCode)
			}
			checkHeaders(t, m+" "+p, resp.Header)
		}
	}
}
