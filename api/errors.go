package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/web"
)

// problem is an RFC 9457 problem details document.
type problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []fieldError `json:"errors,omitempty"`
	// Ext are extension members (RFC 9457 §3.2) beside the standard ones.
	Ext map[string]any `json:"-"`
}

// handleError answers an error as problem+json for API clients and as an
// HTML page in the site layout for browsers. Details of internal errors are
// logged, never shown.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	err = s.storeFault(c, err)
	if f, ok := fault.As(err); ok {
		return s.refusal(c, f)
	}
	code := fiber.StatusInternalServerError
	detail := ""
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code = fe.Code
		if code < 500 {
			detail = fe.Message
		}
	}
	if code >= 500 {
		s.log.Error("request failed", "request_id", requestIDOf(c), "path", c.Path(), "err", err)
	}
	key := "err." + strconv.Itoa(code)
	if !web.HasMessage("fi", key) {
		key = "err.500"
		if code < 500 {
			key = "err.400"
		}
	}
	if wantsJSON(c) {
		if detail == "" || strings.HasPrefix(detail, "Cannot ") {
			detail = web.T("en", key)
		}
		return s.problem(c, code, http.StatusText(code), detail)
	}
	lang := s.lang(c)
	return s.renderStatus(c, code, "error", page{
		Title:     web.T(lang, key+".title"),
		Message:   web.T(lang, key),
		RequestID: requestIDOf(c),
	})
}

// refusal answers a domain package's refusal: the status its kind maps
// to, a problem type and the code (for API clients, with the field when
// it concerns one), and the message of its code in the reader's language.
// Its English detail, meant for logs, never reaches the client.
func (s *Server) refusal(c *fiber.Ctx, f *fault.Error) error {
	code := statusOf(f)
	if f.Kind == fault.Busy {
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	if wantsJSON(c) {
		lang := s.apiLang(c)
		p := problem{Type: problemType(f.Code), Title: http.StatusText(code), Status: code, Detail: web.T(lang, f.MessageKey(), f.Args...),
			Ext: map[string]any{"code": f.Code}}
		if f.Field != "" {
			p.Errors = []fieldError{{Field: f.Field, Code: f.Code, Message: p.Detail}}
		}
		return s.writeProblem(c, p)
	}
	lang := s.lang(c)
	title := "err." + strconv.Itoa(code) + ".title"
	if !web.HasMessage(lang, title) {
		title = "err.400.title"
	}
	return s.renderStatus(c, code, "error", page{Title: web.T(lang, title), Message: web.T(lang, f.MessageKey(), f.Args...), RequestID: requestIDOf(c)})
}

// refused is the status and the message in the reader's language of a
// refusal (a domain package's, or a client error the handlers made), for
// pages that show it beside a form; ok is false for other errors.
func (s *core) refused(c *fiber.Ctx, err error) (status int, msg string, ok bool) {
	if f, isFault := fault.As(err); isFault {
		return statusOf(f), web.T(s.lang(c), f.MessageKey(), f.Args...), true
	}
	var fe *fiber.Error
	if errors.As(err, &fe) && fe.Code < 500 && fe.Message != "" {
		return fe.Code, fe.Message, true
	}
	return 0, "", false
}

// statusOf is the HTTP status of a refusal: by its kind, and for invalid
// input 422 when it names a field (a well-formed request whose value is
// refused), 400 otherwise.
func statusOf(f *fault.Error) int {
	switch f.Kind {
	case fault.Invalid:
		if f.Field != "" {
			return fiber.StatusUnprocessableEntity
		}
		return fiber.StatusBadRequest
	case fault.NotFound:
		return fiber.StatusNotFound
	case fault.Conflict:
		return fiber.StatusConflict
	case fault.Forbidden:
		return fiber.StatusForbidden
	case fault.Busy:
		return fiber.StatusServiceUnavailable
	case fault.TooLarge:
		return fiber.StatusRequestEntityTooLarge
	case fault.Unsupported:
		return fiber.StatusUnsupportedMediaType
	}
	return fiber.StatusInternalServerError
}

// problemType is the RFC 9457 type URI of a refusal's code.
func problemType(code string) string {
	return "tag:tyokyky,2026:problem:" + strings.ReplaceAll(code, "_", "-")
}

// apiLang is the language of an API answer's messages: the UI language
// when the client chose one (the site's cookie, Accept-Language), else
// English, the API's own.
func (s *core) apiLang(c *fiber.Ctx) string {
	if c.Cookies(langCookie) != "" || c.Get(fiber.HeaderAcceptLanguage) != "" || c.Query("lang") != "" {
		return s.lang(c)
	}
	return "en"
}

// storeFault turns a store's failure into what the client can act on: a
// full disk is 507 ("nothing was saved, try again"), counted in /metrics
// and reported by /readyz until writes work again; a database too busy to
// answer in time, or an object store that does not answer, is 503; all
// say when to try again. Other errors pass.
func (s *Server) storeFault(c *fiber.Ctx, err error) error {
	switch {
	case database.IsNoSpace(err):
		s.metrics.NoSpace.WithLabelValues("database").Inc()
		s.noSpaceAt.Store(time.Now().UnixNano())
		s.log.Error("a write failed: the database's disk is full", "request_id", requestIDOf(c), "path", c.Path(), "err", err)
		c.Set(fiber.HeaderRetryAfter, "60")
		return fiber.NewError(fiber.StatusInsufficientStorage, "")
	case errors.Is(err, media.ErrNoSpace):
		s.metrics.NoSpace.WithLabelValues("storage").Inc()
		s.log.Error("a write failed: the object store is full", "request_id", requestIDOf(c), "path", c.Path(), "err", err)
		c.Set(fiber.HeaderRetryAfter, "60")
		return fiber.NewError(fiber.StatusInsufficientStorage, "")
	case errors.Is(err, media.ErrUnavailable):
		s.log.Error("the object store did not answer", "request_id", requestIDOf(c), "path", c.Path(), "err", err)
		c.Set(fiber.HeaderRetryAfter, "30")
		return fiber.NewError(fiber.StatusServiceUnavailable, "")
	case errors.Is(err, media.ErrUploadCut):
		return fiber.NewError(fiber.StatusBadRequest, "the upload ended before its end; nothing was stored")
	case database.IsBusy(err):
		// Nothing was written: the client may send it again (the answer
		// autosave does, after Retry-After).
		s.metrics.StoreBusy.Inc()
		s.log.Warn("the database was too busy to answer in time", "request_id", requestIDOf(c), "path", c.Path(), "err", err)
		c.Set(fiber.HeaderRetryAfter, "2")
		return fiber.NewError(fiber.StatusServiceUnavailable, "")
	}
	return err
}

func (s *core) problem(c *fiber.Ctx, code int, title, detail string) error {
	return s.writeProblem(c, problem{Type: "about:blank", Title: title, Status: code, Detail: detail})
}

// problemFields answers a validation problem listing the fields.
func (s *core) problemFields(c *fiber.Ctx, code int, detail string, fields []fieldError) error {
	return s.writeProblem(c, problem{Type: "about:blank", Title: http.StatusText(code), Status: code, Detail: detail, Errors: fields})
}

func (s *core) writeProblem(c *fiber.Ctx, p problem) error {
	p.Instance, p.RequestID = c.Path(), requestIDOf(c)
	c.Status(p.Status)
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if len(p.Ext) > 0 {
		merged := map[string]any{}
		if err := json.Unmarshal(body, &merged); err != nil {
			return err
		}
		for k, v := range p.Ext {
			if _, standard := merged[k]; !standard {
				merged[k] = v
			}
		}
		if body, err = json.Marshal(merged); err != nil {
			return err
		}
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(body)
}

// wantsJSON: API paths always get JSON; elsewhere the Accept header decides.
func wantsJSON(c *fiber.Ctx) bool {
	p := c.Path()
	if strings.HasPrefix(p, "/api/") || p == "/readyz" || p == "/livez" {
		return true
	}
	accept := c.Get(fiber.HeaderAccept)
	return strings.Contains(accept, "json") && !strings.Contains(accept, "text/html")
}
