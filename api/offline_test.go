package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tyokyky/tyokyky/course"
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

// setOffline cuts the browser off the network or puts it back, with the
// DevTools protocol's network emulation, on the page and on the service
// worker (a worker's own fetches follow only the emulation of its own
// target); navigator.onLine follows.
func setOffline(t *testing.T, ctx context.Context, offline bool) {
	t.Helper()
	emulate := func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			EmulateOfflineServiceWorker: &offline,
			MatchedNetworkConditions:    []*network.Conditions{{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1}},
		})
		return err
	}
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if err := emulate(ctx, tg); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1})
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	targets, err := chromedp.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	workers := 0
	for _, info := range targets {
		if info.Type != "service_worker" {
			continue
		}
		workers++
		wctx, ok := workerContexts.Load(info.TargetID)
		if !ok {
			c, _ := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID))
			workerContexts.Store(info.TargetID, c)
			wctx = c
		}
		if err := chromedp.Do(wctx.(context.Context), chromedp.Func(emulate), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			// The worker's navigator.onLine follows too.
			_, err := cdp.Call(ctx, tg, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1})
			return err
		})); err != nil {
			t.Fatalf("emulating on the worker: %v", err)
		}
	}
	if workers == 0 {
		t.Fatal("no service worker to take offline")
	}
}

// workerContexts are the chromedp contexts attached to service workers.
var workerContexts sync.Map

// offlineList is GET /api/v1/offline/{module}.
type offlineList struct {
	Module, Title, Revision string
	Pages, Assets           []string
	Media                   []struct {
		ID, URL string
		Size    int64
	}
	MediaBytes int64 `json:"media_bytes"`
}

func getOfflineList(t *testing.T, base, module string) offlineList {
	t.Helper()
	resp, body := get(t, base+"/api/v1/offline/"+module)
	if resp.StatusCode != 200 {
		t.Fatalf("offline list of %s: %d %s", module, resp.StatusCode, body)
	}
	var l offlineList
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestOfflineModuleList: the list names the module page and every section
// in order, the figures, linked concepts, captions and transcripts, the
// media with their sizes; every address answers; an unknown module is 404.
func TestOfflineModuleList(t *testing.T) {
	base := bundledSite(t)
	l := getOfflineList(t, base, "tyokyvyn-tuki")
	mod := siteCourse.Modules[0]
	if l.Module != mod.Slug || len(l.Pages) != len(mod.Sections)+1 || l.Pages[0] != mod.URL() || l.Pages[1] != mod.Sections[0].URL() || len(l.Revision) != 16 {
		t.Fatalf("list: %+v", l)
	}
	kinds := map[string]int{}
	for _, a := range l.Assets {
		switch {
		case strings.HasPrefix(a, "/kurssi/kuvat/"):
			kinds["figure"]++
		case strings.HasSuffix(a, "/kaavio.svg"):
			kinds["diagram"]++
		case strings.HasPrefix(a, "/sanasto/"):
			kinds["concept"]++
		case strings.Contains(a, "/tekstitys/"):
			kinds["captions"]++
		case strings.Contains(a, "/litterointi.txt"):
			kinds["transcript"]++
		}
		if r, _ := get(t, base+a); r.StatusCode != 200 {
			t.Errorf("%s: %d", a, r.StatusCode)
		}
	}
	if kinds["figure"] == 0 || kinds["concept"] == 0 || kinds["diagram"] != kinds["concept"] || kinds["captions"] == 0 || kinds["transcript"] == 0 || len(l.Media) == 0 || l.MediaBytes <= 0 {
		t.Errorf("assets %v, media %d (%d bytes)", kinds, len(l.Media), l.MediaBytes)
	}
	for _, m := range l.Media {
		// The worker saves a file through this origin.
		r, b := get(t, base+m.URL+"?laitteelle=1")
		if r.StatusCode != 200 || int64(len(b)) != m.Size {
			t.Errorf("%s?laitteelle=1: %d, %d bytes of %d", m.URL, r.StatusCode, len(b), m.Size)
		}
	}
	if r, _ := get(t, base+"/api/v1/offline/ei-ole"); r.StatusCode != 404 {
		t.Errorf("unknown module: %d", r.StatusCode)
	}
	t.Logf("module 1 offline: %d pages, %d assets %v, %d media files, %d bytes of media", len(l.Pages), len(l.Assets), kinds, len(l.Media), l.MediaBytes)
}

// saveModule presses the module page's save button (with the media box
// ticked or not) and waits until the page says the module is saved; it
// returns the worker's record of what was saved.
func saveModule(t *testing.T, ctx context.Context, withMedia bool) (bytes int64, seconds float64) {
	t.Helper()
	waitFor(t, ctx, `!document.querySelector(".offline-save").hidden && !document.getElementById("laitteelle-tallenna").hidden`, "the save controls")
	if withMedia {
		waitFor(t, ctx, `!document.querySelector(".offline-media").hidden`, "the media size")
		if err := tabTo(ctx, "#laitteelle-media", 80); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent(" ")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("laitteelle-tallenna").focus()`)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		rec := evalAsync(t, ctx, `caches.open("tk-module-"+document.querySelector(".offline-save").dataset.module).then(c => c.match("/api/v1/offline/"+document.querySelector(".offline-save").dataset.module)).then(r => r ? r.text() : "")`)
		if rec != "" && evalString(ctx, `document.getElementById("laitteelle-edistyminen").hidden ? "done" : ""`) == "done" {
			var r struct {
				Bytes     int64   `json:"bytes"`
				Seconds   float64 `json:"seconds"`
				WithMedia bool    `json:"with_media"`
			}
			json.Unmarshal([]byte(rec), &r)
			if r.WithMedia == withMedia {
				if state := evalString(ctx, `document.getElementById("laitteelle-tila").textContent`); !strings.Contains(state, "tallennettu laitteelle") {
					t.Fatalf("state after saving: %q", state)
				}
				t.Logf("saved (media %v): %d bytes in %.2f s by the worker (%.2f s from the key press)", withMedia, r.Bytes, r.Seconds, time.Since(start).Seconds())
				return r.Bytes, r.Seconds
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the module was not saved (state %q)", evalString(ctx, `document.getElementById("laitteelle-tila").textContent`))
	return 0, 0
}

// TestOfflineSavedModule: a learner saves module 1 with the keyboard
// (first without media, then with), the controls pass axe; offline, every
// page of the module opens from the device with its figures, a linked
// concept too, a saved video answers a Range request from the cache, a
// page not saved and the exam show the offline page saying so; removing
// the module empties its cache.
func TestOfflineSavedModule(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)
	l := getOfflineList(t, base, "tyokyvyn-tuki")
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true})
		return err
	}), chromedp.Navigate(base+l.Pages[0])); err != nil {
		t.Fatal(err)
	}
	swReady(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!!navigator.serviceWorker.controller`, "the worker to control the page")
	bytesText, secsText := saveModule(t, ctx, false)
	violations, _ := axeHere(t, ctx, axeSource(t))
	for _, v := range violations {
		t.Errorf("module page with the save controls: axe %s: %s at %s", v.ID, v.Help, strings.Join(v.Nodes, ", "))
	}
	bytesAll, secsAll := saveModule(t, ctx, true)
	if bytesAll < bytesText+l.MediaBytes {
		t.Errorf("with media %d bytes, without %d, media %d", bytesAll, bytesText, l.MediaBytes)
	}
	t.Logf("FIGURES save module 1: without media %d bytes %.2f s; with media %d bytes %.2f s", bytesText, secsText, bytesAll, secsAll)

	setOffline(t, ctx, true)
	defer setOffline(t, ctx, false)
	if online := evalString(ctx, `String(navigator.onLine)`); online != "false" {
		t.Errorf("navigator.onLine = %s", online)
	}
	for _, p := range l.Pages {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+p)); err != nil {
			t.Fatalf("offline %s: %v", p, err)
		}
		if evalString(ctx, `document.getElementById("offline-missing") ? "offline page" : document.querySelector("h1") ? "ok" : "empty"`) != "ok" {
			t.Fatalf("offline %s did not open from the device (%s)", p, evalString(ctx, `document.title`))
		}
		waitFor(t, ctx, `Array.prototype.every.call(document.images, i => i.complete)`, "images")
		if broken := evalString(ctx, `Array.prototype.filter.call(document.images, i => !i.naturalWidth).map(i => i.src).join(" ")`); broken != "" {
			t.Errorf("offline %s: images not shown: %s", p, broken)
		}
	}
	// The status line says offline; the page passes axe with it.
	waitFor(t, ctx, `document.getElementById("verkkotila").textContent.includes("Ei verkkoyhteyttä")`, "the status line saying offline")
	violations, _ = axeHere(t, ctx, axeSource(t))
	for _, v := range violations {
		t.Errorf("a saved page offline with the status line: axe %s: %s at %s", v.ID, v.Help, strings.Join(v.Nodes, ", "))
	}
	fcp := evalString(ctx, `(performance.getEntriesByName("first-contentful-paint")[0] || {startTime: -1}).startTime.toFixed(1)`)
	t.Logf("FIGURES first contentful paint of a saved section offline: %s ms (%s)", fcp, l.Pages[len(l.Pages)-1])
	for _, a := range l.Assets {
		if strings.HasPrefix(a, "/sanasto/") {
			if err := chromedp.Do(ctx, chromedp.Navigate(base+a)); err != nil || evalString(ctx, `document.getElementById("offline-missing") ? "missing" : "ok"`) != "ok" {
				t.Errorf("offline concept %s: %v", a, err)
			}
			waitFor(t, ctx, `Array.prototype.every.call(document.images, i => i.complete)`, "the concept's diagram")
			if broken := evalString(ctx, `Array.prototype.filter.call(document.images, i => !i.naturalWidth).map(i => i.src).join(" ")`); broken != "" {
				t.Errorf("offline %s: images not shown: %s", a, broken)
			}
			break
		}
	}
	got := evalAsync(t, ctx, `fetch(`+strconvQuote(l.Media[0].URL)+`, {headers: {Range: "bytes=100-199"}}).then(r => r.blob().then(b => r.status + " " + b.size + " " + r.headers.get("Content-Range")))`)
	if want := "206 100 bytes 100-199/" + fmt.Sprint(l.Media[0].Size); got != want {
		t.Errorf("Range from the cache: %q, want %q", got, want)
	}
	for path, want := range map[string]string{"/osiot/monialainen-tyo": "ei ole tallennettu", "/tentti": "tarvitsee verkkoyhteyden"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+path)); err != nil {
			t.Fatalf("offline %s: %v", path, err)
		}
		if got := evalString(ctx, `document.getElementById("offline-missing") ? "offline page" : document.title`); got != "offline page" {
			t.Fatalf("offline %s: not the offline page but %q", path, got)
		}
		waitFor(t, ctx, `!document.getElementById("offline-missing").hidden`, "the offline page's note")
		if note := evalString(ctx, `document.getElementById("offline-missing").textContent`); !strings.Contains(note, want) {
			t.Errorf("offline %s: %q", path, note)
		}
		waitFor(t, ctx, `document.querySelectorAll("#offline-list a").length > 0`, "the list of pages on the device")
		if n := evalString(ctx, `String(document.querySelectorAll("#offline-list a[href='/osiot/tyokyvyn-tuki']").length)`); n != "1" {
			t.Errorf("the offline page does not list the saved module page")
		}
	}

	setOffline(t, ctx, false)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+l.Pages[0])); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!document.getElementById("laitteelle-poista").hidden`, "the remove button")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("laitteelle-poista").click()`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.getElementById("laitteelle-poista").hidden`, "the module to be removed")
	if keys := evalAsync(t, ctx, `caches.keys().then(k => k.join(" "))`); strings.Contains(keys, "tk-module-") {
		t.Errorf("caches after removing: %s", keys)
	}
}

// queueLength is the number of items waiting in the page's IndexedDB queue.
func queueLength(t *testing.T, ctx context.Context) string {
	t.Helper()
	return evalAsync(t, ctx, `new Promise((ok, no) => { const r = indexedDB.open("tyokyky-offline", 1); r.onsuccess = () => {
		const q = r.result.transaction("queue").objectStore("queue").count(); q.onsuccess = () => ok(String(q.result)); q.onerror = no; }; r.onerror = no; })`)
}

// TestOfflineStudyIsSyncedOnce: a signed-in learner saves module 1,
// goes offline, completes a page and answers a task (the status line
// says it waits on the device), reloads offline (the queue stays), comes
// back online: the server has the completion and the answer, and the
// same queue sent again is accepted as duplicates only.
func TestOfflineStudyIsSyncedOnce(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)
	sess := sessionFor(t, base, "signed in")
	mod := siteCourse.Modules[0]
	var view, task *course.Section
	var taskID string
	for _, sec := range mod.Sections {
		if view == nil && sec.Completion == course.CompleteOnView {
			view = sec
		}
		for _, tk := range sec.Body.Tasks {
			if task == nil && tk.Answer {
				task, taskID = sec, tk.ID
			}
		}
	}
	if view == nil || task == nil {
		t.Fatal("module 1 has no page completed by reading or no task with an answer")
	}
	taskKey := course.TaskKey(task, taskID)
	if err := chromedp.Do(ctx, withSession(base, sess), chromedp.Navigate(base+mod.URL())); err != nil {
		t.Fatal(err)
	}
	swReady(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!!navigator.serviceWorker.controller`, "the worker to control the page")
	saveModule(t, ctx, false)

	setOffline(t, ctx, true)
	defer setOffline(t, ctx, false)
	// A page completed by reading: the learner presses "mark as read".
	if err := chromedp.Do(ctx, chromedp.Navigate(base+view.URL())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!!document.querySelector("meta[name=csrf-token]") && !!document.querySelector("#valmis form button")`, "the signed-in page from the device")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("#valmis form button").click()`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!!document.querySelector("#valmis .done-mark")`, "the page marked done")
	waitFor(t, ctx, `document.getElementById("verkkotila").textContent.includes("Ei verkkoyhteyttä")`, "the status line saying offline")
	// A task answered.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+task.URL())); err != nil {
		t.Fatal(err)
	}
	area := "#vastaus-" + taskID
	waitFor(t, ctx, `!!document.querySelector(`+strconvQuote(area)+`)`, "the answer field")
	answer := "Junassa ilman verkkoa kirjoitettu vastaus."
	if err := chromedp.Do(ctx, chromedp.Focus(area), chromedp.SendKeys(area, answer)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.querySelector(`+strconvQuote(area+"-tila")+`).textContent.includes("Tallennettu tälle laitteelle")`, "the answer kept on the device")
	n := queueLength(t, ctx)
	if n == "0" {
		t.Fatal("nothing queued offline")
	}
	queue := evalAsync(t, ctx, `new Promise(ok => { const r = indexedDB.open("tyokyky-offline", 1); r.onsuccess = () => {
		const q = r.result.transaction("queue").objectStore("queue").getAll(); q.onsuccess = () => ok(JSON.stringify(q.result)); }; })`)
	dev := evalAsync(t, ctx, `new Promise(ok => { const r = indexedDB.open("tyokyky-offline", 1); r.onsuccess = () => {
		const q = r.result.transaction("meta").objectStore("meta").get("device"); q.onsuccess = () => ok(q.result || ""); }; })`)
	// Reload offline: the page comes from the device, the queue stays.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!!document.querySelector(`+strconvQuote(area)+`)`, "the task page again offline")
	// (The reload adds its own "opened" and time.)
	if again := queueLength(t, ctx); len(again) < len(n) || len(again) == len(n) && again < n {
		t.Fatalf("queue after an offline reload: %s, before %s", again, n)
	}
	if resp, body := get(t, base+"/api/v1/tasks/"+taskKey+"/answer", "Cookie", "session="+sess); resp.StatusCode != 200 || strings.Contains(body, answer) {
		t.Fatalf("the server has the answer while the browser is offline: %s", body)
	}

	// Back online: the online event sends the queue.
	setOffline(t, ctx, false)
	deadline := time.Now().Add(15 * time.Second)
	for queueLength(t, ctx) != "0" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if left := queueLength(t, ctx); left != "0" {
		t.Fatalf("%s items still queued online", left)
	}
	waitFor(t, ctx, `document.getElementById("verkkotila").textContent.includes("lähetetty")`, "the status line saying it was sent")
	_, body := get(t, base+"/api/v1/tasks/"+taskKey+"/answer", "Cookie", "session="+sess)
	if !strings.Contains(body, answer) {
		t.Fatalf("the answer did not reach the server: %s", body)
	}
	_, body = get(t, base+"/api/v1/progress", "Cookie", "session="+sess)
	var prog struct {
		Sections []struct {
			Module, Section string
			CompletedAt     *time.Time `json:"completed_at"`
		}
	}
	json.Unmarshal([]byte(body), &prog)
	done := map[string]bool{}
	for _, s := range prog.Sections {
		done[s.Module+"/"+s.Section] = s.CompletedAt != nil
	}
	if !done[view.Module.Slug+"/"+view.Slug] || !done[task.Module.Slug+"/"+task.Slug] {
		t.Fatalf("completions on the server: %v", done)
	}
	// The same queue delivered again: every key a duplicate.
	csrf := evalString(ctx, `document.querySelector("meta[name=csrf-token]").content`)
	req, _ := http.NewRequest("POST", base+"/api/v1/sync", strings.NewReader(`{"device":`+strconvQuote(dev)+`,"items":`+queue+`}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", csrf)
	req.Header.Set("Cookie", "session="+sess)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct{ Key, Status string }
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 || len(out.Results) == 0 {
		t.Fatalf("sync again: %d %+v", resp.StatusCode, out)
	}
	for _, r := range out.Results {
		if r.Status != "duplicate" {
			t.Errorf("the queue sent again: %s %s", r.Key, r.Status)
		}
	}
	t.Logf("%s items queued offline, each accepted once", n)

	// A conflict: offline the learner rewrites the answer while another
	// device changes it on the server; back online both are shown and the
	// learner keeps the one from this device with the keyboard.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+task.URL())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!!document.querySelector(`+strconvQuote(area)+`) && !!document.querySelector(`+strconvQuote(area)+`).closest("form").dataset.base`, "the task page with the saved answer")
	setOffline(t, ctx, true)
	mine := " Lisäys toisessa junassa."
	if err := chromedp.Do(ctx, chromedp.Focus(area), chromedp.KeyEvent(kb.End), chromedp.SendKeys(area, mine)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.querySelector(`+strconvQuote(area+"-tila")+`).textContent.includes("Tallennettu tälle laitteelle")`, "the second answer kept on the device")
	other := "Toisella laitteella kirjoitettu."
	putReq, _ := http.NewRequest("PUT", base+"/api/v1/tasks/"+taskKey+"/answer", strings.NewReader(`{"text":`+strconvQuote(other)+`}`))
	putReq.Header.Set("Content-Type", "application/json")
	putReq.Header.Set("X-CSRF-Token", csrf)
	putReq.Header.Set("Cookie", "session="+sess)
	if resp, err := http.DefaultClient.Do(putReq); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the other device's answer: %v %v", resp, err)
	}
	setOffline(t, ctx, false)
	waitFor(t, ctx, `!!document.querySelector(".answer-conflict")`, "both answers shown")
	if box := evalString(ctx, `document.querySelector(".answer-conflict").textContent`); !strings.Contains(box, other) || !strings.Contains(box, answer+mine) {
		t.Fatalf("the conflict box: %q", box)
	}
	if _, body := get(t, base+"/api/v1/tasks/"+taskKey+"/answer", "Cookie", "session="+sess); !strings.Contains(body, other) {
		t.Fatalf("the other device's answer was written over before the learner chose: %s", body)
	}
	if err := tabTo(ctx, ".answer-conflict button:last-of-type", 200); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	chosen := false
	for deadline = time.Now().Add(15 * time.Second); !chosen && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		_, body := get(t, base+"/api/v1/tasks/"+taskKey+"/answer", "Cookie", "session="+sess)
		chosen = strings.Contains(body, mine)
	}
	if !chosen {
		t.Fatal("the learner's choice did not reach the server")
	}

	// Signing out removes every page with personal data: the personal
	// copies and the module saved while signed in; public copies stay.
	before := evalAsync(t, ctx, `caches.keys().then(k => k.join(" "))`)
	if !strings.Contains(before, "tk-personal") || !strings.Contains(before, "tk-module-"+mod.Slug) {
		t.Fatalf("caches before signing out: %s", before)
	}
	if err := tabTo(ctx, `form[action="/kirjaudu-ulos"] button`, 200); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!document.querySelector('form[action="/kirjaudu-ulos"]') && document.readyState === "complete"`, "the signed-out page")
	after := evalAsync(t, ctx, `caches.keys().then(k => k.join(" "))`)
	if strings.Contains(after, "tk-personal") || strings.Contains(after, "tk-module-") || !strings.Contains(after, "tk-shell-") {
		t.Errorf("caches after signing out: %s (before: %s)", after, before)
	}
	if q := queueLength(t, ctx); q != "0" {
		t.Errorf("%s items still queued after signing out", q)
	}
}

// TestOfflineSavedModuleFollowsPublication: a module saved on the device
// is saved again when a new revision is published in the studio; the
// page says so, and offline the new text is there.
func TestOfflineSavedModuleFollowsPublication(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)
	mod := siteCourse.Modules[0]
	last := mod.Sections[len(mod.Sections)-1]
	if err := chromedp.Do(ctx, chromedp.Navigate(base+mod.URL())); err != nil {
		t.Fatal(err)
	}
	swReady(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!!navigator.serviceWorker.controller`, "the worker to control the page")
	saveModule(t, ctx, false)
	before := getOfflineList(t, base, mod.Slug).Revision

	// The author publishes a new paragraph in the module's last section.
	bg := context.Background()
	file := last.File
	orig, _, err := siteStudio.File(bg, file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	added := "Tämä kappale julkaistiin, kun osio oli jo tallennettu laitteelle."
	publish := func(data []byte) {
		if problems, err := siteStudio.PublishFile(bg, file, data, "test"); err != nil || len(problems) > 0 {
			t.Fatalf("publishing %s: %v %v", file, err, problems)
		}
		if err := siteLibrary.Refresh(bg); err != nil {
			t.Fatal(err)
		}
	}
	publish(append(append([]byte{}, orig...), []byte("\n\n"+added+"\n")...))
	t.Cleanup(func() { publish(orig) })
	if after := getOfflineList(t, base, mod.Slug).Revision; after == before {
		t.Fatal("the module's revision did not change with its text")
	}

	// The module page: the worker finds the newer revision and saves it.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+mod.URL())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.getElementById("laitteelle-tila").textContent.includes("päivitettiin")`, "the page saying the copy was updated")
	setOffline(t, ctx, true)
	defer setOffline(t, ctx, false)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+last.URL())); err != nil {
		t.Fatal(err)
	}
	if body := evalString(ctx, `document.querySelector("main").textContent`); !strings.Contains(body, added) {
		t.Fatalf("offline %s lacks the newly published paragraph", last.URL())
	}
}

// TestOfflineBackgroundSync: a page marked read offline is kept in the
// queue while the network is away and sent by the worker's Background
// Sync with no page of the site open.
func TestOfflineBackgroundSync(t *testing.T) {
	base, ctx, sess := signedInBrowser(t)
	view := firstSection(t, course.CompleteOnView, siteCourse.Modules[1])
	if err := chromedp.Do(ctx, withSession(base, sess), chromedp.Navigate(base+view.URL())); err != nil {
		t.Fatal(err)
	}
	swReady(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!!navigator.serviceWorker.controller && !!document.querySelector("#valmis form button")`, "the signed-in page under the worker")
	setOffline(t, ctx, true)
	defer setOffline(t, ctx, false)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("#valmis form button").click()`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!!document.querySelector("#valmis .done-mark")`, "the page marked done offline")
	if queueLength(t, ctx) == "0" {
		t.Fatal("nothing queued")
	}
	done := func() bool {
		_, body := get(t, base+"/api/v1/progress", "Cookie", "session="+sess)
		var prog struct {
			Sections []struct {
				Module, Section string
				CompletedAt     *time.Time `json:"completed_at"`
			}
		}
		json.Unmarshal([]byte(body), &prog)
		for _, s := range prog.Sections {
			if s.Module == view.Module.Slug && s.Section == view.Slug && s.CompletedAt != nil {
				return true
			}
		}
		return false
	}
	if done() {
		t.Fatal("the completion reached the server while the page was offline")
	}
	// Leave the site: no page listens for the online event now. (Chromium
	// ties the worker's emulated offline state for Background Sync to the
	// page it controls: once the page has gone, the browser may fire the
	// sync before the emulation is lifted, as it would on a real network
	// that came back; so the test asserts the queue was kept while
	// offline, above, and sent by the worker with no page open, below.)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	setOffline(t, ctx, false)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if done() {
			return
		}
	}
	t.Fatal("Background Sync did not send the queue")
}
