package api_test

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/org"
)

func TestAdminDisablesEndsSessionsAndListsOrganisations(t *testing.T) {
	r := start(t)
	learner := newClient(t, r.URL)
	email := account.NewID()[:10] + "@example.fi"
	learner.register(email, "Liisa Oppija")
	u, _ := r.Accounts().UserByEmail(t.Context(), email)
	admin := newClient(t, r.URL)
	ae := account.NewID()[:10] + "@example.fi"
	admin.register(ae, "Ylli")
	signInAdmin(t, admin, r.Accounts(), ae)
	token := admin.csrf("/yllapito/kayttajat")

	// End the learner's sessions: signed out, can sign in again.
	if resp, _ := admin.post("/yllapito/kayttajat/"+u.ID+"/istunnot", url.Values{"csrf": {token}}); resp.StatusCode != 303 {
		t.Fatalf("end sessions = %d", resp.StatusCode)
	}
	if resp, _ := learner.get("/omat-opinnot"); resp.StatusCode != 303 {
		t.Fatal("the learner is still signed in")
	}
	if resp := learner.login(email, "oma pitkä salalause 2026"); resp.StatusCode >= 400 {
		t.Fatalf("signing in again = %d", resp.StatusCode)
	}
	// Disable: signed out and cannot sign in; enable: can.
	if resp, _ := admin.post("/yllapito/kayttajat/"+u.ID+"/tila", url.Values{"csrf": {token}, "tila": {"pois"}}); resp.StatusCode != 303 {
		t.Fatalf("disable = %d", resp.StatusCode)
	}
	if resp, _ := learner.get("/omat-opinnot"); resp.StatusCode != 303 {
		t.Fatal("a disabled learner is still signed in")
	}
	if resp := newClient(t, r.URL).login(email, "oma pitkä salalause 2026"); resp.StatusCode != 401 {
		t.Fatalf("a disabled account signs in: %d", resp.StatusCode)
	}
	if _, page := admin.get("/yllapito/kayttajat"); !strings.Contains(page, `name="tila" value="paalle"`) {
		t.Error("the users page does not offer enabling the disabled account")
	}
	if resp, _ := admin.post("/yllapito/kayttajat/"+u.ID+"/tila", url.Values{"csrf": {token}, "tila": {"paalle"}}); resp.StatusCode != 303 {
		t.Fatalf("enable = %d", resp.StatusCode)
	}
	if resp := newClient(t, r.URL).login(email, "oma pitkä salalause 2026"); resp.StatusCode >= 400 {
		t.Fatalf("an enabled account = %d", resp.StatusCode)
	}
	admins, _ := r.Accounts().UserByEmail(t.Context(), ae)
	if resp, _ := admin.post("/yllapito/kayttajat/"+admins.ID+"/tila", url.Values{"csrf": {token}, "tila": {"pois"}}); resp.StatusCode != 409 {
		t.Fatalf("disabling oneself = %d", resp.StatusCode)
	}
	// The organisations with their learners.
	resp, page := admin.get("/yllapito/organisaatiot")
	if resp.StatusCode != 200 || !strings.Contains(page, account.Organisations[3]+"</a></th><td>ita-uusimaa</td><td></td><td>käytössä</td><td>1</td>") {
		t.Fatalf("organisations = %d", resp.StatusCode)
	}
	if _, log := admin.get("/yllapito/loki"); !strings.Contains(log, "account.disable") || !strings.Contains(log, "sessions.end") {
		t.Error("the audit log lacks the actions")
	}
}

func init() {
	idorMatrix["POST /yllapito/kayttajat/:user/tila"] = adminOnly("/yllapito/kayttajat/:user/tila")
	idorMatrix["POST /yllapito/kayttajat/:user/istunnot"] = adminOnly("/yllapito/kayttajat/:user/istunnot")
	stateChanging["POST /yllapito/kayttajat/:user/tila"] = adminRefused("/yllapito/kayttajat/x/tila", "tila=pois")
	stateChanging["POST /yllapito/kayttajat/:user/istunnot"] = adminRefused("/yllapito/kayttajat/x/istunnot", "")
}

// The administrators' long lists page by keyset: 130 accounts read page
// by page in each order of the user list (and narrowed by a search) show
// every account once and in order; the audit log, the certificates, the
// outbox and the feedback inbox page the same way; a cursor the list did
// not make is a 400.
func TestAdminListsPage(t *testing.T) {
	r := start(t)
	ctx := t.Context()
	accounts := r.Accounts()
	for i := range 130 {
		if _, errs := accounts.Register(ctx, account.Registration{Email: fmt.Sprintf("sivu%03d@example.fi", (i*37)%130), Name: fmt.Sprintf("Sivu %c", 'A'+i%7),
			Password: "sivutuksen salalause 2026", Organisation: account.Organisations[i%3]}); len(errs) > 0 {
			t.Fatal(errs)
		}
	}
	admin := newClient(t, r.URL)
	admin.register("yllapitaja@example.fi", "Ylli")
	signInAdmin(t, admin, accounts, "yllapitaja@example.fi")
	next := regexp.MustCompile(`<a href="([^"]+)" rel="next">`)
	emails := regexp.MustCompile(`sivu\d{3}@example\.fi`)
	walk := func(first string, pick *regexp.Regexp) ([]string, int) {
		t.Helper()
		var got []string
		pages := 0
		for path := first; path != ""; pages++ {
			resp, page := admin.get(path)
			if resp.StatusCode != 200 || pages > 20 {
				t.Fatalf("%s = %d (page %d)", path, resp.StatusCode, pages)
			}
			seen := map[string]bool{}
			for _, e := range pick.FindAllString(page, -1) {
				if !seen[e] { // an address shows more than once in its row
					seen[e] = true
					got = append(got, e)
				}
			}
			path = ""
			if m := next.FindStringSubmatch(page); m != nil {
				path = html.UnescapeString(m[1])
			}
		}
		return got, pages
	}
	for _, sort := range []string{"email", "name", "role", "organisation", "last_active"} {
		got, pages := walk("/yllapito/kayttajat?q=sivu&jarjestys="+sort, emails)
		all, err := accounts.UsersSorted(ctx, "sivu", sort, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, u := range all {
			want = append(want, u.Email)
		}
		if pages != 3 || !slices.Equal(got, want) {
			t.Fatalf("order %s: %d pages,\n got %v\nwant %v", sort, pages, got, want)
		}
	}
	if resp, _ := admin.get("/yllapito/kayttajat?jalkeen=eikursori"); resp.StatusCode != 400 {
		t.Fatalf("a broken cursor = %d", resp.StatusCode)
	}
	// The audit log: 60 entries (and the administrator's own) on two
	// pages, newest first.
	for i := range 60 {
		if err := accounts.Audit(ctx, "testi", "test.sivutus", fmt.Sprintf("kohde-%02d", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	got, pages := walk("/yllapito/loki", regexp.MustCompile(`kohde-\d\d`))
	slices.Sort(got)
	if pages != 2 || len(slices.Compact(got)) != 60 { // entries of one millisecond are in the order of their ids
		t.Fatalf("the audit log: %d pages, %d entries", pages, len(got))
	}
	// The organisations: 23 seeded and 40 more on two pages in the order
	// of their Finnish names; everybody outside the directory on the
	// first page only.
	dir := org.NewDirectory(r.db)
	for i := range 40 {
		if _, errs := dir.Add(ctx, org.Organisation{ID: fmt.Sprintf("sivuorg%02d", (i*7)%40), NameFI: fmt.Sprintf("Sivutettu organisaatio %02d", i), Active: true}); len(errs) > 0 {
			t.Fatal(errs)
		}
	}
	got, pages = walk("/yllapito/organisaatiot", regexp.MustCompile(`/yllapito/organisaatiot/[a-z0-9-]+"`))
	list, err := dir.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, o := range list {
		want = append(want, "/yllapito/organisaatiot/"+o.ID+`"`)
	}
	if pages != 2 || len(want) != 63 || !slices.Equal(got, want) {
		t.Fatalf("the organisations: %d pages,\n got %v\nwant %v", pages, got, want)
	}
	_, firstPage := admin.get("/yllapito/organisaatiot")
	m := next.FindStringSubmatch(firstPage)
	_, second := admin.get(html.UnescapeString(m[1]))
	if other := `<th scope="row">Muu organisaatio</th>`; !strings.Contains(firstPage, other) || strings.Contains(second, other) {
		t.Fatal("the row of everybody else is not on the first page only")
	}
	for _, p := range []string{"/yllapito/loki", "/yllapito/todistukset", "/yllapito/posti", "/yllapito/palaute", "/yllapito/organisaatiot"} {
		if resp, _ := admin.get(p + "?jalkeen=%7B%7D"); resp.StatusCode != 400 {
			t.Fatalf("%s with a broken cursor = %d", p, resp.StatusCode)
		}
	}
}
