package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/tyokyky/tyokyky/media"
)

// Request bodies: bodies over the in-memory limit are refused, but on the
// upload routes, whose bodies are streamed to the media handlers.

// limitBodies refuses bodies over the in-memory limit everywhere but on
// the upload routes: the server streams large bodies instead of refusing
// them, so that uploads need not fit in memory.
func (s *Server) limitBodies(c *fiber.Ctx) error {
	if s.isUploadRoute(c) {
		// A declared length over the limit is refused at once, before the
		// body is waited for (a client that declares 3 GB and sends
		// nothing must not hold the connection until the read timeout).
		s.oversize.Delete(&c.Request().Header) // the handler runs: no error to answer for it
		if n := int64(c.Request().Header.ContentLength()); s.media != nil && n > s.media.MaxSize()+formAllowance {
			c.Response().SetConnectionClose()
			return media.ErrTooLarge.With(media.FormatSize(s.media.MaxSize()))
		}
		// A refused upload leaves its body unread on the connection: a
		// bounded remainder is drained (lingerBody), then it closes
		// rather than misparse the rest as another request.
		err := c.Next()
		if err != nil {
			if herr := s.handleError(c, err); herr != nil {
				return herr
			}
		}
		if c.Response().StatusCode() >= 400 {
			lingerBody(c)
			c.Response().SetConnectionClose()
		}
		return nil
	}
	if !c.Request().IsBodyStream() {
		return c.Next()
	}
	data, err := io.ReadAll(io.LimitReader(c.Context().RequestBodyStream(), bodyLimit+1))
	if err != nil || len(data) > bodyLimit {
		lingerBody(c)
		c.Response().SetConnectionClose()
		return fiber.NewError(fiber.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", bodyLimit))
	}
	c.Request().SetBodyRaw(data)
	return c.Next()
}

// lingerBody reads and discards up to lingerLimit more bytes of a refused
// body before the connection closes. Closing a socket with unread data
// makes the kernel send a reset, which can destroy the refusal before the
// client reads it; like a web server's lingering close, a modest
// remainder is drained so the client sees the 413, while a huge one is
// cut off instead of being read to the end.
func lingerBody(c *fiber.Ctx) {
	if !c.Request().IsBodyStream() {
		return
	}
	// Bounded in time too: a client that stops sending is not waited for
	// (the connection closes after this anyway).
	if conn := c.Context().Conn(); conn != nil {
		_ = conn.SetReadDeadline(time.Now().Add(lingerTime))
	}
	io.CopyN(io.Discard, c.Context().RequestBodyStream(), lingerLimit) //nolint:errcheck // best effort
}

// lingerLimit and lingerTime bound what lingerBody discards.
const (
	lingerLimit = 16 << 20
	lingerTime  = 2 * time.Second
)

// refuseDeclaredOversize answers 413 at once to a request whose declared
// Content-Length is over the largest upload. fasthttp reads the first
// bytes of a streamed body before any handler runs, so without this a
// client that declares 3 GB and sends nothing held the connection until
// the read timeout (30 s, then 408). Such a request may read one byte
// (then limitBodies refuses it) and waits at most lingerTime for it;
// when it times out, the 413 is written here.
func (s *Server) refuseDeclaredOversize() {
	if s.media == nil {
		return
	}
	srv := s.app.Server()
	srv.HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		// fasthttp resets the request when reading its body fails, so the
		// verdict is kept by the header (one per pooled request context,
		// set or cleared for every request) for the error handler.
		if int64(h.ContentLength()) > s.media.MaxSize()+formAllowance {
			s.oversize.Store(h, struct{}{})
			return fasthttp.RequestConfig{MaxRequestBodySize: 1, ReadTimeout: lingerTime}
		}
		s.oversize.Delete(h)
		return fasthttp.RequestConfig{}
	}
	inner := srv.ErrorHandler
	srv.ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		if _, over := s.oversize.LoadAndDelete(&ctx.Request.Header); !over {
			inner(ctx, err)
			return
		}
		body, _ := json.Marshal(problem{Type: "about:blank", Title: http.StatusText(http.StatusRequestEntityTooLarge),
			Status: http.StatusRequestEntityTooLarge, Detail: media.ErrTooLarge.With(media.FormatSize(s.media.MaxSize())).Error(), Ext: map[string]any{"code": media.ErrTooLarge.Code}})
		ctx.Response.Reset()
		ctx.SetStatusCode(http.StatusRequestEntityTooLarge)
		ctx.SetContentType("application/problem+json")
		ctx.SetBody(body)
		ctx.SetConnectionClose()
	}
}

// formAllowance is what a multipart upload may carry beyond the file
// itself (boundaries, part headers, the title and id fields).
const formAllowance = 1 << 20

// bodyLimit is the largest body read into memory.
const bodyLimit = 4 << 20

func (s *Server) isUploadRoute(c *fiber.Ctx) bool {
	p := c.Path()
	if !strings.HasPrefix(p, "/api/v1/media") && p != "/studio/media" {
		return false
	}
	m := c.Method()
	return (m == fiber.MethodPost && (p == "/api/v1/media" || p == "/api/v1/media/" || p == "/studio/media")) ||
		(m == fiber.MethodPut && (strings.Contains(p, "/captions/") || strings.HasSuffix(p, "/poster")))
}
