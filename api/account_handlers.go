package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"image/png"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/erasure"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/feedback"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/sso"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/web"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// accountHandlers serve accounts: signing in (with the second factor),
// out and up, the account page (password, sessions, two-factor, the
// address, deleting the account), the learner's export, and the same in
// the API (auth_api.go). The forgotten password and the e-mail links are
// emailHandlers'.
type accountHandlers struct {
	*core
	mail *mailer // verification links and the notices of security changes
	// dir is the organisation directory the forms choose from (nil: the
	// old list).
	dir *org.Directory
	// sso refuses password sign-in for organisations that require their
	// own provider (nil: no employer sign-in).
	sso *sso.Service
	// The learner's export: progress and answers, feedback, exam attempts
	// and certificates (nil: none kept).
	progress *study.Progress
	feedback *feedback.Store
	exam     *exam.Store
	certs    *cert.Store
	mine     *learnerAssignments // the export's assignments (nil: none)
	// erase is every store a deleted account is erased from.
	erase erasure.Stores
	// The rate limits (see rateLimits), shared with emailHandlers.
	signInLimit, secondFactorLimit, registerLimit, forgotLimit *account.Limiter
}

// rateLimits are the limiters of the account and e-mail handlers, built
// once for both: registration and password reset count together per IP
// address, and the account page's new verification link counts with the
// other e-mail link requests.
type rateLimits struct {
	// signIn counts failed sign-ins and password re-checks per IP address
	// and per account.
	signIn *account.Limiter
	// secondFactor counts wrong second-factor codes per account and per
	// IP address, apart from the password's count.
	secondFactor *account.Limiter
	// register counts registrations and password resets per IP address.
	register *account.Limiter
	// forgot counts password reset requests per e-mail address, and the
	// other e-mail link requests (per account for a new verification
	// link).
	forgot *account.Limiter
	// forgotIP counts the requests of one IP (a training room shares one
	// address, so it allows more).
	forgotIP *account.Limiter
}

func newRateLimits() rateLimits {
	return rateLimits{
		// Sign-in: 10 failures per address or account, then delays doubling from 1 s to 15 min.
		signIn: account.NewLimiter(10, 15*time.Minute, time.Second, 15*time.Minute),
		// Second factor: 5 wrong codes per account or address, then delays
		// doubling from 30 s to an hour.
		secondFactor: account.NewLimiter(5, time.Hour, 30*time.Second, time.Hour),
		// Registration and reset: 100 attempts an hour per address (a
		// training room behind one address), then delays from 10 s.
		register: account.NewLimiter(100, time.Hour, 10*time.Second, time.Hour),
		// E-mail links on request: 5 an hour per address or account and
		// 50 per IP, then delays doubling from a minute to an hour.
		forgot:   account.NewLimiter(4, time.Hour, time.Minute, time.Hour), // the fifth request is the last without a wait
		forgotIP: account.NewLimiter(50, time.Hour, time.Minute, time.Hour),
	}
}

// formData is what account forms show again after an error.
type formData struct {
	Errors        []fieldError
	Values        map[string]string
	Next          string
	Organisations []orgChoice // the organisations (their units) to choose from
	Other         string
	Notice        string
	// SSO: the sign-in page offers the employer's identity provider.
	SSO bool
}

type fieldError struct {
	Field string `json:"field"`
	// Code is the refusal's stable code, when a domain refusal made it.
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// errorMessage is the form field and the message key of a refusal
// (internal/fault); any other error is "err.500", for the caller to
// return as a failure.
func errorMessage(err error) (field, key string) {
	if f, ok := fault.As(err); ok {
		return f.Field, f.MessageKey()
	}
	return "", "err.500"
}

func (h *accountHandlers) loginPage(c *fiber.Ctx) error {
	if h.viewerOf(c).signedIn() {
		return c.Redirect(safeNext(c.Query("jatka")), fiber.StatusSeeOther)
	}
	d := &formData{Next: safeNext(c.Query("jatka")), SSO: h.sso != nil}
	if e, err := account.NormalizeEmail(c.Query("email")); err == nil {
		d.Values = map[string]string{"email": e}
	}
	return h.renderForm(c, 200, "login", "login.title", d)
}

// signInLimits: per address and per account, with doubling delays.
func (h *accountHandlers) limited(keys ...string) time.Duration {
	var wait time.Duration
	for _, k := range keys {
		if w := h.signInLimit.Wait(k); w > wait {
			wait = w
		}
	}
	return wait
}

func (h *accountHandlers) login(c *fiber.Ctx) error {
	email, password := strings.TrimSpace(c.FormValue("email")), c.FormValue("password")
	d := &formData{Next: safeNext(c.FormValue("jatka")), Values: map[string]string{"email": email}, SSO: h.sso != nil}
	ipKey, accKey := "ip:"+clientIP(c), "acct:"+strings.ToLower(email)
	lang := h.lang(c)
	if w := h.limited(ipKey, accKey); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		d.Errors = []fieldError{{Field: "", Message: web.T(lang, "form.limited")}}
		return h.renderForm(c, fiber.StatusTooManyRequests, "login", "login.title", d)
	}
	if h.sso != nil {
		// An organisation that signs its people in itself: the password
		// is not even checked (this tells nothing of accounts: it depends
		// on the domain only).
		if err := h.sso.PasswordAllowed(c.UserContext(), email); err != nil {
			field, key := errorMessage(err)
			if key == "err.500" {
				return err
			}
			d.Values["sso_email"] = email
			d.Errors = []fieldError{{Field: field, Message: web.T(lang, key)}}
			return h.renderForm(c, fiber.StatusForbidden, "login", "login.title", d)
		}
	}
	u, err := h.accounts.Authenticate(c.UserContext(), email, password)
	if err != nil {
		if !errors.Is(err, account.ErrBadCredentials) {
			return err
		}
		h.signInLimit.Fail(ipKey)
		h.signInLimit.Fail(accKey)
		d.Errors = []fieldError{{Field: "email", Message: web.T(lang, "form.login.failed")}}
		return h.renderForm(c, fiber.StatusUnauthorized, "login", "login.title", d)
	}
	h.signInLimit.Succeed(accKey)
	token, _, err := h.accounts.StartSession(c.UserContext(), u, u.TOTPEnabled, c.Get(fiber.HeaderUserAgent), clientIP(c))
	if err != nil {
		return err
	}
	h.setSessionCookie(c, token)
	if u.TOTPEnabled {
		return c.Redirect("/kirjaudu/vahvista?jatka="+url.QueryEscape(d.Next), fiber.StatusSeeOther)
	}
	if u.NeedsTwoFactor() {
		return c.Redirect("/tili/kaksivaiheinen", fiber.StatusSeeOther)
	}
	return c.Redirect(d.Next, fiber.StatusSeeOther)
}

// pendingViewer is a session that has passed the password but not the
// second factor.
func (h *accountHandlers) pendingViewer(c *fiber.Ctx) *viewer {
	v := h.viewerOf(c)
	if v.User == nil || !v.Session.Pending2FA || v.Bearer {
		return nil
	}
	return v
}

func (h *accountHandlers) verifyPage(c *fiber.Ctx) error {
	if h.pendingViewer(c) == nil {
		return c.Redirect("/kirjaudu", fiber.StatusSeeOther)
	}
	return h.renderForm(c, 200, "verify", "verify.title", &formData{Next: safeNext(c.Query("jatka"))})
}

func (h *accountHandlers) verify(c *fiber.Ctx) error {
	v := h.pendingViewer(c)
	if v == nil {
		return c.Redirect("/kirjaudu", fiber.StatusSeeOther)
	}
	lang := h.lang(c)
	d := &formData{Next: safeNext(c.FormValue("jatka"))}
	if w := h.secondFactorWait(c, v.User); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		d.Errors = []fieldError{{Field: "code", Message: web.T(lang, "form.limited")}}
		return h.renderForm(c, fiber.StatusTooManyRequests, "verify", "verify.title", d)
	}
	if err := h.accounts.VerifySecondFactor(c.UserContext(), v.User, c.FormValue("code")); err != nil {
		h.secondFactorFailed(c, v.User)
		d.Errors = []fieldError{{Field: "code", Message: web.T(lang, "form.code.invalid")}}
		return h.renderForm(c, fiber.StatusUnauthorized, "verify", "verify.title", d)
	}
	h.secondFactorPassed(c, v.User)
	token, _, err := h.accounts.CompleteTwoFactor(c.UserContext(), v.Session, v.User, c.Get(fiber.HeaderUserAgent), clientIP(c))
	if err != nil {
		return err
	}
	h.setSessionCookie(c, token)
	return c.Redirect(d.Next, fiber.StatusSeeOther)
}

func (h *accountHandlers) logout(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	provider := ""
	if v.User != nil {
		provider = v.Session.Provider
		if _, err := h.accounts.EndSession(c.UserContext(), v.User.ID, v.Session.ID); err != nil {
			return err
		}
	}
	h.clearSessionCookie(c)
	// Signed in with the employer's account: our session has ended; offer
	// to sign out at the provider too (RP-initiated logout), when it can.
	if provider != "" && h.sso != nil {
		if end, err := h.sso.EndSessionURL(c.UserContext(), provider); err == nil && end != "" {
			lang := h.lang(c)
			return h.notice(c, fiber.StatusOK, "logout.sso.title", noticeData{Paragraphs: []string{web.T(lang, "logout.sso.text")},
				Link: end, LinkLabel: web.T(lang, "logout.sso.link")})
		}
	}
	return c.Redirect("/", fiber.StatusSeeOther)
}

func (h *accountHandlers) registerPage(c *fiber.Ctx) error {
	if h.viewerOf(c).signedIn() {
		return c.Redirect("/omat-opinnot", fiber.StatusSeeOther)
	}
	orgs, err := orgChoices(c.UserContext(), h.dir, h.lang(c))
	if err != nil {
		return err
	}
	return h.renderForm(c, 200, "register", "register.title", &formData{Organisations: orgs, Other: account.OtherOrganisation})
}

func (h *accountHandlers) register(c *fiber.Ctx) error {
	lang := h.lang(c)
	r := account.Registration{
		Email: c.FormValue("email"), Name: c.FormValue("name"), Password: c.FormValue("password"),
		Organisation: c.FormValue("organisation"), OrganisationOther: c.FormValue("organisation_other"),
	}
	orgs, err := orgChoices(c.UserContext(), h.dir, lang)
	if err != nil {
		return err
	}
	d := &formData{Organisations: orgs, Other: account.OtherOrganisation,
		Values: map[string]string{"email": r.Email, "name": r.Name, "organisation": r.Organisation, "organisation_other": r.OrganisationOther, "unit": c.FormValue("unit")}}
	ipKey := "register:" + clientIP(c)
	if w := h.registerLimit.Wait(ipKey); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		d.Errors = []fieldError{{Field: "", Message: web.T(lang, "form.limited")}}
		return h.renderForm(c, fiber.StatusTooManyRequests, "register", "register.title", d)
	}
	h.registerLimit.Fail(ipKey) // every attempt counts
	r.Lang = lang
	var errs []error
	var u *account.User
	if err := resolveOrganisation(c.UserContext(), h.dir, &r, c.FormValue("unit")); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		u, errs = h.accounts.Register(c.UserContext(), r)
	}
	taken := len(errs) == 1 && errors.Is(errs[0], account.ErrEmailTaken)
	if len(errs) > 0 && !taken {
		for _, err := range errs {
			field, key := errorMessage(err)
			if key == "err.500" {
				return err
			}
			d.Errors = append(d.Errors, fieldError{Field: field, Message: web.T(lang, key)})
		}
		return h.renderForm(c, fiber.StatusUnprocessableEntity, "register", "register.title", d)
	}
	if err := h.registered(c.UserContext(), u, r.Email, taken); err != nil {
		return err
	}
	return h.notice(c, 200, "register.done.title", noticeData{
		Paragraphs: []string{web.T(lang, "register.done", r.Email), web.T(lang, "register.done.verify")},
		Link:       "/kirjaudu?email=" + url.QueryEscape(r.Email), LinkLabel: web.T(lang, "register.done.signin")})
}

// registered sends what follows a registration: a new account gets its
// verification link; the owner of a taken address is told that someone
// tried to register with it. The person who registered sees the same
// answer either way, so the form reveals no accounts.
func (h *accountHandlers) registered(ctx context.Context, u *account.User, email string, taken bool) error {
	if taken {
		owner, err := h.accounts.UserByEmail(ctx, email)
		if err != nil {
			return nil // deleted meanwhile
		}
		return h.mail.mailTo(ctx, owner.Email, owner.Name, owner.MailLang(), owner.ID, "register_exists", "",
			map[string]string{"link": h.mail.link("/salasana/unohtui")})
	}
	return h.sendVerification(ctx, u)
}

func retryAfter(d time.Duration) string { return strconv.Itoa(int(d.Seconds() + 0.999)) }

// accountData is the account page.
type accountData struct {
	formData
	Sessions  []account.Session
	CurrentID string
	QR        template.URL // data: URL of the QR code while enrolling (made here from PNG bytes)
	Secret    string
	Codes     []string // recovery codes, shown once
	// The two-factor page: on or off, and whether the role requires it.
	TOTPOn, TOTPRequired bool
	// Mail: e-mail is available (verification, address change, reminders).
	Mail  bool
	Langs []langLink
}

func (h *accountHandlers) accountPage(c *fiber.Ctx) error {
	return h.showAccount(c, 200, &accountData{})
}

// changeOrganisation is POST /tili/yksikko: the learner's organisation
// and unit (or "muu" with its name), checked against the directory.
func (h *accountHandlers) changeOrganisation(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	r := account.Registration{Organisation: c.FormValue("organisation"), OrganisationOther: c.FormValue("organisation_other")}
	err := resolveOrganisation(c.UserContext(), h.dir, &r, c.FormValue("unit"))
	if err == nil {
		err = h.accounts.SetOrganisation(c.UserContext(), v.User.ID, r.Organisation, r.OrganisationOther, r.OrgID, r.UnitID)
	}
	if err != nil {
		field, key := errorMessage(err)
		if key == "err.500" {
			return err
		}
		d := &accountData{formData: formData{Errors: []fieldError{{Field: field, Message: web.T(h.lang(c), key)}},
			Values: map[string]string{"organisation": c.FormValue("organisation"), "organisation_other": c.FormValue("organisation_other"), "unit": c.FormValue("unit")}}}
		return h.showAccount(c, fiber.StatusUnprocessableEntity, d)
	}
	return c.Redirect("/tili?ilmoitus=yksikko#organisaatio", fiber.StatusSeeOther)
}

func (h *accountHandlers) showAccount(c *fiber.Ctx, status int, d *accountData) error {
	v := h.viewerOf(c)
	list, err := h.accounts.Sessions(c.UserContext(), v.User.ID)
	if err != nil {
		return err
	}
	d.Sessions, d.CurrentID = list, v.Session.ID
	d.Mail = h.mail.outbox != nil
	for _, l := range web.Langs {
		d.Langs = append(d.Langs, langLink{Lang: l, Name: web.LangNames[l], Current: l == v.User.MailLang()})
	}
	if c.Query("ilmoitus") != "" {
		d.Notice = web.T(h.lang(c), "account.notice."+c.Query("ilmoitus"))
	}
	if d.Organisations, err = orgChoices(c.UserContext(), h.dir, h.lang(c)); err != nil {
		return err
	}
	d.Other = account.OtherOrganisation
	if d.Values == nil {
		d.Values = map[string]string{"organisation": v.User.Organisation, "organisation_other": v.User.OrganisationOther}
		if v.User.OrgID != "" {
			d.Values["organisation"] = v.User.OrgID
			if v.User.UnitID != "" {
				d.Values["unit"] = v.User.OrgID + "/" + v.User.UnitID
			}
		}
	}
	return h.renderForm(c, status, "account", "account.title", d)
}

func (h *accountHandlers) changePassword(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	lang := h.lang(c)
	if w := h.passwordWait(c, v.User); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		return h.showAccount(c, fiber.StatusTooManyRequests, &accountData{formData: formData{Errors: []fieldError{{Field: "current", Message: web.T(lang, "form.limited")}}}})
	}
	if _, err := h.accounts.Authenticate(c.UserContext(), v.User.Email, c.FormValue("current")); err != nil {
		h.passwordFailed(c, v.User)
		return h.showAccount(c, fiber.StatusUnprocessableEntity, &accountData{formData: formData{Errors: []fieldError{{Field: "current", Message: web.T(lang, "form.current.wrong")}}}})
	}
	if err := h.accounts.SetPassword(c.UserContext(), v.User, c.FormValue("password")); err != nil {
		field, key := errorMessage(err)
		if key == "err.500" {
			return err
		}
		return h.showAccount(c, fiber.StatusUnprocessableEntity, &accountData{formData: formData{Errors: []fieldError{{Field: field, Message: web.T(lang, key)}}}})
	}
	h.mail.notify(c.UserContext(), v.User, "password_changed", map[string]string{"link": h.mail.link("/salasana/unohtui")})
	// Every session ended with the change; this browser gets a new one.
	token, _, err := h.accounts.StartSession(c.UserContext(), v.User, false, c.Get(fiber.HeaderUserAgent), clientIP(c))
	if err != nil {
		return err
	}
	h.setSessionCookie(c, token)
	return c.Redirect("/tili?ilmoitus=salasana", fiber.StatusSeeOther)
}

func (h *accountHandlers) endSession(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	id := c.Params("session")
	if len(id) != 64 {
		return fiber.ErrNotFound
	}
	ok, err := h.accounts.EndSession(c.UserContext(), v.User.ID, id)
	if err != nil {
		return err
	}
	if !ok {
		return fiber.ErrNotFound // not yours, or gone: the same answer
	}
	if id == v.Session.ID {
		h.clearSessionCookie(c)
		return c.Redirect("/", fiber.StatusSeeOther)
	}
	return c.Redirect("/tili?ilmoitus=istunto", fiber.StatusSeeOther)
}

func (h *accountHandlers) endOtherSessions(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	if _, err := h.accounts.EndAllSessions(c.UserContext(), v.User.ID, v.Session.ID); err != nil {
		return err
	}
	return c.Redirect("/tili?ilmoitus=istunnot", fiber.StatusSeeOther)
}

// erasure is every store the person is erased from (see package erasure).
func (o Options) erasure() erasure.Stores {
	return erasure.Stores{Accounts: o.Accounts, Progress: o.Progress, Feedback: o.Feedback, Exam: o.Exam, Certificates: o.Certificates, Mail: o.Mail, LTI: o.LTI, Assign: o.Assign, XAPI: o.XAPI}
}

func (h *accountHandlers) deleteAccount(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	lang := h.lang(c)
	if w := h.passwordWait(c, v.User); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		return h.showAccount(c, fiber.StatusTooManyRequests, &accountData{formData: formData{Errors: []fieldError{{Field: "delete-password", Message: web.T(lang, "form.limited")}}}})
	}
	if _, err := h.accounts.Authenticate(c.UserContext(), v.User.Email, c.FormValue("password")); err != nil {
		h.passwordFailed(c, v.User)
		return h.showAccount(c, fiber.StatusUnprocessableEntity, &accountData{formData: formData{Errors: []fieldError{{Field: "delete-password", Message: web.T(lang, "form.current.wrong")}}}})
	}
	if err := h.erase.Erase(c.UserContext(), v.User.ID); err != nil {
		return err
	}
	// The confirmation names no account id: the account is gone.
	if err := h.mail.confirmDeletion(c.UserContext(), v.User); err != nil {
		h.log.Error("e-mail notice not queued", "kind", "account_deleted", "err", err)
	}
	h.clearSessionCookie(c)
	return c.Redirect("/?ilmoitus=poistettu", fiber.StatusSeeOther)
}

// totpPage shows two-factor authentication's state and the forms that
// change it. It changes nothing itself: a cross-site link must not be
// able to turn two-factor off or start a new enrolment.
func (h *accountHandlers) totpPage(c *fiber.Ctx) error {
	return h.showTOTP(c, 200, &accountData{})
}

func (h *accountHandlers) showTOTP(c *fiber.Ctx, status int, d *accountData) error {
	v := h.viewerOf(c)
	d.TOTPOn = v.User.TOTPEnabled
	d.TOTPRequired = v.User.NeedsTwoFactor()
	if c.Query("ilmoitus") == "pois" {
		d.Notice = web.T(h.lang(c), "totp.off.done")
	}
	return h.renderForm(c, status, "totp", "totp.title", d)
}

// totpPost takes the steps of two-factor authentication, each a POST with
// the session's CSRF token: "begin" makes a new secret (kept pending, the
// active one stays in force); with two-factor already on it needs the
// password and a current code. "confirm" (the default) turns the pending
// secret on with a code from the new authenticator. "disable" needs the
// password and a current code and is refused for roles that require two
// factors. Every password and code re-check is rate-limited like sign-in.
func (h *accountHandlers) totpPost(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	lang := h.lang(c)
	fail := func(status int, field, key string) error {
		return h.showTOTP(c, status, &accountData{formData: formData{Errors: []fieldError{{Field: field, Message: web.T(lang, key)}}}})
	}
	step := c.FormValue("step")
	switch step {
	case "begin", "disable":
		if v.User.TOTPEnabled {
			form := "totp"
			if step == "disable" {
				form = "totp-off"
			}
			if status, field, key := h.recheck(c, v.User, form, c.FormValue("password"), c.FormValue("code")); status != 0 {
				return fail(status, field, key)
			}
		}
		if step == "disable" {
			if !v.User.TOTPEnabled {
				return c.Redirect("/tili/kaksivaiheinen", fiber.StatusSeeOther)
			}
			if err := h.accounts.DisableTOTP(c.UserContext(), v.User); err != nil {
				if errors.Is(err, account.ErrTwoFactorRequired) {
					return fail(fiber.StatusConflict, "", "totp.off.required")
				}
				return err
			}
			h.securityEvent(c, "totp.disabled")
			h.mail.notify(c.UserContext(), v.User, "totp_disabled", nil)
			return c.Redirect("/tili/kaksivaiheinen?ilmoitus=pois", fiber.StatusSeeOther)
		}
		key, err := h.accounts.BeginTOTP(c.UserContext(), v.User)
		if err != nil {
			return err
		}
		img, err := key.Image(240, 240)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return err
		}
		d := &accountData{QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())), Secret: key.Secret()} //nolint:gosec // our own PNG
		return h.showTOTP(c, 200, d)
	case "", "confirm":
		if w := h.secondFactorWait(c, v.User); w > 0 {
			c.Set(fiber.HeaderRetryAfter, retryAfter(w))
			return fail(fiber.StatusTooManyRequests, "code", "form.limited")
		}
		replacing := v.User.TOTPEnabled
		codes, err := h.accounts.ConfirmTOTP(c.UserContext(), v.User, c.FormValue("code"))
		if errors.Is(err, account.ErrBadCode) {
			h.secondFactorFailed(c, v.User)
			return fail(fiber.StatusUnprocessableEntity, "code", "form.code.invalid")
		}
		if err != nil {
			return err
		}
		if replacing {
			h.securityEvent(c, "totp.replaced")
		} else {
			h.securityEvent(c, "totp.enabled")
		}
		h.mail.notify(c.UserContext(), v.User, "totp_enabled", nil)
		return h.showTOTP(c, 200, &accountData{Codes: codes})
	}
	return fiber.NewError(fiber.StatusBadRequest, "step must be begin, confirm or disable")
}

// securityEvent records a change to the account's own protection in the
// audit log. The owner will also be told by e-mail once the platform
// sends e-mail.
func (h *accountHandlers) securityEvent(c *fiber.Ctx, action string) {
	u := h.viewerOf(c).User
	h.audit(c, action, u.ID, clientIP(c))
	h.log.Info("security event", "action", action, "user", u.ID, "request_id", requestIDOf(c))
}

// Second-factor failures are counted per account and per address under
// keys of their own: the password step never resets them (it did, which
// let password + ten wrong codes repeat without end).
func secondFactorKeys(c *fiber.Ctx, u *account.User) (string, string) {
	return "2fa-acct:" + u.ID, "2fa-ip:" + clientIP(c)
}

func (h *accountHandlers) secondFactorWait(c *fiber.Ctx, u *account.User) time.Duration {
	acct, ip := secondFactorKeys(c, u)
	return max(h.secondFactorLimit.Wait(acct), h.secondFactorLimit.Wait(ip))
}

func (h *accountHandlers) secondFactorFailed(c *fiber.Ctx, u *account.User) {
	acct, ip := secondFactorKeys(c, u)
	h.secondFactorLimit.Fail(acct)
	h.secondFactorLimit.Fail(ip)
}

func (h *accountHandlers) secondFactorPassed(c *fiber.Ctx, u *account.User) {
	acct, _ := secondFactorKeys(c, u)
	h.secondFactorLimit.Succeed(acct)
}

// passwordWait and passwordFailed limit password re-checks on the account
// pages with sign-in's limiter and keys.
func (h *accountHandlers) passwordWait(c *fiber.Ctx, u *account.User) time.Duration {
	return h.limited("ip:"+clientIP(c), "acct:"+strings.ToLower(u.Email))
}

func (h *accountHandlers) passwordFailed(c *fiber.Ctx, u *account.User) {
	h.signInLimit.Fail("ip:" + clientIP(c))
	h.signInLimit.Fail("acct:" + strings.ToLower(u.Email))
}

// recheck asks a signed-in user with two-factor on for the password and a
// current code before a change to two-factor itself. It answers the
// status, field and message key of a refusal, or 0.
// form names the form whose fields an error points to.
func (h *accountHandlers) recheck(c *fiber.Ctx, u *account.User, form, password, code string) (int, string, string) {
	if w := max(h.passwordWait(c, u), h.secondFactorWait(c, u)); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		return fiber.StatusTooManyRequests, "", "form.limited"
	}
	if _, err := h.accounts.Authenticate(c.UserContext(), u.Email, password); err != nil {
		h.passwordFailed(c, u)
		return fiber.StatusUnprocessableEntity, form + "-password", "form.current.wrong"
	}
	if err := h.accounts.VerifySecondFactor(c.UserContext(), u, code); err != nil {
		h.secondFactorFailed(c, u)
		return fiber.StatusUnprocessableEntity, form + "-code", "form.code.invalid"
	}
	h.secondFactorPassed(c, u)
	return 0, "", ""
}

// apiExport gives a learner everything the platform keeps of them, as one
// JSON file.
func (h *accountHandlers) apiExport(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	ctx := c.UserContext()
	sessions, err := h.accounts.Sessions(ctx, v.User.ID)
	if err != nil {
		return err
	}
	progress, err := h.progress.ForUser(ctx, v.User.ID)
	if err != nil {
		return err
	}
	answers, err := h.progress.Answers(ctx, v.User.ID)
	if err != nil {
		return err
	}
	var feedback []feedback.Item
	if h.feedback != nil {
		if feedback, err = h.feedback.ByUser(ctx, v.User.ID); err != nil {
			return err
		}
	}
	attempts := []any{}
	if h.exam != nil {
		list, err := h.exam.ForUser(ctx, v.User.ID)
		if err != nil {
			return err
		}
		for _, a := range list {
			// The attempt and the learner's answers; no keys (an open
			// attempt's export must not reveal them), and which items
			// were right only as the exam's review rule says.
			attempts = append(attempts, map[string]any{"id": a.ID, "number": a.Number, "status": a.Status, "started": a.Started,
				"deadline": a.Deadline, "submitted": a.Submitted, "result": h.learnerResult(a, list), "answers": a.Answers})
		}
	}
	prog := []*course.SectionProgress{}
	for _, p := range progress {
		prog = append(prog, p)
	}
	ans := []*study.Answer{}
	for _, a := range answers {
		ans = append(ans, a)
	}
	certs := []*cert.Certificate{}
	if h.certs != nil {
		list, err := h.certs.ForUser(ctx, v.User.ID)
		if err != nil {
			return err
		}
		certs = append(certs, list...)
	}
	assigned, err := h.mine.of(c, v.User, progress, h.published().Course, h.lang(c))
	if err != nil {
		return err
	}
	if assigned == nil {
		assigned = []myAssignment{}
	}
	groups := v.User.Groups
	if groups == nil {
		groups = []string{}
	}
	out := map[string]any{
		"assignments":   assigned,
		"sso_groups":    groups,
		"exported_at":   time.Now().UTC(),
		"profile":       v.User,
		"sessions":      sessions,
		"progress":      prog,
		"answers":       ans,
		"feedback":      feedback,
		"exam_attempts": attempts,
		"certificates":  certs,
	}
	body, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="omat-tiedot.json"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(body)
}

// sendVerification sends the account a link that verifies its address (or
// its pending new one).
func (h *accountHandlers) sendVerification(ctx context.Context, u *account.User) error {
	token, address, err := h.accounts.IssueVerification(ctx, u)
	if err != nil {
		return err
	}
	return h.mail.mailTo(ctx, address, u.Name, u.MailLang(), u.ID, "verify_email", "verify/"+token,
		map[string]string{"link": h.mail.link("/sahkoposti/vahvista?token=" + url.QueryEscape(token))})
}

// Account page: resend the verification, change the address (the
// e-mail preferences are emailHandlers.savePreferences). Both answer with
// the account page, so they stay with it.

func (h *accountHandlers) resendVerification(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	if w := h.forgotLimit.Wait("verify:" + v.User.ID); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		return h.showAccount(c, fiber.StatusTooManyRequests, &accountData{formData: formData{Errors: []fieldError{{Field: "", Message: web.T(h.lang(c), "form.limited")}}}})
	}
	h.forgotLimit.Fail("verify:" + v.User.ID)
	if err := h.sendVerification(c.UserContext(), v.User); err != nil {
		return err
	}
	return c.Redirect("/tili?ilmoitus=vahvistus#sahkoposti", fiber.StatusSeeOther)
}

func (h *accountHandlers) changeEmail(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	lang := h.lang(c)
	fail := func(status int, field, key string) error {
		return h.showAccount(c, status, &accountData{formData: formData{Errors: []fieldError{{Field: field, Message: web.T(lang, key)}},
			Values: map[string]string{"new_email": c.FormValue("email")}}})
	}
	if w := h.passwordWait(c, v.User); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		return fail(fiber.StatusTooManyRequests, "email-password", "form.limited")
	}
	if _, err := h.accounts.Authenticate(c.UserContext(), v.User.Email, c.FormValue("password")); err != nil {
		h.passwordFailed(c, v.User)
		return fail(fiber.StatusUnprocessableEntity, "email-password", "form.current.wrong")
	}
	u := *v.User // the session's user is shared (account.Store.Session): change a copy
	email, err := h.accounts.RequestEmailChange(c.UserContext(), &u, c.FormValue("email"))
	switch {
	case errors.Is(err, account.ErrInvalidEmail):
		return fail(fiber.StatusUnprocessableEntity, "new_email", "form.email.invalid")
	case errors.Is(err, account.ErrEmailTaken):
		// The same answer as for a free address; the address's owner is
		// told that someone tried to use it.
		if other, err := h.accounts.UserByEmail(c.UserContext(), email); err == nil {
			h.mail.mailTo(c.UserContext(), other.Email, other.Name, other.MailLang(), other.ID, "register_exists", "",
				map[string]string{"link": h.mail.link("/kirjaudu")})
		}
	case err != nil:
		return err
	default:
		if err := h.sendVerification(c.UserContext(), &u); err != nil {
			return err
		}
	}
	return c.Redirect("/tili?ilmoitus=osoite#sahkoposti", fiber.StatusSeeOther)
}
