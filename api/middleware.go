package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

const requestIDHeader = "X-Request-ID"

// requestID takes a well-formed incoming X-Request-ID (from a proxy) or
// makes a new one, and returns it on the response.
func (s *Server) requestID(c *fiber.Ctx) error {
	id := c.Get(requestIDHeader)
	if !validRequestID(id) {
		id = newRequestID()
	}
	c.Locals("request_id", id)
	c.Set(requestIDHeader, id)
	return c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	var out [24]byte // encoded on the stack: one allocation, the string
	hex.Encode(out[:], b[:])
	return string(out[:])
}

func requestIDOf(c *fiber.Ctx) string {
	id, _ := c.Locals("request_id").(string)
	return id
}

// observe writes the access log and the request metrics. Errors returned by
// handlers are turned into responses here, so the status logged is the one
// sent.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := s.handleError(c, err); herr != nil {
			s.log.Error("error handler failed", "err", herr)
			c.Status(fiber.StatusInternalServerError)
		}
	}
	elapsed := time.Since(start)
	status := c.Response().StatusCode()
	route := routeLabel(c)
	method := c.Method()
	s.metrics.Requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	s.metrics.Duration.WithLabelValues(method, route).Observe(elapsed.Seconds())

	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case route == "/livez" || route == "/readyz" || route == "/metrics" || route == "/static/:name":
		level = slog.LevelDebug
	}
	if s.log.Enabled(c.UserContext(), level) {
		s.log.LogAttrs(c.UserContext(), level, "request",
			slog.String("request_id", requestIDOf(c)),
			slog.String("method", method),
			slog.String("path", c.Path()),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Int("bytes", responseBytes(c)),
			slog.Duration("duration", elapsed),
			slog.String("remote", c.IP()),
		)
	}
	return nil
}

// responseBytes is the body's size without reading a streamed body.
func responseBytes(c *fiber.Ctx) int {
	if c.Response().IsBodyStream() {
		return c.Response().Header.ContentLength()
	}
	return len(c.Response().Body())
}

// routeLabel is the matched route template (never the raw path, so the
// metric's cardinality stays bounded). When no route matched, Fiber leaves
// the last middleware (mounted at "/") as the route.
func routeLabel(c *fiber.Ctx) string {
	r := c.Route()
	if r == nil || (r.Path == "/" && c.Path() != "/") {
		return "unmatched"
	}
	return r.Path
}

// recoverPanics turns a panic in a handler into a 500 response and a log
// record with the stack.
func (s *Server) recoverPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic", "request_id", requestIDOf(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fiber.NewError(fiber.StatusInternalServerError, "internal error")
		}
	}()
	return c.Next()
}

// securityHeaders builds the headers every response carries.
func securityHeaders(https bool, storageOrigin string) [][2]string {
	img, media := "'self' data:", "'self'"
	if storageOrigin != "" {
		img += " " + storageOrigin
		media += " " + storageOrigin
	}
	csp := strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src " + img,
		"media-src " + media,
		"font-src 'self'",
		"connect-src 'self'",
		"object-src 'none'",
		"base-uri 'none'",
		"frame-ancestors 'none'",
		"form-action 'self'",
	}, "; ")
	h := [][2]string{
		{"Content-Security-Policy", csp},
		{"X-Content-Type-Options", "nosniff"},
		{"Referrer-Policy", "strict-origin-when-cross-origin"},
		{"X-Frame-Options", "DENY"},
		{"Cross-Origin-Opener-Policy", "same-origin"},
		{"Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"},
	}
	if https {
		h = append(h, [2]string{"Strict-Transport-Security", "max-age=63072000; includeSubDomains"})
	}
	return h
}

func (s *Server) secureHeaders(c *fiber.Ctx) error {
	for _, h := range s.headers {
		c.Set(h[0], h[1])
	}
	return c.Next()
}
