package api_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/org"
)

// unitPopulation: in Pirkanmaa, units Sosiaalipalvelut › Perhekeskus and
// Terveyspalvelut, and one learner in each, one in no unit, one in
// another organisation's unit; a reporter of Sosiaalipalvelut.
// The units' names end in suffix, so that one server can have several
// populations.
func unitPopulation(t *testing.T, r *running, suffix string) (rep *browserClient, units map[string]string) {
	t.Helper()
	ctx := t.Context()
	dir := org.NewDirectory(r.db)
	units = map[string]string{}
	add := func(code, parent, name string) *org.Unit {
		u, err := dir.AddUnit(ctx, code, parent, name+suffix, "test")
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	sos := add("pirkanmaa", "", "Sosiaalipalvelut")
	perhe := add("pirkanmaa", sos.ID, "Perhekeskus")
	terv := add("pirkanmaa", "", "Terveyspalvelut")
	lappi := add("lappi", "", "Sosiaalipalvelut")
	units["sos"], units["perhe"], units["terv"], units["lappi"] = sos.ID, perhe.ID, terv.ID, lappi.ID
	register := func(name, organisation, unit string) string {
		b := newClient(t, r.URL)
		email := account.NewID()[:10] + "@example.fi"
		resp, body := b.post("/rekisteroidy", url.Values{"csrf": {b.csrf("/rekisteroidy")}, "email": {email}, "name": {name},
			"password": {"oma pitkä salalause 2026"}, "organisation": {organisation}, "unit": {unit}})
		if resp.StatusCode != 200 {
			t.Fatalf("register %s = %d\n%s", name, resp.StatusCode, body)
		}
		return email
	}
	register("Sanna Sosiaali", "pirkanmaa", "pirkanmaa/"+sos.ID)
	register("Pertti Perhe", "pirkanmaa", "pirkanmaa/"+perhe.ID)
	register("Teija Terveys", "pirkanmaa", "pirkanmaa/"+terv.ID)
	register("Ulla Yksikötön", "pirkanmaa", "")
	register("Lauri Lappi", "lappi", "lappi/"+lappi.ID)
	rep = newClient(t, r.URL)
	email := register("Raili Raportoija", "pirkanmaa", "pirkanmaa/"+sos.ID)
	rep.login(email, "oma pitkä salalause 2026")
	signInAs(t, rep, r.Accounts(), email, account.RoleReporter)
	return rep, units
}

// learnersRow is the learners' CSV's figures row.
func learnersRow(t *testing.T, b *browserClient, query string) (int, string) {
	t.Helper()
	resp, body := b.get("/raportit.csv?raportti=oppijat" + query)
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if resp.StatusCode != 200 {
		return resp.StatusCode, ""
	}
	return resp.StatusCode, lines[len(lines)-1]
}

// A reporter with a unit sees their unit's subtree only, whatever the
// address asks; they may narrow to a unit below theirs; administrators
// filter any organisation by unit.
func TestReportsScopedToAUnitSubtree(t *testing.T) {
	r := start(t)
	rep, units := unitPopulation(t, r, "")
	org := "Pirkanmaan hyvinvointialue"
	if code, row := learnersRow(t, rep, ""); code != 200 || !strings.HasPrefix(row, org+" / Sosiaalipalvelut,2,") {
		t.Fatalf("the reporter's report = %d %q", code, row)
	}
	if _, page := rep.get("/raportit"); !strings.Contains(page, "Näet yksikön Sosiaalipalvelut ja sen alayksiköiden oppijat.") ||
		!strings.Contains(page, `<option value="`+units["perhe"]+`">Sosiaalipalvelut › Perhekeskus</option>`) || strings.Contains(page, "Terveyspalvelut") {
		t.Fatal("the reporter's page does not show the unit scope and its sub-units only")
	}
	if code, row := learnersRow(t, rep, "&yksikko="+units["perhe"]); code != 200 || !strings.HasPrefix(row, org+" / Sosiaalipalvelut › Perhekeskus,1,") {
		t.Fatalf("narrowed to Perhekeskus = %d %q", code, row)
	}
	admin := newClient(t, r.URL)
	ae := account.NewID()[:10] + "@example.fi"
	admin.register(ae, "Ylli")
	signInAdmin(t, admin, r.Accounts(), ae)
	q := "&organisaatio=" + url.QueryEscape(org)
	if code, row := learnersRow(t, admin, q); code != 200 || !strings.HasPrefix(row, org+",4,") {
		t.Fatalf("the administrator's Pirkanmaa = %d %q", code, row)
	}
	if code, row := learnersRow(t, admin, q+"&yksikko="+units["terv"]); code != 200 || !strings.HasPrefix(row, org+" / Terveyspalvelut,1,") {
		t.Fatalf("the administrator's Terveyspalvelut = %d %q", code, row)
	}
	if code, _ := learnersRow(t, admin, q+"&yksikko="+units["lappi"]); code != 404 {
		t.Fatalf("a unit of another organisation = %d", code)
	}
	if code, _ := learnersRow(t, admin, "&yksikko="+units["terv"]); code != 400 {
		t.Fatalf("a unit without an organisation = %d", code)
	}
}

func init() {
	// A unit-scoped reporter cannot reach a unit outside their subtree,
	// in their own organisation or another, on the page or in the CSV.
	unitScoped := func(t *testing.T, r *running) {
		rep, units := unitPopulation(t, r, " "+account.NewID()[:6])
		for _, p := range []string{"/raportit", "/raportit.csv?raportti=oppijat"} {
			sep := "?"
			if strings.Contains(p, "?") {
				sep = "&"
			}
			for _, u := range []string{units["terv"], units["lappi"], "eiole"} {
				if resp, body := rep.get(p + sep + "yksikko=" + u); resp.StatusCode != 404 || strings.Contains(body, "Teija") {
					t.Errorf("a reporter of Sosiaalipalvelut on %s%syksikko=%s = %d", p, sep, u, resp.StatusCode)
				}
			}
		}
	}
	for _, route := range []string{"GET /raportit", "GET /raportit.csv"} {
		organisationScoped := idorMatrix[route] // reports_test.go's, set before this file's init
		idorMatrix[route] = func(t *testing.T, r *running) {
			if organisationScoped != nil {
				organisationScoped(t, r)
			}
			unitScoped(t, r)
		}
	}
}

// An organisation added to the directory and renamed later keeps one
// report: its learners are matched by the directory id, not by the name
// their accounts were registered with. Its reporter sees it too (the
// organisation is not on the old list), and the administrator chooses it
// by id or by its current Finnish name.
func TestReportsFollowARenamedOrganisation(t *testing.T) {
	r := start(t)
	ctx := t.Context()
	dir := org.NewDirectory(r.db)
	if _, errs := dir.Add(ctx, org.Organisation{ID: "hoiva-oy", NameFI: "Hoiva Oy", NameSV: "Hoiva Ab", Active: true}); len(errs) > 0 {
		t.Fatal(errs)
	}
	register := func(name string) string {
		b := newClient(t, r.URL)
		email := account.NewID()[:10] + "@example.fi"
		if resp, body := b.post("/rekisteroidy", url.Values{"csrf": {b.csrf("/rekisteroidy")}, "email": {email}, "name": {name},
			"password": {"oma pitkä salalause 2026"}, "organisation": {"hoiva-oy"}}); resp.StatusCode != 200 {
			t.Fatalf("register %s = %d\n%s", name, resp.StatusCode, body)
		}
		return email
	}
	register("Ennen Nimenmuutosta")
	repEmail := register("Raili Raportoija")
	if err := dir.Update(ctx, "hoiva-oy", "Hoivapalvelut Oy", "Hoivatjänster Ab", true); err != nil {
		t.Fatal(err)
	}
	register("Jälkeen Nimenmuutoksen")
	rep := newClient(t, r.URL)
	rep.login(repEmail, "oma pitkä salalause 2026")
	signInAs(t, rep, r.Accounts(), repEmail, account.RoleReporter)
	if code, row := learnersRow(t, rep, ""); code != 200 || !strings.HasPrefix(row, "Hoivapalvelut Oy,2,") {
		t.Fatalf("the reporter's report after the rename = %d %q", code, row)
	}
	if _, page := rep.get("/raportit"); !strings.Contains(page, "Hoivapalvelut Oy") {
		t.Fatal("the reporter's page does not name the organisation by its new name")
	}
	admin := newClient(t, r.URL)
	ae := account.NewID()[:10] + "@example.fi"
	admin.register(ae, "Ylli")
	signInAdmin(t, admin, r.Accounts(), ae)
	for _, q := range []string{"hoiva-oy", "Hoivapalvelut Oy"} {
		if code, row := learnersRow(t, admin, "&organisaatio="+url.QueryEscape(q)); code != 200 || !strings.HasPrefix(row, "Hoivapalvelut Oy,2,") {
			t.Fatalf("the administrator's report by %q = %d %q", q, code, row)
		}
	}
	_, page := admin.get("/raportit?organisaatio=hoiva-oy&alkaen=1.1.2026")
	if !strings.Contains(page, `<option value="hoiva-oy" selected>Hoivapalvelut Oy</option>`) {
		t.Fatal("the administrator's choice does not list the organisation by id with its new name")
	}
	// The CSV links carry the page's filters (they lost them: the
	// template escaped the query put into the link).
	if !strings.Contains(page, `href="/raportit.csv?alkaen=1.1.2026&amp;organisaatio=hoiva-oy&amp;raportti=oppijat"`) {
		t.Fatal("the learners' CSV link does not carry the filters")
	}
	if code, _ := learnersRow(t, admin, "&organisaatio=Hoiva+Oy"); code != 400 {
		t.Fatalf("the old name of an organisation added to the directory = %d", code)
	}
}
