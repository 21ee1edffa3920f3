package api

import (
	"bytes"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/web"
)

const (
	siteName           = "Työkyvyn tuen johtaminen sosiaali- ja terveydenhuollossa"
	defaultDescription = "Verkkokoulutus työkyvyn tuen johtamisesta sosiaali- ja terveydenhuollossa: 27 tuntia, 1 opintopiste."
)

// page is what every template receives.
type page struct {
	Lang        string
	Site        string
	Title       string
	Description string
	Nav         []navItem
	Message     string
	RequestID   string
	Data        any
}

type navItem struct {
	Href, Label string
	Current     bool
}

// navigation is the primary navigation; later pages add their entries here.
var navigation = []navItem{
	{Href: "/", Label: "Etusivu"},
}

func navFor(path string) []navItem {
	out := make([]navItem, len(navigation))
	for i, n := range navigation {
		n.Current = n.Href == path
		out[i] = n
	}
	return out
}

// complete fills in what every page has.
func (p *page) complete(path string) {
	if p.Lang == "" {
		p.Lang = "fi"
	}
	p.Site = siteName
	if p.Description == "" {
		p.Description = defaultDescription
	}
	p.Nav = navFor(path)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// renderStatus renders a page template in the layout with the status code.
func (s *Server) renderStatus(c *fiber.Ctx, status int, name string, p page) error {
	p.complete(c.Path())
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := s.pages.Render(buf, name, p); err != nil {
		return err
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Response().SetBody(buf.Bytes()) // copies: buf goes back to the pool
	return nil
}

// renderCached renders a page that depends on nothing in the request
// once, at start-up; requests then only copy bytes.
func (s *Server) renderCached(name, path string, p page) ([]byte, error) {
	p.complete(path)
	var buf bytes.Buffer
	if err := s.pages.Render(&buf, name, p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *Server) home(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Response().SetBodyRaw(s.homeHTML) // never modified after start-up
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
