package api_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tyokyky/tyokyky/internal/i18n"
)

// sessionOf is a client's session cookie.
func sessionOf(t *testing.T, b *browserClient, base string) string {
	t.Helper()
	u, _ := url.Parse(base)
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == "session" {
			return c.Value
		}
	}
	t.Fatal("no session")
	return ""
}

// TestHRAssignsLearnerCompletesReportShows in the browser: a reporter
// assigns a module to their unit with its sub-units through the form, the
// learner of a sub-unit sees it on their page and completes it, and the
// assignment's page then shows them completed.
func TestHRAssignsLearnerCompletesReportShows(t *testing.T) {
	r := startFresh(t)
	rep, _ := unitPopulation(t, r, "")
	pertti := newClient(t, r.URL)
	pertti.login(emailOf(t, r, "Pertti Perhe"), "oma pitkä salalause 2026")

	hr := browser(t)
	defer artifact(t, hr)
	due := time.Now().In(i18n.Helsinki).AddDate(0, 0, 20).Format("2.1.2006")
	err := chromedp.Do(hr,
		withSession(r.URL, sessionOf(t, rep, r.URL)),
		chromedp.Navigate(r.URL+"/raportit/tehtavat"),
		chromedp.Click(chromedp.CSS("#kind-unit")),
	)
	if err != nil {
		t.Fatal(err)
	}
	unit := evalString(hr, `[...document.querySelectorAll("#unit option")].find(o => o.textContent === "Sosiaalipalvelut").value`)
	module := evalString(hr, `[...document.querySelectorAll("#modules input")].find(i => i.value === "toinen").id`)
	if unit == "" || module == "" {
		t.Fatalf("the form lacks the unit (%q) or the module (%q)", unit, module)
	}
	err = chromedp.Do(hr,
		chromedp.SetValue(chromedp.CSS("#unit"), unit),
		chromedp.Click(chromedp.CSS("#"+module)),
		chromedp.SendKeys(chromedp.CSS("#due"), due),
		chromedp.SendKeys(chromedp.CSS("#note"), "Tämä ennen kehityskeskusteluja."),
		chromedp.Click(chromedp.CSS(`form[action="/raportit/tehtavat"] button[type="submit"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, hr, `location.pathname.startsWith("/raportit/tehtavat/") && document.readyState === "complete"`, "the new assignment's page")
	assignment := evalString(hr, `location.pathname`)
	if row := evalString(hr, `[...document.querySelectorAll("table tbody tr")].map(r => r.textContent).find(t => t.includes("Pertti Perhe")) || ""`); !strings.Contains(row, "Ei aloitettu") {
		t.Fatalf("Pertti's row before: %q", row)
	}

	learner := browser(t)
	defer artifact(t, learner)
	err = chromedp.Do(learner,
		withSession(r.URL, sessionOf(t, pertti, r.URL)),
		chromedp.Navigate(r.URL+"/omat-opinnot"),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, learner, `document.readyState === "complete"`, "the learner's page")
	if mine := evalString(learner, `(document.querySelector("section.assigned") || {}).textContent || ""`); !strings.Contains(mine, "Sinulle määrätyt") ||
		!strings.Contains(mine, "Määräpäivä "+due+": aikaa on 20 päivää.") || !strings.Contains(mine, "Tämä ennen kehityskeskusteluja.") {
		t.Fatalf("the learner's assignments: %q", mine)
	}
	if err := chromedp.Do(learner, chromedp.Navigate(r.URL+"/osiot/toinen/jatko")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, learner, `document.readyState === "complete" && !!document.querySelector('form[action$="/luettu"]')`, "the section with its mark-read form")
	// The button, as the learner presses it (the page's script may send
	// it in the background instead of loading a new page).
	evalString(learner, `document.querySelector('form[action$="/luettu"] button').click(), ""`)
	// The report shows the completion (read afresh for each page here).
	deadline := time.Now().Add(10 * time.Second)
	row := ""
	for time.Now().Before(deadline) && !strings.Contains(row, "Suoritettu") {
		time.Sleep(200 * time.Millisecond)
		if err := chromedp.Do(hr, chromedp.Navigate(r.URL+assignment+"?tila=completed")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, hr, `document.readyState === "complete"`, "the assignment's page")
		row = evalString(hr, `[...document.querySelectorAll("table tbody tr")].map(r => r.textContent).find(t => t.includes("Pertti Perhe")) || ""`)
	}
	if !strings.Contains(row, "Suoritettu") || !strings.Contains(row, "1 / 1") {
		t.Fatalf("Pertti's row after: %q", row)
	}
}
