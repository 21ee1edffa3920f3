package api

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/web"
)

// E-mail: the pages behind the links of messages and the administrators'
// outbox. Every message is written to the outbox (package mail, through
// mailer) in the request that causes it.

// emailHandlers serve the pages behind the links of messages (forgotten
// password, reset, address verification, unsubscribe), the e-mail
// preferences and the administrators' outbox.
type emailHandlers struct {
	*core
	mail *mailer
	// limit counts e-mail link requests per address and per account,
	// ipLimit per IP (rateLimits' forgot and forgotIP: the account
	// page's resend counts in limit too).
	limit, ipLimit *account.Limiter
	// resetLimit counts reset attempts per IP (rateLimits' register,
	// shared with registration).
	resetLimit *account.Limiter
	// exam and certs issue the certificates that waited for a verified
	// address (nil: none).
	exam  *exam.Store
	certs *cert.Store
}

// forgotFloor is the least time the forgotten-password answer takes, so
// that an address with an account (a token and a message are written)
// and one without answer alike.
const forgotFloor = 400 * time.Millisecond

// Forgotten password.

func (h *emailHandlers) forgotPage(c *fiber.Ctx) error {
	return h.renderForm(c, 200, "forgot", "forgot.title", &formData{})
}

func (h *emailHandlers) forgot(c *fiber.Ctx) error {
	start := time.Now()
	lang := h.lang(c)
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	d := &formData{Values: map[string]string{"email": email}}
	if _, err := account.NormalizeEmail(email); err != nil {
		d.Errors = []fieldError{{Field: "email", Message: web.T(lang, "form.email.invalid")}}
		return h.renderForm(c, fiber.StatusUnprocessableEntity, "forgot", "forgot.title", d)
	}
	ipKey, addrKey := "forgot-ip:"+clientIP(c), "forgot-addr:"+email
	if w := max(h.ipLimit.Wait(ipKey), h.limit.Wait(addrKey)); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		d.Errors = []fieldError{{Field: "", Message: web.T(lang, "form.limited")}}
		return h.renderForm(c, fiber.StatusTooManyRequests, "forgot", "forgot.title", d)
	}
	// Every request counts, known address or not.
	h.ipLimit.Fail(ipKey)
	h.limit.Fail(addrKey)
	if u, err := h.accounts.UserByEmail(c.UserContext(), email); err == nil && !u.Disabled {
		token, _, err := h.accounts.IssueReset(c.UserContext(), u.Email, account.ResetTTL)
		if err == nil {
			err = h.mail.mailTo(c.UserContext(), u.Email, u.Name, u.MailLang(), u.ID, "password_reset", "reset/"+token,
				map[string]string{"link": h.mail.link("/salasana/uusi?token=" + url.QueryEscape(token))})
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
	return h.notice(c, 200, "forgot.sent.title", noticeData{
		Paragraphs: []string{web.T(lang, "forgot.sent"), web.T(lang, "forgot.sent.spam")},
		Link:       "/kirjaudu", LinkLabel: web.T(lang, "login.title")})
}

// Resetting the password with the link.

func (h *emailHandlers) resetPage(c *fiber.Ctx) error {
	return h.renderForm(c, 200, "reset", "reset.title", &formData{Values: map[string]string{"token": c.Query("token")}})
}

func (h *emailHandlers) reset(c *fiber.Ctx) error {
	lang := h.lang(c)
	token := c.FormValue("token")
	d := &formData{Values: map[string]string{"token": token}}
	ipKey := "reset:" + clientIP(c)
	if w := h.resetLimit.Wait(ipKey); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		d.Errors = []fieldError{{Field: "", Message: web.T(lang, "form.limited")}}
		return h.renderForm(c, fiber.StatusTooManyRequests, "reset", "reset.title", d)
	}
	u, err := h.accounts.UseReset(c.UserContext(), token, c.FormValue("password"))
	if err != nil {
		if errors.Is(err, account.ErrTokenInvalid) {
			h.resetLimit.Fail(ipKey)
			d.Errors = []fieldError{{Field: "", Message: web.T(lang, "form.reset.invalid")}}
		} else {
			field, key := errorMessage(err)
			if key == "err.500" {
				return err
			}
			d.Errors = []fieldError{{Field: field, Message: web.T(lang, key)}}
		}
		return h.renderForm(c, fiber.StatusUnprocessableEntity, "reset", "reset.title", d)
	}
	h.mail.notify(c.UserContext(), u, "password_changed", map[string]string{"link": h.mail.link("/salasana/unohtui")})
	return c.Redirect("/kirjaudu?ilmoitus=salasana", fiber.StatusSeeOther)
}

// Address verification.

func (h *emailHandlers) verify(c *fiber.Ctx) error {
	lang := h.lang(c)
	u, old, err := h.accounts.Verify(c.UserContext(), c.Query("token"))
	switch {
	case errors.Is(err, account.ErrTokenInvalid):
		return h.notice(c, fiber.StatusBadRequest, "verify.invalid.title", noticeData{
			Paragraphs: []string{web.T(lang, "verify.invalid")}, Link: "/tili", LinkLabel: web.T(lang, "account.title")})
	case errors.Is(err, account.ErrEmailInUse):
		return h.notice(c, fiber.StatusConflict, "verify.invalid.title", noticeData{
			Paragraphs: []string{web.T(lang, "verify.inuse")}, Link: "/tili", LinkLabel: web.T(lang, "account.title")})
	case err != nil:
		return err
	}
	if old != "" {
		if err := h.mail.mailTo(c.UserContext(), old, u.Name, u.MailLang(), u.ID, "email_changed", "", map[string]string{"new_email": u.Email}); err != nil {
			h.log.Error("e-mail notice not queued", "kind", "email_changed", "user", u.ID, "err", err)
		}
		h.accountEvent(c, u.ID, "email.changed", old+" → "+u.Email)
	}
	h.issueWaitingCertificates(c.UserContext(), u.ID)
	return h.notice(c, 200, "verify.done.title", noticeData{
		Paragraphs: []string{web.T(lang, "verify.done", u.Email)}, Link: "/omat-opinnot", LinkLabel: web.T(lang, "nav.studies")})
}

// accountEvent writes an audit entry of something an account did to
// itself; a failure is logged.
func (h *emailHandlers) accountEvent(c *fiber.Ctx, userID, action, detail string) {
	if err := h.accounts.Audit(c.UserContext(), userID, action, userID, detail); err != nil {
		h.log.Error("audit", "action", action, "err", err)
	}
}

// issueWaitingCertificates issues the certificates of passed attempts
// that waited for a verified address.
func (h *emailHandlers) issueWaitingCertificates(ctx context.Context, userID string) {
	if h.exam == nil || h.certs == nil {
		return
	}
	passed, err := h.exam.PassedAttempts(ctx)
	if err != nil {
		h.log.Error("certificates after verification", "err", err)
		return
	}
	for _, p := range passed {
		if p.UserID != userID {
			continue
		}
		if _, err := h.certs.Issue(ctx, p.UserID, p.Attempt); err != nil {
			h.log.Error("certificate after verification", "attempt", p.Attempt, "err", err)
		}
	}
}

// Account page: e-mail preferences.

func (h *emailHandlers) savePreferences(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	lang := c.FormValue("mail_lang")
	if !knownLang(lang) {
		return fiber.NewError(fiber.StatusBadRequest, "the e-mail language must be fi, sv or en")
	}
	p := account.Preferences{Reminders: c.FormValue("reminders") == "1", Lang: lang}
	if err := h.accounts.SetPreferences(c.UserContext(), v.User.ID, p); err != nil {
		return err
	}
	return c.Redirect("/tili?ilmoitus=viestit#viestit", fiber.StatusSeeOther)
}

// One-click unsubscribe (RFC 8058): the GET page asks, the POST (the
// page's button, or a mail program with List-Unsubscribe=One-Click)
// turns the reminders off. The token is the authority; no session is
// needed, so there is no CSRF token either.

func (h *emailHandlers) unsubscribePage(c *fiber.Ctx) error {
	lang := h.lang(c)
	token := c.Query("token")
	if token == "" {
		return h.unsubscribeInvalid(c)
	}
	return h.notice(c, 200, "unsubscribe.title", noticeData{Paragraphs: []string{web.T(lang, "unsubscribe.ask")},
		FormAction: "/viestit/peru?token=" + url.QueryEscape(token), FormButton: web.T(lang, "unsubscribe.submit")})
}

func (h *emailHandlers) unsubscribe(c *fiber.Ctx) error {
	lang := h.lang(c)
	token := c.Query("token")
	if token == "" {
		token = c.FormValue("token")
	}
	if w := h.ipLimit.Wait("unsubscribe:" + clientIP(c)); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		return fiber.NewError(fiber.StatusTooManyRequests, web.T(lang, "form.limited"))
	}
	if _, err := h.accounts.Unsubscribe(c.UserContext(), token); err != nil {
		if errors.Is(err, account.ErrTokenInvalid) {
			h.ipLimit.Fail("unsubscribe:" + clientIP(c))
			return h.unsubscribeInvalid(c)
		}
		return err
	}
	return h.notice(c, 200, "unsubscribe.done.title", noticeData{Paragraphs: []string{web.T(lang, "unsubscribe.done")},
		Link: "/tili#viestit", LinkLabel: web.T(lang, "account.title")})
}

func (h *emailHandlers) unsubscribeInvalid(c *fiber.Ctx) error {
	lang := h.lang(c)
	return h.notice(c, fiber.StatusBadRequest, "unsubscribe.invalid.title", noticeData{Paragraphs: []string{web.T(lang, "unsubscribe.invalid")},
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
	Pager    pager
}

func (h *emailHandlers) adminOutbox(c *fiber.Ctx) error {
	state := c.Query("tila")
	if state != "" && state != mail.Pending && state != mail.Sent && state != mail.Failed && state != mail.Held {
		return fiber.NewError(fiber.StatusBadRequest, "tila must be pending, sent, failed or held")
	}
	msgs, next, err := h.mail.outbox.Page(c.UserContext(), state, afterOf(c), listPageSize)
	if err != nil {
		return pageError(err)
	}
	counts, err := h.mail.outbox.Counts(c.UserContext())
	if err != nil {
		return err
	}
	d := &outboxData{Messages: msgs, Counts: counts, State: state, States: []string{mail.Pending, mail.Failed, mail.Sent, mail.Held},
		Holding: h.mail.outbox.Holding(), Me: h.viewerOf(c).User.Email, Pager: pagerFor(c, "/yllapito/posti", next)}
	if n := c.Query("ilmoitus"); n != "" {
		d.Notice = web.T(h.lang(c), "mail.notice."+n)
	}
	return h.renderForm(c, 200, "admin_mail", "mail.title", d)
}

func (h *emailHandlers) adminMessage(c *fiber.Ctx) error {
	m, err := h.mail.outbox.Message(c.UserContext(), c.Params("message"))
	if err != nil {
		return fiber.ErrNotFound
	}
	return h.renderForm(c, 200, "admin_mail_message", "mail.message.title", &outboxData{Message: m, Holding: h.mail.outbox.Holding()})
}

// adminHTML shows a message's HTML exactly as sent, in a sandbox: no
// scripts, no requests, only its inline styles.
func (h *emailHandlers) adminHTML(c *fiber.Ctx) error {
	m, err := h.mail.outbox.Message(c.UserContext(), c.Params("message"))
	if err != nil || m.HTML == "" {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox")
	c.Set(fiber.HeaderXFrameOptions, "SAMEORIGIN")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(m.HTML)
}

func (h *emailHandlers) adminRetry(c *fiber.Ctx) error {
	id := c.Params("message")
	ok, err := h.mail.outbox.Retry(c.UserContext(), id)
	if err != nil {
		return err
	}
	if !ok {
		return fiber.NewError(fiber.StatusConflict, "only a failed message can be sent again")
	}
	h.audit(c, "mail.retry", id, "")
	return c.Redirect("/yllapito/posti?ilmoitus=uudelleen", fiber.StatusSeeOther)
}

func (h *emailHandlers) adminTest(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	to := strings.TrimSpace(c.FormValue("to"))
	if to == "" {
		to = v.User.Email
	}
	email, err := account.NormalizeEmail(to)
	if err != nil {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "the test address is not a valid e-mail address")
	}
	if err := h.mail.mailTo(c.UserContext(), email, "", h.lang(c), "", "test", "", nil); err != nil {
		return err
	}
	h.audit(c, "mail.test", email, "")
	return c.Redirect("/yllapito/posti?ilmoitus=testi", fiber.StatusSeeOther)
}
