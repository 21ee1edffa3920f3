package api

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tyokyky/tyokyky/backup"
	"github.com/tyokyky/tyokyky/internal/database"
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
	// Reason says what a starting instance waits for (see Starting).
	Reason string `json:"reason,omitempty"`
	// Backup is the scheduled backups' last result (Options.Backup).
	Backup *backup.Status `json:"backup,omitempty"`
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
				if err == nil && name == "database" {
					err = s.checkWrites(ctx)
				}
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
	if s.opts.Backup != nil {
		b := s.opts.Backup()
		res.Backup = &b
	}
	if len(res.Down) > 0 {
		res.Status = "unavailable"
		if len(res.Down) == 2 && res.Down[0] > res.Down[1] {
			res.Down[0], res.Down[1] = res.Down[1], res.Down[0]
		}
		return c.Status(fiber.StatusServiceUnavailable).JSON(res)
	}
	return c.JSON(res)
}

// checkWrites: after a write failed for a full disk, the database counts
// as down until a probe write works (reads go on working on a full disk).
// A store that cannot be probed counts as down for a minute after the
// last such failure.
func (s *Server) checkWrites(ctx context.Context) error {
	at := s.noSpaceAt.Load()
	if at == 0 || time.Since(time.Unix(0, at)) > 10*time.Minute {
		return nil
	}
	prober, ok := s.opts.Database.(interface{ ProbeWrite(context.Context) error })
	if !ok {
		if time.Since(time.Unix(0, at)) < time.Minute {
			return errors.New("writes fail: the disk is full")
		}
		return nil
	}
	if err := prober.ProbeWrite(ctx); err != nil {
		if database.IsNoSpace(err) {
			return errors.New("writes fail: the disk is full")
		}
		return err
	}
	s.noSpaceAt.CompareAndSwap(at, 0)
	return nil
}

func (s *Server) metricsHandler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{
		DisableCompression: true, // the compress middleware does it
	}))
}
