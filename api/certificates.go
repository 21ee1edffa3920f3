package api

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/i18n"
)

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
}

// certificate is the certificate named in the path, or 404.
func (s *Server) certificate(c *fiber.Ctx) (*cert.Certificate, error) {
	cr, err := s.certs.Get(c.UserContext(), c.Params("cert"))
	if errors.Is(err, cert.ErrNotFound) {
		return nil, fiber.ErrNotFound
	}
	return cr, err
}

// ownCertificate is the certificate in the path when the viewer holds it
// (or administers the site); anyone else gets 404, as for a missing one.
func (s *Server) ownCertificate(c *fiber.Ctx) (*cert.Certificate, error) {
	cr, err := s.certificate(c)
	if err != nil {
		return nil, err
	}
	v := s.viewerOf(c)
	if !v.signedIn() || (v.User.ID != cr.UserID && !v.User.Can(account.Administer)) {
		return nil, fiber.ErrNotFound
	}
	return cr, nil
}

// certificatePage is the public verification page: no sign-in needed.
func (s *Server) certificatePage(c *fiber.Ctx) error {
	cr, err := s.certificate(c)
	if err != nil {
		return err
	}
	v := s.certs.Status(cr)
	lang := s.lang(c)
	d := &certificateData{Cert: cr, State: certValid, Issuer: s.certs.Issuer(),
		IssuedISO: isoDate(cr.Issued), IssuedText: i18n.Date(lang, cr.Issued)}
	switch {
	case cr.Withdrawn && cr.Revoked != nil:
		d.State, d.RevokedOn = certWithdrawn, i18n.Date(lang, cr.Revoked.At)
	case v.Revoked:
		d.State, d.RevokedOn = certRevoked, i18n.Date(lang, cr.Revoked.At)
	case !v.Valid:
		d.State, d.Reason = certInvalid, v.Reason
	}
	if viewer := s.viewerOf(c); viewer.signedIn() {
		d.Owner = viewer.User.ID == cr.UserID
	}
	if err := s.renderForm(c, fiber.StatusOK, "certificate", "cert.title", d); err != nil {
		return err
	}
	// The page names a person: not for shared caches, and not indexed.
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	c.Set("X-Robots-Tag", "noindex")
	return nil
}

// certificatesOf lists a learner's certificates through their exam
// attempts (reads by id), or by searching when there is no exam store.
func (s *Server) certificatesOf(c *fiber.Ctx, userID string) ([]*cert.Certificate, error) {
	if s.exam == nil {
		return s.certs.ForUser(c.UserContext(), userID)
	}
	attempts, err := s.exam.AttemptIDs(c.UserContext(), userID)
	if err != nil {
		return nil, err
	}
	return s.certs.ForAttempts(c.UserContext(), userID, attempts)
}

// certificatesPage lists the signed-in learner's certificates.
func (s *Server) certificatesPage(c *fiber.Ctx) error {
	list, err := s.certificatesOf(c, s.viewerOf(c).User.ID)
	if err != nil {
		return err
	}
	d := &certificatesData{Certs: list}
	if u := s.viewerOf(c).User; len(list) == 0 && !u.EmailVerified && s.exam != nil {
		attempts, err := s.exam.ForUser(c.UserContext(), u.ID)
		if err != nil {
			return err
		}
		for _, a := range attempts {
			d.Waiting = d.Waiting || a.Result != nil && a.Result.Passed
		}
	}
	return s.renderPrivate(c, "certificates", "cert.list.title", d)
}

func (s *Server) certificatePDF(c *fiber.Ctx) error {
	cr, err := s.ownCertificate(c)
	if err != nil {
		return err
	}
	lang := c.Query("kieli")
	if lang == "" {
		lang = s.lang(c)
	}
	pdf, err := cert.PDF(s.certs.Document(cr, lang))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="todistus-`+cr.ID+`.pdf"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(pdf)
}

func (s *Server) certificateToken(c *fiber.Ctx) error {
	cr, err := s.ownCertificate(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/vc+jwt")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="todistus-`+cr.ID+`.jwt"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.SendString(cr.Token)
}

// certificateQR is a QR code of the public page's address (public: it
// holds nothing but the address).
func (s *Server) certificateQR(c *fiber.Ctx) error {
	cr, err := s.certificate(c)
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
func (s *Server) jwks(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/jwk-set+json")
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set("Access-Control-Allow-Origin", "*")
	return c.Send(s.certs.Keys().JWKS())
}

// issuerProfile is the issuer as an Open Badges Profile (the iss of every
// certificate).
func (s *Server) issuerProfile(c *fiber.Ctx) error {
	p := s.certs.Issuer().ProfileDocument()
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
func (s *Server) statusList(c *fiber.Ctx) error {
	n, err := strconv.Atoi(c.Params("list"))
	if err != nil {
		return fiber.ErrNotFound
	}
	token, err := s.certs.StatusList(c.UserContext(), n)
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

// apiCertificates lists the signed-in learner's certificates with tokens.
func (s *Server) apiCertificates(c *fiber.Ctx) error {
	list, err := s.certificatesOf(c, s.viewerOf(c).User.ID)
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
func (s *Server) apiVerify(c *fiber.Ctx) error {
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
	v := s.certs.Verify(c.UserContext(), token)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(v)
}

// apiRevoke revokes a certificate: {"reason": "…"}.
func (s *Server) apiRevoke(c *fiber.Ctx) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, `the body must be {"reason": "…"}`)
	}
	cr, err := s.revoke(c, in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(cr)
}

func (s *Server) revoke(c *fiber.Ctx, reason string) (*cert.Certificate, error) {
	id := c.Params("cert")
	by := s.viewerOf(c).User.ID
	cr, err := s.certs.Revoke(c.UserContext(), id, by, reason)
	switch {
	case err != nil: // refusals (not found, no reason, revoked already) answer as such
		return nil, err
	}
	// Revoked: on record (a failure of the log is logged, the revocation stands).
	s.audit(c, "certificate.revoke", id, strings.TrimSpace(reason))
	return cr, nil
}

// adminCertificates lists every certificate with a form to revoke each.
func (s *Server) adminCertificates(c *fiber.Ctx) error {
	list, err := s.certs.All(c.UserContext())
	if err != nil {
		return err
	}
	d := &certificatesData{Certs: list}
	if c.Query("ilmoitus") == "peruttu" {
		d.Notice = "cert.revoked.notice"
	}
	return s.renderPrivate(c, "admin_certificates", "cert.admin.title", d)
}

func (s *Server) adminRevoke(c *fiber.Ctx) error {
	if _, err := s.revoke(c, c.FormValue("reason")); err != nil {
		return err
	}
	return c.Redirect("/yllapito/todistukset?ilmoitus=peruttu", fiber.StatusSeeOther)
}
