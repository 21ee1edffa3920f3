package api

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/i18n"
)

// certificateHandlers serve the certificates: the public verification
// page, QR code, keys, issuer profile and status lists; the learner's
// list, PDF and token; the administrators' list and revocation.
type certificateHandlers struct {
	*core
	certs *cert.Store
	// exam finds a learner's certificates through their attempts (nil:
	// no exam, they are searched for).
	exam *exam.Store
}

// Certificate states on the public page.
const (
	certValid     = "valid"
	certRevoked   = "revoked"
	certInvalid   = "invalid"
	certWithdrawn = "withdrawn"
)

type certificateData struct {
	Cert   *cert.Certificate
	State  string // valid, revoked or invalid
	Reason string // why invalid (English; shown as it is)
	Issuer cert.Issuer
	Owner  bool // the viewer holds it: downloads are offered
	// The dates as the page shows them.
	IssuedISO, IssuedText, RevokedOn string
}

// isoDate is the Helsinki date of t as YYYY-MM-DD (a <time> datetime).
func isoDate(t time.Time) string { return t.In(i18n.Helsinki).Format("2006-01-02") }

type certificatesData struct {
	Certs  []*cert.Certificate
	Notice string
	// Waiting: the exam is passed, and the certificate waits for the
	// learner to verify the address.
	Waiting bool
	Pager   pager // the administrators' list
}

// find is the certificate named in the path, or 404.
func (h *certificateHandlers) find(c *fiber.Ctx) (*cert.Certificate, error) {
	cr, err := h.certs.Get(c.UserContext(), c.Params("cert"))
	if errors.Is(err, cert.ErrNotFound) {
		return nil, fiber.ErrNotFound
	}
	return cr, err
}

// own is the certificate in the path when the viewer holds it
// (or administers the site); anyone else gets 404, as for a missing one.
func (h *certificateHandlers) own(c *fiber.Ctx) (*cert.Certificate, error) {
	cr, err := h.find(c)
	if err != nil {
		return nil, err
	}
	v := h.viewerOf(c)
	if !v.signedIn() || (v.User.ID != cr.UserID && !v.User.Can(account.Administer)) {
		return nil, fiber.ErrNotFound
	}
	return cr, nil
}

// page is the public verification page: no sign-in needed.
func (h *certificateHandlers) page(c *fiber.Ctx) error {
	cr, err := h.find(c)
	if err != nil {
		return err
	}
	v := h.certs.Status(cr)
	lang := h.lang(c)
	d := &certificateData{Cert: cr, State: certValid, Issuer: h.certs.Issuer(),
		IssuedISO: isoDate(cr.Issued), IssuedText: i18n.Date(lang, cr.Issued)}
	switch {
	case cr.Withdrawn && cr.Revoked != nil:
		d.State, d.RevokedOn = certWithdrawn, i18n.Date(lang, cr.Revoked.At)
	case v.Revoked:
		d.State, d.RevokedOn = certRevoked, i18n.Date(lang, cr.Revoked.At)
	case !v.Valid:
		d.State, d.Reason = certInvalid, v.Reason
	}
	if viewer := h.viewerOf(c); viewer.signedIn() {
		d.Owner = viewer.User.ID == cr.UserID
	}
	if err := h.renderForm(c, fiber.StatusOK, "certificate", "cert.title", d); err != nil {
		return err
	}
	// The page names a person: not for shared caches, and not indexed.
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	c.Set("X-Robots-Tag", "noindex")
	return nil
}

// of lists a learner's certificates through their exam
// attempts (reads by id), or by searching when there is no exam store.
func (h *certificateHandlers) of(c *fiber.Ctx, userID string) ([]*cert.Certificate, error) {
	if h.exam == nil {
		return h.certs.ForUser(c.UserContext(), userID)
	}
	attempts, err := h.exam.AttemptIDs(c.UserContext(), userID)
	if err != nil {
		return nil, err
	}
	return h.certs.ForAttempts(c.UserContext(), userID, attempts)
}

// list lists the signed-in learner's certificates.
func (h *certificateHandlers) list(c *fiber.Ctx) error {
	list, err := h.of(c, h.viewerOf(c).User.ID)
	if err != nil {
		return err
	}
	d := &certificatesData{Certs: list}
	if u := h.viewerOf(c).User; len(list) == 0 && !u.EmailVerified && h.exam != nil {
		attempts, err := h.exam.ForUser(c.UserContext(), u.ID)
		if err != nil {
			return err
		}
		for _, a := range attempts {
			d.Waiting = d.Waiting || a.Result != nil && a.Result.Passed
		}
	}
	return h.renderPrivate(c, "certificates", "cert.list.title", d)
}

func (h *certificateHandlers) pdf(c *fiber.Ctx) error {
	cr, err := h.own(c)
	if err != nil {
		return err
	}
	lang := c.Query("kieli")
	if lang == "" {
		lang = h.lang(c)
	}
	pdf, err := cert.PDF(h.certs.Document(cr, lang))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="todistus-`+cr.ID+`.pdf"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(pdf)
}

func (h *certificateHandlers) token(c *fiber.Ctx) error {
	cr, err := h.own(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/vc+jwt")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="todistus-`+cr.ID+`.jwt"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.SendString(cr.Token)
}

// qr is a QR code of the public page's address (public: it
// holds nothing but the address).
func (h *certificateHandlers) qr(c *fiber.Ctx) error {
	cr, err := h.find(c)
	if err != nil {
		return err
	}
	png, err := cert.QRPNG(cr.URL)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/png")
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	return c.Send(png)
}

// jwks publishes the issuer's public keys.
func (h *certificateHandlers) jwks(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/jwk-set+json")
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set("Access-Control-Allow-Origin", "*")
	return c.Send(h.certs.Keys().JWKS())
}

// issuer is the issuer as an Open Badges Profile (the iss of every
// certificate).
func (h *certificateHandlers) issuer(c *fiber.Ctx) error {
	p := h.certs.Issuer().ProfileDocument()
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	c.Set("Access-Control-Allow-Origin", "*")
	c.Set(fiber.HeaderContentType, "application/ld+json")
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return c.Send(b)
}

// statusList serves a signed Bitstring Status List credential.
func (h *certificateHandlers) statusList(c *fiber.Ctx) error {
	n, err := strconv.Atoi(c.Params("list"))
	if err != nil {
		return fiber.ErrNotFound
	}
	token, err := h.certs.StatusList(c.UserContext(), n)
	if errors.Is(err, cert.ErrNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/vc+jwt")
	c.Set(fiber.HeaderCacheControl, "public, max-age=60")
	c.Set("Access-Control-Allow-Origin", "*")
	return c.SendString(token)
}

// apiList lists the signed-in learner's certificates with tokens.
func (h *certificateHandlers) apiList(c *fiber.Ctx) error {
	list, err := h.of(c, h.viewerOf(c).User.ID)
	if err != nil {
		return err
	}
	if list == nil {
		list = []*cert.Certificate{}
	}
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.JSON(fiber.Map{"certificates": list})
}

// apiVerify verifies a token: {"token": "…"} or the token as text.
func (h *certificateHandlers) apiVerify(c *fiber.Ctx) error {
	token := strings.TrimSpace(string(c.Body()))
	if strings.HasPrefix(token, "{") {
		var in struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(c.Body(), &in); err != nil {
			return fiber.NewError(fiber.StatusBadRequest, `the body must be {"token": "…"} or the token itself`)
		}
		token = in.Token
	}
	if token == "" || len(token) > 64<<10 {
		return fiber.NewError(fiber.StatusBadRequest, "give the certificate's token (a JWT of at most 64 KiB)")
	}
	v := h.certs.Verify(c.UserContext(), token)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(v)
}

// apiRevoke revokes a certificate: {"reason": "…"}.
func (h *certificateHandlers) apiRevoke(c *fiber.Ctx) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, `the body must be {"reason": "…"}`)
	}
	cr, err := h.revoke(c, in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(cr)
}

func (h *certificateHandlers) revoke(c *fiber.Ctx, reason string) (*cert.Certificate, error) {
	id := c.Params("cert")
	by := h.viewerOf(c).User.ID
	cr, err := h.certs.Revoke(c.UserContext(), id, by, reason)
	switch {
	case err != nil: // refusals (not found, no reason, revoked already) answer as such
		return nil, err
	}
	// Revoked: on record (a failure of the log is logged, the revocation stands).
	h.audit(c, "certificate.revoke", id, strings.TrimSpace(reason))
	return cr, nil
}

// adminList lists every certificate with a form to revoke each.
func (h *certificateHandlers) adminList(c *fiber.Ctx) error {
	list, next, err := h.certs.Page(c.UserContext(), afterOf(c), listPageSize)
	if err != nil {
		return pageError(err)
	}
	d := &certificatesData{Certs: list, Pager: pagerFor(c, "/yllapito/todistukset", next)}
	if c.Query("ilmoitus") == "peruttu" {
		d.Notice = "cert.revoked.notice"
	}
	return h.renderPrivate(c, "admin_certificates", "cert.admin.title", d)
}

func (h *certificateHandlers) adminRevoke(c *fiber.Ctx) error {
	if _, err := h.revoke(c, c.FormValue("reason")); err != nil {
		return err
	}
	return c.Redirect("/yllapito/todistukset?ilmoitus=peruttu", fiber.StatusSeeOther)
}
