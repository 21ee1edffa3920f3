package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/web"
)

// Studying offline: the web app manifest, the service worker and (in
// offline_sync.go) what a module needs on the device and the queue of
// what a learner did offline.

// offlineHandlers serve the installable app and its offline data.
type offlineHandlers struct {
	*core
}

// themeColour is the header's colour (--accent-dark in app.css).
const themeColour = "#003f63"

type manifestIcon struct {
	Src     string `json:"src"`
	Sizes   string `json:"sizes"`
	Type    string `json:"type"`
	Purpose string `json:"purpose"`
}

// manifestBody is the web app manifest: Finnish names, the shell's icons
// by their fingerprinted addresses.
var manifestBody = sync.OnceValue(func() []byte {
	icon := func(name, sizes, typ, purpose string) manifestIcon {
		u, err := web.AssetURL(name)
		if err != nil {
			panic(err)
		}
		return manifestIcon{Src: u, Sizes: sizes, Type: typ, Purpose: purpose}
	}
	b, err := json.MarshalIndent(map[string]any{
		"id":               "/",
		"name":             web.T("fi", "site"),
		"short_name":       web.T("fi", "app.short"),
		"description":      web.T("fi", "site.sub"),
		"lang":             "fi",
		"dir":              "ltr",
		"start_url":        "/",
		"scope":            "/",
		"display":          "standalone",
		"theme_color":      themeColour,
		"background_color": "#ffffff",
		"icons": []manifestIcon{
			icon("icon.svg", "any", "image/svg+xml", "any"),
			icon("icon-192.png", "192x192", "image/png", "any"),
			icon("icon-512.png", "512x512", "image/png", "any"),
			icon("icon-512.png", "512x512", "image/png", "maskable"),
		},
	}, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
})

// manifest answers GET /manifest.webmanifest.
func (h *offlineHandlers) manifest(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/manifest+json")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Response().SetBodyRaw(manifestBody())
	return nil
}

// serviceWorker answers GET /sw.js: never cached by HTTP (the browser
// compares it at each check for a new version), allowed the whole site.
func (h *offlineHandlers) serviceWorker(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("Service-Worker-Allowed", "/")
	c.Response().SetBodyRaw(web.ServiceWorker())
	return nil
}

// offlineModule is what GET /api/v1/offline/{module} answers: every
// address a module needs on the device and its revision, which changes
// when anything in the list does (a new publication of its text, a
// figure, a linked concept, a media item's captions or file).
type offlineModule struct {
	Module   string `json:"module"`
	Title    string `json:"title"`
	Revision string `json:"revision"`
	// Pages are the module page and its sections, in reading order.
	Pages []string `json:"pages"`
	// Assets are the figures, the glossary concepts the pages link to,
	// the media's captions, transcripts and posters.
	Assets []string `json:"assets"`
	// Media are the audio and video files, saved only on request.
	Media []offlineMedia `json:"media"`
	// MediaBytes is the sum of the media files' sizes.
	MediaBytes int64 `json:"media_bytes"`
}

type offlineMedia struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// figureRE finds the course's figures in rendered HTML.
var figureRE = regexp.MustCompile(`/kurssi/kuvat/[0-9a-f]{16}\.[a-z]+`)

// apiOffline answers GET /api/v1/offline/{module}: public (the course is),
// cached with the pages by content and media revision.
func (h *pageHandlers) apiOffline(c *fiber.Ctx) error {
	slug := c.Params("module")
	return h.apiJSON(c, func(pub *course.Published) (any, error) {
		m, err := h.findModule(pub, slug)
		if err != nil {
			return nil, err
		}
		return h.offlineModule(pub, m), nil
	})
}

func (h *pageHandlers) offlineModule(pub *course.Published, m *course.Module) offlineModule {
	out := offlineModule{Module: m.Slug, Title: m.Title, Pages: []string{m.URL()}, Assets: []string{}, Media: []offlineMedia{}}
	sum := sha256.New()
	io.WriteString(sum, m.Title+"\x00"+m.Summary+"\x00"+strings.Join(m.Objectives, "\x00")+"\x00"+m.Intro.HTML)
	seen := map[string]bool{}
	asset := func(u string) {
		if !seen[u] {
			seen[u] = true
			out.Assets = append(out.Assets, u)
		}
	}
	var snap *media.Snapshot
	if h.media != nil {
		snap = h.media.Snapshot()
	}
	bodies := []*course.Rendered{m.Intro}
	for _, sec := range m.Sections {
		out.Pages = append(out.Pages, sec.URL())
		io.WriteString(sum, "\x00"+sec.Slug+"\x00"+sec.Title+"\x00"+sec.Completion+"\x00"+sec.Body.HTML)
		bodies = append(bodies, sec.Body)
	}
	concepts := map[string]*course.Concept{}
	for _, k := range pub.Course.Concepts {
		concepts[k.ID] = k
	}
	for _, b := range bodies {
		for _, f := range figureRE.FindAllString(b.HTML, -1) {
			asset(f)
		}
		for _, id := range b.Terms {
			if k := concepts[id]; k != nil && !seen["/sanasto/"+id] {
				asset("/sanasto/" + id)
				asset("/sanasto/" + id + "/kaavio.svg") // the concept page's diagram
				kb, _ := json.Marshal(k)
				sum.Write(kb)
			}
		}
		for _, id := range b.Media {
			var it *media.Item
			if snap != nil {
				it = snap.Items[id]
			}
			if it == nil || seen[mediaFileURL(id)] {
				continue
			}
			seen[mediaFileURL(id)] = true
			fmt.Fprintf(sum, "\x00%s:%d:%s", id, it.Rev, it.SHA256)
			if it.Poster != nil {
				asset(mediaPosterURL(id))
			}
			for _, cp := range it.Captions {
				asset(mediaTrackURL(id, cp.Lang))
				asset(mediaTranscriptURL(id) + "?kieli=" + cp.Lang)
			}
			if it.Playable() {
				out.Media = append(out.Media, offlineMedia{ID: id, Title: it.Title, URL: mediaFileURL(id), ContentType: it.ContentType, Size: it.Size})
				out.MediaBytes += it.Size
			}
		}
	}
	io.WriteString(sum, "\x00"+strings.Join(out.Assets, "\x00"))
	out.Revision = hex.EncodeToString(sum.Sum(nil))[:16]
	return out
}
