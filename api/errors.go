package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// problem is an RFC 9457 problem details document.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// errorTexts are the Finnish titles and explanations of error pages.
var errorTexts = map[int][2]string{
	fiber.StatusBadRequest:            {"Virheellinen pyyntö", "Palvelu ei ymmärtänyt pyyntöä. Tarkista osoite tai lomakkeen tiedot ja yritä uudelleen."},
	fiber.StatusForbidden:             {"Ei käyttöoikeutta", "Sinulla ei ole oikeutta tähän sivuun."},
	fiber.StatusNotFound:              {"Sivua ei löytynyt", "Hakemaasi sivua ei ole olemassa. Se on voinut siirtyä, tai osoitteessa on kirjoitusvirhe."},
	fiber.StatusMethodNotAllowed:      {"Toimintoa ei sallita", "Tätä toimintoa ei voi tehdä tälle sivulle."},
	fiber.StatusRequestEntityTooLarge: {"Liian suuri pyyntö", "Lähettämäsi tiedot ovat liian suuria."},
	fiber.StatusTooManyRequests:       {"Liikaa pyyntöjä", "Odota hetki ja yritä sitten uudelleen."},
	fiber.StatusInternalServerError:   {"Palvelussa tapahtui virhe", "Virhe on kirjattu. Yritä hetken kuluttua uudelleen. Jos vika toistuu, kerro meille virhetunniste."},
	fiber.StatusServiceUnavailable:    {"Palvelu ei ole käytettävissä", "Palvelu on hetkellisesti poissa käytöstä. Yritä hetken kuluttua uudelleen."},
}

// handleError answers an error as problem+json for API clients and as an
// HTML page in the site layout for browsers. Details of internal errors are
// logged, never shown.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
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
	texts, ok := errorTexts[code]
	if !ok {
		texts = [2]string{http.StatusText(code), ""}
	}
	if wantsJSON(c) {
		if detail == "" || strings.HasPrefix(detail, "Cannot ") {
			detail = texts[1]
		}
		return s.problem(c, code, http.StatusText(code), detail)
	}
	return s.renderStatus(c, code, "error", page{
		Title:     texts[0],
		Message:   texts[1],
		RequestID: requestIDOf(c),
	})
}

func (s *Server) problem(c *fiber.Ctx, code int, title, detail string) error {
	c.Status(code)
	body, err := json.Marshal(problem{
		Type:      "about:blank",
		Title:     title,
		Status:    code,
		Detail:    detail,
		Instance:  c.Path(),
		RequestID: requestIDOf(c),
	})
	if err != nil {
		return err
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
