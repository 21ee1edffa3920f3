package api

import (
	"encoding/json"
	"sync"

	"github.com/gofiber/fiber/v2"

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
