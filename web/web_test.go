package web

import (
	"html/template"
	"strings"
	"testing"
	"time"
)

func TestPagesParseAndAssetsAreFingerprinted(t *testing.T) {
	p, err := ParsePages(template.FuncMap{"t": T, "tn": TN, "hours": func(string, int) string { return "" }, "hoursOf": func(int) float64 { return 0 }, "join": strings.Join, "minutesOf": func(int) int { return 0 }, "themeName": func(s string) string { return s },
		"num": func(string, float64) string { return "" }, "inc": func(i int) int { return i + 1 }, "deref": func(*bool) bool { return false },
		"date": func(string, time.Time) string { return "" }, "isoDate": func(time.Time) string { return "" }, "otherOrganisation": func(string) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"home", "error", "module", "modules", "section", "legislation", "glossary", "concept", "login", "register", "verify", "reset", "account", "totp", "dashboard", "admin_users", "diagrams", "concept_edit", "feedback", "inbox", "accessibility", "privacy", "audit",
		"studio_media", "exam", "exam_attempt", "exam_check", "exam_result"} {
		if _, ok := p.pages[name]; !ok {
			t.Errorf("no page template %s", name)
		}
	}
	u, err := AssetURL("app.css")
	if err != nil || !strings.HasPrefix(u, "/static/app.") || len(u) != len("/static/app.")+12+len(".css") {
		t.Fatalf("asset URL %q, %v", u, err)
	}
	if _, err := AssetURL("nope.css"); err == nil {
		t.Fatal("unknown asset accepted")
	}
	a, immutable, ok := LookupAsset(strings.TrimPrefix(u, "/static/"))
	if !ok || !immutable || a.ContentType != "text/css; charset=utf-8" {
		t.Fatalf("lookup %v %v %+v", ok, immutable, a)
	}
}
