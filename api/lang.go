package api

import (
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/web"
)

const langCookie = "lang"

func knownLang(l string) bool {
	for _, x := range web.Langs {
		if x == l {
			return true
		}
	}
	return false
}

// lang chooses the UI language: ?lang= (and remember it in a cookie), else
// the remembered choice, else Accept-Language, else Finnish.
func (s *core) lang(c *fiber.Ctx) string {
	if q := c.Query("lang"); q != "" && knownLang(q) {
		c.Cookie(&fiber.Cookie{
			Name:     langCookie,
			Value:    q,
			Path:     "/",
			MaxAge:   365 * 24 * 3600,
			SameSite: fiber.CookieSameSiteLaxMode,
			Secure:   s.https,
			HTTPOnly: true,
		})
		return q
	}
	if ck := c.Cookies(langCookie); knownLang(ck) {
		return ck
	}
	return negotiate(c.Get(fiber.HeaderAcceptLanguage))
}

// negotiate picks the best UI language from an Accept-Language header:
// the highest q-value whose primary subtag we have, ties by order.
func negotiate(header string) string {
	type cand struct {
		lang string
		q    float64
		pos  int
	}
	var cands []cand
	for i, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if primary == "nb" || primary == "nn" || primary == "no" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if knownLang(primary) && q > 0 {
			cands = append(cands, cand{primary, q, i})
		}
	}
	if len(cands) == 0 {
		return web.Langs[0]
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].q > cands[j].q })
	return cands[0].lang
}
