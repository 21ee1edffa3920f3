package api_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/testenv"
)

// TestSelfCheckWithKeyboard (issue 21): a learner answers a section's
// self-check in the real browser with the keyboard only — Tab into each
// question, Space and the arrow keys to choose, Enter to check — gets the
// feedback page, whose every question says right, and the section's
// self-check is recorded. The result page passes axe and the Nu checker.
func TestSelfCheckWithKeyboard(t *testing.T) {
	base := bundledSite(t)
	var sec *course.Section
	for _, m := range siteCourse.Modules {
		for _, s := range m.Sections {
			if sec == nil && len(s.Quiz) >= 3 {
				sec = s
			}
		}
	}
	if sec == nil {
		t.Fatal("no section of the bundled course has a self-check")
	}
	ctx := browser(t)
	defer artifact(t, ctx)
	sess := sessionFor(t, base, testenv.SignedIn)
	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			// axe runs on the result page, as runAxe does it.
			_, err := cdp.Call(ctx, tg, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true})
			return err
		}),
		withSession(base, sess), chromedp.Navigate(base+sec.URL()))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.readyState === "complete"`, "the section page")
	key := func(k string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.KeyEvent(k)); err != nil {
			t.Fatal(err)
		}
	}
	// The controls of a question in page order (the options may be shown
	// in another order than the bank's).
	values := func(id string) []string {
		t.Helper()
		js := `Array.from(document.querySelectorAll(` + strconv.Quote(`.selfcheck-form [name="q-`+id+`"]`) + `)).map(function (i) { return i.value; }).join(" ")`
		return strings.Fields(evalString(ctx, js))
	}
	tabs := 400 // the first question is below the whole section text
	for _, it := range sec.Quiz {
		switch it.Type {
		case course.ItemSingle, course.ItemTrueFalse:
			want := strconv.FormatBool(it.Answer != nil && *it.Answer)
			if it.Type == course.ItemSingle {
				for _, o := range it.Options {
					if o.Correct {
						want = o.ID
					}
				}
			}
			vals := values(it.ID)
			if err := tabTo(ctx, "#s-"+it.ID+"-"+vals[0], tabs); err != nil {
				t.Fatal(err)
			}
			key(" ")
			for _, v := range vals {
				if v == want {
					break
				}
				key(kb.ArrowDown)
			}
		case course.ItemMultiple:
			for _, v := range values(it.ID) {
				if err := tabTo(ctx, "#s-"+it.ID+"-"+v, tabs); err != nil {
					t.Fatal(err)
				}
				if it.Option(v).Correct {
					key(" ")
				}
			}
		case course.ItemMatching:
			// Row i pairs with right side i; the right sides are listed in
			// alphabetical order after the "choose" placeholder.
			for i := range it.Pairs {
				row := strconv.Itoa(i)
				sel := "#s-" + it.ID + "-" + row
				if err := tabTo(ctx, sel, tabs); err != nil {
					t.Fatal(err)
				}
				at := evalString(ctx, `String(Array.from(document.querySelector(`+strconv.Quote(sel)+`).options).findIndex(function (o) { return o.value === `+strconv.Quote(row)+`; }))`)
				n, _ := strconv.Atoi(at)
				for ; n > 0; n-- {
					key(kb.ArrowDown)
				}
			}
		default:
			t.Fatalf("item %s: type %q", it.ID, it.Type)
		}
		tabs = 30
	}
	if err := tabTo(ctx, `.selfcheck-form button[type="submit"]`, 30); err != nil {
		t.Fatal(err)
	}
	key("\r")
	waitFor(t, ctx, `location.pathname.endsWith("/itsetesti") && document.readyState === "complete"`, "the self-check's result")
	body := evalString(ctx, `document.documentElement.outerHTML`)
	for _, want := range []string{"Vastasit kaikkiin kysymyksiin oikein.", "Itsetesti on merkitty tehdyksi."} {
		if !strings.Contains(body, want) {
			t.Fatalf("the result page lacks %q:\n%s", want, body)
		}
	}
	if n := strings.Count(body, "selfcheck-right"); n != len(sec.Quiz) {
		t.Errorf("%d of %d questions marked right", n, len(sec.Quiz))
	}
	violations, passes := axeHere(t, ctx, axeSource(t))
	if passes < 10 {
		t.Errorf("axe passed only %d rules on the result page", passes)
	}
	for _, v := range violations {
		t.Errorf("result page: axe %s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, ", "))
	}
	checkReflow(t, ctx, "self-check result")
	nuCheck(t, map[string]string{"self-check result": "<!DOCTYPE html>\n" + body})
}
