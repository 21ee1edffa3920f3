package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tyokyky/tyokyky/internal/testenv"
)

// measureReflow is run in the page: whether the document scrolls
// sideways, the element that sticks out furthest (outside any scroll
// region), the regions that scroll sideways (allowed for tables and code
// only, and then focusable and named, so that keyboard users can scroll
// them and screen reader users know what they are) and text cut off by an
// overflow that hides it.
const measureReflow = `(() => {
  const de = document.documentElement, vw = de.clientWidth;
  const name = el => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      let s = e.tagName.toLowerCase();
      if (e.id) { parts.unshift(s + "#" + e.id); break; }
      if (e.classList.length) s += "." + [...e.classList].join(".");
      parts.unshift(s);
    }
    return parts.join(" > ");
  };
  const clips = el => { const o = getComputedStyle(el).overflowX; return o !== "visible"; };
  const inRegion = el => { for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) if (clips(e)) return true; return false; };
  const hidden = el => { for (let e = el; e; e = e.parentElement) if (e.classList && e.classList.contains("visually-hidden")) return true; return false; };
  const out = {page: de.scrollWidth, viewport: vw, widest: "", problems: []};
  let right = vw + 0.5, escaped = vw + 0.5, escapee = "";
  for (const el of document.body.querySelectorAll("*")) {
    const cs = getComputedStyle(el);
    if (cs.display === "none") continue;
    const r = el.getBoundingClientRect();
    // An absolutely placed element (a visually hidden text) escapes a
    // scroll region that is not its containing block.
    if (r.right > escaped && (r.width > 0 || r.height > 0)) { escaped = r.right; escapee = name(el) + " (right edge at " + Math.round(r.right) + " px; it may escape the scroll region around it)"; }
    if (cs.visibility === "hidden" || hidden(el)) continue;
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > right && !inRegion(el)) { right = r.right; out.widest = name(el) + " (" + Math.round(r.width) + " px wide, right edge at " + Math.round(r.right) + " px)"; }
    if (el.scrollWidth <= el.clientWidth + 1 || el.matches("textarea, input, select")) continue;
    if (cs.overflowX === "auto" || cs.overflowX === "scroll") {
      if (!el.matches("pre") && !el.querySelector("table, pre")) out.problems.push(name(el) + " scrolls sideways but holds no table or code");
      else if (el.tabIndex < 0 && !el.matches("pre") && !el.querySelector("a, button, input, select, textarea, [tabindex]")) out.problems.push(name(el) + " scrolls sideways but cannot be focused to scroll with the keyboard");
      else if (el.tabIndex >= 0 && !(el.getAttribute("aria-label") || el.getAttribute("aria-labelledby"))) out.problems.push(name(el) + " is a focusable scroll region without a name");
    } else if (cs.overflowX === "hidden" || cs.overflowX === "clip") {
      if (el.textContent.trim() !== "") out.problems.push(name(el) + " cuts its text off (" + el.scrollWidth + " px of content in " + el.clientWidth + " px)");
    }
  }
  if (!out.widest) out.widest = escapee;
  return JSON.stringify(out);
})()`

type reflow struct {
	Page     int      `json:"page"`
	Viewport int      `json:"viewport"`
	Widest   string   `json:"widest"`
	Problems []string `json:"problems"`
}

// reflowAt lays out the page the browser shows at width CSS px (and the
// root font size at textSize per cent) and reports what does not reflow.
// The viewport is left at width; the text size is restored.
func reflowAt(ctx context.Context, width int64, textSize int) ([]string, error) {
	set := fmt.Sprintf(`document.documentElement.style.fontSize = %q; new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, fmt.Sprintf("%d%%", textSize))
	if textSize == 100 {
		set = `document.documentElement.style.fontSize = ""; new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
		return nil, err
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](set, chromedp.EvalAwaitPromise)); err != nil {
		return nil, err
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](measureReflow))
	chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.style.fontSize = ""`))
	if err != nil {
		return nil, err
	}
	var r reflow
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return nil, fmt.Errorf("reflow result %q: %w", out, err)
	}
	var problems []string
	if r.Page > r.Viewport {
		widest := r.Widest
		if widest == "" {
			widest = "no single element found"
		}
		problems = append(problems, fmt.Sprintf("the page is %d px wide in a %d px viewport: widest %s", r.Page, r.Viewport, widest))
	}
	return append(problems, r.Problems...), nil
}

// checkReflow checks the page the browser shows at 320 CSS px (WCAG 2.1
// 1.4.10, the width of 1,280 px at 400 % zoom) and with the text at 200 %
// (1.4.4) at 1,280 px, then sets the viewport back to 1,280 × 900.
func checkReflow(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	for _, c := range []struct {
		width    int64
		textSize int
		label    string
	}{{320, 100, "at 320 px"}, {1280, 200, "with text at 200 %"}} {
		problems, err := reflowAt(ctx, c.width, c.textSize)
		if err != nil {
			t.Fatalf("%s %s: %v", what, c.label, err)
		}
		for _, p := range problems {
			t.Errorf("%s %s: %s", what, c.label, p)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
}

// The reflow check must catch what it is there to catch: a wide block,
// a table scrolling in an unfocusable region, text cut off.
func TestReflowHarnessFindsProblems(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const main = document.querySelector("main");
		const wide = document.createElement("p"); wide.id = "planted-wide"; wide.style.width = "500px"; wide.textContent = "leveä"; main.appendChild(wide);
		const wrap = document.createElement("div"); wrap.id = "planted-region"; wrap.style.overflowX = "auto";
		wrap.innerHTML = "<table><tr><td>taulukko</td></tr></table>"; wrap.querySelector("td").style.minWidth = "900px"; main.appendChild(wrap);
		const cut = document.createElement("p"); cut.id = "planted-cut"; cut.style.cssText = "overflow:hidden;white-space:nowrap;width:100px";
		cut.textContent = "työkyvyntukitoimenpidesuunnitelmaluonnos ja paljon muuta tekstiä"; main.appendChild(cut);
		return true })()`)); err != nil {
		t.Fatal(err)
	}
	problems, err := reflowAt(ctx, 320, 100)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{"p#planted-wide", "div#planted-region scrolls sideways but cannot be focused", "p#planted-cut cuts its text off"} {
		if !strings.Contains(all, want) {
			t.Errorf("the reflow check missed %q; it said:\n%s", want, all)
		}
	}
}

// TestScreenshots keeps screenshots of the pages a learner, an
// administrator and a verifier see most, at a phone's 320 px and a
// desktop's 1,280 px, in test-artifacts/screens/ (docs/testing.md).
func TestScreenshots(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "test-artifacts", "screens")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pages := []struct {
		name, path string
		state      testenv.State
	}{
		{"front-page", "/", testenv.Anonymous},
		{"section-with-a-table", "/osiot/tyokykyjohtaminen/hyvan-tyon-ohjelma-ja-tyonjako", testenv.SignedIn},
		{"exam", "/tentti/{attempt}", testenv.SignedIn},
		{"certificate", "/todistus/{certificate}", testenv.Anonymous},
		{"reports", "/raportit", testenv.Admin},
		{"users", "/yllapito/kayttajat", testenv.Admin},
	}
	file := regexp.MustCompile(`[^a-z0-9-]+`)
	for _, p := range pages {
		sess := sessionFor(t, base, p.state)
		u := base + pagePath(t, base, p.path, sess)
		actions := []chromedp.Action[chromedp.Void]{chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
			return err
		})}
		if sess != "" {
			actions = append(actions, withSession(base, sess))
		}
		if err := chromedp.Do(ctx, append(actions, chromedp.Navigate(u))...); err != nil {
			t.Fatal(err)
		}
		for _, width := range []int64{320, 1280} {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
				t.Fatal(err)
			}
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Join(dir, fmt.Sprintf("%s-%d.png", file.ReplaceAllString(p.name, "-"), width))
			if err := os.WriteFile(name, png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		checkReflow(t, ctx, p.path)
	}
	t.Logf("screenshots of %d pages at 320 and 1280 px in %s", len(pages), dir)
}

// On a phone the header folds its menus behind one button: the first
// screen is for the course, and the menu opens and is used with the
// keyboard.
func TestPhoneHeaderMenuWithKeyboard(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(320, 800), chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	if h, _ := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector(".site-header").getBoundingClientRect().height`)); h > 130 {
		t.Errorf("the folded header takes %.0f px of a 320 px wide phone's first screen", h)
	}
	visible := `(() => { const a = document.querySelector(".primary-nav a"); return !!a && a.getClientRects().length > 0 })()`
	if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](visible)); shown {
		t.Fatal("the menu is open before it is asked for")
	}
	if err := tabTo(ctx, "button.menu-toggle", 3); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	if expanded := evalString(ctx, `document.querySelector(".menu-toggle").getAttribute("aria-expanded")`); expanded != "true" {
		t.Fatalf("after Enter the button says aria-expanded=%q", expanded)
	}
	if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](visible)); !shown {
		t.Fatal("Enter on the menu button did not show the menu")
	}
	if err := tabTo(ctx, `.primary-nav a[href="/osiot"]`, 5); err != nil {
		t.Fatal(err)
	}
	if err := pressEnterAndWait(ctx, "/osiot"); err != nil {
		t.Fatal(err)
	}
	// A wide screen shows the menus as they are, without the button.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector(".menu-toggle").getClientRects().length > 0`)); shown {
		t.Error("the menu button shows on a wide screen")
	}
	if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](visible)); !shown {
		t.Error("the menu is hidden on a wide screen")
	}
}

// Marking a page read with the script sends one "completed" event and
// no form post (the form is for browsers without the script); reaching
// the end of the page afterwards sends nothing more.
func TestMarkReadSendsOneEvent(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)
	sess := sessionFor(t, base, testenv.SignedIn)
	const page = "/osiot/tyokyvyn-tuki/hyvinvointialueen-tehtavat"
	if err := chromedp.Do(ctx, withSession(base, sess), chromedp.Navigate(base+page)); err != nil {
		t.Fatal(err)
	}
	if rule := evalString(ctx, `document.querySelector("article").dataset.completion`); rule != "view" {
		t.Fatalf("%s completes on %q; the test needs a page read to its end", page, rule)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		window.stayed = true; window.completedSent = 0;
		const f = window.fetch;
		window.fetch = function (u, o) { if (o && typeof o.body === "string" && o.body.includes('"completed"')) window.completedSent++; return f.apply(this, arguments); };
		return true })()`)); err != nil {
		t.Fatal(err)
	}
	// Submitted at once, before the end of the page comes into view (with
	// Tab, focus would scroll there and reading to the end could complete
	// the page first, which is the other path this test checks).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#valmis form").requestSubmit(); true`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `!!document.querySelector("#valmis .done-mark")`, "the page marked read")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.scrollTo(0, document.body.scrollHeight); true`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if stayed, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.stayed === true`)); !stayed {
		t.Fatal("the form was posted too: the page was reloaded")
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`window.completedSent`)); n != 1 {
		t.Fatalf("%d completed events were sent, want 1", n)
	}
}

// A table's scroll region is a Tab stop only while it scrolls: on a wide
// screen the comparison table fits and is passed over, on a phone it
// scrolls and is reached with Tab.
func TestTableRegionsAreTabStopsOnlyWhenTheyScroll(t *testing.T) {
	base := bundledSite(t)
	ctx := browser(t)
	defer artifact(t, ctx)
	const page = "/osiot/monialainen-tyo/monialainen-ja-moniammatillinen-tyo"
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+page)); err != nil {
		t.Fatal(err)
	}
	tabindex := `(() => { const r = document.querySelector(".prose .table-wrap"); return r ? String(r.getAttribute("tabindex")) : "no region" })()`
	if got := evalString(ctx, tabindex); got != "null" {
		t.Errorf("at 1,280 px the fitting table's region has tabindex %s, want none", got)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(320, 800)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.querySelector(".prose .table-wrap").getAttribute("tabindex") === "0"`, "the scrolling table's region to become a Tab stop")
	if err := tabTo(ctx, ".prose .table-wrap", 200); err != nil {
		t.Fatal(err)
	}
}
