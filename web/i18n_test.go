package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"

	"github.com/tyokyky/tyokyky/internal/i18n"
)

// dynamicPrefixes are the key prefixes the code completes at run time
// ("mail.state."+state, (print "role." .Role), "err."+code, ...). A
// catalogue key under one of them counts as used. Add a prefix here when
// code builds keys; grep for `"prefix." +` and `(print "prefix."`.
var dynamicPrefixes = []string{
	"account.notice.",        // api/account_handlers.go: "account.notice."+c.Query("ilmoitus")
	"mail.notice.",           // api/email_handlers.go: "mail.notice."+n
	"role.",                  // api/admin_handlers.go, admin_users.html: "role."+role
	"studio.structure.done.", // api/studio_structure.go: Notice key
	"err.",                   // api/errors.go: "err."+code and +".title"
	"feedback.kind.",         // inbox.html: (print "feedback.kind." .Kind)
	"status.",                // inbox.html: (print "status." .Status)
	"cert.state.",            // certificate.html: (print "cert.state." .State)
	"assign.status.",         // assignment.html, api/assign_handlers.go: (print "assign.status." .Status)
	"mail.state.",            // admin_mail*.html: (print "mail.state." .State)
	"fault.",                 // api/errors.go: a refusal's fault.Error.MessageKey(); api checks each code has one
}

// forms lists the plural forms a message has ("other" alone for a plain
// string).
func forms(m *goi18n.Message) []string {
	var f []string
	for _, x := range []struct{ name, text string }{{"zero", m.Zero}, {"one", m.One}, {"two", m.Two}, {"few", m.Few}, {"many", m.Many}, {"other", m.Other}} {
		if x.text != "" {
			f = append(f, x.name)
		}
	}
	return f
}

func formText(m *goi18n.Message, form string) string {
	return map[string]string{"zero": m.Zero, "one": m.One, "two": m.Two, "few": m.Few, "many": m.Many, "other": m.Other}[form]
}

// isPlural reports whether key has plural forms (is a table in the TOML).
func isPlural(key string) bool {
	m := i18n.Lookup(Langs[0], key)
	return m != nil && len(forms(m)) > 1
}

var verbRE = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\.\d+)?[a-zA-Z%]`)

// verbs lists the fmt verbs of s in order, each once ("%[1]d" may repeat
// in one language and not in another). A translation that needs another
// order of arguments must use indexed verbs (%[2]s) in every language.
func verbs(s string) []string {
	var v []string
	for _, x := range verbRE.FindAllString(s, -1) {
		if !slices.Contains(v, x) {
			v = append(v, x)
		}
	}
	return v
}

func TestCatalogueIsComplete(t *testing.T) {
	keys := map[string]bool{}
	for _, lang := range Langs {
		if len(i18n.Keys(lang)) == 0 {
			t.Fatalf("no messages for %s", lang)
		}
		for _, k := range i18n.Keys(lang) {
			keys[k] = true
		}
	}
	for k := range keys {
		fi := i18n.Lookup("fi", k)
		for _, lang := range Langs {
			m := i18n.Lookup(lang, k)
			if m == nil {
				t.Errorf("%s lacks %q", lang, k)
				continue
			}
			if m.Other == "" {
				t.Errorf("%s %q has no text (or no \"other\" form)", lang, k)
			}
			if fi == nil {
				continue
			}
			if !slices.Equal(forms(m), forms(fi)) {
				t.Errorf("%s %q has forms %v, fi has %v", lang, k, forms(m), forms(fi))
			}
			want := verbs(fi.Other)
			for _, f := range forms(m) {
				if strings.Contains(formText(m, f), "{{") {
					t.Errorf("%s %q (%s) has {{, which go-i18n would run as a template", lang, k, f)
				}
				if got := verbs(formText(m, f)); !slices.Equal(got, want) {
					t.Errorf("%s %q (%s) has format verbs %q, fi has %q", lang, k, f, got, want)
				}
			}
		}
		if len(forms(fi)) > 1 && !slices.Equal(forms(fi), []string{"one", "other"}) {
			t.Errorf("%q has forms %v; fi, sv and en use one and other", k, forms(fi))
		}
	}
}

// sources reads the Go files (not tests) of the module and the page
// templates, relative to the module root.
func sources(t *testing.T) (goFiles, templates map[string]string) {
	t.Helper()
	goFiles, templates = map[string]string{}, map[string]string{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != ".." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		isGo := strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go")
		isTemplate := strings.HasSuffix(path, ".html") && strings.Contains(filepath.ToSlash(path), "web/templates/")
		if !isGo && !isTemplate {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if isGo {
			goFiles[path] = string(b)
		} else {
			templates[path] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(templates) == 0 || len(goFiles) == 0 {
		t.Fatal("found no templates or Go files")
	}
	return goFiles, templates
}

var (
	actionRE   = regexp.MustCompile(`(?s){{.*?}}`)
	quotedRE   = regexp.MustCompile(`"([^"\\\n]*)"`)
	tmplCallRE = regexp.MustCompile(`\b(tn?)\s+\$?[\w.]+\s+"([^"]+)"`)
	goCallRE   = regexp.MustCompile(`\b(?:web\.)?(TN?)\((?:[^,"()]|\([^()]*\))*,\s*"([^"]+)"\s*[,)]`)
	// callTRE finds {{call .T "key"}} in templates inside Go code.
	callTRE = regexp.MustCompile(`{{-?\s*call\s+\$?\.T\s+"([^"]+)"`)
)

func TestEveryMessageIsUsed(t *testing.T) {
	goFiles, templates := sources(t)
	used := map[string]bool{}
	for _, src := range goFiles {
		// Every double-quoted string, also inside raw strings (templates
		// such as the media player's in api/player.go).
		for _, m := range quotedRE.FindAllStringSubmatch(src, -1) {
			used[m[1]] = true
		}
		for _, a := range actionRE.FindAllString(src, -1) {
			for _, m := range quotedRE.FindAllStringSubmatch(a, -1) {
				used[m[1]] = true
			}
		}
	}
	for _, src := range templates {
		for _, a := range actionRE.FindAllString(src, -1) {
			for _, m := range quotedRE.FindAllStringSubmatch(a, -1) {
				used[m[1]] = true
			}
		}
	}
	for _, k := range MessageKeys() {
		if used[k] || slices.ContainsFunc(dynamicPrefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
			continue
		}
		t.Errorf("%q is in the catalogue but no code or template uses it (remove it, or list its prefix in dynamicPrefixes)", k)
	}
}

func TestEveryUsedMessageExists(t *testing.T) {
	goFiles, templates := sources(t)
	check := func(where, fn, key string) {
		if !HasMessage("fi", key) {
			t.Errorf("%s: %s %q is not in the catalogue", where, fn, key)
			return
		}
		if plural := isPlural(key); plural && (fn == "t" || fn == "T") {
			t.Errorf("%s: %q has plural forms; use tn/TN with the count", where, key)
		} else if !plural && (fn == "tn" || fn == "TN") {
			t.Errorf("%s: %q has no plural forms; use t/T", where, key)
		}
	}
	n := 0
	for path, src := range templates {
		for _, a := range actionRE.FindAllString(src, -1) {
			for _, m := range tmplCallRE.FindAllStringSubmatch(a, -1) {
				check(path, m[1], m[2])
				n++
			}
		}
	}
	for path, src := range goFiles {
		if filepath.Base(path) == "i18n.go" && strings.Contains(path, "web") {
			continue
		}
		for _, m := range goCallRE.FindAllStringSubmatch(src, -1) {
			if !strings.Contains(path, "web") && !strings.Contains(m[0], "web.") {
				continue // another package's T
			}
			check(path, m[1], m[2])
			n++
		}
		for _, m := range callTRE.FindAllStringSubmatch(src, -1) {
			check(path, "T", m[1])
			n++
		}
	}
	if n < 500 {
		t.Errorf("found only %d uses of t/tn/T/TN; is the scan broken?", n)
	}
}

func TestMissingKeyShows(t *testing.T) {
	for _, lang := range append(Langs, "de") {
		if got := T(lang, "no.such.key"); got != "[no.such.key]" {
			t.Errorf("%s: missing key gives %q", lang, got)
		}
		if got := TN(lang, "no.such.key", 2); got != "[no.such.key]" {
			t.Errorf("%s: missing plural key gives %q", lang, got)
		}
	}
	if got := T("de", "nav.mail"); got != T("fi", "nav.mail") {
		t.Errorf("unknown language gives %q, not Finnish", got)
	}
}

func TestPluralForms(t *testing.T) {
	for _, c := range []struct {
		lang, key string
		n         any
		want      string
	}{
		{"fi", "exam.announce", 0, "Aikaa jäljellä 0 minuuttia."},
		{"fi", "exam.announce", 1, "Aikaa jäljellä 1 minuutti."},
		{"fi", "exam.announce", 2, "Aikaa jäljellä 2 minuuttia."},
		{"sv", "exam.announce", 0, "0 minuter kvar."},
		{"sv", "exam.announce", 1, "1 minut kvar."},
		{"sv", "exam.announce", 2, "2 minuter kvar."},
		{"en", "exam.announce", 0, "0 minutes left."},
		{"en", "exam.announce", 1, "1 minute left."},
		{"en", "exam.announce", 2, "2 minutes left."},
		{"fi", "unit.hours", 1, "1 tunti"},
		{"fi", "unit.hours", 27, "27 tuntia"},
		{"sv", "unit.hours", 1, "1 timme"},
		{"en", "unit.hours", 0, "0 hours"},
		{"en", "unit.hours", 1, "1 hour"},
		// A number with a fraction is "other" in fi, sv and en.
		{"en", "unit.hours", 1.5, "1.5 hours"},
		{"fi", "unit.hours", "1.5", "1.5 tuntia"},
		{"fi", "unit.credits", 1, "1 opintopiste"},
		{"fi", "unit.credits", 2, "2 opintopistettä"},
		{"en", "cert.credits", 1, "1 credit (1 ECTS)"},
		{"en", "cert.credits", 2, "2 credits (2 ECTS)"},
		{"de", "exam.announce", 1, "Aikaa jäljellä 1 minuutti."},
		{"en", "exam.announce", uint(1), "1 minute left."},
		{"en", "exam.announce", int64(2), "2 minutes left."},
	} {
		if got := TN(c.lang, c.key, c.n); got != c.want {
			t.Errorf("TN(%s, %s, %v) = %q, want %q", c.lang, c.key, c.n, got, c.want)
		}
	}
	// Args replace n in the text: a number in the local format.
	if got := TN("fi", "module.time", 1.5, "1,5"); got != "Opiskeluaika noin 1,5 tuntia." {
		t.Errorf("decimal hours: %q", got)
	}
	if got := TN("fi", "module.time", 1.0, "1"); got != "Opiskeluaika noin 1 tunti." {
		t.Errorf("one hour: %q", got)
	}
	if got := TN("sv", "exam.unanswered", 1, 1, 5); got != "1 av 5 frågor obesvarad." {
		t.Errorf("two numbers: %q", got)
	}
}
