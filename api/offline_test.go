package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestOfflineManifestAndWorkerHeaders: the manifest has the type, names,
// icons (fetchable, PNGs of their declared size) and the fields browsers
// need; /sw.js may control the whole site and is never cached by HTTP; it
// names the shell's fingerprinted assets.
func TestOfflineManifestAndWorkerHeaders(t *testing.T) {
	base := bundledSite(t)
	resp, body := get(t, base+"/manifest.webmanifest")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/manifest+json" {
		t.Fatalf("manifest: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var m struct {
		Name, ShortName, StartURL, Scope, Display, ThemeColor, Lang string
		Icons                                                       []struct{ Src, Sizes, Type, Purpose string }
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	for k, dst := range map[string]*string{"name": &m.Name, "short_name": &m.ShortName, "start_url": &m.StartURL, "scope": &m.Scope,
		"display": &m.Display, "theme_color": &m.ThemeColor, "lang": &m.Lang} {
		json.Unmarshal(raw[k], dst)
	}
	json.Unmarshal(raw["icons"], &m.Icons)
	if m.Name != "Työkyvyn tuen johtaminen sosiaali- ja terveydenhuollossa" || m.ShortName != "Työkyky" || m.Lang != "fi" ||
		m.StartURL != "/" || m.Scope != "/" || m.Display != "standalone" || m.ThemeColor != "#003f63" {
		t.Errorf("manifest fields: %+v", m)
	}
	sizes := map[string]bool{}
	for _, ic := range m.Icons {
		r, b := get(t, base+ic.Src)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != ic.Type {
			t.Errorf("icon %s: %d %s, want %s", ic.Src, r.StatusCode, r.Header.Get("Content-Type"), ic.Type)
			continue
		}
		if ic.Type == "image/png" {
			img, err := png.Decode(bytes.NewReader([]byte(b)))
			if err != nil {
				t.Fatalf("icon %s: %v", ic.Src, err)
			}
			if got := fmt.Sprintf("%dx%d", img.Bounds().Dx(), img.Bounds().Dy()); got != ic.Sizes {
				t.Errorf("icon %s is %v, declared %s", ic.Src, img.Bounds(), ic.Sizes)
			}
		}
		sizes[ic.Type+" "+ic.Sizes+" "+ic.Purpose] = true
	}
	for _, want := range []string{"image/svg+xml any any", "image/png 192x192 any", "image/png 512x512 any", "image/png 512x512 maskable"} {
		if !sizes[want] {
			t.Errorf("no icon %s", want)
		}
	}

	resp, body = get(t, base+"/sw.js")
	if resp.StatusCode != 200 || resp.Header.Get("Service-Worker-Allowed") != "/" || resp.Header.Get("Cache-Control") != "no-cache" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("sw.js: %d %v", resp.StatusCode, resp.Header)
	}
	first, _, _ := strings.Cut(body, "\n")
	var shell struct {
		Version string
		Assets  []string
	}
	if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(first, "self.TK_SHELL = "), ";")), &shell); err != nil || shell.Version == "" {
		t.Fatalf("sw.js first line %q: %v", first, err)
	}
	for _, a := range shell.Assets {
		if r, _ := get(t, base+a); r.StatusCode != 200 || !strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("precached %s: %d %s", a, r.StatusCode, r.Header.Get("Cache-Control"))
		}
	}
	if resp, body := get(t, base+"/offline"); resp.StatusCode != 200 || !strings.Contains(body, "Käytettävissä ilman verkkoyhteyttä") {
		t.Errorf("/offline: %d", resp.StatusCode)
	}
}

// evalAsync evaluates JavaScript that returns a promise of a string.
func evalAsync(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return s
}

// swReady registers nothing itself: the page's offline.js does; it waits
// until the worker controls the page.
func swReady(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`navigator.serviceWorker.ready.then(function () { window.tkReady = true; })`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `window.tkReady === true`, "the service worker")
}

// TestOfflineInstallable: Chromium finds the site installable
// (Page.getInstallabilityErrors returns none) and the manifest has no
// errors; the worker controls the page after a reload and has the shell.
func TestOfflineInstallable(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	swReady(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/osiot")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!!navigator.serviceWorker.controller`, "the worker to control the page")
	var manifest page.GetAppManifestResult
	var inst page.GetInstallabilityErrorsResult
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var err error
		if manifest, err = cdp.Call(ctx, tg, page.GetAppManifest, page.GetAppManifestParams{}); err != nil {
			return err
		}
		inst, err = cdp.Call(ctx, tg, page.GetInstallabilityErrors, cdp.Empty{})
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range manifest.Errors {
		t.Errorf("manifest %s:%d:%d: %s", manifest.URL, e.Line, e.Column, e.Message)
	}
	for _, e := range inst.InstallabilityErrors {
		var args []string
		for _, a := range e.ErrorArguments {
			args = append(args, a.Name+"="+a.Value)
		}
		t.Errorf("installability: %s %v", e.ErrorID, args)
	}
	if !strings.HasSuffix(manifest.URL, "/manifest.webmanifest") {
		t.Errorf("manifest URL %q", manifest.URL)
	}
	shell := evalAsync(t, ctx, `caches.keys().then(function (k) { return k.join(" "); })`)
	if !strings.Contains(shell, "tk-shell-") {
		t.Errorf("caches after install: %q", shell)
	}
}
