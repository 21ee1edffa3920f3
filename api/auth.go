package api

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/internal/database"
)

// viewer is who makes the request: nobody, or a signed-in user.
type viewer struct {
	User    *account.User
	Session *account.Session
	Token   string
	Bearer  bool // authenticated with Authorization: Bearer (no ambient credentials)
	// Framed: the session came in the learning platform's cookie
	// (ltiSessionCookie), which lives in the platform's frame; its
	// renewal and its end are written to that cookie.
	Framed bool
	// lookupErr is why the session could not be read (the database was
	// too busy, see database.IsBusy): such a request is neither signed in
	// nor signed out, and requireUser answers 503, not 401.
	lookupErr error
}

// ltiSessionCookie is the base name of the session cookie a launch from
// a learning platform sets: SameSite=None, Secure, Partitioned, apart
// from the site's own Lax cookie "session", so that neither overwrites
// or shadows the other (a platform on the same site as ours sends both).
const ltiSessionCookie = "lti_session"

func (v *viewer) signedIn() bool { return v != nil && v.User != nil && !v.Session.Pending2FA }

const anonCSRFCookie = "csrf"

func (s *core) cookieName(base string) string {
	if s.https {
		return "__Host-" + base // Secure, Path=/, no Domain
	}
	return base
}

// hasSessionCredential tells, without the database, whether the request
// may be signed in; anonymous requests take the cached path.
func (s *core) hasSessionCredential(c *fiber.Ctx) bool {
	return c.Cookies(s.cookieName("session")) != "" || c.Cookies(s.cookieName(ltiSessionCookie)) != "" || strings.HasPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
}

// viewerOf loads the session of the request once.
func (s *core) viewerOf(c *fiber.Ctx) *viewer {
	if v, ok := c.Locals("viewer").(*viewer); ok {
		return v
	}
	v := &viewer{}
	c.Locals("viewer", v)
	if s.accounts == nil {
		return v
	}
	token := ""
	if h := c.Get(fiber.HeaderAuthorization); strings.HasPrefix(h, "Bearer ") {
		token, v.Bearer = strings.TrimSpace(strings.TrimPrefix(h, "Bearer ")), true
	} else {
		token = c.Cookies(s.cookieName("session"))
		if token == "" {
			token, v.Framed = c.Cookies(s.cookieName(ltiSessionCookie)), true
		}
	}
	if token == "" {
		return v
	}
	sess, u, err := s.accounts.Session(c.UserContext(), token)
	if database.IsBusy(err) {
		// The cookie stays: the session is likely fine once the store
		// answers again; requireUser answers 503.
		s.log.Warn("session lookup", "err", err, "request_id", requestIDOf(c))
		v.lookupErr = err
		return v
	}
	if err != nil {
		if !errors.Is(err, account.ErrSessionNotActive) {
			s.log.Error("session lookup", "err", err, "request_id", requestIDOf(c))
		}
		if !v.Bearer {
			s.clearSessionCookie(c)
		}
		return v
	}
	v.User, v.Session, v.Token = u, sess, token
	return v
}

// setSessionCookie writes a session's (new) token to the cookie the
// request's session came in: the platform's frame keeps its own.
func (s *core) setSessionCookie(c *fiber.Ctx, token string) {
	if v := s.viewerOf(c); v.User != nil && v.Framed {
		s.crossSiteCookie(c, ltiSessionCookie, token, 7*24*time.Hour)
		return
	}
	s.siteSessionCookie(c, token)
}

// siteSessionCookie writes the site's own session cookie (SameSite=Lax).
func (s *core) siteSessionCookie(c *fiber.Ctx, token string) {
	c.Cookie(&fiber.Cookie{Name: s.cookieName("session"), Value: token, Path: "/", HTTPOnly: true, Secure: s.https,
		SameSite: fiber.CookieSameSiteLaxMode, Expires: time.Now().Add(7 * 24 * time.Hour)})
}

// clearSessionCookie deletes the cookie the request's session came in
// (a partitioned cookie is deleted only by a Set-Cookie that is
// partitioned too).
func (s *core) clearSessionCookie(c *fiber.Ctx) {
	if v := s.viewerOf(c); v.Framed {
		s.crossSiteCookie(c, ltiSessionCookie, "", 0)
		return
	}
	s.clearSiteSessionCookie(c)
}

func (s *core) clearSiteSessionCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: s.cookieName("session"), Value: "", Path: "/", HTTPOnly: true, Secure: s.https,
		SameSite: fiber.CookieSameSiteLaxMode, Expires: time.Unix(1, 0), MaxAge: -1})
}

// crossSiteCookie sets a cookie that works inside a learning platform's
// frame: SameSite=None, Secure and Partitioned (CHIPS), so that a
// browser that blocks third-party cookies still keeps it, in the
// platform site's partition. maxAge 0 deletes it.
func (s *core) crossSiteCookie(c *fiber.Ctx, name, value string, maxAge time.Duration) {
	ck := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(ck)
	ck.SetKey(s.cookieName(name))
	ck.SetValue(value)
	ck.SetPath("/")
	ck.SetHTTPOnly(true)
	ck.SetSecure(true)
	ck.SetSameSite(fasthttp.CookieSameSiteNoneMode)
	ck.SetPartitioned(true)
	if maxAge <= 0 {
		ck.SetMaxAge(-1)
		ck.SetExpire(fasthttp.CookieExpireDelete)
	} else {
		ck.SetMaxAge(int(maxAge.Seconds()))
		ck.SetExpire(time.Now().Add(maxAge))
	}
	c.Response().Header.SetCookie(ck)
}

// csrfToken is the token forms and scripts must send back: the session's
// for a signed-in browser, else a random value kept in a cookie (for the
// sign-in and registration forms).
func (s *core) csrfToken(c *fiber.Ctx) string {
	if v := s.viewerOf(c); v.User != nil {
		return v.Session.CSRF
	}
	if t := c.Cookies(s.cookieName(anonCSRFCookie)); len(t) >= 32 {
		return t
	}
	t := account.NewToken()
	c.Cookie(&fiber.Cookie{Name: s.cookieName(anonCSRFCookie), Value: t, Path: "/", HTTPOnly: true, Secure: s.https, SameSite: fiber.CookieSameSiteLaxMode})
	return t
}

// checkCSRF guards every state change made with a cookie: the form field
// csrf or the X-CSRF-Token header must carry the token. Requests with a
// bearer token carry no ambient credentials and need none.
func (s *core) checkCSRF(c *fiber.Ctx) error {
	v := s.viewerOf(c)
	if v.Bearer && v.User != nil {
		return c.Next()
	}
	want := ""
	if v.User != nil {
		want = v.Session.CSRF
	} else {
		want = c.Cookies(s.cookieName(anonCSRFCookie))
	}
	got := c.Get("X-CSRF-Token")
	if got == "" {
		got = c.FormValue("csrf")
	}
	if !sameToken(want, got) {
		return fiber.NewError(fiber.StatusForbidden, "CSRF token missing or wrong: reload the page and try again")
	}
	return c.Next()
}

func sameToken(want, got string) bool {
	return want != "" && got != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// validCSRF checks a signed-in session's token given by a handler that
// reads it itself (streamed uploads, whose bodies must not be parsed
// before the handler runs).
func (s *core) validCSRF(v *viewer, got string) bool {
	return v.Bearer || (v.Session != nil && sameToken(v.Session.CSRF, got))
}

// audit records an administrative action; a failure to record is logged.
func (s *core) audit(c *fiber.Ctx, action, target, detail string) {
	if err := s.accounts.Audit(c.UserContext(), s.viewerOf(c).User.ID, action, target, detail); err != nil {
		s.log.Error("audit log", "action", action, "err", err)
	}
}

// contentChanged follows a publication: this instance serves the new
// course at once (others within their polling interval), and the change
// goes to the audit log (a failure there is logged: the change is made).
func (s *core) contentChanged(c *fiber.Ctx, action, target, detail string) error {
	err := s.library.Refresh(c.UserContext())
	s.audit(c, action, target, detail)
	return err
}

// requireUser answers 401 (API) or sends to the sign-in page (pages).
// Authors and admins must set up two-factor authentication before
// anything else.
func (s *core) requireUser(c *fiber.Ctx) error {
	v := s.viewerOf(c)
	if v.signedIn() {
		if v.User.NeedsTwoFactor() && !v.User.SecondFactor() && c.Path() != "/tili/kaksivaiheinen" {
			if wantsJSON(c) {
				return fiber.NewError(fiber.StatusForbidden, "set up two-factor authentication first (required for the "+v.User.Role+" role)")
			}
			return c.Redirect("/tili/kaksivaiheinen", fiber.StatusSeeOther)
		}
		return c.Next()
	}
	if v.lookupErr != nil {
		return fmt.Errorf("reading the session: %w", v.lookupErr) // 503 when the store is busy
	}
	if wantsJSON(c) {
		return fiber.NewError(fiber.StatusUnauthorized, "sign in first")
	}
	return c.Redirect("/kirjaudu?jatka="+urlQueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
}

// requireAdmin lets only administrators (with two-factor authentication,
// which requireUser enforces) through; others get 404, as if nothing were
// there.
func (s *core) requireAdmin(c *fiber.Ctx) error {
	return s.require(c, account.Administer)
}

// require lets through a viewer who may do p (account.User.Can, the one
// role policy); everyone else gets 404.
func (s *core) require(c *fiber.Ctx, p account.Permission) error {
	if s.can(c, p) {
		return c.Next()
	}
	return fiber.ErrNotFound
}

// can: the viewer is signed in and may do p.
func (s *core) can(c *fiber.Ctx, p account.Permission) bool {
	v := s.viewerOf(c)
	return v.signedIn() && v.User.Can(p)
}

// requireAuthor lets authors and administrators through (with two-factor
// authentication, which requireUser enforces); others get 404.
func (s *core) requireAuthor(c *fiber.Ctx) error {
	return s.require(c, account.EditContent)
}

// requireReporter lets in reporters (their own organisation) and
// administrators, with two-factor authentication; others get 404.
func (s *core) requireReporter(c *fiber.Ctx) error {
	return s.require(c, account.ViewReports)
}

// clientIP is the address rate limits count by.
func clientIP(c *fiber.Ctx) string {
	ip := c.IP()
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	return ip
}

// safeNext keeps a post-sign-in destination on this site: a path (with
// its query and fragment) on this host, never an address browsers could
// read as another host. Browsers drop ASCII tabs and newlines from URLs
// and read a backslash as a slash, so every control and whitespace
// character is removed first; what is left must parse as a path with no
// scheme, host or user information, and must not start with "//".
func safeNext(next string) string {
	const home = "/omat-opinnot"
	cleaned := strings.Map(func(r rune) rune {
		if r <= 0x20 || r == 0x7f || unicode.IsSpace(r) || unicode.IsControl(r) {
			return -1
		}
		return r
	}, next)
	if cleaned == "" || len(cleaned) > 2048 || !strings.HasPrefix(cleaned, "/") ||
		strings.ContainsRune(cleaned, '\\') || strings.HasPrefix(cleaned, "//") {
		return home
	}
	u, err := url.Parse(cleaned)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return home
	}
	// Percent-encoded slashes and backslashes at the start could be
	// decoded into "//" by a later hop.
	if p := strings.ToLower(u.EscapedPath()); strings.HasPrefix(p, "/%2f") || strings.HasPrefix(p, "/%5c") {
		return home
	}
	return cleaned
}

// checkCSRFHeader is checkCSRF for routes whose body is a file: the token
// must come in the X-CSRF-Token header (the body is never parsed for it).
func (s *core) checkCSRFHeader(c *fiber.Ctx) error {
	if !s.validCSRF(s.viewerOf(c), c.Get("X-CSRF-Token")) {
		return fiber.NewError(fiber.StatusForbidden, "send the X-CSRF-Token header of your session")
	}
	return c.Next()
}
