package api

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/lti"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/web"
)

// ltiHandlers serve the course as an LTI 1.3 tool: the platform's
// third-party initiated login, the launch, the tool's key set and the
// administrators' page of registered platforms.
type ltiHandlers struct {
	*core
	lti *lti.Service
	dir *org.Directory
	// logins counts the launches one address starts (each stores a flow
	// until it ends or expires); failures counts its launches refused.
	logins, failures *account.Limiter
	// records queues the launches as xAPI statements (nil: no xAPI).
	records *xapiHandlers
}

// newLTILimits: a school or hospital behind one address launches many
// at once, so the allowance is large; past it, waits from 5 s doubling to
// 15 minutes.
func newLTILimits() (logins, failures *account.Limiter) {
	return account.NewLimiter(600, 10*time.Minute, 5*time.Second, 15*time.Minute), account.NewLimiter(100, 10*time.Minute, 5*time.Second, 15*time.Minute)
}

// limited answers 429 with Retry-After when the address must wait.
func (h *ltiHandlers) limited(c *fiber.Ctx, l *account.Limiter, key string) (bool, error) {
	w := l.Wait(key)
	if w <= 0 {
		return false, nil
	}
	c.Set(fiber.HeaderRetryAfter, retryAfter(w))
	return true, h.renderForm(c, fiber.StatusTooManyRequests, "lti_notice", "lti.refused.title", &ltiNoticeData{Message: web.T(h.lang(c), "form.limited")})
}

// ltiStateCookie is the base name of a started launch's cookie; each
// launch has its own (its state's first characters in the name), so
// several tools on one page of the platform, each in its frame, do not
// overwrite each other's.
const ltiStateCookie = "lti_"

func ltiCookieBase(state string) string {
	if len(state) > 20 {
		state = state[:20]
	}
	return ltiStateCookie + state
}

// param is a login parameter sent by GET (the query) or POST (the form).
func param(c *fiber.Ctx, name string) string {
	if c.Method() == fiber.MethodPost {
		return c.FormValue(name)
	}
	return c.Query(name)
}

// login is GET and POST /lti/login: the platform's third-party initiated
// login (iss, login_hint, target_link_uri, lti_message_hint, client_id,
// lti_deployment_id). The browser goes on to the platform's
// authentication endpoint with the state and nonce; the state is also
// kept in a cookie that works in the platform's frame.
func (h *ltiHandlers) login(c *fiber.Ctx) error {
	key := "lti-login:" + clientIP(c)
	if stop, err := h.limited(c, h.logins, key); stop {
		return err
	}
	h.logins.Fail(key) // every start counts: each stores a flow
	authURL, state, err := h.lti.Login(c.UserContext(), lti.LoginRequest{Issuer: param(c, "iss"), LoginHint: param(c, "login_hint"),
		TargetLinkURI: param(c, "target_link_uri"), MessageHint: param(c, "lti_message_hint"), ClientID: param(c, "client_id"),
		DeploymentID: param(c, "lti_deployment_id"), StorageTarget: param(c, "lti_storage_target")})
	if err != nil {
		return h.refuse(c, err, "")
	}
	h.crossSiteCookie(c, ltiCookieBase(state), state, lti.FlowTTL)
	c.Set(fiber.HeaderCacheControl, "no-store")
	if param(c, "lti_storage_target") != "" {
		st, err := h.lti.StorageOf(c.UserContext(), state)
		if err != nil {
			return err
		}
		if st != nil {
			// The page keeps the state and nonce in the platform's
			// storage, then goes on to the platform (its link does the
			// same without scripts).
			lang := h.lang(c)
			return h.renderForm(c, fiber.StatusOK, "lti_notice", "lti.storage.title", &ltiNoticeData{Message: web.T(lang, "lti.storage.put"),
				Storage: &ltiStorageData{Mode: "put", Storage: *st, Next: authURL}})
		}
	}
	return c.Redirect(authURL, fiber.StatusFound)
}

// launch is POST /lti/launch: the platform's form with the ID token and
// the state. A launch that passes signs the person in and opens the
// target; the session's cookie works in the platform's frame.
func (h *ltiHandlers) launch(c *fiber.Ctx) error {
	state := c.FormValue("state")
	base := ltiCookieBase(state)
	cookie := c.Cookies(h.cookieName(base))
	if cookie != "" {
		h.crossSiteCookie(c, base, "", 0)
	}
	key := "lti-launch:" + clientIP(c)
	if stop, err := h.limited(c, h.failures, key); stop {
		return err
	}
	// A launch posted again by its own page after the platform's storage
	// held its state and nonce: only from our own origin (a page of
	// another site cannot make a browser send that).
	stored := c.FormValue("lti_storage") == "1"
	if stored && c.Get("Sec-Fetch-Site") != "same-origin" {
		h.failures.Fail(key)
		return h.refuse(c, lti.ErrState, "")
	}
	l, err := h.lti.Launch(c.UserContext(), lti.LaunchRequest{IDToken: c.FormValue("id_token"), State: state, Cookie: cookie, Stored: stored, Error: c.FormValue("error")})
	if errors.Is(err, lti.ErrNoCookie) {
		return h.offerWindow(c, state)
	}
	if err != nil {
		if _, ok := fault.As(err); ok {
			h.failures.Fail(key) // a refused token, state or nonce
		}
		return h.refuse(c, err, "")
	}
	u := l.User
	pending := u.TOTPEnabled
	token, _, err := h.accounts.StartProviderSession(c.UserContext(), u, pending, "lti:"+l.Registration.ID, false, c.Get(fiber.HeaderUserAgent), clientIP(c))
	if err != nil {
		return err
	}
	if err := h.accounts.Audit(c.UserContext(), u.ID, "signin.lti", u.ID, l.Registration.Name+" ("+l.Deployment+")"); err != nil {
		return err
	}
	h.crossSiteCookie(c, ltiSessionCookie, token, 7*24*time.Hour)
	if c.Cookies(h.cookieName("session")) != "" {
		// A platform on our own site sends the site's cookie too: the
		// launch's person is the one signed in from now on.
		h.clearSiteSessionCookie(c)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	next := safeNext(l.Target)
	if l.DeepLink == "" {
		h.records.launched(c, u.ID, next)
	}
	if l.DeepLink != "" {
		next = "/lti/sisalto/" + l.DeepLink // the teacher chooses what to place
	}
	if pending {
		return c.Redirect("/kirjaudu/vahvista?jatka="+url.QueryEscape(next), fiber.StatusSeeOther)
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// offerWindow answers a launch whose state cookie the browser did not
// send back (third-party cookies blocked in the platform's frame): a
// link that starts the login again in a window of its own, where the
// cookie is first-party.
func (h *ltiHandlers) offerWindow(c *fiber.Ctx, state string) error {
	again, err := h.lti.Restart(c.UserContext(), state)
	if err != nil {
		return h.refuse(c, err, "")
	}
	q := url.Values{"iss": {again.Issuer}, "login_hint": {again.LoginHint}, "target_link_uri": {again.TargetLinkURI}, "client_id": {again.ClientID}}
	if again.MessageHint != "" {
		q.Set("lti_message_hint", again.MessageHint)
	}
	if again.DeploymentID != "" {
		q.Set("lti_deployment_id", again.DeploymentID)
	}
	window := "/lti/login?" + q.Encode()
	st, err := h.lti.StorageOf(c.UserContext(), state)
	if err != nil {
		return err
	}
	if st == nil {
		return h.refuse(c, lti.ErrNoCookie, window)
	}
	// The login named the platform's storage: the page looks there for
	// the state and nonce its login kept, and if they are there posts the
	// launch again, bound to this browser so; else the window is offered.
	lang := h.lang(c)
	return h.renderForm(c, fiber.StatusOK, "lti_notice", "lti.window.title", &ltiNoticeData{Message: web.T(lang, lti.ErrNoCookie.MessageKey()), Window: window,
		Storage: &ltiStorageData{Mode: "get", Storage: *st, IDToken: c.FormValue("id_token")}})
}

// ltiStorageData is what a page needs to use the platform's postMessage
// storage: put (the login keeps the state and nonce, then goes to Next)
// or get (the launch looks for them, then posts IDToken again).
type ltiStorageData struct {
	Mode string
	lti.Storage
	Next, IDToken string
}

// ltiNoticeData is the page of a refused launch: the refusal's message
// and, when the browser refused the cookie, the link that opens the
// course in a window of its own.
type ltiNoticeData struct {
	Message string
	Window  string
	Storage *ltiStorageData
	// Close: the page tells the platform that opened it (LTI Dynamic
	// Registration) to close it.
	Close bool
}

// refuse shows a refused login or launch in the status of its kind; a
// failure that is not a refusal is a 500.
func (h *ltiHandlers) refuse(c *fiber.Ctx, err error, window string) error {
	f, ok := fault.As(err)
	if !ok {
		return err
	}
	status := statusOf(f)
	if errors.Is(err, lti.ErrNoCookie) {
		status = fiber.StatusOK // an answer with a way on, not a failure
	}
	lang := h.lang(c)
	title := "lti.refused.title"
	if window != "" {
		title = "lti.window.title"
	}
	return h.renderForm(c, status, "lti_notice", title, &ltiNoticeData{Message: web.T(lang, f.MessageKey()), Window: window})
}

// jwks is GET /lti/jwks.json: the tool's public keys (RFC 7517), which
// platforms use to verify the tool's messages and client assertions.
func (h *ltiHandlers) jwks(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/json")
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(h.lti.JWKS(c.UserContext()))
}

// ltiRow is a registered platform on the administrators' page.
type ltiRow struct {
	lti.Registration
	OrgName     string
	Deployments string
}

type ltiAdminData struct {
	LoginURL, LaunchURL, JWKSURL string
	// Invitation is a registration address made just now (shown once).
	Invitation string
	Rows       []ltiRow
	Orgs       []org.Organisation
	Values     map[string]string
	Errors     []fieldError
	Notice     string
}

// admin is GET /yllapito/lti: the tool's addresses to give a platform,
// the registered platforms and the form that registers one.
func (h *ltiHandlers) admin(c *fiber.Ctx) error {
	d := &ltiAdminData{}
	switch c.Query("ilmoitus") {
	case "lisatty":
		d.Notice = "admin.lti.added"
	case "tallennettu":
		d.Notice = "admin.lti.saved"
	}
	return h.showAdmin(c, fiber.StatusOK, d)
}

func (h *ltiHandlers) showAdmin(c *fiber.Ctx, status int, d *ltiAdminData) error {
	ctx := c.UserContext()
	regs, err := h.lti.Registrations(ctx)
	if err != nil {
		return err
	}
	if d.Orgs, err = h.dir.List(ctx); err != nil {
		return err
	}
	lang := h.lang(c)
	names := map[string]string{}
	for _, o := range d.Orgs {
		names[o.ID] = o.Name(lang)
	}
	for _, r := range regs {
		d.Rows = append(d.Rows, ltiRow{Registration: r, OrgName: names[r.Org], Deployments: strings.Join(r.Deployments, ", ")})
	}
	d.LoginURL, d.LaunchURL, d.JWKSURL = h.lti.LoginURL(), h.lti.LaunchURL(), h.lti.JWKSURL()
	if d.Values == nil {
		d.Values = map[string]string{}
	}
	if status != fiber.StatusOK {
		return h.renderForm(c, status, "admin_lti", "admin.lti.title", d)
	}
	return h.renderPrivate(c, "admin_lti", "admin.lti.title", d)
}

// adminAdd is POST /yllapito/lti: a platform registered by hand.
func (h *ltiHandlers) adminAdd(c *fiber.Ctx) error {
	ctx := c.UserContext()
	r := lti.Registration{Name: c.FormValue("name"), Issuer: c.FormValue("issuer"), ClientID: c.FormValue("client_id"), AuthURL: c.FormValue("auth_url"),
		TokenURL: c.FormValue("token_url"), JWKSURL: c.FormValue("jwks_url"), Deployments: lti.SplitList(c.FormValue("deployments")), Org: c.FormValue("org")}
	if err := h.accounts.Audit(ctx, h.viewerOf(c).User.ID, "lti.add", r.Issuer, fmt.Sprintf("%s client=%s org=%s deployments=%s", r.Name, r.ClientID, r.Org, strings.Join(r.Deployments, ","))); err != nil {
		return err
	}
	if _, errs := h.lti.AddRegistration(ctx, r); len(errs) > 0 {
		d := &ltiAdminData{Values: map[string]string{}}
		for _, k := range []string{"name", "issuer", "client_id", "auth_url", "token_url", "jwks_url", "deployments", "org"} {
			d.Values[k] = c.FormValue(k)
		}
		if err := h.fieldErrors(c, errs, &d.Errors); err != nil {
			return err
		}
		return h.showAdmin(c, fiber.StatusUnprocessableEntity, d)
	}
	return c.Redirect("/yllapito/lti?ilmoitus=lisatty", fiber.StatusSeeOther)
}

// adminChange is POST /yllapito/lti/{registration}: its deployments,
// organisation, whether it may launch and whether its course rosters are
// read.
func (h *ltiHandlers) adminChange(c *fiber.Ctx) error {
	ctx := c.UserContext()
	r, err := h.lti.Registration(ctx, c.Params("registration"))
	if errors.Is(err, lti.ErrRegNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	r.Deployments = lti.SplitList(c.FormValue("deployments"))
	r.Org = c.FormValue("org")
	r.Active = c.FormValue("active") == "on"
	r.Roster = c.FormValue("roster") == "on"
	if err := h.accounts.Audit(ctx, h.viewerOf(c).User.ID, "lti.change", r.Issuer, fmt.Sprintf("%s org=%s active=%v roster=%v deployments=%s", r.Name, r.Org, r.Active, r.Roster, strings.Join(r.Deployments, ","))); err != nil {
		return err
	}
	if _, errs := h.lti.ChangeRegistration(ctx, *r); len(errs) > 0 {
		d := &ltiAdminData{}
		if err := h.fieldErrors(c, errs, &d.Errors); err != nil {
			return err
		}
		return h.showAdmin(c, fiber.StatusUnprocessableEntity, d)
	}
	return c.Redirect("/yllapito/lti?ilmoitus=tallennettu", fiber.StatusSeeOther)
}

// fieldErrors turns refusals into the form's messages; any other error
// is returned as a failure.
func (h *ltiHandlers) fieldErrors(c *fiber.Ctx, errs []error, out *[]fieldError) error {
	lang := h.lang(c)
	for _, err := range errs {
		f, ok := fault.As(err)
		if !ok {
			return err
		}
		*out = append(*out, fieldError{Field: f.Field, Code: f.Code, Message: web.T(lang, f.MessageKey(), f.Args...)})
	}
	return nil
}

// ltiFraming lets the registered platforms frame the tool: the launch
// routes (for every active platform) and every page of a session a
// launch started (for its platform) carry frame-ancestors naming the
// platform's origins instead of 'none', and no X-Frame-Options.
func (h *ltiHandlers) framing(c *fiber.Ctx) error {
	err := c.Next()
	var origins []string
	if o, ok := c.Locals("lti_frame").([]string); ok {
		origins = o // a platform registered just now
	} else if strings.HasPrefix(c.Path(), "/lti/") {
		origins = h.lti.FrameOrigins(c.UserContext(), "")
	} else if v, ok := c.Locals("viewer").(*viewer); ok && v.Session != nil && strings.HasPrefix(v.Session.Provider, "lti:") {
		origins = h.lti.FrameOrigins(context.WithoutCancel(c.UserContext()), strings.TrimPrefix(v.Session.Provider, "lti:"))
	}
	if len(origins) == 0 {
		return err
	}
	hdr := &c.Response().Header
	if csp := string(hdr.Peek(fiber.HeaderContentSecurityPolicy)); strings.Contains(csp, "frame-ancestors 'none'") && !strings.Contains(csp, "sandbox") {
		hdr.Set(fiber.HeaderContentSecurityPolicy, strings.Replace(csp, "frame-ancestors 'none'", "frame-ancestors 'self' "+strings.Join(origins, " "), 1))
		hdr.Del(fiber.HeaderXFrameOptions)
	}
	return err
}

// placeChoice is one thing a teacher may place in the platform: its form
// value and the content item it becomes.
type placeChoice struct {
	Value   string
	Kind    string // the kind's message: the course, a module or the exam
	Item    lti.ContentItem
	Checked bool
}

type deepLinkData struct {
	Multiple bool
	Choices  []placeChoice
	Errors   []fieldError
}

// choices are what may be placed: the whole course, each module and the
// exam (when the course has one), each with a line item out of 100.
func (h *ltiHandlers) choices(lang string) []placeChoice {
	pub := h.published()
	if pub == nil {
		return nil
	}
	base := h.lti.BaseURL()
	out := []placeChoice{{Value: "kurssi", Kind: "lti.place.kind.course", Item: lti.ContentItem{Title: pub.Course.Meta.Title, URL: base + "/", ResourceID: "course", ScoreMaximum: 100}}}
	for _, m := range pub.Course.Modules {
		out = append(out, placeChoice{Value: "osio:" + m.Slug, Kind: "lti.place.kind.module", Item: lti.ContentItem{Title: m.Title, URL: base + "/osiot/" + m.Slug, ResourceID: "module:" + m.Slug, ScoreMaximum: 100}})
	}
	if pub.Course.Exam != nil && len(pub.Course.Exam.Items) > 0 {
		out = append(out, placeChoice{Value: "tentti", Kind: "lti.place.kind.exam", Item: lti.ContentItem{Title: web.T(lang, "lti.place.exam.item", pub.Course.Meta.Title), URL: base + "/tentti", ResourceID: "exam", ScoreMaximum: 100}})
	}
	return out
}

// deepLinkPage is GET /lti/sisalto/{request}: a teacher who came by a
// deep linking launch chooses what to place in the platform (their own
// request only; another's is 404).
func (h *ltiHandlers) deepLinkPage(c *fiber.Ctx) error {
	r, err := h.lti.DeepLink(c.UserContext(), c.Params("request"), h.viewerOf(c).User.ID)
	if errors.Is(err, lti.ErrDeepLinkGone) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	return h.renderPrivate(c, "lti_deeplink", "lti.place.title", &deepLinkData{Multiple: r.Multiple, Choices: h.choices(h.lang(c))})
}

type deepLinkReturn struct {
	Action, JWT string
}

// deepLinkAnswer is POST /lti/sisalto/{request}: the chosen items as the
// signed LtiDeepLinkingResponse, posted by the browser to the platform's
// return address (the page's form sends itself; its button does without
// scripts).
func (h *ltiHandlers) deepLinkAnswer(c *fiber.Ctx) error {
	ctx := c.UserContext()
	r, err := h.lti.DeepLink(ctx, c.Params("request"), h.viewerOf(c).User.ID)
	if errors.Is(err, lti.ErrDeepLinkGone) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	chosen := map[string]bool{}
	for _, v := range c.Request().PostArgs().PeekMulti("kohde") {
		chosen[string(v)] = true
	}
	choices := h.choices(h.lang(c))
	var items []lti.ContentItem
	for i := range choices {
		if chosen[choices[i].Value] {
			choices[i].Checked = true
			items = append(items, choices[i].Item)
		}
	}
	ret, token, err := h.lti.DeepLinkResponse(ctx, r.ID, r.UserID, items)
	if errors.Is(err, lti.ErrNoChoice) {
		d := &deepLinkData{Multiple: r.Multiple, Choices: choices}
		if err := h.fieldErrors(c, []error{err}, &d.Errors); err != nil {
			return err
		}
		return h.renderForm(c, fiber.StatusUnprocessableEntity, "lti_deeplink", "lti.place.title", d)
	}
	if errors.Is(err, lti.ErrDeepLinkGone) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	var placed []string
	for _, it := range items {
		placed = append(placed, it.ResourceID)
	}
	if err := h.accounts.Audit(ctx, r.UserID, "lti.place", r.Registration, strings.Join(placed, ",")); err != nil {
		return err
	}
	if err := h.renderForm(c, fiber.StatusOK, "lti_return", "lti.place.return", &deepLinkReturn{Action: ret, JWT: token}); err != nil {
		return err
	}
	// The page's form leads to the platform: its origin joins
	// form-action.
	if u, err := url.Parse(ret); err == nil {
		hdr := &c.Response().Header
		csp := string(hdr.Peek(fiber.HeaderContentSecurityPolicy))
		hdr.Set(fiber.HeaderContentSecurityPolicy, strings.Replace(csp, "form-action 'self'", "form-action 'self' "+u.Scheme+"://"+u.Host, 1))
	}
	return nil
}

// adminInvite is POST /yllapito/lti/kutsu: a single-use registration
// address for an organisation (LTI Dynamic Registration), shown once.
func (h *ltiHandlers) adminInvite(c *fiber.Ctx) error {
	ctx := c.UserContext()
	orgID := c.FormValue("org")
	if err := h.accounts.Audit(ctx, h.viewerOf(c).User.ID, "lti.invite", orgID, ""); err != nil {
		return err
	}
	link, err := h.lti.Invite(ctx, orgID, h.viewerOf(c).User.ID)
	d := &ltiAdminData{}
	if err != nil {
		if err := h.fieldErrors(c, []error{err}, &d.Errors); err != nil {
			return err
		}
		return h.showAdmin(c, fiber.StatusUnprocessableEntity, d)
	}
	d.Invitation, d.Notice = link, "admin.lti.invited"
	return h.showAdmin(c, fiber.StatusOK, d)
}

// register is GET /lti/rekisteroi/{invitation}?openid_configuration=
// &registration_token=: the platform opens the registration address
// (LTI Dynamic Registration); the tool registers itself there and keeps
// the platform in the invitation's organisation. The answer tells the
// platform to close the registration window, and the new platform may
// frame it.
func (h *ltiHandlers) register(c *fiber.Ctx) error {
	reg, err := h.lti.RegisterDynamically(c.UserContext(), c.Params("invitation"), c.Query("openid_configuration"), c.Query("registration_token"))
	if err != nil {
		return h.refuse(c, err, "")
	}
	if err := h.accounts.Audit(c.UserContext(), "", "lti.register", reg.Issuer, fmt.Sprintf("%s client=%s org=%s deployments=%s", reg.Name, reg.ClientID, reg.Org, strings.Join(reg.Deployments, ","))); err != nil {
		return err
	}
	c.Locals("lti_frame", reg.Origins())
	lang := h.lang(c)
	return h.renderForm(c, fiber.StatusOK, "lti_notice", "lti.registered.title", &ltiNoticeData{Message: web.T(lang, "lti.registered.text", reg.Name), Close: true})
}
