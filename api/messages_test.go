package api_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/web"
)

// missingMessage is what web.T shows for a key no catalogue has ("[exam.title]").
var missingMessage = regexp.MustCompile(`\[[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+\]`)

// TestEveryPageHasItsMessages renders every page of the registry in each UI
// language: no key missing from the catalogues ([key]) and no text that
// fmt could not fill (%!d(…), %!(EXTRA …)).
func TestEveryPageHasItsMessages(t *testing.T) {
	base := bundledSite(t)
	for _, p := range testenv.Pages {
		sess := sessionFor(t, base, p.State)
		path := pagePath(t, base, p.Path, sess)
		for _, lang := range []string{"fi", "sv", "en"} {
			cookie := "lang=" + lang
			if sess != "" {
				cookie += "; session=" + sess
			}
			resp, body := get(t, base+path, "Cookie", cookie)
			if resp.StatusCode != p.Status {
				t.Errorf("%s (%s) = %d, want %d", path, lang, resp.StatusCode, p.Status)
			}
			if m := missingMessage.FindString(body); m != "" {
				t.Errorf("%s (%s) shows a missing message %s", path, lang, m)
			}
			if i := strings.Index(body, "%!"); i >= 0 {
				t.Errorf("%s (%s) has a badly formatted message: %q", path, lang, body[max(0, i-60):min(len(body), i+60)])
			}
		}
	}
}

// TestEveryRefusalHasItsMessage: each refusal a domain package can return
// (internal/fault) has its message in every language, and the catalogue
// keeps no message of a code that no longer exists.
func TestEveryRefusalHasItsMessage(t *testing.T) {
	codes := fault.Codes()
	if len(codes) < 30 {
		t.Fatalf("only %d refusal codes registered: are the domain packages linked in?", len(codes))
	}
	for _, code := range codes {
		for _, lang := range web.Langs {
			if !web.HasMessage(lang, "fault."+code) {
				t.Errorf("%s has no message fault.%s", lang, code)
			}
		}
	}
	for _, key := range web.MessageKeys() {
		if code, ok := strings.CutPrefix(key, "fault."); ok && !slices.Contains(codes, code) {
			t.Errorf("%s has no refusal with that code", key)
		}
	}
}
