package api_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tyokyky/tyokyky/org"
)

// The unit picker at registration, in chromium with the keyboard: the
// organisation chosen, Tab reaches the search field, two words of a
// unit's path leave only that unit (units of other organisations and
// non-matching ones hidden, the count announced), Enter picks it and
// moves to the list, and the account is made in that unit.
func TestUnitPickerWithKeyboard(t *testing.T) {
	r := start(t)
	ctx := t.Context()
	dir := org.NewDirectory(r.db)
	perhe, _ := dir.AddUnit(ctx, "keski-suomi", "", "Perhepalvelut", "test")
	neuvola, _ := dir.AddUnit(ctx, "keski-suomi", perhe.ID, "Neuvola", "test")
	dir.AddUnit(ctx, "keski-suomi", perhe.ID, "Perheneuvola", "test")
	dir.AddUnit(ctx, "keski-suomi", "", "Kotihoito", "test")
	dir.AddUnit(ctx, "lappi", "", "Perhepalvelut", "test") // the same name elsewhere

	b := browser(t)
	defer artifact(t, b)
	if err := chromedp.Do(b, chromedp.Navigate(r.URL+"/rekisteroidy"),
		chromedp.SetValue(chromedp.CSS("#email"), "niina.neuvola@example.fi"),
		chromedp.SetValue(chromedp.CSS("#name"), "Niina Neuvola"),
		chromedp.SetValue(chromedp.CSS("#password"), "oma pitkä salalause 2026"),
		chromedp.Focus(chromedp.CSS("#organisation"))); err != nil {
		t.Fatal(err)
	}
	// A closed select takes the start of an option's text.
	if err := chromedp.Do(b, chromedp.KeyEvent("Keski-S")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, `document.querySelector("#organisation").value === "keski-suomi"`, "Keski-Suomi chosen with the keyboard")
	if err := tabTo(b, "#unit_search", 4); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b, chromedp.KeyEvent("perhe neuv")); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("hidden %s, options hidden %s, search %q, status %q", evalString(b, `String(document.querySelector("[data-unit-search]").hidden)`), evalString(b, `Array.from(document.querySelectorAll("#unit option")).map(o => o.hidden + ":" + o.textContent).join(",")`), evalString(b, `document.querySelector("#unit_search").value`), evalString(b, `document.querySelector("#unit_search-tila").textContent`))
		}
	}()
	waitFor(t, b, `document.querySelector("#unit_search-tila").textContent === "Hakuun sopii 2 yksikköä."`, "the count of two matches announced")
	visible := evalString(b, `Array.from(document.querySelectorAll("#unit option")).filter(o => !o.hidden && o.value).map(o => o.textContent).join(" | ")`)
	if visible != "Perhepalvelut › Neuvola | Perhepalvelut › Perheneuvola" {
		t.Fatalf("visible units %q", visible)
	}
	if err := chromedp.Do(b, chromedp.KeyEvent("\b\b\b\bneuvola")); err != nil { // "perhe neuvola"
		t.Fatal(err)
	}
	if err := chromedp.Do(b, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, `document.activeElement && document.activeElement.id === "unit" && location.pathname === "/rekisteroidy"`, "Enter moving to the list without sending the form")
	if got := evalString(b, `document.querySelector("#unit").value`); got != "keski-suomi/"+neuvola.ID {
		t.Fatalf("the chosen unit %q", got)
	}
	// Every match still there, and the empty search shows the whole
	// organisation again.
	evalString(b, `document.querySelector("#unit_search").value = "ei tällaist"`)
	if err := chromedp.Do(b, chromedp.Focus(chromedp.CSS("#unit_search")), chromedp.KeyEvent("a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, `document.querySelector("#unit_search-tila").textContent.startsWith("Hakuun ei sovi")`, "no match announced")
	if got := evalString(b, `document.querySelector("#unit").value`); got != "keski-suomi/"+neuvola.ID {
		t.Fatalf("a search without matches changed the choice to %q", got)
	}
	evalString(b, `document.querySelector("#unit_search").value = "x"`)
	if err := chromedp.Do(b, chromedp.KeyEvent("\b")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, `Array.from(document.querySelectorAll("#unit option")).filter(o => !o.hidden && o.value).length === 4`, "the organisation's four units shown again")
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS(`form[action="/rekisteroidy"] button[type="submit"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, `document.readyState === "complete" && (!document.querySelector("#unit_search") || !!document.querySelector(".error-summary"))`, "registration sent")
	u, err := r.Accounts().UserByEmail(ctx, "niina.neuvola@example.fi")
	if err != nil {
		t.Fatalf("no account: %v (at %s)", err, evalString(b, `location.pathname`))
	}
	if u.OrgID != "keski-suomi" || u.UnitID != neuvola.ID {
		t.Fatalf("registered in %q / %q", u.OrgID, u.UnitID)
	}
}
