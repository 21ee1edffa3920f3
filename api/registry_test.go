package api_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/internal/testenv"
)

// notPages are routes that answer something other than an HTML page
// (the employer sign-in's are redirects; their refusals are the sign-in
// page, which the registry has; the LTI login is a redirect and dynamic
// registration needs a platform, whose refusals the registry has, and
// the tool's key set is JSON).
var notPages = regexp.MustCompile(`^/(api/|static/|kurssi/kuvat/|media/|sanasto/teemat/|credentials/|\.well-known/|myontaja$|livez$|readyz$|metrics$)|\.(md|pdf|svg|png|jwt|csv|ics|webmanifest|js)$|^/yllapito/posti/[^/]+/html$|^/kirjaudu/(sso|oidc/)|^/lti/(login|jwks\.json|rekisteroi/:invitation)$`)

// Every page route must have a line in the page registry, so the browser,
// axe and Nu suites check it.
func TestPageRegistryCoversEveryPageRoute(t *testing.T) {
	r := start(t)
	param := regexp.MustCompile(`:[A-Za-z_]+`)
	for _, route := range r.App().GetRoutes(true) {
		if route.Method != "GET" || notPages.MatchString(route.Path) || strings.HasPrefix(route.Path, "/test/") {
			continue
		}
		re := regexp.MustCompile("^" + strings.ReplaceAll(param.ReplaceAllString(regexp.QuoteMeta(route.Path), `[^/?]+`), `\*`, `[^?]+`) + `(\?.*)?$`)
		covered := false
		for _, p := range testenv.Pages {
			if p.Status == 200 && re.MatchString(p.Path) {
				covered = true
			}
		}
		if !covered {
			t.Errorf("page route %s has no entry in testenv.Pages", route.Path)
		}
	}
}
