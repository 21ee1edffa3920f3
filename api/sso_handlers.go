package api

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/sso"
	"github.com/tyokyky/tyokyky/web"
)

// ssoHandlers serve sign-in with the employer's identity provider: home
// realm discovery and the provider's callback.
type ssoHandlers struct {
	*core
	sso *sso.Service
}

// stateCookie keeps a started sign-in's state in the browser that
// started it (SameSite=Lax: the callback is a top-level navigation from
// the provider's site).
const stateCookie = "oidc_state"

// discover is GET /kirjaudu/sso?email=&jatka=: the provider of the
// address's organisation, where the browser goes to sign in.
func (h *ssoHandlers) discover(c *fiber.Ctx) error {
	next := safeNext(c.Query("jatka"))
	email, err := account.NormalizeEmail(c.Query("email"))
	if err != nil {
		return h.refuse(c, sso.ErrNoProvider, next, c.Query("email"))
	}
	p, err := h.sso.HomeRealm(c.UserContext(), email)
	if err != nil {
		return h.refuse(c, err, next, email)
	}
	authURL, state, err := h.sso.Start(c.UserContext(), p.ID, next)
	if err != nil {
		return h.refuse(c, err, next, email)
	}
	c.Cookie(&fiber.Cookie{Name: h.cookieName(stateCookie), Value: state, Path: "/", HTTPOnly: true, Secure: h.https,
		SameSite: fiber.CookieSameSiteLaxMode, Expires: time.Now().Add(sso.FlowTTL)})
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Redirect(authURL, fiber.StatusSeeOther)
}

// callback is GET /kirjaudu/oidc/{provider}/paluu: the provider sends
// the browser back with a code (or an error); the sign-in is finished
// and a session starts, with the second factor still to give when the
// account has one.
func (h *ssoHandlers) callback(c *fiber.Ctx) error {
	cookie := c.Cookies(h.cookieName(stateCookie))
	c.Cookie(&fiber.Cookie{Name: h.cookieName(stateCookie), Value: "", Path: "/", HTTPOnly: true, Secure: h.https,
		SameSite: fiber.CookieSameSiteLaxMode, Expires: time.Unix(1, 0), MaxAge: -1})
	res, err := h.sso.Finish(c.UserContext(), sso.Callback{Provider: c.Params("provider"), State: c.Query("state"), Cookie: cookie,
		Code: c.Query("code"), Error: c.Query("error")})
	if err != nil {
		return h.refuse(c, err, "/omat-opinnot", "")
	}
	u := res.User
	// A provider trusted for it gives the second factor; otherwise an
	// account with TOTP still gives its code.
	pending := u.TOTPEnabled && !res.MFA
	token, _, err := h.accounts.StartProviderSession(c.UserContext(), u, pending, res.Provider, res.MFA, c.Get(fiber.HeaderUserAgent), clientIP(c))
	if err != nil {
		return err
	}
	if err := h.accounts.Audit(c.UserContext(), u.ID, "signin.oidc", u.ID, c.Params("provider")); err != nil {
		return err
	}
	h.setSessionCookie(c, token)
	next := safeNext(res.Next)
	switch {
	case pending:
		return c.Redirect("/kirjaudu/vahvista?jatka="+url.QueryEscape(next), fiber.StatusSeeOther)
	case u.NeedsTwoFactor() && !u.TOTPEnabled && !res.MFA:
		return c.Redirect("/tili/kaksivaiheinen", fiber.StatusSeeOther)
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// refuse shows the sign-in page with the refusal's message, in the
// status of its kind; a failure that is not a refusal is a 500.
func (h *ssoHandlers) refuse(c *fiber.Ctx, err error, next, email string) error {
	f, ok := fault.As(err)
	if !ok {
		return err
	}
	status := statusOf(f)
	if errors.Is(err, sso.ErrNoProvider) {
		status = fiber.StatusOK // an answer, not a failure: sign in with the password
	}
	if errors.Is(err, sso.ErrDown) {
		c.Set(fiber.HeaderRetryAfter, "60")
	}
	d := &formData{Next: next, SSO: true, Values: map[string]string{"email": email, "sso_email": email},
		Errors: []fieldError{{Field: "sso-email", Code: f.Code, Message: web.T(h.lang(c), f.MessageKey())}}}
	return h.renderForm(c, status, "login", "login.title", d)
}

// allowingProviders runs a handler that may show the sign-in page and
// lets that page's forms lead to the providers: the page's
// Content-Security-Policy names their origins in form-action (a browser
// applies form-action to the redirects after a form is sent too).
func allowingProviders(svc *sso.Service, next fiber.Handler) fiber.Handler {
	if svc == nil {
		return next
	}
	return func(c *fiber.Ctx) error {
		if err := next(c); err != nil {
			return err
		}
		csp := string(c.Response().Header.Peek(fiber.HeaderContentSecurityPolicy))
		if !strings.Contains(csp, "form-action 'self'") || !strings.HasPrefix(string(c.Response().Header.ContentType()), fiber.MIMETextHTML) {
			return nil
		}
		if origins := svc.FormOrigins(c.UserContext()); len(origins) > 0 {
			c.Set(fiber.HeaderContentSecurityPolicy, strings.Replace(csp, "form-action 'self'", "form-action 'self' "+strings.Join(origins, " "), 1))
		}
		return nil
	}
}
