package api

import (
	"context"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// livez answers as long as the process serves HTTP.
func (s *Server) livez(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"status": "ok", "version": s.opts.Version})
}

type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Down   []string          `json:"down,omitempty"`
}

// readyz checks the database and the object store at once, each within
// CheckTimeout; any failure, or a shutdown in progress, answers 503.
func (s *Server) readyz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if s.draining.Load() {
		return c.Status(fiber.StatusServiceUnavailable).JSON(readiness{Status: "shutting down", Checks: map[string]string{}})
	}
	checks := map[string]Pinger{"database": s.opts.Database, "storage": s.opts.Storage}
	res := readiness{Status: "ok", Checks: make(map[string]string, len(checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, p := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status := "ok"
			if p == nil {
				status = "not configured"
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), s.opts.CheckTimeout)
				err := p.Ping(ctx)
				cancel()
				if err != nil {
					status = "down: " + err.Error()
				}
			}
			mu.Lock()
			res.Checks[name] = status
			if status != "ok" {
				res.Down = append(res.Down, name)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(res.Down) > 0 {
		res.Status = "unavailable"
		if len(res.Down) == 2 && res.Down[0] > res.Down[1] {
			res.Down[0], res.Down[1] = res.Down[1], res.Down[0]
		}
		return c.Status(fiber.StatusServiceUnavailable).JSON(res)
	}
	return c.JSON(res)
}

func (s *Server) metricsHandler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{
		DisableCompression: true, // the compress middleware does it
	}))
}
