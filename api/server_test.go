package api_test

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/feedback"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/egress"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/lti"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/migrate"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/report"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/xapi"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.Start) }

// running is a server listening on a real port.
type running struct {
	*api.Server
	URL   string
	store *media.ObjectStore
	db    *database.DB // accounts, progress and feedback
	media *media.Catalog
	done  chan error
	// lti is the LTI tool (its base URL is the server's address).
	lti *lti.Service
	// xapi sends the learning records.
	xapi *xapi.Service
	// summaries are the reports' (rebuilt by tests that write records
	// into the collections themselves).
	summaries *report.Summaries
}

func start(t *testing.T, configure ...func(*fiber.App)) *running {
	t.Helper()
	return startWith(t, fixture(t), configure...)
}

// startWith starts a server on a given course library.
func startWith(t *testing.T, library *course.Library, configure ...func(*fiber.App)) *running {
	t.Helper()
	return startOpts(t, library, nil, configure...)
}

// startOpts starts a server whose options (and media library options)
// a test may change.
func startOpts(t testing.TB, library *course.Library, change func(*api.Options, *media.Options), configure ...func(*fiber.App)) *running {
	t.Helper()
	ctx := context.Background()
	store, err := env.Store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	accounts, progress, db := studyStores(t)
	opts := api.Options{
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Library:       library,
		Accounts:      accounts,
		Progress:      progress,
		Feedback:      feedback.NewStore(db),
		Directory:     org.NewDirectory(db),
		Assign:        assign.NewStore(db),
		Database:      env.DB,
		Storage:       store,
		BaseURL:       "http://localhost",
		StorageOrigin: store.PublicOrigin(),
		CheckTimeout:  time.Second,
		Version:       "test-1",
	}
	mopts := media.Options{Logger: opts.Logger}
	if change != nil {
		change(&opts, &mopts)
	}
	if err := exam.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := assign.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	if opts.Exam == nil {
		opts.Exam = exam.NewStore(db, opts.Logger)
	}
	if opts.Certificates == nil {
		certs, err := certificates(t.Context(), db, t.TempDir(), library, accounts, opts.Exam)
		if err != nil {
			t.Fatal(err)
		}
		opts.Certificates = certs
	}
	if opts.Mail == nil {
		if err := mail.EnsureIndexes(ctx, db); err != nil {
			t.Fatal(err)
		}
		opts.Mail = mail.NewOutbox(db, api.MailRenderer(), "localhost", true)
	}
	if opts.LTI == nil {
		opts.LTI = ltiTool(t, db, opts.Accounts, opts.Directory)
	}
	if opts.XAPI == nil {
		opts.XAPI = xapiRecords(t, db, library, opts)
	}
	opts.XAPI.Follow(opts.Progress, opts.Exam, opts.Certificates)
	if opts.Summaries == nil {
		opts.Summaries = report.NewSummaries(db, report.Sources{Accounts: opts.Accounts, Progress: opts.Progress, Exam: opts.Exam, Certs: opts.Certificates,
			Course: func() *course.Course { return library.Current().Course }}, opts.Logger)
		opts.Summaries.Follow()
	}
	lib := media.NewCatalog(db, store, mopts)
	if err := lib.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	opts.Media = lib
	srv, err := api.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range configure {
		f(srv.App())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &running{Server: srv, URL: "http://" + ln.Addr().String(), store: store, db: db, media: lib, done: make(chan error, 1), lti: opts.LTI, xapi: opts.XAPI, summaries: opts.Summaries}
	opts.LTI.SetBaseURL(r.URL)
	runningAt.Store(r.URL, r) // for studied
	go func() { r.done <- srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(5 * time.Second) })
	return r
}

// xapiRecords is the learning records service on db, with a fresh key
// secret, queueing and sending (woken by each queueing, else every 250 ms)
// until the test ends.
func xapiRecords(t testing.TB, db *database.DB, library *course.Library, opts api.Options) *xapi.Service {
	t.Helper()
	svc, err := newXAPI(db, library, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go svc.Run(ctx)
	go svc.Send(ctx, 250*time.Millisecond)
	return svc
}

func newXAPI(db *database.DB, library *course.Library, opts api.Options) (*xapi.Service, error) {
	if err := xapi.EnsureIndexes(context.Background(), db); err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	src := xapi.Sources{Course: func() *course.Course {
		if pub := library.Current(); pub != nil {
			return pub.Course
		}
		return nil
	}}
	if opts.Progress != nil {
		src.Progress = opts.Progress
	}
	if opts.Exam != nil {
		src.Attempts = opts.Exam
	}
	if opts.Certificates != nil {
		src.Certificates = opts.Certificates
	}
	return xapi.New(xapi.Options{DB: db, KeySecret: secret, BaseURL: "http://localhost", Sources: src, Allow: egress.Loopback, Logger: slog.New(slog.DiscardHandler),
		Backoff: 100 * time.Millisecond,
		EmailOf: func(ctx context.Context, userID string) (string, error) {
			u, err := opts.Accounts.User(ctx, userID)
			if err != nil {
				return "", err
			}
			return u.Email, nil
		}}), nil
}

// ltiTool is the LTI tool on db: its keys (RS256, 2048 bits to start
// fast) in a temporary folder.
func ltiTool(t testing.TB, db *database.DB, accounts *account.Store, dir *org.Directory) *lti.Service {
	t.Helper()
	svc, err := newLTITool(t.Context(), db, accounts, dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc
}

func newLTITool(ctx context.Context, db *database.DB, accounts *account.Store, dir *org.Directory, keyDir string) (*lti.Service, error) {
	if err := lti.EnsureIndexes(ctx, db); err != nil {
		return nil, err
	}
	keys, err := cert.NewKeys(db, cert.KeyOptions{Alg: cert.AlgRS256, Dir: keyDir, Collection: lti.KeysCollection, RSABits: 2048})
	if err != nil {
		return nil, err
	}
	if err := keys.Load(ctx); err != nil {
		return nil, err
	}
	return lti.New(lti.Options{DB: db, Accounts: accounts, Directory: dir, Keys: keys, BaseURL: "http://localhost", UnknownKeyEvery: time.Millisecond, Allow: egress.Loopback,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}), nil
}

// certificates is a certificate store on db (keys in a temporary folder)
// that the exam store tells of passed attempts.
func certificates(ctx context.Context, db *database.DB, keyDir string, library *course.Library, accounts *account.Store, exams *exam.Store) (*cert.Store, error) {
	if err := cert.EnsureIndexes(ctx, db); err != nil {
		return nil, err
	}
	keys, err := cert.NewKeys(db, cert.KeyOptions{Dir: keyDir})
	if err != nil {
		return nil, err
	}
	if err := keys.Load(ctx); err != nil {
		return nil, err
	}
	certs := cert.NewStore(db, keys, cert.Options{
		BaseURL: "http://localhost",
		Issuer:  cert.Issuer{ID: "http://localhost/myontaja", Name: "Testin koulutus Oy", Address: "Testikatu 1, 00100 Helsinki", URL: "http://localhost/"},
		Course:  func() cert.Course { return cert.CourseOf(library.Current(), "http://localhost") },
		HolderName: func(ctx context.Context, id string) (string, error) {
			u, err := accounts.User(ctx, id)
			if err != nil {
				return "", err
			}
			return u.Name, nil
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if exams != nil {
		exams.Certifier = certs
	}
	go certs.Run(ctx)
	return certs, nil
}

// studyStores are account and progress stores on a fresh database.
func studyStores(t testing.TB) (*account.Store, *study.Progress, *database.DB) {
	t.Helper()
	db := env.Database()
	ctx := context.Background()
	if err := account.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := study.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := feedback.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	// The schema as a start leaves it: the organisation directory seeded.
	if _, err := migrate.Run(ctx, db, migrate.Options{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	if err := org.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	accounts := account.NewStore(db)
	return accounts, study.NewProgress(db), db
}

// fixture is the test course of course/testdata, published at version 1.
func fixture(t testing.TB) *course.Library {
	t.Helper()
	c, problems := course.Load(os.DirFS("../course/testdata/course"))
	if len(problems) > 0 {
		t.Fatalf("fixture course: %v", problems.Error())
	}
	return course.NewStaticLibrary(&course.Published{Version: 1, Course: c})
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestReadinessFollowsMinIO(t *testing.T) {
	r := start(t)
	resp, body := get(t, r.URL+"/readyz")
	if resp.StatusCode != 200 {
		t.Fatalf("readyz = %d %s, want 200", resp.StatusCode, body)
	}

	env.MinIO.Stop(10 * time.Second)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = env.MinIO.Start(context.Background())
		}
	})
	resp, body = get(t, r.URL+"/readyz")
	if resp.StatusCode != 503 {
		t.Fatalf("readyz with MinIO stopped = %d %s, want 503", resp.StatusCode, body)
	}
	var got struct {
		Status string            `json:"status"`
		Down   []string          `json:"down"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("readyz body %q: %v", body, err)
	}
	if len(got.Down) != 1 || got.Down[0] != "storage" || got.Checks["database"] != "ok" {
		t.Fatalf("readyz body = %+v, want storage down and database ok", got)
	}

	if err := env.MinIO.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, body = get(t, r.URL+"/readyz")
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after MinIO restart = %d %s, want 200", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestLivez(t *testing.T) {
	r := start(t)
	resp, body := get(t, r.URL+"/livez")
	if resp.StatusCode != 200 || !strings.Contains(body, `"ok"`) || !strings.Contains(body, `"version":"test-1"`) {
		t.Fatalf("livez = %d %s", resp.StatusCode, body)
	}
}

func TestInFlightRequestCompletesDuringShutdown(t *testing.T) {
	entered := make(chan struct{})
	r := start(t, func(app *fiber.App) {
		app.Get("/test/slow", func(c *fiber.Ctx) error {
			close(entered)
			time.Sleep(700 * time.Millisecond)
			return c.SendString("finished")
		})
	})
	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(r.URL + "/test/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{resp.StatusCode, string(b), err}
	}()
	<-entered
	shutdownErr := make(chan error, 1)
	go func() { shutdownErr <- r.Shutdown(10 * time.Second) }()

	got := <-res
	if got.err != nil || got.status != 200 || got.body != "finished" {
		t.Fatalf("in-flight request during shutdown = %d %q %v, want 200 finished", got.status, got.body, got.err)
	}
	if err := <-shutdownErr; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := http.Get(r.URL + "/livez"); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
}

func TestReadinessIs503WhileDraining(t *testing.T) {
	r := start(t)
	r.SetDraining()
	resp, body := get(t, r.URL+"/readyz")
	if resp.StatusCode != 503 || !strings.Contains(body, "shutting down") {
		t.Fatalf("readyz while draining = %d %s", resp.StatusCode, body)
	}
}

func TestSecurityHeadersEverywhere(t *testing.T) {
	r := start(t)
	_, home := get(t, r.URL+"/")
	css := regexp.MustCompile(`/static/app\.[0-9a-f]{12}\.css`).FindString(home)
	if css == "" {
		t.Fatalf("home page links no fingerprinted stylesheet:\n%s", home)
	}
	for _, path := range []string{"/", "/readyz", "/livez", "/api/v1/nothing", "/no-such-page", css, "/static/favicon.svg", "/metrics"} {
		resp, _ := get(t, r.URL+path)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "default-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows unsafe code: %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q", path, h.Get("X-Content-Type-Options"))
		}
		if h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: no Referrer-Policy", path)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS sent over plain http", path)
		}
		if h.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-ID", path)
		}
	}
}

func TestHSTSUnderHTTPS(t *testing.T) {
	srv, err := api.New(api.Options{BaseURL: "https://kurssi.example.fi", Library: fixture(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(time.Second)
	resp, _ := get(t, "http://"+ln.Addr().String()+"/livez")
	if !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatalf("HSTS = %q under an https base URL", resp.Header.Get("Strict-Transport-Security"))
	}
}

func TestStaticAssetsAreFingerprintedAndCached(t *testing.T) {
	r := start(t)
	_, home := get(t, r.URL+"/")
	css := regexp.MustCompile(`/static/app\.[0-9a-f]{12}\.css`).FindString(home)
	resp, body := get(t, r.URL+css)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, ":focus-visible") {
		t.Fatalf("%s = %d %s", css, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
		t.Fatalf("Cache-Control = %q for a fingerprinted asset", cc)
	}
	resp, _ = get(t, r.URL+css, "If-None-Match", resp.Header.Get("ETag"))
	if resp.StatusCode != 304 {
		t.Fatalf("conditional GET = %d, want 304", resp.StatusCode)
	}
	resp, _ = get(t, r.URL+"/static/app.css")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("plain asset name = %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	resp, _ = get(t, r.URL+"/static/..%2Fweb.go")
	if resp.StatusCode != 404 {
		t.Fatalf("path traversal = %d, want 404", resp.StatusCode)
	}
	resp, body = get(t, r.URL+css, "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "" && resp.Uncompressed == false && len(body) == 0 {
		t.Fatal("empty compressed body")
	}
}

func TestCompression(t *testing.T) {
	r := start(t)
	req, _ := http.NewRequest(http.MethodGet, r.URL+"/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", resp.Header.Get("Content-Encoding"))
	}
	// A cached page is compressed once and sent as such: the same bytes
	// as the page without compression, marked to vary by the encoding.
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	_, plain := get(t, r.URL+"/", "Accept-Encoding", "identity")
	if string(unzipped) != plain || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("the compressed page differs from the plain one, or Vary is %q", resp.Header.Get("Vary"))
	}
	again, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := io.ReadAll(again.Body)
	again.Body.Close()
	first, _ := http.DefaultTransport.RoundTrip(req)
	firstBody, _ := io.ReadAll(first.Body)
	first.Body.Close()
	if string(second) != string(firstBody) || len(second) == 0 {
		t.Fatal("two compressed answers of one cached page differ")
	}
}

func TestHomePage(t *testing.T) {
	r := start(t)
	resp, body := get(t, r.URL+"/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("home = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`<html lang="fi">`,
		`class="skip-link" href="#main"`,
		`<main id="main"`,
		`<h1 id="page-title" lang="fi">Testikurssi</h1>`,
		`1,5 tuntia = 1 opintopiste`,
		`aria-current="page"`,
		`href="/saavutettavuus"`, `href="/tietosuoja"`, `href="/palaute"`,
		`media="print"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(tag, ` src="/static/`) {
			t.Errorf("inline script %s (the CSP would block it)", tag)
		}
	}
	if strings.Contains(body, " style=") {
		t.Error("home page has an inline style (the CSP would block it)")
	}
}

// Pages link people to pages: an API address answers a visitor with a
// JSON problem, so the privacy notice sends them to their account page
// (which asks them to sign in first) for the download of their data.
func TestPagesLinkNoAPIAddresses(t *testing.T) {
	r := start(t)
	for _, lang := range []string{"fi", "sv", "en"} {
		_, body := get(t, r.URL+"/tietosuoja?lang="+lang)
		if m := regexp.MustCompile(`href="/api/[^"]*"`).FindString(body); m != "" {
			t.Errorf("the privacy notice (%s) links %s", lang, m)
		}
		if !strings.Contains(body, `href="/tili#omat-tiedot"`) {
			t.Errorf("the privacy notice (%s) does not link the account page's data download", lang)
		}
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(r.URL + "/tili")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/kirjaudu?jatka=") {
		t.Errorf("a visitor on the account page = %d %s, want the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Signed in, the account page explains the download and offers it.
	learner := newClient(t, r.URL)
	learner.register(account.NewID()[:10]+"@example.fi", "Tiina Tiedot")
	if _, page := learner.get("/tili"); !strings.Contains(page, `id="omat-tiedot"`) || !strings.Contains(page, `href="/api/v1/me/export"`) {
		t.Error("the account page has no section for downloading one's data")
	}
}

func TestErrorsAreHTMLForBrowsersAndProblemJSONForAPI(t *testing.T) {
	r := start(t, func(app *fiber.App) {
		app.Get("/test/panic", func(c *fiber.Ctx) error { panic("boom") })
		app.Get("/api/v1/test/panic", func(c *fiber.Ctx) error { panic("boom") })
	})
	resp, body := get(t, r.URL+"/ei-ole", "Accept", "text/html")
	if resp.StatusCode != 404 || !strings.Contains(body, "Sivua ei löytynyt") || !strings.Contains(body, `<html lang="fi">`) {
		t.Fatalf("404 page = %d\n%s", resp.StatusCode, body)
	}
	resp, body = get(t, r.URL+"/api/v1/ei-ole")
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("API 404 = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(body), &p); err != nil || p["status"].(float64) != 404 || p["title"] != "Not Found" || p["instance"] != "/api/v1/ei-ole" {
		t.Fatalf("problem = %s (%v)", body, err)
	}

	resp, body = get(t, r.URL+"/test/panic")
	if resp.StatusCode != 500 || !strings.Contains(body, "Palvelussa tapahtui virhe") || strings.Contains(body, "boom") {
		t.Fatalf("panic page = %d\n%s", resp.StatusCode, body)
	}
	if id := resp.Header.Get("X-Request-Id"); !strings.Contains(body, id) {
		t.Fatalf("error page does not show the request id %s", id)
	}
	resp, body = get(t, r.URL+"/api/v1/test/panic")
	if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/problem+json" || strings.Contains(body, "boom") {
		t.Fatalf("API panic = %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// The server still serves after a panic.
	if resp, _ := get(t, r.URL+"/livez"); resp.StatusCode != 200 {
		t.Fatalf("livez after panic = %d", resp.StatusCode)
	}
}

func TestRequestIDIsTakenOrMade(t *testing.T) {
	r := start(t)
	resp, _ := get(t, r.URL+"/livez", "X-Request-ID", "proxy-abc-123")
	if resp.Header.Get("X-Request-Id") != "proxy-abc-123" {
		t.Fatalf("request id = %q, want the proxy's", resp.Header.Get("X-Request-Id"))
	}
	resp, _ = get(t, r.URL+"/livez", "X-Request-ID", "<script>alert(1)</script>")
	if id := resp.Header.Get("X-Request-Id"); !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id) {
		t.Fatalf("malformed incoming id was kept: %q", id)
	}
}

func TestMetrics(t *testing.T) {
	r := start(t)
	get(t, r.URL+"/")
	get(t, r.URL+"/static/nope.css")
	get(t, r.URL+"/zzz-unknown-1")
	get(t, r.URL+"/zzz-unknown-2")
	resp, body := get(t, r.URL+"/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("metrics = %d", resp.StatusCode)
	}
	for _, want := range []string{
		`tyokyky_http_requests_total{method="GET",route="/",status="200"} 1`,
		`tyokyky_http_requests_total{method="GET",route="/static/:name",status="404"} 1`,
		`tyokyky_http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`tyokyky_http_request_duration_seconds_bucket{method="GET",route="/",le="`,
		`# TYPE tyokyky_database_errors_total counter`,
		`# TYPE tyokyky_storage_errors_total counter`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, "zzz-unknown") {
		t.Error("raw paths leak into metric labels")
	}
}

// Values from the request context outlive the handler in metric labels:
// under concurrent requests of every method on kept-alive connections
// (whose buffers fasthttp reuses), /metrics keeps answering 200 and
// every label is one that was sent. Before the fix, method labels such
// as "POS" or "GETT" appeared and the scrape answered 500.
func TestMetricsUnderConcurrentLoad(t *testing.T) {
	r := start(t)
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"}
	paths := []string{"/", "/osiot", "/api/v1/course", "/zzz-unknown", "/kirjaudu", "/livez"}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				m, p := methods[(w+i)%len(methods)], paths[(w*7+i)%len(paths)]
				req, _ := http.NewRequest(m, r.URL+p, strings.NewReader("x=1"))
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	// Scrape while the load runs, and once after it.
	scrape := func() string {
		resp, body := get(t, r.URL+"/metrics")
		if resp.StatusCode != 200 {
			t.Fatalf("metrics = %d: %s", resp.StatusCode, body)
		}
		return body
	}
	for range 5 {
		scrape()
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	label := regexp.MustCompile(`method="([^"]*)"`)
	for _, m := range label.FindAllStringSubmatch(scrape(), -1) {
		if !slices.Contains(methods, m[1]) {
			t.Errorf("metric label method=%q was never sent", m[1])
		}
	}
}
