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
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/metrics"
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
	library  *course.Library
	cache    atomic.Pointer[cache]
	https    bool
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
	pages, err := web.ParsePages(template.FuncMap{"t": web.T, "hours": hours, "join": strings.Join})
	if err != nil {
		return nil, err
	}
	s := &Server{
		log:     o.Logger,
		metrics: o.Metrics,
		opts:    o,
		pages:   pages,
		headers: securityHeaders(base.Scheme == "https", o.StorageOrigin),
		library: o.Library,
		https:   base.Scheme == "https",
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "tyokyky",
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           120 * time.Second,
		ReadBufferSize:        16 * 1024,
	})
	s.routes()
	return s, nil
}

// routes is the one table of every route the platform serves.
func (s *Server) routes() {
	app := s.app
	app.Use(s.requestID, s.observe, s.recoverPanics, s.secureHeaders)
	app.Use(compress.New(compress.Config{Level: compress.LevelDefault}))

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

	// Pages.
	app.Get("/", s.home)
	app.Get("/osiot", s.modulesPage)
	app.Get("/osiot/:module", s.modulePage)
	app.Get("/osiot/:module/:section", s.sectionPage)
	app.Get("/lainsaadanto", s.legislationPage)
	app.Get("/sanasto", s.glossaryPage)
	app.Get("/sanasto/:concept", s.conceptPage)
	app.Get("/kurssi/kuvat/:name", s.figure)
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

// SetDraining marks the server as going away: /readyz answers 503.
func (s *Server) SetDraining() { s.draining.Store(true) }
