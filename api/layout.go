package api

import (
	"bytes"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/web"
)

// The site layout: what every page template receives, and rendering a
// page in it with the navigation and language links filled in.

// page is what every template receives.
type page struct {
	Lang        string
	Title       string
	Description string
	Nav         []navItem
	LangLinks   []langLink
	Message     string
	RequestID   string
	Data        any
	Viewer      *viewer // nil on cached pages
	CSRF        string
	Accounts    bool // sign-in exists
	// Certificates are issued (the learner's list is linked).
	Certificates bool
}

type navItem struct {
	Href, Label string
	Current     bool
}

type langLink struct {
	Href, Lang, Name string
	Current          bool
}

// complete fills in what every page has: navigation and language links.
func (s *Server) complete(p *page, lang, path string) {
	p.Lang = lang
	p.Accounts = s.accounts != nil && s.progress != nil
	p.Certificates = s.certs != nil
	if p.Description == "" {
		if pub := s.published(); pub != nil {
			p.Description = pub.Course.Meta.Description
		}
	}
	items := []navItem{{Href: "/", Label: web.T(lang, "nav.home")}, {Href: "/osiot", Label: web.T(lang, "nav.modules")}}
	if pub := s.published(); pub != nil {
		if pub.Course.Meta.Pages.Legislation {
			items = append(items, navItem{Href: "/lainsaadanto", Label: web.T(lang, "nav.legislation")})
		}
		if pub.Course.Meta.Pages.Glossary && len(pub.Course.Concepts) > 0 {
			items = append(items, navItem{Href: "/sanasto", Label: web.T(lang, "nav.glossary")})
		}
		if pub.Course.Meta.Pages.Exam && s.exam != nil && pub.Course.Exam != nil && len(pub.Course.Exam.Items) > 0 {
			items = append(items, navItem{Href: "/tentti", Label: web.T(lang, "nav.exam")})
		}
	}
	for i := range items {
		items[i].Current = items[i].Href == path
	}
	p.Nav = items
	p.LangLinks = make([]langLink, len(web.Langs))
	for i, l := range web.Langs {
		p.LangLinks[i] = langLink{Href: path + "?lang=" + l, Lang: l, Name: web.LangNames[l], Current: l == lang}
	}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render executes a page template into a new byte slice.
func (s *Server) render(name, lang, path string, p page) ([]byte, error) {
	s.complete(&p, lang, path)
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := s.pages.Render(buf, name, p); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

// renderStatus renders a page that is not cached (error pages).
func (s *Server) renderStatus(c *fiber.Ctx, status int, name string, p page) error {
	if s.hasSessionCredential(c) {
		if v := s.viewerOf(c); v.signedIn() {
			p.Viewer, p.CSRF = v, v.Session.CSRF
		}
	}
	body, err := s.render(name, s.lang(c), c.Path(), p)
	if err != nil {
		return err
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Response().SetBodyRaw(body)
	return nil
}

// static serves embedded assets; fingerprinted names are cached for a year.
func (s *Server) static(c *fiber.Ctx) error {
	name := c.Params("name")
	if strings.Contains(name, "/") || strings.Contains(name, "..") {
		return fiber.ErrNotFound
	}
	a, immutable, ok := web.LookupAsset(name)
	if !ok {
		return fiber.ErrNotFound
	}
	if immutable {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	c.Set(fiber.HeaderETag, a.ETag)
	if c.Get(fiber.HeaderIfNoneMatch) == a.ETag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, a.ContentType)
	c.Response().SetBodyRaw(a.Body) // embedded bytes are never modified
	return nil
}
