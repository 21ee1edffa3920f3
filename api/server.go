// Package api is the platform's HTTP surface: pages, the JSON API, health
// and metrics. It is the only package that knows about Fiber; the domain
// packages it adapts know nothing of HTTP.
package api

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/backup"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/feedback"
	"github.com/tyokyky/tyokyky/internal/cache"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/internal/metrics"
	"github.com/tyokyky/tyokyky/lti"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/report"
	"github.com/tyokyky/tyokyky/sso"
	"github.com/tyokyky/tyokyky/studio"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/web"
	"github.com/tyokyky/tyokyky/xapi"
)

// Pinger is anything readiness can check: the database, the object store.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options are the server's dependencies.
type Options struct {
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Database and Storage are checked by /readyz.
	Database Pinger
	Storage  Pinger
	// Backup, when scheduled backups are configured, tells /readyz their
	// last result (a detail: a failed backup does not make the instance
	// unready).
	Backup func() backup.Status
	// BaseURL is the public address; https turns on HSTS.
	BaseURL string
	// StorageOrigin (scheme://host) is allowed for media in the CSP.
	StorageOrigin string
	Version       string
	// CheckTimeout bounds each readiness check (default 2 s).
	CheckTimeout time.Duration
	// Library is the published course.
	Library *course.Library
	// Studio is the content store the studio edits and publishes to (nil:
	// the server shows a fixed course and refuses edits).
	Studio *studio.Store
	// Accounts and Progress; without them the site is read-only.
	Accounts *account.Store
	Progress *study.Progress
	Feedback *feedback.Store
	// Media is the media library; MediaDelivery is presign or proxy and
	// MediaURLTTL the lifetime of presigned links.
	Media         *media.Catalog
	MediaDelivery string
	MediaURLTTL   time.Duration
	// Exam keeps the final exam's attempts.
	Exam *exam.Store
	// Certificates issues and verifies the course certificates.
	Certificates *cert.Store
	// Mail is the e-mail outbox; without it nothing is sent and the
	// e-mail pages (forgotten password, verification) are absent.
	Mail *mail.Outbox
	// Directory is the organisation directory (nil: its routes are absent).
	Directory *org.Directory
	// ReportMaxAge is how old the figures of the reports and assignments
	// may be (0: a minute; negative: read for every page, for tests).
	ReportMaxAge time.Duration
	// Summaries are the learners' summaries the reports read (nil: the
	// reports are empty). The caller has them follow the stores
	// (Summaries.Follow) and runs them (Summaries.Run).
	Summaries *report.Summaries
	// Assign keeps the assignments (nil, or without a Directory: their
	// routes are absent).
	Assign *assign.Store
	// SSO signs people in with their employer's identity provider (nil:
	// no employer sign-in).
	SSO *sso.Service
	// LTI is the course as an LTI 1.3 tool of learning platforms (nil:
	// no LTI; it needs Directory).
	LTI *lti.Service
	// XAPI sends learning records to the learning record stores the
	// administrators configure (nil: no xAPI).
	XAPI *xapi.Service
}

// Server serves the platform over HTTP. It builds the app and its route
// table, where the handlers of each resource are made with what they use,
// and keeps what is server-wide: the layout pages render in (layout.go),
// static assets, errors, middleware, health and metrics.
type Server struct {
	// core is the request machinery (viewer, language, forms, problems)
	// and mailer the outbox, both shared with the handlers of each
	// resource.
	*core
	*mailer
	app *fiber.App
	// log is the logger core and mailer hold too (said here, so that
	// s.log means one field).
	log      *slog.Logger
	metrics  *metrics.Metrics
	opts     Options
	pages    *web.Pages
	headers  [][2]string
	draining atomic.Bool
	// noSpaceAt is when a write last failed for a full disk (unix ns);
	// /readyz reports the database down until a write works again.
	noSpaceAt atomic.Int64
	// The stores whose presence turns features on: the route table and
	// the layout's navigation ask them (nil: off), and the media
	// catalog's largest upload bounds bodies (bodies.go); the handlers
	// get them in routes.
	progress *study.Progress
	feedback *feedback.Store
	media    *media.Catalog
	exam     *exam.Store
	certs    *cert.Store
	// oversize marks requests whose declared length is over the largest
	// upload (see refuseDeclaredOversize).
	oversize sync.Map
}

// New builds the server and its routes.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	if o.CheckTimeout == 0 {
		o.CheckTimeout = 2 * time.Second
	}
	base, err := url.Parse(o.BaseURL)
	if err != nil || !base.IsAbs() {
		return nil, fmt.Errorf("api: base URL %q is not absolute", o.BaseURL)
	}
	pages, err := web.ParsePages(template.FuncMap{"t": web.T, "tn": web.TN, "hours": hours, "hoursOf": hoursOf, "join": strings.Join, "minutesOf": func(sec int) int { return sec / 60 }, "themeName": course.ThemeName,
		"num": formatNumber, "inc": func(i int) int { return i + 1 }, "deref": func(b *bool) bool { return b != nil && *b },
		"date": i18n.Date, "isoDate": isoDate,
		"otherOrganisation": func(o string) bool { return o == account.OtherOrganisation }})
	if err != nil {
		return nil, err
	}
	s := &Server{
		core:     &core{log: o.Logger, https: base.Scheme == "https", accounts: o.Accounts, library: o.Library},
		mailer:   &mailer{outbox: o.Mail, siteURL: o.BaseURL, log: o.Logger},
		log:      o.Logger,
		metrics:  o.Metrics,
		opts:     o,
		pages:    pages,
		headers:  securityHeaders(base.Scheme == "https", o.StorageOrigin),
		progress: o.Progress,
		feedback: o.Feedback,
		media:    o.Media,
		exam:     o.Exam,
		certs:    o.Certificates,
	}
	s.core.renderPage = s.render
	s.app = fiber.New(fiber.Config{
		AppName:               "tyokyky",
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           120 * time.Second,
		ReadBufferSize:        16 * 1024,
		// Bodies over BodyLimit are streamed to the handler: uploads never
		// sit in memory, and limitBodies refuses them on other routes.
		BodyLimit:                    bodyLimit,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		// Every string and byte slice a handler gets from the request
		// (method, path, headers, parameters, form values, body) is its
		// own copy, not a view of fasthttp's reused buffers: values kept
		// after the handler returns (metric labels, logs, caches,
		// goroutines, background jobs) stay what they were. One rule at
		// the boundary instead of a strings.Clone at each use.
		Immutable: true,
	})
	s.refuseDeclaredOversize()
	s.routes()
	return s, nil
}

// routes is the one table of every route the platform serves.
// routeGroup adds routes behind the same middleware (see routes).
type routeGroup struct {
	app *fiber.App
	mw  []fiber.Handler
	// csrf is the check every post, put and delete gets unless Unchecked.
	csrf fiber.Handler
}

func (s *Server) group(mw ...fiber.Handler) routeGroup {
	return routeGroup{app: s.app, mw: mw, csrf: s.checkCSRF}
}

func (g routeGroup) chain(extra ...fiber.Handler) []fiber.Handler {
	return append(slices.Clone(g.mw), extra...)
}

func (g routeGroup) get(path string, h ...fiber.Handler) { g.app.Get(path, g.chain(h...)...) }
func (g routeGroup) post(path string, h fiber.Handler)   { g.app.Post(path, g.chain(g.csrf, h)...) }
func (g routeGroup) put(path string, h fiber.Handler)    { g.app.Put(path, g.chain(g.csrf, h)...) }
func (g routeGroup) delete(path string, h fiber.Handler) { g.app.Delete(path, g.chain(g.csrf, h)...) }

// postUnchecked, putUnchecked: state changes whose request is authorised
// otherwise than by the session's CSRF token (the reason is at the route).
func (g routeGroup) postUnchecked(path string, h ...fiber.Handler) {
	g.app.Post(path, g.chain(h...)...)
}
func (g routeGroup) putUnchecked(path string, h ...fiber.Handler) { g.app.Put(path, g.chain(h...)...) }

func (s *Server) routes() {
	app := s.app
	// Who may reach a route is said once, by its group: the middleware of
	// the group runs first, and every state change (post, put, delete)
	// checks the session's CSRF token unless it is declared Unchecked with
	// the reason (a bearer token, a single-use link, a check in the handler).
	public := s.group()
	learner := s.group(s.requireUser)
	author := s.group(s.requireUser, s.requireAuthor)
	reporter := s.group(s.requireUser, s.requireReporter)
	admin := s.group(s.requireUser, s.requireAdmin)
	// The handlers of each resource, with what they use.
	o := s.opts
	pg := newPageHandlers(s.core, s.progress, s.media, o.BaseURL)
	var mf *mediaHandlers // nil without a media library (its routes are absent)
	if s.media != nil {
		mf = &mediaHandlers{core: s.core, catalog: s.media, siteURL: o.BaseURL, delivery: o.MediaDelivery, ttl: o.MediaURLTTL,
			storage: o.Storage, checkTimeout: o.CheckTimeout}
	}
	stu := &studioHandlers{core: s.core, studio: o.Studio, pages: pg, progress: s.progress, media: mf}
	fb := newFeedbackHandlers(s.core, s.mailer, s.feedback)
	certs := &certificateHandlers{core: s.core, certs: s.certs, exam: s.exam}
	lim := newRateLimits()
	acc := &accountHandlers{core: s.core, mail: s.mailer, dir: o.Directory, sso: o.SSO, progress: s.progress, feedback: s.feedback, exam: s.exam, certs: s.certs, erase: o.erasure(),
		signInLimit: lim.signIn, secondFactorLimit: lim.secondFactor, registerLimit: lim.register, forgotLimit: lim.forgot}
	email := &emailHandlers{core: s.core, mail: s.mailer, limit: lim.forgot, ipLimit: lim.forgotIP, resetLimit: lim.register,
		exam: s.exam, certs: s.certs}
	adm := &adminHandlers{core: s.core, mail: s.mailer, exam: s.exam}
	gl := &glossaryHandlers{core: s.core, studio: o.Studio}
	st := &studyHandlers{core: s.core, progress: s.progress, media: s.media, dashboards: cache.New[*renderedDashboard](study.CacheTTL, maxDashboards),
		siteURL: strings.TrimRight(o.BaseURL, "/")}
	if o.Assign != nil && o.Directory != nil {
		st.mine = &learnerAssignments{dir: o.Directory, assign: o.Assign, certs: s.certs, exam: o.Exam}
		acc.mine = st.mine
	}
	ex := &examHandlers{core: s.core, mail: s.mailer, exam: s.exam, progress: s.progress}
	rep := &reportHandlers{core: s.core, sums: o.Summaries, dir: o.Directory, maxAge: o.ReportMaxAge}
	sc := &selfCheckHandlers{core: s.core, progress: s.progress}
	off := &offlineHandlers{core: s.core}
	orgs := &orgHandlers{core: s.core, dir: o.Directory, sso: o.SSO, sums: o.Summaries}
	app.Use(s.requestID, s.observe, s.recoverPanics, s.secureHeaders, s.limitBodies)
	var xh *xapiHandlers // nil without xAPI (its routes are absent)
	if o.XAPI != nil {
		xh = &xapiHandlers{core: s.core, xapi: o.XAPI}
	}
	var lh *ltiHandlers // nil without LTI (its routes are absent)
	if o.LTI != nil && o.Directory != nil {
		lh = &ltiHandlers{core: s.core, lti: o.LTI, dir: o.Directory, records: xh}
		lh.logins, lh.failures = newLTILimits()
		app.Use(lh.framing)
	}
	// Pages made per request are compressed at the fastest level, as
	// nginx does by default (gzip_comp_level 1): on a CPU-bound server
	// the default level cost the signed-in section page nine tenths of
	// its throughput for about a fifth fewer bytes. Pages kept in a cache
	// are compressed once, at the default level (gzipped).
	app.Use(compress.New(compress.Config{Level: compress.LevelBestSpeed, Next: func(c *fiber.Ctx) bool {
		// Media are compressed already, and ranges must stay byte-exact.
		return strings.HasPrefix(c.Path(), "/media/")
	}}))

	// Operations.
	public.get("/livez", s.livez)
	public.get("/readyz", s.readyz)
	public.get("/metrics", s.metricsHandler())

	// Static assets (fingerprinted names are immutable).
	public.get("/static/:name", s.static)

	// The installable app: its manifest, the service worker (which keeps
	// pages and saved modules on the device) and the offline page.
	public.get("/manifest.webmanifest", off.manifest)
	public.get("/sw.js", off.serviceWorker)
	public.get("/offline", pg.infoPage("offline", "offline.title", "/offline"))

	// JSON API.
	public.get("/api/v1/openapi.json", s.openapi)
	public.get("/api/v1/course", pg.apiCourse)
	public.get("/api/v1/modules/:module", pg.apiModule)
	public.get("/api/v1/modules/:module/sections/:section", pg.apiSection)
	public.get("/api/v1/glossary", pg.apiGlossary)
	public.get("/api/v1/glossary/search", pg.apiGlossarySearch)
	public.get("/api/v1/glossary/export.csv", pg.glossaryExport("csv"))
	public.get("/api/v1/glossary/export.json", pg.glossaryExport("json"))
	public.get("/api/v1/glossary/export.ttl", pg.glossaryExport("ttl"))
	public.get("/api/v1/glossary/export.jsonld", pg.glossaryExport("jsonld"))
	public.get("/api/v1/glossary/:concept", pg.apiConcept)
	public.get("/api/v1/offline/:module", pg.apiOffline)

	// Pages.
	public.get("/", pg.home)
	public.get("/osiot", pg.modulesPage)
	public.get("/osiot/:module", pg.modulePage)
	public.get("/osiot/:module/:section", pg.sectionPage)
	public.get("/osiot/:module/:section/itsetesti", sc.result)
	// Checking a self-check changes nothing for anyone; the handler marks a
	// signed-in learner's self-check done only with the session's token.
	public.postUnchecked("/osiot/:module/:section/itsetesti", sc.submit)
	public.get("/lainsaadanto", pg.legislationPage)
	public.get("/sanasto", pg.glossaryPage)
	public.get("/sanasto/kaaviot", pg.diagramsPage)
	public.get("/sanasto/teemat/:theme", pg.themeDiagram)
	public.get("/sanasto/:concept", pg.conceptPage)
	public.get("/sanasto/:concept/kaavio.svg", pg.conceptDiagram)
	public.get("/kurssi/kuvat/:name", pg.figure)
	public.get("/saavutettavuus", pg.infoPage("accessibility", "statement.title", "/saavutettavuus"))
	public.get("/tietosuoja", pg.infoPage("privacy", "privacy.title", "/tietosuoja"))
	if s.feedback != nil {
		public.get("/palaute", fb.page)
		public.post("/palaute", fb.send)
		public.postUnchecked("/api/v1/feedback", jsonOnly, fb.api) // JSON only: no cross-site form can send it
	}

	if s.media != nil {
		public.get("/api/v1/media", mf.apiList)
		public.get("/api/v1/media/:media", mf.apiGet)
		public.get("/media/:media/tiedosto", mf.file)
		public.get("/media/:media/kansikuva", mf.poster)
		public.get("/media/:media/tekstitys/:track", mf.captions)
		public.get("/media/:media/litterointi.txt", mf.transcript)
		public.get("/media/:media/tila", mf.status)
	}

	// Certificates: verifiable by anyone.
	if s.certs != nil {
		public.get("/.well-known/jwks.json", certs.jwks)
		public.get("/myontaja", certs.issuer)
		public.get("/credentials/status/:list", certs.statusList)
		public.get("/todistus/:cert", certs.page)
		public.get("/todistus/:cert/qr.png", certs.qr)
		public.postUnchecked("/api/v1/certificates/verify", certs.apiVerify) // changes nothing: verifies a token
	}

	if s.accounts == nil || s.progress == nil {
		return
	}
	// Accounts.
	public.get("/kirjaudu", allowingProviders(o.SSO, acc.loginPage))
	public.post("/kirjaudu", allowingProviders(o.SSO, acc.login))
	public.get("/kirjaudu/vahvista", acc.verifyPage)
	public.post("/kirjaudu/vahvista", acc.verify)
	public.post("/kirjaudu-ulos", acc.logout)
	if o.SSO != nil {
		sh := &ssoHandlers{core: s.core, sso: o.SSO}
		public.get("/kirjaudu/sso", allowingProviders(o.SSO, sh.discover))
		public.get("/kirjaudu/oidc/:provider/paluu", allowingProviders(o.SSO, sh.callback))
	}
	public.get("/rekisteroidy", acc.registerPage)
	public.post("/rekisteroidy", acc.register)
	if s.outbox != nil {
		public.get("/salasana/unohtui", email.forgotPage)
		public.post("/salasana/unohtui", email.forgot)
		public.get("/sahkoposti/vahvista", email.verify)
		public.get("/viestit/peru", email.unsubscribePage)
		public.postUnchecked("/viestit/peru", email.unsubscribe) // the token is the authority (RFC 8058); no session, no CSRF
		learner.post("/tili/sahkoposti", acc.changeEmail)
		learner.post("/tili/sahkoposti/vahvista", acc.resendVerification)
		learner.post("/tili/viestit", email.savePreferences)
		admin.get("/yllapito/posti", email.adminOutbox)
		admin.post("/yllapito/posti/testi", email.adminTest)
		admin.get("/yllapito/posti/:message", email.adminMessage)
		admin.get("/yllapito/posti/:message/html", email.adminHTML)
		admin.post("/yllapito/posti/:message/uudelleen", email.adminRetry)
	}
	public.get("/salasana/uusi", email.resetPage)
	public.post("/salasana/uusi", email.reset)
	learner.get("/tili", acc.accountPage)
	learner.post("/tili/salasana", acc.changePassword)
	learner.post("/tili/yksikko", acc.changeOrganisation)
	learner.post("/tili/istunnot/lopeta-muut", acc.endOtherSessions)
	learner.post("/tili/istunnot/:session/lopeta", acc.endSession)
	learner.post("/tili/poista", acc.deleteAccount)
	learner.get("/tili/kaksivaiheinen", acc.totpPage)
	learner.post("/tili/kaksivaiheinen", acc.totpPost)

	// Studies.
	learner.get("/omat-opinnot", st.dashboard)
	learner.get("/omat-opinnot/oppimispaivakirja.md", st.diaryMarkdown)
	learner.get("/omat-opinnot/oppimispaivakirja.pdf", st.diaryPDF)
	if st.mine != nil {
		learner.get("/omat-opinnot/tehtavat.ics", st.calendar)
	}
	learner.post("/osiot/:module/:section/luettu", st.markRead)
	learner.post("/tehtavat/:task/vastaus", st.saveAnswerForm)

	// Editing glossary concepts (authors and administrators).
	author.get("/sanasto/:concept/muokkaa", gl.editPage)
	author.post("/sanasto/:concept/muokkaa", gl.edit)

	// The authoring studio (authors and administrators with two-factor).
	author.get("/studio", stu.studioIndex)
	author.get("/studio/sisalto/*", stu.studioEdit)
	author.post("/studio/sisalto/*", stu.studioSave)
	author.get("/studio/historia/*", stu.studioHistory)
	author.get("/studio/esikatselu/*", stu.studioLearnerView)
	author.get("/studio/rakenne", stu.studioStructure)
	author.post("/studio/kuvat", stu.studioFigure)
	author.post("/api/v1/studio/figures", stu.apiStudioFigure)
	author.post("/studio/rakenne", stu.studioStructureChange)
	author.post("/studio/palauta/*", stu.studioRestore)
	author.post("/api/v1/studio/preview", stu.apiStudioPreview)
	author.get("/api/v1/studio/files/*", stu.apiStudioFile)
	author.put("/api/v1/studio/drafts/*", stu.apiStudioDraft)
	author.post("/api/v1/studio/publish/*", stu.apiStudioPublish)

	// Media library (authors and administrators).
	if s.media != nil {
		author.postUnchecked("/api/v1/media", mf.apiUpload)                                           // the token is checked as the stream starts (readUpload)
		author.putUnchecked("/api/v1/media/:media/captions/:lang", s.checkCSRFHeader, mf.apiCaptions) // the token in a header: the body is the file
		author.putUnchecked("/api/v1/media/:media/poster", s.checkCSRFHeader, mf.apiPoster)           // the token in a header: the body is the file
		author.delete("/api/v1/media/:media", mf.apiDelete)
		author.get("/studio/media", stu.studioMediaPage)
		author.postUnchecked("/studio/media", stu.studioMediaUpload)                    // streamed form: the token field is checked before the file (readUpload)
		author.postUnchecked("/studio/media/:media/tekstitys", stu.studioMediaCaptions) // streamed form: token checked first (uploadForm)
		author.post("/studio/media/:media/poista", stu.studioMediaDelete)
	}

	// The final exam.
	if s.exam != nil {
		public.get("/tentti", ex.examPage)
		learner.post("/tentti/aloita", ex.examStart)
		learner.get("/tentti/:attempt", ex.examAttemptPage)
		learner.post("/tentti/:attempt", ex.examSave)
		learner.get("/tentti/:attempt/tarkista", ex.examCheckPage)
		learner.post("/tentti/:attempt/palauta", ex.examSubmit)
		learner.get("/tentti/:attempt/tulos", ex.examResultPage)
		learner.post("/api/v1/exam/attempts", ex.apiStartAttempt)
		learner.get("/api/v1/exam/attempts/:attempt", ex.apiGetAttempt)
		learner.put("/api/v1/exam/attempts/:attempt/answers/:item", ex.apiSaveAnswer)
		learner.post("/api/v1/exam/attempts/:attempt/submit", ex.apiSubmitAttempt)
		author.get("/api/v1/admin/exam/items", ex.apiExamItems)
		author.get("/api/v1/admin/exam/stats", ex.apiExamStats)
		admin.post("/yllapito/kayttajat/:user/tentti", ex.adminExtension)
	}

	// Certificates of the signed-in learner; revoking (administrators).
	if s.certs != nil {
		learner.get("/todistukset", certs.list)
		learner.get("/todistus/:cert/todistus.pdf", certs.pdf)
		learner.get("/todistus/:cert/todistus.jwt", certs.token)
		learner.get("/api/v1/certificates", certs.apiList)
		admin.get("/yllapito/todistukset", certs.adminList)
		admin.post("/yllapito/todistukset/:cert/peru", certs.adminRevoke)
		admin.post("/api/v1/admin/certificates/:cert/revoke", certs.apiRevoke)
	}

	// Reports: reporters (their organisation) and administrators.
	reporter.get("/raportit", rep.page)
	reporter.get("/raportit.csv", rep.csv)
	if o.Assign != nil && o.Directory != nil {
		as := &assignHandlers{core: s.core, mail: s.mailer, rep: rep, dir: o.Directory, assign: o.Assign}
		reporter.get("/raportit/tehtavat", as.list)
		reporter.post("/raportit/tehtavat", as.post)
		reporter.get("/raportit/tehtavat/:assignment", as.page)
		if s.outbox != nil {
			inv := &inviteHandlers{core: s.core, dir: o.Directory, assign: o.Assign}
			reporter.post("/raportit/kutsut", as.invite)
			public.get("/kutsu", inv.page)
			public.post("/kutsu", inv.accept)
		}
	}

	// Administration.
	if s.feedback != nil {
		admin.get("/yllapito/palaute", fb.inbox)
		admin.post("/yllapito/palaute/:feedback", fb.answer)
	}
	admin.get("/yllapito/loki", adm.auditLog)
	admin.get("/yllapito/kayttajat", adm.users)
	admin.post("/yllapito/kayttajat/:user/rooli", adm.setRole)
	admin.post("/yllapito/kayttajat/:user/nollaus", adm.resetLink)
	admin.post("/yllapito/kayttajat/:user/tila", adm.disable)
	admin.post("/yllapito/kayttajat/:user/istunnot", adm.endSessions)

	// The organisation directory.
	if o.Directory != nil {
		public.get("/api/v1/organisations", orgs.apiList)
		admin.get("/yllapito/organisaatiot", orgs.adminList)
		admin.post("/yllapito/organisaatiot", orgs.adminAdd)
		admin.get("/yllapito/organisaatiot/:org", orgs.adminPage)
		admin.post("/yllapito/organisaatiot/:org", orgs.adminChange)
	}

	// The course as an LTI 1.3 tool.
	if lh != nil {
		public.get("/lti/login", lh.login)
		public.postUnchecked("/lti/login", lh.login)   // the platform's cross-site form, no session: it only starts a flow whose state and nonce the launch checks
		public.postUnchecked("/lti/launch", lh.launch) // the platform's signed ID token is the authority; the state cookie binds it to the browser that logged in
		public.get("/lti/jwks.json", lh.jwks)
		learner.get("/lti/sisalto/:request", lh.deepLinkPage)
		learner.post("/lti/sisalto/:request", lh.deepLinkAnswer)
		admin.get("/yllapito/lti", lh.admin)
		admin.post("/yllapito/lti", lh.adminAdd)
		admin.post("/yllapito/lti/kutsu", lh.adminInvite)
		admin.post("/yllapito/lti/:registration", lh.adminChange)
		public.get("/lti/rekisteroi/:invitation", lh.register) // LTI Dynamic Registration: the single-use address is the authority
	}

	// Learning records to learning record stores (xAPI).
	if xh != nil {
		admin.get("/yllapito/xapi", xh.admin)
		admin.post("/yllapito/xapi", xh.adminAdd)
		admin.post("/yllapito/xapi/:lrs", xh.adminChange)
	}

	// Accounts and studies in the API.
	public.postUnchecked("/api/v1/auth/register", jsonOnly, acc.apiRegister) // JSON only (see jsonOnly)
	public.postUnchecked("/api/v1/auth/login", jsonOnly, acc.apiLogin)       // JSON only (see jsonOnly)
	public.post("/api/v1/auth/logout", acc.apiLogout)
	learner.get("/api/v1/auth/session", acc.apiSession)
	learner.get("/api/v1/me/export", acc.apiExport)
	learner.get("/api/v1/progress", st.apiProgress)
	learner.put("/api/v1/progress/:module/:section", st.apiRecordProgress)
	learner.get("/api/v1/tasks/:task/answer", st.apiGetAnswer)
	learner.put("/api/v1/tasks/:task/answer", st.apiPutAnswer)
	learner.post("/api/v1/sync", st.apiSync) // a device's offline queue, each idempotency key once
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	return s.app.Listener(ln)
}

// Shutdown turns readiness to 503, stops accepting connections and waits
// up to timeout for in-flight requests to finish.
func (s *Server) Shutdown(timeout time.Duration) error {
	s.draining.Store(true)
	err := s.app.ShutdownWithTimeout(timeout)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("api: requests still running after %s were cut off", timeout)
	}
	return err
}

// WarmUp answers the given pages inside the process before the server
// takes traffic, so that the first visitors do not pay for the store's
// first reads and the first renderings. It returns how long it took.
func (s *Server) WarmUp(paths ...string) time.Duration {
	start := time.Now()
	for _, p := range paths {
		req := httptest.NewRequest(fiber.MethodGet, p, nil)
		req.Header.Set("Accept-Language", "fi")
		if resp, err := s.app.Test(req, -1); err == nil {
			resp.Body.Close()
		}
	}
	return time.Since(start)
}

// SetDraining marks the server as going away: /readyz answers 503.
func (s *Server) SetDraining() { s.draining.Store(true) }
