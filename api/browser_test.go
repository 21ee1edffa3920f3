package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/feedback"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/lti"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/sso"
	"github.com/tyokyky/tyokyky/studio"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/xapi"
)

// site is the platform with the real bundled course, shared by the
// browser, axe and Nu suites.
var (
	siteOnce     sync.Once
	siteURL      string
	siteErr      error
	siteAccounts *account.Store
	siteMedia    *media.Catalog
	siteCourse   *course.Course
	siteExam     *exam.Store
	siteOutbox   *mail.Outbox
	siteProgress *study.Progress
	// siteStudio and siteLibrary publish changes to the bundled site's
	// course (the offline suite publishes a new revision of a module).
	siteStudio  *studio.Store
	siteLibrary *course.Library
	// siteLTI is the LTI tool, with the registered platform siteLTIReg.
	siteLTI    *lti.Service
	siteLTIReg *lti.Registration
	// siteAssign and siteDirectory make the assignment the registry's
	// {assignment} names.
	siteAssign    *assign.Store
	siteDirectory *org.Directory
	siteDB        *database.DB
)

// courseMedia makes the bundled course's videos and podcasts the way `make
// media` does, from the first paragraphs of each script (seconds, not
// minutes, of media), so pages with players are checked with real media.
func courseMedia(c *course.Course, db *database.DB, store *media.ObjectStore) (*media.Catalog, error) {
	lib := media.NewCatalog(db, store, media.Options{})
	for id, m := range c.Media {
		paras := strings.Split(m.Script(), "\n\n")
		if len(paras) > 4 {
			paras = paras[:4]
		}
		script := media.Script{ID: id, Title: m.Title, Kind: m.Kind, Text: strings.Join(paras, "\n\n"), Footer: c.Meta.Title}
		if _, err := lib.Produce(context.Background(), script); err != nil {
			return nil, fmt.Errorf("course media: %w", err)
		}
	}
	return lib, lib.Refresh(context.Background())
}

func bundledSite(t *testing.T) string {
	t.Helper()
	siteOnce.Do(func() {
		c, problems := course.Load(content.Bundled())
		if len(problems) > 0 {
			siteErr = fmt.Errorf("bundled course: %s", problems.Error())
			return
		}
		store, err := env.Store(context.Background())
		if err != nil {
			siteErr = err
			return
		}
		accounts, progress, db := studyStores(&testing.T{})
		siteAccounts, siteCourse, siteProgress = accounts, c, progress
		// Pirkanmaa has units, one renamed and moved, and a domain, so that
		// the directory's pages and the unit choices show every part.
		if siteErr = seedDirectory(db); siteErr != nil {
			return
		}
		siteMedia, siteErr = courseMedia(c, db, store)
		if siteErr != nil {
			return
		}
		if siteErr = exam.EnsureIndexes(context.Background(), db); siteErr != nil {
			return
		}
		exams := exam.NewStore(db, nil)
		siteExam = exams
		if siteErr = mail.EnsureIndexes(context.Background(), db); siteErr != nil {
			return
		}
		siteOutbox = mail.NewOutbox(db, api.MailRenderer(), "localhost", true)
		if siteErr = assign.EnsureIndexes(context.Background(), db); siteErr != nil {
			return
		}
		siteAssign, siteDirectory, siteDB = assign.NewStore(db), org.NewDirectory(db), db
		// The course in a content store, so that the studio can publish.
		if siteErr = studio.EnsureIndexes(context.Background(), db); siteErr != nil {
			return
		}
		contentStore := studio.NewStore(db)
		if _, _, siteErr = contentStore.Import(context.Background(), content.Bundled(), "test"); siteErr != nil {
			return
		}
		library, err := course.NewLibrary(context.Background(), contentStore, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			siteErr = err
			return
		}
		siteCourse = library.Current().Course
		siteStudio, siteLibrary = contentStore, library
		keyDir, err := os.MkdirTemp("", "tyokyky-keys-")
		if err != nil {
			siteErr = err
			return
		}
		certs, err := certificates(context.Background(), db, keyDir, library, accounts, exams)
		if err != nil {
			siteErr = err
			return
		}
		// The LTI tool with a registered platform, so that its page shows
		// every part.
		tool, err := newLTITool(context.Background(), db, accounts, org.NewDirectory(db), keyDir)
		if err != nil {
			siteErr = err
			return
		}
		siteLTI = tool
		var errs []error
		if siteLTIReg, errs = tool.AddRegistration(context.Background(), lti.Registration{Name: "Moodle Pirha", Issuer: "https://moodle.pirha.fi", ClientID: "Xk2Yq9tyokyky",
			AuthURL: "https://moodle.pirha.fi/mod/lti/auth.php", TokenURL: "https://moodle.pirha.fi/mod/lti/token.php", JWKSURL: "https://moodle.pirha.fi/mod/lti/certs.php",
			Deployments: []string{"1", "2"}, Org: "pirkanmaa"}); len(errs) > 0 {
			siteErr = errs[0]
			return
		}
		// The learning records with a store configured, so that its page
		// shows every part (nothing is sent: no sender runs).
		records, err := newXAPI(db, library, api.Options{Accounts: accounts, Progress: progress, Exam: exams, Certificates: certs})
		if err != nil {
			siteErr = err
			return
		}
		if _, errs := records.AddLRS(context.Background(), xapi.LRS{Name: "Pirhan LRS", Endpoint: "https://lrs.pirha.fi/data/xAPI/", Username: "tyokyky"}, "Salasana-123"); len(errs) > 0 {
			siteErr = errs[0]
			return
		}
		srv, err := api.New(api.Options{
			XAPI:          records,
			LTI:           tool,
			Media:         siteMedia,
			Exam:          exams,
			Certificates:  certs,
			Mail:          siteOutbox,
			Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
			Library:       library,
			Studio:        contentStore,
			Accounts:      accounts,
			Progress:      progress,
			Feedback:      feedback.NewStore(db),
			Directory:     org.NewDirectory(db),
			Assign:        siteAssign,
			SSO:           sso.New(sso.Options{Directory: org.NewDirectory(db), Accounts: accounts, DB: db, BaseURL: "http://localhost"}),
			Database:      env.DB,
			Storage:       store,
			BaseURL:       "http://localhost",
			StorageOrigin: store.PublicOrigin(),
		})
		if err != nil {
			siteErr = err
			return
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			siteErr = err
			return
		}
		go srv.Serve(ln)
		siteURL = "http://" + ln.Addr().String()
	})
	if siteErr != nil {
		t.Fatal(siteErr)
	}
	return siteURL
}

// browser starts Debian's chromium headless with a fresh profile; it
// never downloads a browser.
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run `make test`, which installs Debian's chromium")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("lang", "fi-FI"),
		chromedp.Flag("accept-lang", "fi-FI,fi"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// artifact keeps a screenshot of the page when the test has failed.
func artifact(t *testing.T, ctx context.Context) {
	t.Helper()
	if !t.Failed() {
		return
	}
	root, err := testenv.ModuleRoot()
	if err != nil {
		return
	}
	dir := filepath.Join(root, "test-artifacts")
	os.MkdirAll(dir, 0o755)
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(80)); err == nil {
		name := filepath.Join(dir, regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_")+".jpg")
		if os.WriteFile(name, png, 0o644) == nil {
			t.Logf("screenshot: %s", name)
		}
	}
}

// tabTo presses Tab until the focused element matches the CSS selector,
// as a keyboard user would; it fails after max presses.
func tabTo(ctx context.Context, selector string, max int) error {
	for i := 0; i < max; i++ {
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			return err
		}
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%q)`, selector)))
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	at, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : ""`))
	return fmt.Errorf("%q not reached with %d presses of Tab (at %s)", selector, max, at)
}

// withSession sets the session cookie of base in the browser.
func withSession(base, sess string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: "session", Value: sess, URL: base})
		return err
	})
}

func evalString(ctx context.Context, js string) string {
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	return s
}

// pressEnterAndWait follows the focused link and waits for the next page.
func pressEnterAndWait(ctx context.Context, wantPath string) error {
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		path := evalString(ctx, `location.pathname + location.search`)
		if path == wantPath && evalString(ctx, `document.readyState`) == "complete" {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("Enter did not lead to %s (at %s)", wantPath, evalString(ctx, "location.pathname + location.search"))
}

// signedInBrowser starts the bundled site and a browser (screenshot on
// failure) for a new signed-in learner, whose session it returns.
func signedInBrowser(t *testing.T) (base string, ctx context.Context, sess string) {
	t.Helper()
	base = bundledSite(t)
	ctx = browser(t)
	t.Cleanup(func() { artifact(t, ctx) })
	return base, ctx, sessionFor(t, base, testenv.SignedIn)
}

// firstSection is the first section of the modules completed the way
// given (course.CompleteOnView, …); the test fails when there is none.
func firstSection(t *testing.T, completion string, modules ...*course.Module) *course.Section {
	t.Helper()
	for _, m := range modules {
		for _, sec := range m.Sections {
			if sec.Completion == completion {
				return sec
			}
		}
	}
	t.Fatalf("no section completed on %s", completion)
	return nil
}

// sessionFor returns a session cookie value for a page state: a new
// learner for SignedIn, a learner with two-factor authentication who has
// given only the password for SecondFactor, "" for Anonymous.
func sessionFor(t *testing.T, base string, state testenv.State) string {
	t.Helper()
	if state == testenv.Anonymous {
		return ""
	}
	ctx := context.Background()
	email := account.NewID()[:12] + "@example.fi"
	if state == testenv.Admin {
		// Through the forms, as an administrator signs in.
		b := newClient(t, base)
		b.register(email, "Sivu Testaaja")
		signInAdmin(t, b, siteAccounts, email)
		u, _ := url.Parse(base)
		for _, c := range b.http.Jar.Cookies(u) {
			if c.Name == "session" {
				return c.Value
			}
		}
		t.Fatal("no admin session")
	}
	// Directly in the store: the registration limit is for people, not
	// for test fixtures.
	u, errs := siteAccounts.Register(ctx, account.Registration{Email: email, Name: "Sivu Testaaja", Password: "oma pitkä salalause 2026", Organisation: account.Organisations[0]})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if state == testenv.SecondFactor {
		key, err := siteAccounts.BeginTOTP(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := account.CodeAt(key.Secret(), time.Now())
		if _, err := siteAccounts.ConfirmTOTP(ctx, u, code); err != nil {
			t.Fatal(err)
		}
	}
	token, _, err := siteAccounts.StartSession(ctx, u, state == testenv.SecondFactor, "test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// pagePath fills a registry path's placeholders for the session's
// learner: {attempt} with an open exam attempt, {submitted} with a
// submitted one, {certificate} with the certificate of a passed exam (a
// new learner's when the page is anonymous).
func pagePath(t *testing.T, base, path, sess string) string {
	t.Helper()
	switch {
	case strings.Contains(path, "{verify}"), strings.Contains(path, "{unsubscribe}"):
		u, errs := siteAccounts.Register(context.Background(), account.Registration{Email: account.NewID()[:12] + "@example.fi", Name: "Linkin Avaaja",
			Password: "oma pitkä salalause 2026", Organisation: account.Organisations[0]})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		token, _, err := siteAccounts.IssueVerification(context.Background(), u)
		if strings.Contains(path, "{unsubscribe}") {
			token, err = siteAccounts.UnsubscribeToken(context.Background(), u.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.NewReplacer("{verify}", token, "{unsubscribe}", token).Replace(path)
	case strings.Contains(path, "{deeplink}"):
		// A teacher's deep linking request of the page's user.
		_, u, err := siteAccounts.Session(context.Background(), sess)
		if err != nil {
			t.Fatal(err)
		}
		id, err := siteLTI.WaitForChoice(context.Background(), lti.DeepLinkRequest{UserID: u.ID, Registration: siteLTIReg.ID, Deployment: "1",
			ReturnURL: "https://moodle.pirha.fi/mod/lti/contentitem_return.php", Multiple: true})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Replace(path, "{deeplink}", id, 1)
	case strings.Contains(path, "{message}"):
		id, err := siteOutbox.Enqueue(context.Background(), mail.Request{To: "vastaanottaja@example.fi", Name: "Viestin Lukija", Kind: "test", Lang: "fi",
			Data: map[string]string{"site_url": "http://localhost"}})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Replace(path, "{message}", id, 1)
	case strings.Contains(path, "{assignment}"):
		return strings.Replace(path, "{assignment}", siteAssignment(t), 1)
	case strings.Contains(path, "{invite-mine}"):
		return strings.Replace(path, "{invite-mine}", inviteMine(t, sess), 1)
	case strings.Contains(path, "{invite}"):
		tree, err := siteDirectory.Units(context.Background(), "pirkanmaa")
		if err != nil {
			t.Fatal(err)
		}
		rows, errs := assign.ReadInvitations(strings.NewReader("Kutsuttu Henkilö,"+account.NewID()[:12]+"@example.fi,"+tree.Flat()[0].ID), tree, nil)
		if len(errs) == 0 {
			var issued []assign.Issued
			if issued, errs = siteAssign.Invite(context.Background(), "pirkanmaa", "test", "fi", rows, nil); len(errs) == 0 {
				return strings.Replace(path, "{invite}", issued[0].Token, 1)
			}
		}
		t.Fatal(errs)
	case strings.Contains(path, "{assigned}"):
		assignTo(t, sess)
		return strings.Replace(path, "{assigned}", "", 1)
	}
	if !strings.Contains(path, "{attempt}") && !strings.Contains(path, "{submitted}") && !strings.Contains(path, "{certificate}") {
		return path
	}
	if sess == "" {
		sess = sessionFor(t, base, testenv.SignedIn)
	}
	_, page := get(t, base+"/tili", "Cookie", "session="+sess)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token for the exam pages")
	}
	call := func(method, p string, body any) []byte {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+p, rd)
		req.Header.Set("Cookie", "session="+sess)
		req.Header.Set("X-CSRF-Token", m[1])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s = %d %s", method, p, resp.StatusCode, out)
		}
		return out
	}
	// The course completed first, as the exam's eligibility rule asks.
	_, u, err := siteAccounts.Session(context.Background(), sess)
	if err != nil {
		t.Fatal(err)
	}
	completeCourse(t, siteProgress, siteCourse, u.ID)
	var a struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(call("POST", "/api/v1/exam/attempts", nil), &a); err != nil || a.ID == "" {
		t.Fatalf("no attempt: %v", err)
	}
	switch {
	case strings.Contains(path, "{submitted}"):
		call("POST", "/api/v1/exam/attempts/"+a.ID+"/submit", nil)
		return strings.Replace(path, "{submitted}", a.ID, 1)
	case strings.Contains(path, "{certificate}"):
		// Every item answered with its key, so the exam is passed.
		at, err := siteExam.Get(context.Background(), u.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i := range at.Items {
			key := at.Items[i].Key()
			key.Seq = int64(i + 1)
			call("PUT", "/api/v1/exam/attempts/"+a.ID+"/answers/"+at.Items[i].ID, key)
		}
		call("POST", "/api/v1/exam/attempts/"+a.ID+"/submit", nil)
		return strings.Replace(path, "{certificate}", waitCertificate(t, base, sess), 1)
	}
	return strings.Replace(path, "{attempt}", a.ID, 1)
}

// waitCertificate waits for the session's learner's certificate (issued in
// the background after a passed exam) and returns its id.
func waitCertificate(t *testing.T, base, sess string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := get(t, base+"/api/v1/certificates", "Cookie", "session="+sess)
		var list struct {
			Certificates []struct{ ID string } `json:"certificates"`
		}
		if json.Unmarshal([]byte(body), &list) == nil && len(list.Certificates) > 0 {
			return list.Certificates[0].ID
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate after passing: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signInAdmin makes the registered user an administrator with
// two-factor authentication and signs the client in with both factors.
func signInAdmin(t testing.TB, b *browserClient, accounts *account.Store, email string) {
	t.Helper()
	signInAs(t, b, accounts, email, account.RoleAdmin)
}

// signInAs gives the registered user a role, two-factor authentication,
// and signs the client in with both factors.
func signInAs(t testing.TB, b *browserClient, accounts *account.Store, email, role string) {
	t.Helper()
	ctx := context.Background()
	u, err := accounts.SetRole(ctx, email, role)
	if err != nil {
		t.Fatal(err)
	}
	key, err := accounts.BeginTOTP(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := account.CodeAt(key.Secret(), time.Now())
	codes, err := accounts.ConfirmTOTP(ctx, u, code)
	if err != nil {
		t.Fatal(err)
	}
	b.post("/kirjaudu-ulos", url.Values{"csrf": {b.csrf("/")}})
	b.login(email, "oma pitkä salalause 2026")
	resp, _ := b.post("/kirjaudu/vahvista", url.Values{"csrf": {b.csrf("/kirjaudu/vahvista")}, "code": {codes[0]}, "jatka": {"/omat-opinnot"}})
	if resp.StatusCode != 303 {
		t.Fatalf("admin second factor = %d", resp.StatusCode)
	}
}

// TestLearnerJourneyWithKeyboard: a learner opens the front page and moves
// through the course with Tab and Enter only.
func TestLearnerJourneyWithKeyboard(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	// The first Tab reaches the skip link, and it is visible when focused.
	if err := tabTo(ctx, "a.skip-link", 1); err != nil {
		t.Fatal(err)
	}
	top, _ := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.activeElement.getBoundingClientRect().top`))
	if top < 0 {
		t.Fatalf("focused skip link is off screen (top %v)", top)
	}
	// Focus is visible: an outline is drawn around the focused element.
	if outline := evalString(ctx, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" || outline == "" {
		t.Fatalf("focused element has no visible outline (%q)", outline)
	}

	steps := []struct {
		selector, path string
	}{
		{`a.button[href="/osiot/tyokyvyn-tuki"]`, "/osiot/tyokyvyn-tuki"},
		{`a.button[href="/osiot/tyokyvyn-tuki/tyokyky-ja-osatyokykyisyys"]`, "/osiot/tyokyvyn-tuki/tyokyky-ja-osatyokykyisyys"},
		{`a[rel="next"]`, "/osiot/tyokyvyn-tuki/palvelupolku"},
		{`a[rel="prev"]`, "/osiot/tyokyvyn-tuki/tyokyky-ja-osatyokykyisyys"},
		{`a[hreflang="sv"]`, "/osiot/tyokyvyn-tuki/tyokyky-ja-osatyokykyisyys?lang=sv"},
	}
	for _, s := range steps {
		if err := tabTo(ctx, s.selector, 250); err != nil {
			t.Fatalf("on %s: %v", evalString(ctx, "location.pathname"), err)
		}
		if err := pressEnterAndWait(ctx, s.path); err != nil {
			t.Fatal(err)
		}
	}
	if lang := evalString(ctx, `document.documentElement.lang`); lang != "sv" {
		t.Fatalf("after choosing Swedish the page is in %q", lang)
	}
	if skip := evalString(ctx, `document.querySelector(".skip-link").textContent`); skip != "Hoppa till innehållet" {
		t.Fatalf("Swedish UI string missing: %q", skip)
	}
	// The course text stays Finnish, marked as such.
	if lang := evalString(ctx, `document.querySelector(".prose").lang`); lang != "fi" {
		t.Fatalf("course text marked %q", lang)
	}
	// The choice is remembered on the next page.
	if err := tabTo(ctx, `a[rel="next"]`, 250); err != nil {
		t.Fatal(err)
	}
	if err := pressEnterAndWait(ctx, "/osiot/tyokyvyn-tuki/palvelupolku"); err != nil {
		t.Fatal(err)
	}
	if lang := evalString(ctx, `document.documentElement.lang`); lang != "sv" {
		t.Fatalf("language choice not remembered: %q", lang)
	}
	// The skip link moves focus to the main content.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/osiot/tyokyvyn-tuki/palvelupolku")); err != nil {
		t.Fatal(err)
	}
	if err := tabTo(ctx, "a.skip-link", 1); err != nil {
		t.Fatal(err)
	}
	chromedp.Do(ctx, chromedp.KeyEvent("\r"))
	time.Sleep(100 * time.Millisecond)
	if id := evalString(ctx, `document.activeElement.id`); id != "main" {
		t.Fatalf("skip link moved focus to %q", id)
	}
	// The task guidance opens from the keyboard.
	if err := tabTo(ctx, "details.task-guidance > summary", 300); err != nil {
		t.Fatal(err)
	}
	chromedp.Do(ctx, chromedp.KeyEvent("\r"))
	open, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("details.task-guidance").open`))
	if !open {
		t.Fatal("Enter did not open the task guidance")
	}
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

func axeSource(t *testing.T) string {
	t.Helper()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, ".tools", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is not installed: run `make test` (%v)", err)
	}
	return string(src)
}

// runAxe opens url, runs inject (to break the page on purpose in the
// harness test), then axe-core with the WCAG 2.0/2.1 A and AA rules.
func runAxe(t *testing.T, ctx context.Context, axe, pageURL, inject string, session ...string) (violations []axeViolation, passes int) {
	t.Helper()
	cookie := ""
	if len(session) > 0 {
		cookie = session[0]
	}
	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true})
			return err
		}),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			if cookie == "" {
				_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
				return err
			}
			_, err := cdp.Call(ctx, t, network.SetCookie, network.SetCookieParams{Name: "session", Value: cookie, URL: pageURL})
			return err
		}),
		chromedp.Navigate(pageURL),
	)
	if want, _ := url.Parse(pageURL); err == nil {
		if got := evalString(ctx, "location.pathname"); got != want.Path {
			t.Fatalf("opening %s landed on %s", pageURL, got)
		}
	}
	if err == nil && inject != "" {
		_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](inject))
	}
	if err != nil {
		t.Fatal(err)
	}
	return axeHere(t, ctx, axe)
}

// axeHere runs axe-core on the page the browser shows (opened with the
// page's CSP bypassed, as runAxe does).
func axeHere(t *testing.T, ctx context.Context, axe string) (violations []axeViolation, passes int) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axe)); err != nil {
		t.Fatal(err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => JSON.stringify({passes: r.passes.length, violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))}))}))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Passes     int            `json:"passes"`
		Violations []axeViolation `json:"violations"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("axe result %q: %v", out, err)
	}
	return res.Violations, res.Passes
}

// TestAccessibility runs axe-core (WCAG 2.0 and 2.1, A and AA) on every
// page of the registry in the real browser, then checks that it reflows
// at 320 px and with the text at 200 % (checkReflow): zero violations.
func TestAccessibility(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	axe := axeSource(t)
	for _, p := range testenv.Pages {
		t.Run(p.Name, func(t *testing.T) {
			defer artifact(t, ctx)
			sess := sessionFor(t, base, p.State)
			violations, passes := runAxe(t, ctx, axe, base+pagePath(t, base, p.Path, sess), "", sess)
			if passes < 10 {
				t.Errorf("%s: axe passed only %d rules: did it run?", p.Path, passes)
			}
			for _, v := range violations {
				t.Errorf("%s: axe %s (%s): %s at %s", p.Path, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, ", "))
			}
			checkReflow(t, ctx, p.Path)
		})
	}
}

// The harness itself must catch what it is there to catch.
func TestAxeHarnessFindsViolations(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	violations, _ := runAxe(t, ctx, axeSource(t), base+"/", `
		const img = document.createElement("img"); img.src = "/static/favicon.svg"; document.querySelector("main").appendChild(img);
		const p = document.createElement("p"); p.textContent = "haalea"; p.style.color = "#ddd"; document.querySelector("main").appendChild(p);`)
	found := map[string]bool{}
	for _, v := range violations {
		found[v.ID] = true
	}
	if !found["image-alt"] || !found["color-contrast"] {
		t.Fatalf("axe did not report the planted problems: %+v", violations)
	}
}

// nuCheck runs the Nu HTML Checker once over pages (name → HTML) plus a
// planted broken document, and reports every error; it fails when the
// planted error is not found (the checker did not run).
func nuCheck(t *testing.T, pages map[string]string) {
	t.Helper()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	jar := filepath.Join(root, ".tools", "node_modules", "vnu-jar", "build", "dist", "vnu.jar")
	if _, err := os.Stat(jar); err != nil {
		t.Fatalf("vnu-jar is not installed: run `make test` (%v)", err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatal("java is not installed: run `make test`, which installs default-jre-headless")
	}
	dir := t.TempDir()
	names := map[string]string{}
	var files []string
	i := 0
	for name, body := range pages {
		i++
		f := filepath.Join(dir, fmt.Sprintf("page%03d.html", i))
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		names["file:"+f] = name
		files = append(files, f)
	}
	planted := filepath.Join(dir, "planted.html")
	os.WriteFile(planted, []byte("<!doctype html><html lang=fi><head></head><body><p>x</p></body></html>"), 0o644)
	names["file:"+planted] = "planted"
	files = append(files, planted)
	out, _ := exec.Command(java, append([]string{"-jar", jar, "--errors-only", "--format", "json", "--stdout"}, files...)...).Output()
	var res struct {
		Messages []struct {
			Type    string `json:"type"`
			URL     string `json:"url"`
			Line    int    `json:"lastLine"`
			Column  int    `json:"lastColumn"`
			Message string `json:"message"`
			Extract string `json:"extract"`
			SubType string `json:"subType"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("vnu output %q: %v", out, err)
	}
	plantedFound := false
	for _, m := range res.Messages {
		if names[m.URL] == "planted" {
			plantedFound = true
			continue
		}
		if m.Type == "error" || m.SubType == "fatal" {
			t.Errorf("%s:%d:%d: %s (%q)", names[m.URL], m.Line, m.Column, m.Message, m.Extract)
		}
	}
	if !plantedFound {
		t.Error("the Nu checker did not report the planted broken document")
	}
	t.Logf("Nu checked %d pages", len(pages))
}

// TestValidHTML runs the Nu HTML Checker over every page of the registry:
// zero errors.
func TestValidHTML(t *testing.T) {
	base := bundledSite(t)
	pages := map[string]string{}
	for _, p := range testenv.Pages {
		var resp *http.Response
		var body string
		if sess := sessionFor(t, base, p.State); sess != "" {
			resp, body = get(t, base+pagePath(t, base, p.Path, sess), "Cookie", "session="+sess)
		} else {
			resp, body = get(t, base+pagePath(t, base, p.Path, ""))
		}
		if resp.StatusCode != p.Status {
			t.Errorf("%s = %d, want %d", p.Path, resp.StatusCode, p.Status)
		}
		pages[p.Path+" ("+string(p.State)+")"] = body
	}
	nuCheck(t, pages)
}

// TestEveryCoursePage: the front page, every module page and every section
// of the bundled course pass the Nu checker and axe, anonymous and signed
// in.
func TestEveryCoursePage(t *testing.T) {
	base := bundledSite(t)
	_, course := get(t, base+"/api/v1/course")
	var c struct {
		Modules []struct {
			URL      string `json:"url"`
			Sections []struct {
				URL string `json:"url"`
			} `json:"sections"`
		} `json:"modules"`
	}
	if err := json.Unmarshal([]byte(course), &c); err != nil {
		t.Fatal(err)
	}
	paths := []string{"/"}
	for _, m := range c.Modules {
		paths = append(paths, m.URL)
		for _, s := range m.Sections {
			paths = append(paths, s.URL)
		}
	}
	learner := sessionFor(t, base, testenv.SignedIn)
	pages := map[string]string{}
	for _, p := range paths {
		_, anon := get(t, base+p)
		_, signed := get(t, base+p, "Cookie", "session="+learner)
		pages[p] = anon
		pages[p+" (signed in)"] = signed
	}
	nuCheck(t, pages)

	ctx := browser(t)
	axe := axeSource(t)
	for _, p := range paths {
		for _, sess := range []string{"", learner} {
			violations, _ := runAxe(t, ctx, axe, base+p, "", sess)
			for _, v := range violations {
				t.Errorf("%s (signed in: %v): axe %s (%s): %s at %s", p, sess != "", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, ", "))
			}
			if sess != "" {
				checkReflow(t, ctx, p+" (signed in)")
			}
		}
	}
	t.Logf("axe checked %d pages twice, reflow once", len(paths))
}

// waitFor polls a JavaScript condition for up to 30 seconds (a page
// that loads slowly under the race detector on a busy machine — the
// studio's pages in a full run — took over 10).
func waitFor(t *testing.T, ctx context.Context, js, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (at %s)", what, evalString(ctx, "location.pathname + location.search"))
}

// TestSignUpStudyAndContinueOnAnotherBrowser: a learner signs up, reads a
// page to its end (marked done), writes an answer (saved as they type),
// signs out, signs in on a fresh browser profile and is offered to
// continue where they left off.
func TestSignUpStudyAndContinueOnAnotherBrowser(t *testing.T) {
	base := bundledSite(t)
	email := account.NewID()[:12] + "@example.fi"
	const password = "selaimen pitkä salalause"

	ctx := browser(t)
	defer artifact(t, ctx)
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/rekisteroidy"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Selma Selain"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SetValue(chromedp.CSS("#organisation"), "lappi"), // Lapin hyvinvointialue, by its short code
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
	)
	if err != nil {
		t.Fatal(err)
	}
	// Registering signs nobody in (a taken address must get the same
	// answer); the page's link leads to the sign-in form, address filled.
	waitFor(t, ctx, `location.pathname === "/rekisteroidy" && !!document.querySelector('a[href^="/kirjaudu?email="]')`, "the check-your-e-mail page")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href^="/kirjaudu?email="]`)),
		chromedp.WaitVisible(chromedp.CSS("#password")),
	); err != nil {
		t.Fatal(err)
	}
	if got := evalString(ctx, `document.querySelector("#email").value`); got != email {
		t.Fatalf("the sign-in form has %q, want %q", got, email)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#password"), password), chromedp.Submit(chromedp.CSS("#password"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `location.pathname === "/omat-opinnot"`, "the dashboard after signing up")

	// Read a page to its end: reaching the end marks it done.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/osiot/tyokyvyn-tuki/tyokyky-ja-osatyokykyisyys")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.readyState === "complete"`, "the page")
	chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.documentElement.scrollHeight)`))
	waitFor(t, ctx, `!!document.querySelector("#valmis .done-mark")`, "the page to be marked done")
	chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`location.reload()`))
	waitFor(t, ctx, `document.readyState === "complete" && !!document.querySelector("#valmis .done-mark")`, "the mark after reloading")

	// An answer is saved while typing.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/osiot/tyokyvyn-tuki/palvelupolku")); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("form.task-answer textarea"), "Meillä polku katkeaa seurannassa.")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.querySelector("form.task-answer .save-status").textContent === "Tallennettu."`, "the autosave")
	chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 400)`))
	time.Sleep(200 * time.Millisecond)

	// Sign out.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form[action="/kirjaudu-ulos"] button`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `location.pathname === "/" && !!document.querySelector('a[href="/kirjaudu"]')`, "signing out")

	// A fresh profile: sign in and continue.
	fresh := browser(t)
	defer artifact(t, fresh)
	err = chromedp.Do(fresh,
		chromedp.Navigate(base+"/kirjaudu"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, fresh, `location.pathname === "/omat-opinnot" && document.readyState === "complete"`, "the dashboard on the fresh browser")
	href := evalString(fresh, `(document.querySelector(".continue a") || {}).getAttribute ? document.querySelector(".continue a").getAttribute("href") : ""`)
	if href != "/osiot/tyokyvyn-tuki/palvelupolku?jatka=1" {
		t.Fatalf("continue link %q, want the page last studied", href)
	}
	if err := chromedp.Do(fresh, chromedp.Click(chromedp.CSS(".continue a"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, fresh, `location.pathname === "/osiot/tyokyvyn-tuki/palvelupolku" && document.readyState === "complete" && !!document.querySelector("form.task-answer textarea")`, "continuing")
	if text := evalString(fresh, `document.querySelector("form.task-answer textarea").value`); text != "Meillä polku katkeaa seurannassa." {
		t.Fatalf("the answer on the other browser is %q", text)
	}
}

// A glossary term's definition opens with the keyboard and closes with
// Escape, returning to the term.
func TestGlossaryPopoverWithKeyboard(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/osiot/tyokyvyn-tuki/palvelupolku")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.readyState === "complete"`, "the page")
	if err := tabTo(ctx, "a.term", 300); err != nil {
		t.Fatal(err)
	}
	term := evalString(ctx, `document.activeElement.textContent`)
	chromedp.Do(ctx, chromedp.KeyEvent("\r"))
	waitFor(t, ctx, `!!document.querySelector(".term-popover") && document.activeElement === document.querySelector(".term-popover")`, "the popover to open and take focus")
	if def := evalString(ctx, `document.querySelector(".term-popover .term-definition").textContent`); len(def) < 20 {
		t.Fatalf("popover for %q shows no definition: %q", term, def)
	}
	if got := evalString(ctx, `document.querySelector("a.term[aria-expanded=true]").textContent`); got != term {
		t.Fatalf("expanded term %q, want %q", got, term)
	}
	chromedp.Do(ctx, chromedp.KeyEvent(kb.Escape))
	waitFor(t, ctx, `!document.querySelector(".term-popover")`, "Escape to close the popover")
	if got := evalString(ctx, `document.activeElement.textContent`); got != term {
		t.Fatalf("focus after closing is on %q, want the term %q", got, term)
	}
	// With the popover open, the page still passes axe.
	chromedp.Do(ctx, chromedp.KeyEvent("\r"))
	waitFor(t, ctx, `!!document.querySelector(".term-popover")`, "the popover again")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axeSource(t))); err != nil {
		t.Fatal(err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => JSON.stringify(r.violations.map(v => v.id + ": " + v.help + " at " + v.nodes.map(n => n.target.join(" ")).join(", "))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if out != "[]" {
		t.Errorf("axe with a popover open: %s", out)
	}
}

// A visitor sends accessibility feedback in the browser; an administrator
// finds it first in the inbox with its deadline and answers it.
func TestFeedbackIsSentAndAnswered(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)
	message := "Kuvan " + account.NewID()[:6] + " tekstivastine puuttuu."
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/palaute?sivu=/osiot/tyokyvyn-tuki"),
		chromedp.Click(chromedp.CSS("#kind-accessibility")),
		chromedp.SendKeys(chromedp.CSS("#message"), message),
		chromedp.SendKeys(chromedp.CSS("#contact"), "palautteen.antaja@example.fi"),
		chromedp.Submit(chromedp.CSS("#message")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!!document.querySelector(".notice") && document.querySelector(".notice").textContent.includes("14")`, "the thank-you with the 14-day promise")

	admin := browser(t)
	defer artifact(t, admin)
	sess := sessionFor(t, base, testenv.Admin)
	err = chromedp.Do(admin,
		withSession(base, sess),
		chromedp.Navigate(base+"/yllapito/palaute"),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, admin, `document.readyState === "complete"`, "the inbox")
	first := evalString(admin, `document.querySelector("article.feedback-item blockquote").textContent.trim()`)
	if first != message {
		t.Fatalf("the inbox starts with %q, want the accessibility feedback %q", first, message)
	}
	if !strings.Contains(evalString(admin, `document.querySelector("article.feedback-item .deadline").textContent`), "Vastattava viimeistään") {
		t.Fatal("no deadline shown")
	}
	err = chromedp.Do(admin,
		chromedp.SetValue(chromedp.CSS("article.feedback-item select"), "answered"),
		chromedp.SendKeys(chromedp.CSS("article.feedback-item textarea"), "Korjattu, kiitos."),
		chromedp.Submit(chromedp.CSS("article.feedback-item textarea")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, admin, `location.search.includes("tallennettu") && document.readyState === "complete"`, "saving the answer")
	answered := evalString(admin, `[...document.querySelectorAll("article.feedback-item")].filter(a => a.textContent.includes(`+strconvQuote(message)+`)).map(a => a.querySelector("h2").textContent).join("")`)
	if !strings.Contains(answered, "Vastattu") {
		t.Fatalf("the feedback is not marked answered: %q", answered)
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestVideoPlayerTranscriptAndProgress: a signed-in learner's section
// video loads with its Finnish captions on, the transcript cues seek with
// the keyboard, the speed control works, and playing it through records
// the played share, completes the page and offers to resume.
func TestVideoPlayerTranscriptAndProgress(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)
	sess := sessionFor(t, base, testenv.SignedIn)
	const pagePath = "/osiot/tyokyvyn-tuki/tyokykyohjelma"
	err := chromedp.Do(ctx,
		withSession(base, sess),
		chromedp.Navigate(base+pagePath),
	)
	if err != nil {
		t.Fatal(err)
	}
	const v = `document.querySelector("#player-m1-tyokyvyn-tuen-polku")`
	waitFor(t, ctx, v+`.readyState >= 1 && `+v+`.duration > 5`, "the video's metadata")
	waitFor(t, ctx, v+`.textTracks.length === 1 && `+v+`.textTracks[0].language === "fi" && `+v+`.textTracks[0].mode === "showing" && `+v+`.textTracks[0].cues && `+v+`.textTracks[0].cues.length > 3`,
		"the Finnish caption track, showing, with its cues")
	if label := evalString(ctx, v+`.textTracks[0].label`); label != "Suomi" {
		t.Fatalf("caption track label %q", label)
	}
	// The track can be switched off and on again (what the player's
	// captions menu does).
	if mode := evalString(ctx, `(function(){var tr=`+v+`.textTracks[0]; tr.mode="disabled"; var a=tr.mode; tr.mode="showing"; return a+"/"+tr.mode;})()`); mode != "disabled/showing" {
		t.Fatalf("track modes %q", mode)
	}

	// The third cue of the transcript, reached with Tab and pressed with
	// Enter, seeks there and marks it current.
	start := evalString(ctx, `document.querySelectorAll("#media-m1-tyokyvyn-tuen-polku .cue")[2].getAttribute("data-start")`)
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`#media-m1-tyokyvyn-tuen-polku .cue`))); err != nil {
		t.Fatal(err)
	}
	if err := tabTo(ctx, `#media-m1-tyokyvyn-tuen-polku li:nth-child(3) .cue`, 3); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, fmt.Sprintf(`Math.abs(%s.currentTime - %s) < 1.5 && document.querySelector("#media-m1-tyokyvyn-tuen-polku .cue.current") !== null`, v, start),
		"the video at the cue's time with a current cue")
	if cur := evalString(ctx, `document.querySelector("#media-m1-tyokyvyn-tuen-polku .cue[aria-current=true]").getAttribute("data-start")`); cur == "" {
		t.Fatal("no cue marked aria-current")
	}
	// Pausing records where the learner stopped; the page offers to resume
	// from there.
	time.Sleep(time.Second)
	stoppedAt := evalString(ctx, `(function(){`+v+`.pause(); return String(Math.floor(`+v+`.currentTime));})()`)
	time.Sleep(500 * time.Millisecond)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+pagePath)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.querySelector("#media-m1-tyokyvyn-tuen-polku .player-resume").hidden === false`, "the offer to resume")
	if at := evalString(ctx, `document.querySelector("#media-m1-tyokyvyn-tuen-polku .player-resume span").textContent`); at != "0:"+fmt.Sprintf("%02s", stoppedAt) {
		t.Fatalf("resume from %q, stopped at %s s", at, stoppedAt)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#media-m1-tyokyvyn-tuen-polku .player-resume-button`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, fmt.Sprintf(`%s.currentTime >= %s && !%s.paused`, v, stoppedAt, v), "playback resumed where it stopped")

	// Twice the speed from the speed control, then play it from the start
	// to the end.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`#media-m1-tyokyvyn-tuen-polku .player-speed`), "2"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#media-m1-tyokyvyn-tuen-polku .player-speed").dispatchEvent(new Event("change"))`)); err != nil {
		t.Fatal(err)
	}
	if rate := evalString(ctx, `String(`+v+`.playbackRate)`); rate != "2" {
		t.Fatalf("playback rate %s", rate)
	}
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](v+`.pause(); `+v+`.currentTime = 0; `+v+`.muted = true; `+v+`.play()`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for evalString(ctx, `String(`+v+`.ended)`) != "true" {
		if time.Now().After(deadline) {
			t.Fatalf("the video did not play to its end (at %s s)", evalString(ctx, `String(`+v+`.currentTime)`))
		}
		time.Sleep(250 * time.Millisecond)
	}
	waitFor(t, ctx, `!!document.querySelector("#valmis .done-mark")`, "the page marked done after playing the video")

	// Back on the page: the played share is recorded; played to the end,
	// there is nothing to resume.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+pagePath)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.readyState === "complete"`, "the page again")
	state := evalString(ctx, `document.querySelector("article[data-progress]").getAttribute("data-media-state")`)
	m := regexp.MustCompile(`^m1-tyokyvyn-tuen-polku=([0-9.]+)/([0-9.]+)$`).FindStringSubmatch(state)
	if m == nil || m[2] < "0.9" {
		t.Fatalf("media state %q, want the video ≥ 90 %% played", state)
	}
	if hidden := evalString(ctx, `String(document.querySelector("#media-m1-tyokyvyn-tuen-polku .player-resume").hidden)`); hidden != "true" {
		t.Fatal("resuming is offered at the very end")
	}
}

// TestExamWithKeyboardOnly: a learner takes the exam with the keyboard
// alone (Tab, Space, arrow keys and Enter), answering every item right,
// checks and submits, and sees the pass.
func TestExamWithKeyboardOnly(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)
	sess := sessionFor(t, base, testenv.SignedIn)
	// The course completed, as the exam's eligibility rule asks.
	_, u, err := siteAccounts.Session(context.Background(), sess)
	if err != nil {
		t.Fatal(err)
	}
	completeCourse(t, siteProgress, siteCourse, u.ID)
	err = chromedp.Do(ctx,
		withSession(base, sess),
		chromedp.Navigate(base+"/tentti"),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.readyState === "complete"`, "the exam page")
	if err := tabTo(ctx, `form[action="/tentti/aloita"] button`, 40); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `/^\/tentti\/[a-z0-9]+$/.test(location.pathname) && document.readyState === "complete"`, "the attempt")
	var items []struct {
		Item    string   `json:"item"`
		Type    string   `json:"type"`
		Options []string `json:"options"`
		OptTxt  []string `json:"optionText"`
		Lefts   []string `json:"lefts"`
		LeftTxt []string `json:"leftText"`
		Rights  []string `json:"rights"`
	}
	js := `JSON.stringify(Array.from(document.querySelectorAll("fieldset[data-item]")).map(function (fs) { return {
		item: fs.dataset.item, type: fs.dataset.type,
		options: Array.from(fs.querySelectorAll("input[type=radio], input[type=checkbox]")).map(function (i) { return i.value; }),
		optionText: Array.from(fs.querySelectorAll(".choice label")).map(function (l) { return l.textContent; }),
		lefts: Array.from(fs.querySelectorAll("select")).map(function (s) { return s.id; }),
		leftText: Array.from(fs.querySelectorAll(".match-row label")).map(function (l) { return l.textContent; }),
		rights: fs.querySelector("select") ? Array.from(fs.querySelector("select").options).slice(1).map(function (o) { return o.textContent; }) : [] }; }))`
	if err := json.Unmarshal([]byte(evalString(ctx, js)), &items); err != nil || len(items) != siteCourse.Exam.Rules.PerModule*len(siteCourse.Modules) {
		t.Fatalf("items on the page: %d, %v", len(items), err)
	}
	key := func(k string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.KeyEvent(k)); err != nil {
			t.Fatal(err)
		}
	}
	for n, it := range items {
		bank := siteCourse.Exam.ByID[it.Item]
		// The options carry the attempt's own ids: the bank's option of
		// each is found by its text.
		correct := map[string]bool{}
		for i, id := range it.Options {
			for _, o := range bank.Options {
				if i < len(it.OptTxt) && o.Text == it.OptTxt[i] {
					correct[id] = o.Correct
				}
			}
		}
		// The first item is behind the header and the list of items.
		tabs := 10
		if n == 0 {
			tabs = 80
		}
		switch it.Type {
		case "single", "truefalse":
			want := ""
			if it.Type == "single" {
				for _, id := range it.Options {
					if correct[id] {
						want = id
					}
				}
			} else {
				want = strconv.FormatBool(*bank.Answer)
			}
			// Tab into the group (its first radio), Space selects it, an
			// arrow moves the selection down.
			if err := tabTo(ctx, "#q-"+it.Item+"-"+it.Options[0], tabs); err != nil {
				t.Fatal(err)
			}
			key(" ")
			for _, o := range it.Options {
				if o == want {
					break
				}
				key(kb.ArrowDown)
			}
		case "multiple":
			for _, id := range it.Options {
				if err := tabTo(ctx, "#q-"+it.Item+"-"+id, tabs); err != nil {
					t.Fatal(err)
				}
				if correct[id] {
					key(" ")
				}
			}
		case "matching":
			for i, sel := range it.Lefts {
				if err := tabTo(ctx, "#"+sel, tabs); err != nil {
					t.Fatal(err)
				}
				right := ""
				for _, p := range bank.Pairs {
					if p.Left == it.LeftTxt[i] {
						right = p.Right
					}
				}
				for j, r := range it.Rights {
					if r == right {
						for k := 0; k <= j; k++ {
							key(kb.ArrowDown)
						}
					}
				}
			}
		}
	}
	if got := evalString(ctx, `String(document.querySelectorAll("fieldset[data-item] input:checked").length)`); got == "0" {
		t.Fatal("the keyboard chose nothing")
	}
	if err := tabTo(ctx, `button[value="tarkista"]`, 10); err != nil {
		t.Fatal(err)
	}
	key("\r")
	waitFor(t, ctx, `location.pathname.endsWith("/tarkista") && document.readyState === "complete"`, "the check page")
	if txt := evalString(ctx, `document.querySelector("main").textContent`); !strings.Contains(txt, "Olet vastannut kaikkiin kysymyksiin.") {
		t.Fatalf("the check page: %s", txt)
	}
	if err := tabTo(ctx, `form[action$="/palauta"] button`, 40); err != nil {
		t.Fatal(err)
	}
	key("\r")
	waitFor(t, ctx, `location.pathname.endsWith("/tulos") && document.readyState === "complete"`, "the result")
	if txt := evalString(ctx, `document.querySelector(".notice").textContent`); !strings.Contains(txt, "Hyväksytty: 100 %") {
		t.Fatalf("the result says %q", txt)
	}
	// The result leads to the certificate, by keyboard too (once the
	// certificate, issued in the background, is there).
	waitCertificate(t, base, sess)
	if err := tabTo(ctx, `main a[href="/todistukset"]`, 20); err != nil {
		t.Fatal(err)
	}
	key("\r")
	waitFor(t, ctx, `location.pathname === "/todistukset" && document.readyState === "complete"`, "the certificates")
	if err := tabTo(ctx, `main a[href^="/todistus/"]`, 40); err != nil {
		t.Fatal(err)
	}
	key("\r")
	waitFor(t, ctx, `/^\/todistus\/[A-Za-z0-9_-]{22}$/.test(location.pathname) && document.readyState === "complete"`, "the certificate")
	if txt := evalString(ctx, `document.querySelector("main").textContent`); !strings.Contains(txt, "Voimassa") || !strings.Contains(txt, "Sivu Testaaja") {
		t.Fatalf("the certificate page: %s", txt)
	}
	page := evalString(ctx, `location.href`)
	violations, _ := runAxe(t, ctx, axeSource(t), page, "", sess)
	for _, v := range violations {
		t.Errorf("the certificate page: axe %s: %s", v.ID, v.Help)
	}
	_, html := get(t, page, "Cookie", "session="+sess)
	nuCheck(t, map[string]string{"the certificate after the keyboard exam": html})
}

// An author signed in with two factors edits a section in the studio,
// sees the preview follow the text, publishes, a learner sees the new
// text, and the author restores the old revision.
func TestStudioInTheBrowser(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)
	sess := sessionFor(t, base, testenv.Admin)
	const file = "modules/01-tyokyvyn-tuki/02-palvelupolku.md"
	const added = "Selaimessa kirjoitettu uusi kappale."
	err := chromedp.Do(ctx,
		withSession(base, sess),
		chromedp.Navigate(base+"/studio/sisalto/"+file),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.readyState === "complete" && !document.querySelector(".studio-toolbar").hidden`, "the editor")
	// Type at the end of the text, as an author does.
	evalString(ctx, `(function () { var t = document.getElementById("text"); t.focus(); t.selectionStart = t.selectionEnd = t.value.length; return ""; })()`)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\n"+added)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.getElementById("studio-rendered").textContent.indexOf(`+strconv.Quote(added)+`) >= 0`, "the preview to show the new text")
	waitFor(t, ctx, `document.getElementById("studio-status").textContent !== "" && document.getElementById("studio-status").textContent === document.querySelector("[data-msg-saved]").getAttribute("data-msg-saved")`, "the draft to be saved")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[value="publish"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `location.search.indexOf("ilmoitus=julkaistu") >= 0 && document.readyState === "complete"`, "the published notice")
	if _, page := get(t, base+"/osiot/tyokyvyn-tuki/palvelupolku"); !strings.Contains(page, added) {
		t.Fatal("a learner does not see the published text")
	}
	// Back to the revision before.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/studio/historia/"+file)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.readyState === "complete"`, "the history")
	prev := evalString(ctx, `(function () { var b = document.querySelectorAll("form[action^='/studio/palauta/'] button"); return b.length ? b[0].textContent : ""; })()`)
	if prev == "" {
		t.Fatal("no earlier revision to restore")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form[action^="/studio/palauta/"] button`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `location.search.indexOf("ilmoitus=palautettu") >= 0 && document.readyState === "complete"`, "the restored notice")
	if _, page := get(t, base+"/osiot/tyokyvyn-tuki/palvelupolku"); strings.Contains(page, added) {
		t.Fatal("the restored revision still has the added text")
	}
}

// An author adds a module with the keyboard: it is hidden, the structure
// page (with the hidden module) and the archive confirmation pass axe and
// Nu, and the confirmed archive takes it out again.
func TestStudioModulesInTheBrowser(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)
	axe := axeSource(t)
	sess := sessionFor(t, base, testenv.Admin)
	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true})
			return err
		}),
		withSession(base, sess),
		chromedp.Navigate(base+"/studio/rakenne"),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.readyState === "complete"`, "the structure page")
	// The form, field by field with Tab, sent with Enter.
	evalString(ctx, `(function () { document.getElementById("madd-title").focus(); return ""; })()`)
	for _, step := range []struct{ text, next string }{
		{"Selaimessa lisätty moduuli", "#madd-slug"},
		{"selainmoduuli", "#madd-summary"},
		{"Moduuli, joka lisättiin näppäimistöllä.", `button[type="submit"]`},
	} {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(step.text)); err != nil {
			t.Fatal(err)
		}
		if err := tabTo(ctx, step.next, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := pressEnterAndWait(ctx, "/studio/rakenne?ilmoitus=module-added"); err != nil {
		t.Fatal(err)
	}
	if got := evalString(ctx, `document.querySelector("#m-selainmoduuli .badge") ? document.querySelector("#m-selainmoduuli").textContent : ""`); !strings.Contains(got, "Selaimessa lisätty moduuli") {
		t.Fatalf("the hidden module is not on the page: %q", got)
	}
	pages := map[string]string{}
	src, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(location.href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	pages["structure with a hidden module"] = src
	violations, passes := axeHere(t, ctx, axe)
	if passes < 10 {
		t.Fatalf("axe passed only %d rules: did it run?", passes)
	}
	// Archive: the confirmation first.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#m-selainmoduuli ~ form button[value="module-archive"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.readyState === "complete" && !!document.getElementById("confirm-title")`, "the confirmation")
	pages["module archive confirmation"] = "<!DOCTYPE html>\n" + evalString(ctx, `document.documentElement.outerHTML`)
	more, _ := axeHere(t, ctx, axe)
	violations = append(violations, more...)
	for _, v := range violations {
		t.Errorf("axe %s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, ", "))
	}
	nuCheck(t, pages)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#confirm-title ~ form button`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `location.search.indexOf("ilmoitus=module-archived") >= 0 && document.readyState === "complete"`, "the archived notice")
	if evalString(ctx, `document.getElementById("m-selainmoduuli") ? "yes" : ""`) != "" {
		t.Fatal("the archived module is still on the page")
	}
}

// seedDirectory gives the bundled site's Pirkanmaa a unit tree with a
// history and an e-mail domain.
func seedDirectory(db *database.DB) error {
	ctx := context.Background()
	dir := org.NewDirectory(db)
	sote, err := dir.AddUnit(ctx, "pirkanmaa", "", "Sosiaali- ja terveyspalvelut", "seed")
	if err != nil {
		return err
	}
	perhe, err := dir.AddUnit(ctx, "pirkanmaa", sote.ID, "Perhepalvelut", "seed")
	if err != nil {
		return err
	}
	if _, err := dir.AddUnit(ctx, "pirkanmaa", perhe.ID, "Neuvola Hervanta", "seed"); err != nil {
		return err
	}
	hallinto, err := dir.AddUnit(ctx, "pirkanmaa", "", "Hallinto", "seed")
	if err != nil {
		return err
	}
	if err := dir.MoveUnit(ctx, "pirkanmaa", hallinto.ID, sote.ID, "seed"); err != nil {
		return err
	}
	if err := dir.RenameUnit(ctx, "pirkanmaa", hallinto.ID, "Hallinto ja talous", "seed"); err != nil {
		return err
	}
	if err := dir.AddDomain(ctx, "pirkanmaa", "pirha.fi"); err != nil {
		return err
	}
	// A provider (never reached: only its page is shown).
	_, errs := dir.AddProvider(ctx, org.Provider{ID: "pirha", Org: "pirkanmaa", Issuer: "https://login.example.fi/pirha", ClientID: "tyokyky",
		Claims: org.Claims{Unit: "department"}}, "salaisuus", bytes.Repeat([]byte{1}, 32))
	return errors.Join(errs...)
}

// siteAssignment is a new open assignment of pirkanmaa: a new learner of
// its first unit, assigned the first module.
func siteAssignment(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	tree, err := siteDirectory.Units(ctx, "pirkanmaa")
	if err != nil || len(tree.Units) == 0 {
		t.Fatalf("pirkanmaa's units: %v", err)
	}
	unit := tree.Flat()[0].ID
	u, errs := siteAccounts.Register(ctx, account.Registration{Email: account.NewID()[:12] + "@example.fi", Name: "Määrätty Oppija",
		Password: "oma pitkä salalause 2026", Organisation: "Pirkanmaan hyvinvointialue", OrgID: "pirkanmaa", UnitID: unit})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	a, errs := siteAssign.Create(ctx, assign.Assignment{Org: "pirkanmaa", Kind: assign.KindPeople, People: []string{u.ID},
		Modules: []string{siteCourse.Modules[0].Slug}, Due: time.Now().AddDate(0, 1, 0), Note: "Muistakaa <tämä>", CreatedBy: "test"},
		tree, []assign.Member{{ID: u.ID, Name: u.Name, Email: u.Email, Unit: unit}}, siteCourse)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return a.ID
}

// assignTo moves the session's learner to pirkanmaa's first unit and
// assigns them a module due in a month, the whole course overdue by ten
// days, and another module due today.
// minesInvited are the tokens of invitations made to signed-in people's
// own addresses, by address (a pending invitation is made once).
var minesInvited sync.Map

// inviteMine is the token of an invitation to the session's own address
// (the page where a signed-in person joins the invited unit).
func inviteMine(t *testing.T, sess string) string {
	t.Helper()
	ctx := context.Background()
	_, u, err := siteAccounts.Session(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	if token, ok := minesInvited.Load(u.Email); ok {
		return token.(string)
	}
	tree, err := siteDirectory.Units(ctx, "pirkanmaa")
	if err != nil {
		t.Fatal(err)
	}
	rows, errs := assign.ReadInvitations(strings.NewReader(u.Name+","+u.Email+","+tree.Flat()[0].ID), tree, nil)
	if len(errs) == 0 {
		var issued []assign.Issued
		if issued, errs = siteAssign.Invite(ctx, "pirkanmaa", "test", "fi", rows, nil); len(errs) == 0 {
			minesInvited.Store(u.Email, issued[0].Token)
			return issued[0].Token
		}
	}
	t.Fatal(errs)
	return ""
}

func assignTo(t *testing.T, sess string) {
	t.Helper()
	ctx := context.Background()
	_, u, err := siteAccounts.Session(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := siteDirectory.Units(ctx, "pirkanmaa")
	if err != nil || len(tree.Units) == 0 {
		t.Fatalf("pirkanmaa's units: %v", err)
	}
	unit := tree.Flat()[0].ID
	if err := siteAccounts.SetOrganisation(ctx, u.ID, "Pirkanmaan hyvinvointialue", "", "pirkanmaa", unit); err != nil {
		t.Fatal(err)
	}
	me := []assign.Member{{ID: u.ID, Name: u.Name, Email: u.Email, Unit: unit}}
	past := assign.NewStore(siteDB)
	past.SetClock(func() time.Time { return time.Now().AddDate(0, 0, -40) })
	for i, a := range []struct {
		store *assign.Store
		due   time.Time
		mods  []string
		note  string
	}{
		{siteAssign, time.Now().AddDate(0, 1, 0), []string{siteCourse.Modules[1].Slug}, "Tämä ennen kevättä, kiitos!"},
		{past, time.Now().AddDate(0, 0, -10), nil, ""},
		{siteAssign, time.Now(), []string{siteCourse.Modules[2].Slug}, ""},
	} {
		if _, errs := a.store.Create(ctx, assign.Assignment{Org: "pirkanmaa", Kind: assign.KindPeople, People: []string{u.ID}, Modules: a.mods,
			Due: a.due, Note: a.note, CreatedBy: "test"}, tree, me, siteCourse); len(errs) > 0 {
			t.Fatalf("assignment %d: %v", i, errs)
		}
	}
}
