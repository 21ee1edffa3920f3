// Package architecture holds the test that keeps the package map of
// docs/architecture.md true: who may import whom, where Fiber and the
// MongoDB driver may appear.
package architecture

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/tyokyky/tyokyky/"

// domain lists the domain packages and the other domain packages each may
// import (they may always import internal/ plumbing, never api, web or
// cmd). Keep it in step with docs/architecture.md.
var domain = map[string][]string{
	"account":   nil,
	"course":    nil,
	"feedback":  nil,
	"mail":      nil,
	"media":     nil,
	"study":     {"course"},
	"studio":    {"course"},
	"exam":      {"course"},
	"exam/cert": {"course", "exam"},
	"report":    {"account", "course", "exam", "exam/cert", "study"},
	"erasure":   {"account", "assign", "exam", "exam/cert", "feedback", "lti", "mail", "study", "xapi"},
	"content":   nil,
	"migrate":   nil,
	"org":       nil,
	"sso":       {"account", "org"},
	"lti":       {"account", "course", "exam", "exam/cert", "org"},
	"assign":    {"course", "exam/cert", "org", "study"},
	"xapi":      {"course", "exam", "exam/cert"},
}

// storeFiles are the files of domain packages that may use the MongoDB
// driver: each package's storage code. Every other file of a domain
// package works on its own types only. A new store file is added here on
// purpose, in review.
var storeFiles = []string{
	"account/account.go", "account/audit.go", "account/identity.go", "account/email.go", "account/session.go", "account/totp.go",
	"assign/store.go",
	"exam/attempts.go", "exam/packed.go", "exam/stats.go", "exam/cert/keys.go", "exam/cert/store.go",
	"feedback/feedback.go", "mail/outbox.go", "mail/sender.go", "media/catalog.go", "migrate/migrate.go", "migrate/organisations.go", "migrate/gradelinks.go", "migrate/syncheads.go", "migrate/useremails.go", "org/store.go", "sso/store.go", "lti/store.go", "xapi/store.go",
	"report/summaries.go",
	"studio/drafts.go", "studio/store.go", "studio/structure.go", "study/playback.go", "study/progress.go", "study/sync.go",
}

// pkgImports maps each package directory (relative to the module root) to
// the imports of each of its non-test files.
func pkgImports(t *testing.T) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	fset := token.NewFileSet()
	walkGoFiles(t, func(rel, path string) error {
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		if out[dir] == nil {
			out[dir] = map[string][]string{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			out[dir][rel] = append(out[dir][rel], p)
		}
		return nil
	})
	return out
}

func isDriver(p string) bool {
	return strings.HasPrefix(p, "go.mongodb.org/mongo-driver/") && !strings.HasPrefix(p, "go.mongodb.org/mongo-driver/v2/bson")
}

func TestImportRules(t *testing.T) {
	pkgs := pkgImports(t)
	if len(pkgs) < 15 {
		t.Fatalf("found only %d packages: is the walk right?", len(pkgs))
	}
	for dir := range domain {
		if pkgs[dir] == nil {
			t.Errorf("domain package %s has no Go files: update the map here and in docs/architecture.md", dir)
		}
	}
	for dir, files := range pkgs {
		allowed, isDomain := domain[dir]
		for file, imports := range files {
			for _, p := range imports {
				local, own := strings.CutPrefix(p, module)
				switch {
				case (strings.HasPrefix(p, "github.com/gofiber/") || strings.HasPrefix(p, "github.com/valyala/fasthttp")) && dir != "api":
					t.Errorf("%s imports %s: only api may use Fiber", file, p)
				case own && local == "api" && dir != "cmd/tyokyky":
					t.Errorf("%s imports api: only the binary wires the HTTP layer", file)
				case own && strings.HasPrefix(local, "cmd/"):
					t.Errorf("%s imports %s: nothing imports the binary", file, p)
				case own && local == "web" && dir != "api" && dir != "cmd/tyokyky":
					t.Errorf("%s imports web: templates and assets are the HTTP layer's (words for PDFs and mail come from internal/i18n)", file)
				case isDriver(p) && isDomain && !slices.Contains(storeFiles, file):
					t.Errorf("%s imports %s: the MongoDB driver belongs in a package's store files (see storeFiles)", file, p)
				case isDriver(p) && !isDomain && dir != "internal/database" && dir != "internal/config":
					t.Errorf("%s imports %s: outside the domain stores only internal/database talks to the store", file, p)
				}
				if own && strings.HasPrefix(dir, "internal/") && dir != "internal/testenv" {
					if _, d := domain[local]; d || local == "api" || local == "web" {
						t.Errorf("%s imports %s: internal/ is plumbing and imports no domain or HTTP package", file, p)
					}
				}
				if own && isDomain {
					if _, d := domain[local]; d && !slices.Contains(allowed, local) {
						t.Errorf("%s imports %s: %s may import only %v of the domain packages", file, p, dir, allowed)
					}
				}
				if own && dir == "web" && local != "internal/i18n" {
					t.Errorf("%s imports %s: web holds templates, assets and words only", file, p)
				}
			}
		}
	}
	for _, f := range storeFiles {
		dir := filepath.ToSlash(filepath.Dir(f))
		if _, ok := pkgs[dir][f]; !ok {
			t.Errorf("store file %s does not exist: update storeFiles", f)
		}
	}
	if files := pkgs["course"]; files != nil {
		for file, imports := range files {
			for _, p := range imports {
				if p == module+"internal/database" || isDriver(p) {
					t.Errorf("%s imports %s: course is the published course and has no database code", file, p)
				}
			}
		}
	}
}

// Stores reach the document store only through database.Collection,
// which takes the embedded store's write gate itself: no code outside
// internal/database holds the gate, opens a driver collection or keeps a
// driver database.
func TestStoresWriteThroughTheSeam(t *testing.T) {
	bypass := regexp.MustCompile(`\.Database\.Collection\(|database\.Gate\b|\.Hold\(\)|\*mongo\.Collection\b|\*mongo\.Database\b|\.Client\.Database\(`)
	n := 0
	walkGoFiles(t, func(rel, path string) error {
		if strings.HasPrefix(rel, "internal/database/") {
			return nil
		}
		n++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			if m := bypass.FindString(line); m != "" {
				t.Errorf("%s:%d: %q bypasses database.Collection (the write gate's one seam)", rel, i+1, m)
			}
		}
		return nil
	})
	if n < 50 {
		t.Fatalf("scanned only %d files", n)
	}
}
