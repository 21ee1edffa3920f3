package api

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/web"
)

// E-mail: what the platform sends, the pages behind its links and the
// administrators' outbox. Every message is written to the outbox (package
// mail) in the request that causes it.

// forgotFloor is the least time the forgotten-password answer takes, so
// that an address with an account (a token and a message are written)
// and one without answer alike.
const forgotFloor = 400 * time.Millisecond

// sendVerification sends the account a link that verifies its address (or
// its pending new one).
func (s *Server) sendVerification(ctx context.Context, u *account.User) error {
	token, address, err := s.accounts.IssueVerification(ctx, u)
	if err != nil {
		return err
	}
	return s.mailTo(ctx, address, u.Name, u.MailLang(), u.ID, "verify_email", "verify/"+token,
		map[string]string{"link": s.link("/sahkoposti/vahvista?token=" + url.QueryEscape(token))})
}

// noticeData is a page with a heading, paragraphs and a link or a form.
type noticeData struct {
	Paragraphs []string
	Link       string
	LinkLabel  string
	// A form with one button (the unsubscribe confirmation).
	FormAction, FormButton string
}

func (s *Server) notice(c *fiber.Ctx, status int, titleKey string, d noticeData) error {
	return s.renderForm(c, status, "notice", titleKey, &d)
}

// Forgotten password.

func (s *Server) forgotPage(c *fiber.Ctx) error {
	return s.renderForm(c, 200, "forgot", "forgot.title", &formData{})
}

func (s *Server) forgot(c *fiber.Ctx) error {
	start := time.Now()
	lang := s.lang(c)
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	d := &formData{Values: map[string]string{"email": email}}
	if _, err := account.NormalizeEmail(email); err != nil {
		d.Errors = []fieldError{{Field: "email", Message: web.T(lang, "form.email.invalid")}}
		return s.renderForm(c, fiber.StatusUnprocessableEntity, "forgot", "forgot.title", d)
	}
	ipKey, addrKey := "forgot-ip:"+clientIP(c), "forgot-addr:"+email
	if w := max(s.forgotIPLimit.Wait(ipKey), s.forgotLimit.Wait(addrKey)); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		d.Errors = []fieldError{{Field: "", Message: web.T(lang, "form.limited")}}
		return s.renderForm(c, fiber.StatusTooManyRequests, "forgot", "forgot.title", d)
	}
	// Every request counts, known address or not.
	s.forgotIPLimit.Fail(ipKey)
	s.forgotLimit.Fail(addrKey)
	if u, err := s.accounts.UserByEmail(c.UserContext(), email); err == nil && !u.Disabled {
		token, _, err := s.accounts.IssueReset(c.UserContext(), u.Email, account.ResetTTL)
		if err == nil {
			err = s.mailTo(c.UserContext(), u.Email, u.Name, u.MailLang(), u.ID, "password_reset", "reset/"+token,
				map[string]string{"link": s.link("/salasana/uusi?token=" + url.QueryEscape(token))})
		}
		if err != nil {
			return err
		}
	} else if err != nil && !errors.Is(err, account.ErrNotFound) {
		return err
	}
	if wait := forgotFloor - time.Since(start); wait > 0 {
		time.Sleep(wait)
	}
	return s.notice(c, 200, "forgot.sent.title", noticeData{
		Paragraphs: []string{web.T(lang, "forgot.sent"), web.T(lang, "forgot.sent.spam")},
		Link:       "/kirjaudu", LinkLabel: web.T(lang, "login.title")})
}

// Address verification.

func (s *Server) verifyEmail(c *fiber.Ctx) error {
	lang := s.lang(c)
	u, old, err := s.accounts.Verify(c.UserContext(), c.Query("token"))
	switch {
	case errors.Is(err, account.ErrTokenInvalid):
		return s.notice(c, fiber.StatusBadRequest, "verify.invalid.title", noticeData{
			Paragraphs: []string{web.T(lang, "verify.invalid")}, Link: "/tili", LinkLabel: web.T(lang, "account.title")})
	case errors.Is(err, account.ErrEmailInUse):
		return s.notice(c, fiber.StatusConflict, "verify.invalid.title", noticeData{
			Paragraphs: []string{web.T(lang, "verify.inuse")}, Link: "/tili", LinkLabel: web.T(lang, "account.title")})
	case err != nil:
		return err
	}
	if old != "" {
		if err := s.mailTo(c.UserContext(), old, u.Name, u.MailLang(), u.ID, "email_changed", "", map[string]string{"new_email": u.Email}); err != nil {
			s.log.Error("e-mail notice not queued", "kind", "email_changed", "user", u.ID, "err", err)
		}
		s.accountEvent(c, u.ID, "email.changed", old+" → "+u.Email)
	}
	s.issueWaitingCertificates(c.UserContext(), u.ID)
	return s.notice(c, 200, "verify.done.title", noticeData{
		Paragraphs: []string{web.T(lang, "verify.done", u.Email)}, Link: "/omat-opinnot", LinkLabel: web.T(lang, "nav.studies")})
}

// accountEvent writes an audit entry of something an account did to
// itself; a failure is logged.
func (s *Server) accountEvent(c *fiber.Ctx, userID, action, detail string) {
	if err := s.accounts.Audit(c.UserContext(), userID, action, userID, detail); err != nil {
		s.log.Error("audit", "action", action, "err", err)
	}
}

// issueWaitingCertificates issues the certificates of passed attempts
// that waited for a verified address.
func (s *Server) issueWaitingCertificates(ctx context.Context, userID string) {
	if s.exam == nil || s.certs == nil {
		return
	}
	passed, err := s.exam.PassedAttempts(ctx)
	if err != nil {
		s.log.Error("certificates after verification", "err", err)
		return
	}
	for _, p := range passed {
		if p.UserID != userID {
			continue
		}
		if _, err := s.certs.Issue(ctx, p.UserID, p.Attempt); err != nil {
			s.log.Error("certificate after verification", "attempt", p.Attempt, "err", err)
		}
	}
}

// Account page: resend the verification, change the address, e-mail
// preferences.

func (s *Server) resendVerification(c *fiber.Ctx) error {
	v := s.viewerOf(c)
	if w := s.forgotLimit.Wait("verify:" + v.User.ID); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		return s.showAccount(c, fiber.StatusTooManyRequests, &accountData{formData: formData{Errors: []fieldError{{Field: "", Message: web.T(s.lang(c), "form.limited")}}}})
	}
	s.forgotLimit.Fail("verify:" + v.User.ID)
	if err := s.sendVerification(c.UserContext(), v.User); err != nil {
		return err
	}
	return c.Redirect("/tili?ilmoitus=vahvistus#sahkoposti", fiber.StatusSeeOther)
}

func (s *Server) changeEmail(c *fiber.Ctx) error {
	v := s.viewerOf(c)
	lang := s.lang(c)
	fail := func(status int, field, key string) error {
		return s.showAccount(c, status, &accountData{formData: formData{Errors: []fieldError{{Field: field, Message: web.T(lang, key)}},
			Values: map[string]string{"new_email": c.FormValue("email")}}})
	}
	if w := s.passwordWait(c, v.User); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		return fail(fiber.StatusTooManyRequests, "email-password", "form.limited")
	}
	if _, err := s.accounts.Authenticate(c.UserContext(), v.User.Email, c.FormValue("password")); err != nil {
		s.passwordFailed(c, v.User)
		return fail(fiber.StatusUnprocessableEntity, "email-password", "form.current.wrong")
	}
	email, err := s.accounts.RequestEmailChange(c.UserContext(), v.User, c.FormValue("email"))
	switch {
	case errors.Is(err, account.ErrInvalidEmail):
		return fail(fiber.StatusUnprocessableEntity, "new_email", "form.email.invalid")
	case errors.Is(err, account.ErrEmailTaken):
		// The same answer as for a free address; the address's owner is
		// told that someone tried to use it.
		if other, err := s.accounts.UserByEmail(c.UserContext(), email); err == nil {
			s.mailTo(c.UserContext(), other.Email, other.Name, other.MailLang(), other.ID, "register_exists", "",
				map[string]string{"link": s.link("/kirjaudu")})
		}
	case err != nil:
		return err
	default:
		if err := s.sendVerification(c.UserContext(), v.User); err != nil {
			return err
		}
	}
	return c.Redirect("/tili?ilmoitus=osoite#sahkoposti", fiber.StatusSeeOther)
}

func (s *Server) savePreferences(c *fiber.Ctx) error {
	v := s.viewerOf(c)
	lang := c.FormValue("mail_lang")
	if !knownLang(lang) {
		return fiber.NewError(fiber.StatusBadRequest, "the e-mail language must be fi, sv or en")
	}
	p := account.Preferences{Reminders: c.FormValue("reminders") == "1", Lang: lang}
	if err := s.accounts.SetPreferences(c.UserContext(), v.User.ID, p); err != nil {
		return err
	}
	return c.Redirect("/tili?ilmoitus=viestit#viestit", fiber.StatusSeeOther)
}

// One-click unsubscribe (RFC 8058): the GET page asks, the POST (the
// page's button, or a mail program with List-Unsubscribe=One-Click)
// turns the reminders off. The token is the authority; no session is
// needed, so there is no CSRF token either.

func (s *Server) unsubscribePage(c *fiber.Ctx) error {
	lang := s.lang(c)
	token := c.Query("token")
	if token == "" {
		return s.unsubscribeInvalid(c)
	}
	return s.notice(c, 200, "unsubscribe.title", noticeData{Paragraphs: []string{web.T(lang, "unsubscribe.ask")},
		FormAction: "/viestit/peru?token=" + url.QueryEscape(token), FormButton: web.T(lang, "unsubscribe.submit")})
}

func (s *Server) unsubscribe(c *fiber.Ctx) error {
	lang := s.lang(c)
	token := c.Query("token")
	if token == "" {
		token = c.FormValue("token")
	}
	if w := s.forgotIPLimit.Wait("unsubscribe:" + clientIP(c)); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		return fiber.NewError(fiber.StatusTooManyRequests, web.T(lang, "form.limited"))
	}
	if _, err := s.accounts.Unsubscribe(c.UserContext(), token); err != nil {
		if errors.Is(err, account.ErrTokenInvalid) {
			s.forgotIPLimit.Fail("unsubscribe:" + clientIP(c))
			return s.unsubscribeInvalid(c)
		}
		return err
	}
	return s.notice(c, 200, "unsubscribe.done.title", noticeData{Paragraphs: []string{web.T(lang, "unsubscribe.done")},
		Link: "/tili#viestit", LinkLabel: web.T(lang, "account.title")})
}

func (s *Server) unsubscribeInvalid(c *fiber.Ctx) error {
	lang := s.lang(c)
	return s.notice(c, fiber.StatusBadRequest, "unsubscribe.invalid.title", noticeData{Paragraphs: []string{web.T(lang, "unsubscribe.invalid")},
		Link: "/tili#viestit", LinkLabel: web.T(lang, "account.title")})
}

// The administrators' outbox and development mailbox.

type outboxData struct {
	formData
	Messages []mail.Message
	Counts   map[string]int64
	State    string
	States   []string
	Holding  bool
	Message  *mail.Message
	Me       string
}

func (s *Server) adminMail(c *fiber.Ctx) error {
	state := c.Query("tila")
	if state != "" && state != mail.Pending && state != mail.Sent && state != mail.Failed && state != mail.Held {
		return fiber.NewError(fiber.StatusBadRequest, "tila must be pending, sent, failed or held")
	}
	msgs, err := s.outbox.List(c.UserContext(), state, 200)
	if err != nil {
		return err
	}
	counts, err := s.outbox.Counts(c.UserContext())
	if err != nil {
		return err
	}
	d := &outboxData{Messages: msgs, Counts: counts, State: state, States: []string{mail.Pending, mail.Failed, mail.Sent, mail.Held},
		Holding: s.outbox.Holding(), Me: s.viewerOf(c).User.Email}
	if n := c.Query("ilmoitus"); n != "" {
		d.Notice = web.T(s.lang(c), "mail.notice."+n)
	}
	return s.renderForm(c, 200, "admin_mail", "mail.title", d)
}

func (s *Server) adminMailMessage(c *fiber.Ctx) error {
	m, err := s.outbox.Message(c.UserContext(), c.Params("message"))
	if err != nil {
		return fiber.ErrNotFound
	}
	return s.renderForm(c, 200, "admin_mail_message", "mail.message.title", &outboxData{Message: m, Holding: s.outbox.Holding()})
}

// adminMailHTML shows a message's HTML exactly as sent, in a sandbox: no
// scripts, no requests, only its inline styles.
func (s *Server) adminMailHTML(c *fiber.Ctx) error {
	m, err := s.outbox.Message(c.UserContext(), c.Params("message"))
	if err != nil || m.HTML == "" {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox")
	c.Set(fiber.HeaderXFrameOptions, "SAMEORIGIN")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(m.HTML)
}

func (s *Server) adminMailRetry(c *fiber.Ctx) error {
	id := c.Params("message")
	ok, err := s.outbox.Retry(c.UserContext(), id)
	if err != nil {
		return err
	}
	if !ok {
		return fiber.NewError(fiber.StatusConflict, "only a failed message can be sent again")
	}
	s.audit(c, "mail.retry", id, "")
	return c.Redirect("/yllapito/posti?ilmoitus=uudelleen", fiber.StatusSeeOther)
}

func (s *Server) adminMailTest(c *fiber.Ctx) error {
	v := s.viewerOf(c)
	to := strings.TrimSpace(c.FormValue("to"))
	if to == "" {
		to = v.User.Email
	}
	email, err := account.NormalizeEmail(to)
	if err != nil {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "the test address is not a valid e-mail address")
	}
	if err := s.mailTo(c.UserContext(), email, "", s.lang(c), "", "test", "", nil); err != nil {
		return err
	}
	s.audit(c, "mail.test", email, "")
	return c.Redirect("/yllapito/posti?ilmoitus=testi", fiber.StatusSeeOther)
}
