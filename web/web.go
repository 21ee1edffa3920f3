// Package web holds the page templates and static assets, embedded into the
// binary. Static assets are served under fingerprinted names (content hash
// in the file name) so browsers may cache them for a year.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"path"
	"strings"
)

//go:embed templates/*.html static mail/*
var files embed.FS

// Asset is one static file.
type Asset struct {
	Name        string // plain name, e.g. app.css
	Fingerprint string // hashed name, e.g. app.3f2a9c1d.css
	Body        []byte
	ContentType string
	ETag        string
}

// URL is the fingerprinted address of the asset.
func (a *Asset) URL() string { return "/static/" + a.Fingerprint }

var (
	byPlain       = map[string]*Asset{}
	byFingerprint = map[string]*Asset{}
)

func init() {
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])[:12]
		ext := path.Ext(name)
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		a := &Asset{
			Name:        name,
			Fingerprint: strings.TrimSuffix(name, ext) + "." + hash + ext,
			Body:        body,
			ContentType: ct,
			ETag:        `"` + hash + `"`,
		}
		byPlain[a.Name] = a
		byFingerprint[a.Fingerprint] = a
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("web: reading embedded assets: %v", err))
	}
}

// LookupAsset finds an asset by its fingerprinted name (immutable is then
// true) or by its plain name.
func LookupAsset(name string) (a *Asset, immutable bool, ok bool) {
	if a, ok := byFingerprint[name]; ok {
		return a, true, true
	}
	a, ok = byPlain[name]
	return a, false, ok
}

// AssetURL is the fingerprinted URL of a static file; templates call it as
// {{asset "app.css"}}. An unknown name is a programming error caught by the
// template tests.
func AssetURL(name string) (string, error) {
	a, ok := byPlain[name]
	if !ok {
		return "", fmt.Errorf("web: no static asset %q", name)
	}
	return a.URL(), nil
}

// Crumb is one step of a page's breadcrumbs (the "breadcrumbs" partial of
// the layout): its address, its label and the label's language when it is
// the course's (a Finnish term or title inside a Swedish or English page).
// Prefix, when set, is said before the label in the page's own language
// ("Osio 2: …").
type Crumb struct {
	Href, Prefix, Label, Lang string
	Current                   bool
}

// Crumbs are the data of the "breadcrumbs" partial: the page's language
// and its steps from the front page, the last one being the page itself.
type Crumbs struct {
	Lang  string
	Items []Crumb
}

// crumbFuncs build breadcrumbs in a template:
//
//	{{template "breadcrumbs" (crumbs $l (crumb "/" (t $l "nav.home")) (crumbFi .URL .Title))}}
var crumbFuncs = template.FuncMap{
	"crumb":   func(href, label string) Crumb { return Crumb{Href: href, Label: label} },
	"crumbFi": func(href, label string) Crumb { return Crumb{Href: href, Label: label, Lang: "fi"} },
	"crumbIn": func(href, prefix, label string) Crumb {
		return Crumb{Href: href, Prefix: prefix, Label: label, Lang: "fi"}
	},
	"crumbs": func(lang string, items ...Crumb) Crumbs {
		if n := len(items); n > 0 {
			items[n-1].Current = true
		}
		return Crumbs{Lang: lang, Items: items}
	},
}

// Pages are the parsed page templates, each combined with the layout.
type Pages struct {
	pages map[string]*template.Template
}

// ParsePages parses every templates/*.html except the layout, each with
// the layout, so every page defines its own "title" and "content" blocks.
func ParsePages(funcs template.FuncMap) (*Pages, error) {
	all := template.FuncMap{"asset": AssetURL,
		// modulePages is the data of section.html's list of the module's
		// pages, shown in two places (beside the text or after it).
		"modulePages": func(lang string, d any, suffix string) map[string]any {
			return map[string]any{"Lang": lang, "Data": d, "Suffix": suffix}
		}}
	for k, v := range crumbFuncs {
		all[k] = v
	}
	for k, v := range funcs {
		all[k] = v
	}
	entries, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &Pages{pages: map[string]*template.Template{}}
	for _, e := range entries {
		name := strings.TrimSuffix(path.Base(e), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(all).ParseFS(files, "templates/layout.html", e)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		p.pages[name] = t
	}
	return p, nil
}

// Render executes the named page with data into buf.
func (p *Pages) Render(buf *bytes.Buffer, name string, data any) error {
	t, ok := p.pages[name]
	if !ok {
		return fmt.Errorf("web: no page template %q", name)
	}
	return t.ExecuteTemplate(buf, "layout.html", data)
}
