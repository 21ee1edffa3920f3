package api

import (
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/web"
)

// core is the request machinery every handler shares: who asks and what
// they may do (the viewer, its session and CSRF token, require and can:
// auth.go), in which language (lang.go), the published course, answering
// with a form or a private page in the site layout (below) or with a
// problem document (errors.go), the audit log and what follows a
// publication (contentChanged).
//
// The handlers of a resource are methods of a small struct that holds
// the core beside the stores it uses (pageHandlers, accountHandlers,
// studioHandlers, feedbackHandlers, …), built once in routes; Server
// embeds it for its own server-wide handlers (errors, middleware,
// health).
type core struct {
	log   *slog.Logger
	https bool
	// accounts finds the session of a request and keeps the audit log
	// (nil: the site has no accounts, and nobody is signed in).
	accounts *account.Store
	// library is the published course (nil: none).
	library *course.Library
	// renderPage executes a page template in the site layout with its
	// navigation filled in (Server.render, which knows what the
	// navigation shows: the course and which features are on).
	renderPage func(name, lang, path string, p page) ([]byte, error)
}

// published is the course as published now (nil without a library).
func (s *core) published() *course.Published {
	if s.library == nil {
		return nil
	}
	return s.library.Current()
}

// examRules is the published course's final exam (404 when it has none
// or its bank is empty).
func (s *core) examRules() (*course.Exam, error) {
	pub := s.published()
	if pub == nil || pub.Course.Exam == nil || len(pub.Course.Exam.Items) == 0 {
		return nil, fiber.ErrNotFound
	}
	return pub.Course.Exam, nil
}

// renderForm renders an account page that is never cached.
func (s *core) renderForm(c *fiber.Ctx, status int, name, titleKey string, d any) error {
	lang := s.lang(c)
	v := s.viewerOf(c)
	if !v.signedIn() {
		v = nil // half signed in (second factor pending) shows as signed out
	}
	body, err := s.renderPage(name, lang, c.Path(), page{Title: web.T(lang, titleKey), Data: d, Viewer: v, CSRF: s.csrfToken(c)})
	if err != nil {
		return err
	}
	c.Status(status)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Response().SetBodyRaw(body)
	return nil
}

// renderPrivate is renderForm for a signed-in learner's own page.
func (s *core) renderPrivate(c *fiber.Ctx, name, titleKey string, d any) error {
	if err := s.renderForm(c, fiber.StatusOK, name, titleKey, d); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return nil
}

// noticeData is a page with a heading, paragraphs and a link or a form.
type noticeData struct {
	Paragraphs []string
	Link       string
	LinkLabel  string
	// A form with one button (the unsubscribe confirmation).
	FormAction, FormButton string
}

// notice renders a notice page (the answer of an e-mail link, of a
// request that sends one).
func (s *core) notice(c *fiber.Ctx, status int, titleKey string, d noticeData) error {
	return s.renderForm(c, status, "notice", titleKey, &d)
}
