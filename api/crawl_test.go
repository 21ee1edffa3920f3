package api_test

import (
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/feedback"
	"github.com/tyokyky/tyokyky/mail"
)

// TestBundledCourseHasNoBrokenLinks crawls every page of the real course
// from the front page and checks every internal link and fragment.
func TestBundledCourseHasNoBrokenLinks(t *testing.T) {
	c, problems := course.Load(content.Bundled())
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	accounts, progress, db := studyStores(t)
	if err := mail.EnsureIndexes(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Options{BaseURL: "http://localhost", Library: course.NewStaticLibrary(&course.Published{Version: 1, Course: c}),
		Accounts: accounts, Progress: progress, Feedback: feedback.NewStore(db), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Mail: mail.NewOutbox(db, api.MailRenderer(), "localhost", true)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(5 * time.Second)
	base := "http://" + ln.Addr().String()

	hrefRE := regexp.MustCompile(`(?:href|src)="(/[^"]*)"`)
	idRE := regexp.MustCompile(`\sid="([^"]+)"`)
	ids := map[string]map[string]bool{}
	type ref struct{ from, frag string }
	fragments := map[string][]ref{}
	queue := []string{"/"}
	seen := map[string]bool{"/": true}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		resp, body := get(t, base+path)
		if resp.StatusCode != 200 {
			t.Errorf("%s = %d", path, resp.StatusCode)
			continue
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			continue
		}
		if landed := resp.Request.URL.Path; landed != path {
			// A page for the signed-in sent the anonymous crawler to sign
			// in: its fragments cannot be checked from here (the page's
			// own tests do), the sign-in page is crawled as itself.
			if !seen[landed] {
				seen[landed] = true
				queue = append(queue, landed)
			}
			continue
		}
		ids[path] = map[string]bool{}
		for _, m := range idRE.FindAllStringSubmatch(body, -1) {
			ids[path][m[1]] = true
		}
		for _, m := range hrefRE.FindAllStringSubmatch(body, -1) {
			target := strings.ReplaceAll(m[1], "&amp;", "&")
			target, frag, _ := strings.Cut(target, "#")
			target, _, _ = strings.Cut(target, "?")
			if target == "" {
				target = path
			}
			if frag != "" {
				fragments[target] = append(fragments[target], ref{path, frag})
			}
			if seen[target] {
				continue
			}
			seen[target] = true
			queue = append(queue, target)
		}
	}
	for target, refs := range fragments {
		for _, r := range refs {
			if ids[target] != nil && !ids[target][r.frag] {
				t.Errorf("%s links to %s#%s, which has no such id", r.from, target, r.frag)
			}
		}
	}
	if len(seen) < 33+4+74 {
		t.Errorf("crawled only %d addresses", len(seen))
	}
	t.Logf("crawled %d addresses", len(seen))
}
