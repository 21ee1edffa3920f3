package api_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/account"
)

// The dashboard is kept per session between reloads, and never shows
// what its learner's own writes have changed: an answer saved, a page
// completed, a new role; another session of the same learner gets its
// own page (its own form token).
func TestDashboardFollowsTheLearnersWrites(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("kaisa@example.fi", "Kaisa Kojelauta")
	_, first := b.get("/omat-opinnot")
	if _, again := b.get("/omat-opinnot"); again != first || !strings.Contains(first, "Olet vastannut 0 oppimistehtävään") {
		t.Fatal("two reloads of an unchanged dashboard differ, or the count is wrong")
	}
	tok := b.csrf("/osiot/ensimmainen/tehtava")
	if resp, _ := b.post("/tehtavat/ensimmainen.tehtava.tehtava-pohdi-omaa-tyotasi/vastaus", url.Values{"csrf": {tok}, "text": {"Kaisan vastaus"}}); resp.StatusCode != 303 {
		t.Fatalf("saving an answer = %d", resp.StatusCode)
	}
	if _, body := b.get("/omat-opinnot"); !strings.Contains(body, "Olet vastannut 1 oppimistehtävään") {
		t.Fatal("the dashboard after an answer still shows none")
	}
	if resp, _ := b.putJSON("/api/v1/progress/toinen/jatko", tok, map[string]any{"event": "completed"}); resp.StatusCode != 200 {
		t.Fatalf("completing = %d", resp.StatusCode)
	}
	if _, body := b.get("/omat-opinnot"); !strings.Contains(body, `href="/osiot/toinen/jatko?jatka=1"`) {
		t.Fatal("the dashboard after completing a page does not offer to continue there")
	}
	other := newClient(t, r.URL)
	if resp := other.login("kaisa@example.fi", "oma pitkä salalause 2026"); resp.StatusCode != 303 {
		t.Fatalf("second sign-in = %d", resp.StatusCode)
	}
	_, mine := b.get("/omat-opinnot")
	_, theirs := other.get("/omat-opinnot")
	if csrfField.FindStringSubmatch(mine)[1] == csrfField.FindStringSubmatch(theirs)[1] {
		t.Fatal("two sessions got one dashboard (the same form token)")
	}
	if _, err := r.Accounts().SetRole(t.Context(), "kaisa@example.fi", account.RoleReporter); err != nil {
		t.Fatal(err)
	}
	_, tili := b.get("/tili")
	if _, body := b.get("/omat-opinnot"); strings.Contains(tili, `href="/raportit"`) != strings.Contains(body, `href="/raportit"`) {
		t.Fatal("the dashboard after a new role differs from the account page")
	}
}
