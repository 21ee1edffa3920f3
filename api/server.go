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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/feedback"
	"github.com/tyokyky/tyokyky/internal/cache"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/internal/metrics"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/studio"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/web"
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
}

// Server serves the platform over HTTP.
type Server struct {
	app      *fiber.App
	log      *slog.Logger
	metrics  *metrics.Metrics
	opts     Options
	pages    *web.Pages
	headers  [][2]string
	draining atomic.Bool
	// noSpaceAt is when a write last failed for a full disk (unix ns);
	// /readyz reports the database down until a write works again.
	noSpaceAt atomic.Int64
	library   *course.Library
	cache     atomic.Pointer[pageCache]
	https     bool
	accounts  *account.Store
	progress  *study.Progress

	signInLimit *account.Limiter
	// secondFactorLimit counts wrong second-factor codes per account and
	// per address, apart from the password's count.
	secondFactorLimit *account.Limiter
	registerLimit     *account.Limiter
	searches          *cache.TTL[[]byte]
	feedback          *feedback.Store
	feedbackLimit     *account.Limiter
	media             *media.Catalog
	exam              *exam.Store
	certs             *cert.Store
	reports           reportRows
	outbox            *mail.Outbox
	// forgotLimit counts password reset requests per address and per
	// IP, and other e-mail link requests.
	forgotLimit *account.Limiter
	// forgotIPLimit counts the requests of one IP (a training room
	// shares one address, so it allows more).
	forgotIPLimit *account.Limiter
	// oversize marks requests whose declared length is over the largest
	// upload (see refuseDeclaredOversize).
	oversize sync.Map
	storageHealth
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
		log:      o.Logger,
		metrics:  o.Metrics,
		opts:     o,
		pages:    pages,
		headers:  securityHeaders(base.Scheme == "https", o.StorageOrigin),
		library:  o.Library,
		https:    base.Scheme == "https",
		accounts: o.Accounts,
		progress: o.Progress,
		// Sign-in: 10 failures per address or account, then delays doubling from 1 s to 15 min.
		signInLimit: account.NewLimiter(10, 15*time.Minute, time.Second, 15*time.Minute),
		// Second factor: 5 wrong codes per account or address, then delays
		// doubling from 30 s to an hour.
		secondFactorLimit: account.NewLimiter(5, time.Hour, 30*time.Second, time.Hour),
		// Registration and reset: 100 attempts an hour per address (a
		// training room behind one address), then delays from 10 s.
		registerLimit: account.NewLimiter(100, time.Hour, 10*time.Second, time.Hour),
		searches:      cache.New[[]byte](time.Minute, 10_000),
		feedback:      o.Feedback,
		feedbackLimit: account.NewLimiter(30, time.Hour, time.Minute, time.Hour),
		media:         o.Media,
		exam:          o.Exam,
		certs:         o.Certificates,
		outbox:        o.Mail,
		// E-mail links on request: 5 an hour per address or account and
		// 50 per IP, then delays doubling from a minute to an hour.
		forgotLimit:   account.NewLimiter(4, time.Hour, time.Minute, time.Hour), // the fifth request is the last without a wait
		forgotIPLimit: account.NewLimiter(50, time.Hour, time.Minute, time.Hour),
	}
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
func (s *Server) routes() {
	app := s.app
	app.Use(s.requestID, s.observe, s.recoverPanics, s.secureHeaders, s.limitBodies)
	app.Use(compress.New(compress.Config{Level: compress.LevelDefault, Next: func(c *fiber.Ctx) bool {
		// Media are compressed already, and ranges must stay byte-exact.
		return strings.HasPrefix(c.Path(), "/media/")
	}}))

	// Operations.
	app.Get("/livez", s.livez)
	app.Get("/readyz", s.readyz)
	app.Get("/metrics", s.metricsHandler())

	// Static assets (fingerprinted names are immutable).
	app.Get("/static/:name", s.static)

	// JSON API.
	app.Get("/api/v1/openapi.json", s.openapi)
	app.Get("/api/v1/course", s.apiCourse)
	app.Get("/api/v1/modules/:module", s.apiModule)
	app.Get("/api/v1/modules/:module/sections/:section", s.apiSection)
	app.Get("/api/v1/glossary", s.apiGlossary)
	app.Get("/api/v1/glossary/search", s.apiGlossarySearch)
	app.Get("/api/v1/glossary/export.csv", s.glossaryExport("csv"))
	app.Get("/api/v1/glossary/export.json", s.glossaryExport("json"))
	app.Get("/api/v1/glossary/export.ttl", s.glossaryExport("ttl"))
	app.Get("/api/v1/glossary/export.jsonld", s.glossaryExport("jsonld"))
	app.Get("/api/v1/glossary/:concept", s.apiConcept)

	// Pages.
	app.Get("/", s.home)
	app.Get("/osiot", s.modulesPage)
	app.Get("/osiot/:module", s.modulePage)
	app.Get("/osiot/:module/:section", s.sectionPage)
	app.Get("/lainsaadanto", s.legislationPage)
	app.Get("/sanasto", s.glossaryPage)
	app.Get("/sanasto/kaaviot", s.diagramsPage)
	app.Get("/sanasto/teemat/:theme", s.themeDiagram)
	app.Get("/sanasto/:concept", s.conceptPage)
	app.Get("/sanasto/:concept/kaavio.svg", s.conceptDiagram)
	app.Get("/kurssi/kuvat/:name", s.figure)
	app.Get("/saavutettavuus", s.infoPage("accessibility", "statement.title", "/saavutettavuus"))
	app.Get("/tietosuoja", s.infoPage("privacy", "privacy.title", "/tietosuoja"))
	if s.feedback != nil {
		app.Get("/palaute", s.feedbackPage)
		app.Post("/palaute", s.checkCSRF, s.sendFeedback)
		app.Post("/api/v1/feedback", jsonOnly, s.apiFeedback)
	}

	if s.media != nil {
		app.Get("/api/v1/media", s.apiMediaList)
		app.Get("/api/v1/media/:media", s.apiMediaGet)
		app.Get("/media/:media/tiedosto", s.mediaFile)
		app.Get("/media/:media/kansikuva", s.mediaPoster)
		app.Get("/media/:media/tekstitys/:track", s.mediaCaptions)
		app.Get("/media/:media/litterointi.txt", s.mediaTranscript)
		app.Get("/media/:media/tila", s.mediaStatus)
	}

	// Certificates: verifiable by anyone.
	if s.certs != nil {
		app.Get("/.well-known/jwks.json", s.jwks)
		app.Get("/myontaja", s.issuerProfile)
		app.Get("/credentials/status/:list", s.statusList)
		app.Get("/todistus/:cert", s.certificatePage)
		app.Get("/todistus/:cert/qr.png", s.certificateQR)
		app.Post("/api/v1/certificates/verify", s.apiVerify)
	}

	if s.accounts == nil || s.progress == nil {
		return
	}
	// Accounts.
	app.Get("/kirjaudu", s.loginPage)
	app.Post("/kirjaudu", s.checkCSRF, s.login)
	app.Get("/kirjaudu/vahvista", s.verifyPage)
	app.Post("/kirjaudu/vahvista", s.checkCSRF, s.verify)
	app.Post("/kirjaudu-ulos", s.checkCSRF, s.logout)
	app.Get("/rekisteroidy", s.registerPage)
	app.Post("/rekisteroidy", s.checkCSRF, s.register)
	if s.outbox != nil {
		app.Get("/salasana/unohtui", s.forgotPage)
		app.Post("/salasana/unohtui", s.checkCSRF, s.forgot)
		app.Get("/sahkoposti/vahvista", s.verifyEmail)
		app.Get("/viestit/peru", s.unsubscribePage)
		app.Post("/viestit/peru", s.unsubscribe) // the token is the authority (RFC 8058); no session, no CSRF
		app.Post("/tili/sahkoposti", s.requireUser, s.checkCSRF, s.changeEmail)
		app.Post("/tili/sahkoposti/vahvista", s.requireUser, s.checkCSRF, s.resendVerification)
		app.Post("/tili/viestit", s.requireUser, s.checkCSRF, s.savePreferences)
		app.Get("/yllapito/posti", s.requireUser, s.requireAdmin, s.adminMail)
		app.Post("/yllapito/posti/testi", s.requireUser, s.requireAdmin, s.checkCSRF, s.adminMailTest)
		app.Get("/yllapito/posti/:message", s.requireUser, s.requireAdmin, s.adminMailMessage)
		app.Get("/yllapito/posti/:message/html", s.requireUser, s.requireAdmin, s.adminMailHTML)
		app.Post("/yllapito/posti/:message/uudelleen", s.requireUser, s.requireAdmin, s.checkCSRF, s.adminMailRetry)
	}
	app.Get("/salasana/uusi", s.resetPage)
	app.Post("/salasana/uusi", s.checkCSRF, s.reset)
	app.Get("/tili", s.requireUser, s.accountPage)
	app.Post("/tili/salasana", s.requireUser, s.checkCSRF, s.changePassword)
	app.Post("/tili/istunnot/lopeta-muut", s.requireUser, s.checkCSRF, s.endOtherSessions)
	app.Post("/tili/istunnot/:session/lopeta", s.requireUser, s.checkCSRF, s.endSession)
	app.Post("/tili/poista", s.requireUser, s.checkCSRF, s.deleteAccount)
	app.Get("/tili/kaksivaiheinen", s.requireUser, s.totpPage)
	app.Post("/tili/kaksivaiheinen", s.requireUser, s.checkCSRF, s.totpPost)

	// Studies.
	app.Get("/omat-opinnot", s.requireUser, s.dashboard)
	app.Get("/omat-opinnot/oppimispaivakirja.md", s.requireUser, s.diaryMarkdown)
	app.Get("/omat-opinnot/oppimispaivakirja.pdf", s.requireUser, s.diaryPDF)
	app.Post("/osiot/:module/:section/luettu", s.requireUser, s.checkCSRF, s.markRead)
	app.Post("/tehtavat/:task/vastaus", s.requireUser, s.checkCSRF, s.saveAnswerForm)

	// Editing glossary concepts (authors and administrators).
	app.Get("/sanasto/:concept/muokkaa", s.requireUser, s.requireAuthor, s.editConceptPage)
	app.Post("/sanasto/:concept/muokkaa", s.requireUser, s.requireAuthor, s.checkCSRF, s.editConcept)

	// The authoring studio (authors and administrators with two-factor).
	app.Get("/studio", s.requireUser, s.requireAuthor, s.studioIndex)
	app.Get("/studio/sisalto/*", s.requireUser, s.requireAuthor, s.studioEdit)
	app.Post("/studio/sisalto/*", s.requireUser, s.requireAuthor, s.checkCSRF, s.studioSave)
	app.Get("/studio/historia/*", s.requireUser, s.requireAuthor, s.studioHistory)
	app.Get("/studio/esikatselu/*", s.requireUser, s.requireAuthor, s.studioLearnerView)
	app.Get("/studio/rakenne", s.requireUser, s.requireAuthor, s.studioStructure)
	app.Post("/studio/kuvat", s.requireUser, s.requireAuthor, s.checkCSRF, s.studioFigure)
	app.Post("/api/v1/studio/figures", s.requireUser, s.requireAuthor, s.checkCSRF, s.apiStudioFigure)
	app.Post("/studio/rakenne", s.requireUser, s.requireAuthor, s.checkCSRF, s.studioStructureChange)
	app.Post("/studio/palauta/*", s.requireUser, s.requireAuthor, s.checkCSRF, s.studioRestore)
	app.Post("/api/v1/studio/preview", s.requireUser, s.requireAuthor, s.checkCSRF, s.apiStudioPreview)
	app.Get("/api/v1/studio/files/*", s.requireUser, s.requireAuthor, s.apiStudioFile)
	app.Put("/api/v1/studio/drafts/*", s.requireUser, s.requireAuthor, s.checkCSRF, s.apiStudioDraft)
	app.Post("/api/v1/studio/publish/*", s.requireUser, s.requireAuthor, s.checkCSRF, s.apiStudioPublish)

	// Media library (authors and administrators).
	if s.media != nil {
		app.Post("/api/v1/media", s.requireUser, s.requireAuthor, s.apiMediaUpload)
		app.Put("/api/v1/media/:media/captions/:lang", s.requireUser, s.requireAuthor, s.checkCSRFHeader, s.apiMediaCaptions)
		app.Put("/api/v1/media/:media/poster", s.requireUser, s.requireAuthor, s.checkCSRFHeader, s.apiMediaPoster)
		app.Delete("/api/v1/media/:media", s.requireUser, s.requireAuthor, s.checkCSRF, s.apiMediaDelete)
		app.Get("/studio/media", s.requireUser, s.requireAuthor, s.studioMediaPage)
		app.Post("/studio/media", s.requireUser, s.requireAuthor, s.studioMediaUpload)
		app.Post("/studio/media/:media/tekstitys", s.requireUser, s.requireAuthor, s.studioMediaCaptions)
		app.Post("/studio/media/:media/poista", s.requireUser, s.requireAuthor, s.checkCSRF, s.studioMediaDelete)
	}

	// The final exam.
	if s.exam != nil {
		app.Get("/tentti", s.examPage)
		app.Post("/tentti/aloita", s.requireUser, s.checkCSRF, s.examStart)
		app.Get("/tentti/:attempt", s.requireUser, s.examAttemptPage)
		app.Post("/tentti/:attempt", s.requireUser, s.checkCSRF, s.examSave)
		app.Get("/tentti/:attempt/tarkista", s.requireUser, s.examCheckPage)
		app.Post("/tentti/:attempt/palauta", s.requireUser, s.checkCSRF, s.examSubmit)
		app.Get("/tentti/:attempt/tulos", s.requireUser, s.examResultPage)
		app.Post("/api/v1/exam/attempts", s.requireUser, s.checkCSRF, s.apiStartAttempt)
		app.Get("/api/v1/exam/attempts/:attempt", s.requireUser, s.apiGetAttempt)
		app.Put("/api/v1/exam/attempts/:attempt/answers/:item", s.requireUser, s.checkCSRF, s.apiSaveAnswer)
		app.Post("/api/v1/exam/attempts/:attempt/submit", s.requireUser, s.checkCSRF, s.apiSubmitAttempt)
		app.Get("/api/v1/admin/exam/items", s.requireUser, s.requireAuthor, s.apiExamItems)
		app.Get("/api/v1/admin/exam/stats", s.requireUser, s.requireAuthor, s.apiExamStats)
		app.Post("/yllapito/kayttajat/:user/tentti", s.requireUser, s.requireAdmin, s.checkCSRF, s.adminExtension)
	}

	// Certificates of the signed-in learner; revoking (administrators).
	if s.certs != nil {
		app.Get("/todistukset", s.requireUser, s.certificatesPage)
		app.Get("/todistus/:cert/todistus.pdf", s.requireUser, s.certificatePDF)
		app.Get("/todistus/:cert/todistus.jwt", s.requireUser, s.certificateToken)
		app.Get("/api/v1/certificates", s.requireUser, s.apiCertificates)
		app.Get("/yllapito/todistukset", s.requireUser, s.requireAdmin, s.adminCertificates)
		app.Post("/yllapito/todistukset/:cert/peru", s.requireUser, s.requireAdmin, s.checkCSRF, s.adminRevoke)
		app.Post("/api/v1/admin/certificates/:cert/revoke", s.requireUser, s.requireAdmin, s.checkCSRF, s.apiRevoke)
	}

	// Reports: reporters (their organisation) and administrators.
	app.Get("/raportit", s.requireUser, s.requireReporter, s.reportsPage)
	app.Get("/raportit.csv", s.requireUser, s.requireReporter, s.reportCSV)

	// Administration.
	if s.feedback != nil {
		app.Get("/yllapito/palaute", s.requireUser, s.requireAdmin, s.feedbackInbox)
		app.Post("/yllapito/palaute/:feedback", s.requireUser, s.requireAdmin, s.checkCSRF, s.answerFeedback)
	}
	app.Get("/yllapito/loki", s.requireUser, s.requireAdmin, s.auditLog)
	app.Get("/yllapito/kayttajat", s.requireUser, s.requireAdmin, s.adminUsers)
	app.Post("/yllapito/kayttajat/:user/rooli", s.requireUser, s.requireAdmin, s.checkCSRF, s.adminSetRole)
	app.Post("/yllapito/kayttajat/:user/nollaus", s.requireUser, s.requireAdmin, s.checkCSRF, s.adminReset)
	app.Post("/yllapito/kayttajat/:user/tila", s.requireUser, s.requireAdmin, s.checkCSRF, s.adminDisable)
	app.Post("/yllapito/kayttajat/:user/istunnot", s.requireUser, s.requireAdmin, s.checkCSRF, s.adminEndSessions)
	app.Get("/yllapito/organisaatiot", s.requireUser, s.requireAdmin, s.adminOrganisations)

	// Accounts and studies in the API.
	app.Post("/api/v1/auth/register", jsonOnly, s.apiRegister)
	app.Post("/api/v1/auth/login", jsonOnly, s.apiLogin)
	app.Post("/api/v1/auth/logout", s.checkCSRF, s.apiLogout)
	app.Get("/api/v1/auth/session", s.requireUser, s.apiSession)
	app.Get("/api/v1/me/export", s.requireUser, s.apiExport)
	app.Get("/api/v1/progress", s.requireUser, s.apiProgress)
	app.Put("/api/v1/progress/:module/:section", s.requireUser, s.checkCSRF, s.apiRecordProgress)
	app.Get("/api/v1/tasks/:task/answer", s.requireUser, s.apiGetAnswer)
	app.Put("/api/v1/tasks/:task/answer", s.requireUser, s.checkCSRF, s.apiPutAnswer)
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
