package api_test

import (
	"encoding/csv"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/org"
)

// startFresh is a server whose reports read the stores for every page.
func startFresh(t *testing.T) *running {
	t.Helper()
	return startOpts(t, fixture(t), func(o *api.Options, _ *media.Options) { o.ReportMaxAge = -1 })
}

var assignmentLink = regexp.MustCompile(`^/raportit/tehtavat/([0-9a-f]{24})\?ilmoitus=luotu$`)

// assignForm is a valid new assignment of the unit with its sub-units.
func assignForm(b *browserClient, unit string, days int, modules ...string) url.Values {
	v := url.Values{"csrf": {b.csrf("/raportit/tehtavat")}, "toiminto": {"luo"}, "kind": {"unit"}, "unit": {unit}, "subunits": {"on"},
		"due": {time.Now().In(i18n.Helsinki).AddDate(0, 0, days).Format("2.1.2006")}, "note": {"Käykää <nämä> läpi"}}
	for _, m := range modules {
		v.Add("modules", m)
	}
	return v
}

// HR assigns a module to their unit: bad input is refused with the
// field's message, the assignment's page shows each person's standing,
// a learner's completion shows at once, and filters, sorting and the CSV
// follow the query; editing and closing work, and the closed one may be
// made again.
func TestHRAssignsAndFollows(t *testing.T) {
	r := startFresh(t)
	rep, units := unitPopulation(t, r, "")
	resp, page := rep.get("/raportit/tehtavat")
	if resp.StatusCode != 200 || !strings.Contains(page, "Sosiaalipalvelut › Perhekeskus") || strings.Contains(page, "Terveyspalvelut") ||
		!strings.Contains(page, "Näet yksikön Sosiaalipalvelut ja sen alayksiköiden tehtävät.") {
		t.Fatalf("the list = %d\n%s", resp.StatusCode, page)
	}
	for _, tc := range []struct {
		name   string
		change func(url.Values)
		want   string
	}{
		{"due yesterday", func(v url.Values) { v.Set("due", time.Now().In(i18n.Helsinki).AddDate(0, 0, -1).Format("2.1.2006")) }, "Määräpäivä on jo mennyt."},
		{"a date that is none", func(v url.Values) { v.Set("due", "31.2.") }, "Anna määräpäivä muodossa 31.3.2027."},
		{"a unit outside the reporter's", func(v url.Values) { v.Set("unit", units["terv"]) }, "Valitse organisaation yksikkö."},
		{"an unknown module", func(v url.Values) { v.Set("modules", "eiole") }, "Valitse kurssin moduuleja."},
		{"an unknown person", func(v url.Values) { v.Set("kind", "people"); v.Set("people", "vieras@example.fi") }, "Valitse vähintään yksi organisaation henkilö."},
	} {
		v := assignForm(rep, units["sos"], 30)
		tc.change(v)
		if resp, body := rep.post("/raportit/tehtavat", v); resp.StatusCode != 422 || !strings.Contains(body, tc.want) {
			t.Errorf("%s = %d, want 422 with %q", tc.name, resp.StatusCode, tc.want)
		}
	}
	resp, _ = rep.post("/raportit/tehtavat", assignForm(rep, units["sos"], 30, "toinen"))
	m := assignmentLink.FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode != 303 || m == nil {
		t.Fatalf("create = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	id := m[1]
	if resp, body := rep.post("/raportit/tehtavat", assignForm(rep, units["sos"], 40, "toinen")); resp.StatusCode != 422 || !strings.Contains(body, "Sama avoin tehtävä on jo olemassa.") {
		t.Fatalf("duplicate = %d", resp.StatusCode)
	}
	resp, page = rep.get("/raportit/tehtavat/" + id)
	if resp.StatusCode != 200 || !strings.Contains(page, "Sanna Sosiaali") || !strings.Contains(page, "Pertti Perhe") || strings.Contains(page, "Teija") ||
		!strings.Contains(page, "Käykää &lt;nämä&gt; läpi") || strings.Count(page, "<td>Ei aloitettu</td>") != 3 {
		t.Fatalf("the assignment's page = %d\n%s", resp.StatusCode, page)
	}
	// Pertti completes the module's one section.
	pertti := newClient(t, r.URL)
	perttiEmail := emailOf(t, r, "Pertti Perhe")
	pertti.login(perttiEmail, "oma pitkä salalause 2026")
	if resp, _ := pertti.post("/osiot/toinen/jatko/luettu", url.Values{"csrf": {pertti.csrf("/osiot/toinen/jatko")}}); resp.StatusCode != 303 {
		t.Fatalf("mark read = %d", resp.StatusCode)
	}
	_, page = rep.get("/raportit/tehtavat/" + id + "?tila=completed")
	if !strings.Contains(page, "Pertti Perhe") || strings.Contains(page, "Sanna Sosiaali") || !strings.Contains(page, "<td>1 / 1</td>") {
		t.Fatalf("completed filter:\n%s", page)
	}
	_, page = rep.get("/raportit/tehtavat/" + id + "?yksikko=" + units["perhe"])
	if !strings.Contains(page, "Pertti Perhe") || strings.Contains(page, "Sanna Sosiaali") {
		t.Fatal("the unit filter does not narrow to Perhekeskus")
	}
	_, page = rep.get("/raportit/tehtavat/" + id + "?jarjestys=valmis")
	if _, people, _ := strings.Cut(page, `id="taulukko-assignment-2"`); strings.Index(people, "Pertti Perhe") > strings.Index(people, "Raili Raportoija") {
		t.Fatal("sorting by progress does not put Pertti first")
	}
	if resp, _ := rep.get("/raportit/tehtavat/" + id + "?sivu=1"); resp.StatusCode != 200 {
		t.Errorf("page 1 = %d", resp.StatusCode)
	}
	for _, q := range []string{"?tila=eiole", "?jarjestys=eiole", "?muoto=pdf", "?sivu=2", "?sivu=0", "?sivu=x"} {
		if resp, _ := rep.get("/raportit/tehtavat/" + id + q); resp.StatusCode != 400 {
			t.Errorf("%s = %d, want 400", q, resp.StatusCode)
		}
	}
	resp, body := rep.get("/raportit/tehtavat/" + id + "?muoto=csv&jarjestys=tila")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if resp.StatusCode != 200 || err != nil || len(rows) != 4 || rows[0][0] != "nimi" || rows[3][0] != "Pertti Perhe" || rows[3][3] != "Suoritettu" ||
		rows[3][6] != time.Now().In(i18n.Helsinki).Format("2006-01-02") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV = %d %v %q", resp.StatusCode, err, rows)
	}
	// The list counts them.
	_, page = rep.get("/raportit/tehtavat")
	if !strings.Contains(page, "/raportit/tehtavat/"+id) {
		t.Fatal("the list does not link the assignment")
	}
	// Edit, then close; the same may then be assigned again.
	edit := url.Values{"csrf": {rep.csrf("/raportit/tehtavat/" + id)}, "toiminto": {"muokkaa"}, "tehtava": {id}, "due": {"1.1.2020"}, "note": {""}}
	if resp, body := rep.post("/raportit/tehtavat", edit); resp.StatusCode != 422 || !strings.Contains(body, "Määräpäivä on jo mennyt.") {
		t.Fatalf("edit to the past = %d", resp.StatusCode)
	}
	edit.Set("due", time.Now().In(i18n.Helsinki).AddDate(0, 2, 0).Format("2.1.2006"))
	if resp, _ := rep.post("/raportit/tehtavat", edit); resp.StatusCode != 303 {
		t.Fatalf("edit = %d", resp.StatusCode)
	}
	if _, page := rep.get("/raportit/tehtavat/" + id); strings.Contains(page, "Käykää") {
		t.Fatal("the note was not emptied")
	}
	if resp, _ := rep.post("/raportit/tehtavat", url.Values{"csrf": {edit.Get("csrf")}, "toiminto": {"sulje"}, "tehtava": {id}}); resp.StatusCode != 303 {
		t.Fatalf("close = %d", resp.StatusCode)
	}
	if resp, _ := rep.post("/raportit/tehtavat", assignForm(rep, units["sos"], 30, "toinen")); resp.StatusCode != 303 {
		t.Fatalf("the same after closing = %d", resp.StatusCode)
	}
	if resp, _ := rep.post("/raportit/tehtavat", url.Values{"csrf": {edit.Get("csrf")}, "toiminto": {"poista"}}); resp.StatusCode != 400 {
		t.Fatalf("an unknown action = %d", resp.StatusCode)
	}
	// A group from the employer's sign-in: Sanna's and Teija's last
	// sign-ins named it, and Teija is outside the reporter's subtree.
	for _, name := range []string{"Sanna Sosiaali", "Teija Terveys"} {
		u, _ := r.Accounts().UserByEmail(t.Context(), emailOf(t, r, name))
		if err := r.Accounts().SetGroups(t.Context(), u.ID, []string{"esihenkilot"}); err != nil {
			t.Fatal(err)
		}
	}
	group := assignForm(rep, "", 30)
	group.Set("kind", "group")
	group.Set("group", "eiole")
	if resp, body := rep.post("/raportit/tehtavat", group); resp.StatusCode != 422 || !strings.Contains(body, "Kukaan organisaatiosta ei ole kirjautunut tällä ryhmällä.") {
		t.Fatalf("an empty group = %d", resp.StatusCode)
	}
	group.Set("group", "esihenkilot")
	resp, _ = rep.post("/raportit/tehtavat", group)
	if m := assignmentLink.FindStringSubmatch(resp.Header.Get("Location")); m == nil {
		t.Fatalf("a group = %d", resp.StatusCode)
	} else if _, page := rep.get("/raportit/tehtavat/" + m[1]); !strings.Contains(page, "Ryhmä esihenkilot") || !strings.Contains(page, "Sanna Sosiaali") || strings.Contains(page, "Teija") {
		t.Fatalf("the group's page:\n%s", page)
	}
}

// emailOf finds a registered person's address by name.
func emailOf(t *testing.T, r *running, name string) string {
	t.Helper()
	users, err := r.Accounts().Users(t.Context(), name, 5)
	if err != nil || len(users) != 1 {
		t.Fatalf("%s: %v %d", name, err, len(users))
	}
	return users[0].Email
}

func init() {
	form := "application/x-www-form-urlencoded"
	stateChanging["POST /raportit/tehtavat"] = func(t *testing.T, r *running) {
		rep, units := unitPopulation(t, r, " "+account.NewID()[:6])
		v := assignForm(rep, units["sos"], 30)
		v.Del("csrf")
		if resp, _ := rep.do("POST", "/raportit/tehtavat", strings.NewReader(v.Encode()), "Content-Type", form); resp.StatusCode != 403 {
			t.Errorf("POST /raportit/tehtavat without a CSRF token = %d, want 403", resp.StatusCode)
		}
	}
	// A unit-scoped reporter sees, edits and closes only the assignments
	// of their subtree; another organisation's are 404 to everyone but
	// administrators; learners get 404 everywhere.
	idor := func(t *testing.T, r *running) {
		suffix := " " + account.NewID()[:6]
		rep, units := unitPopulation(t, r, suffix)
		admin := newClient(t, r.URL)
		ae := account.NewID()[:10] + "@example.fi"
		admin.register(ae, "Ylli")
		signInAdmin(t, admin, r.Accounts(), ae)
		made := map[string]string{}
		for _, k := range []string{"sos", "terv", "lappi"} {
			orgCode := "pirkanmaa"
			if k == "lappi" {
				orgCode = "lappi"
			}
			v := assignForm(admin, units[k], 30)
			v.Set("csrf", admin.csrf("/raportit/tehtavat?organisaatio="+orgCode))
			v.Set("organisaatio", orgCode)
			resp, body := admin.post("/raportit/tehtavat", v)
			loc := resp.Header.Get("Location")
			i := strings.Index(loc, "/raportit/tehtavat/")
			if resp.StatusCode != 303 || i < 0 {
				t.Fatalf("admin creates for %s = %d %s\n%s", k, resp.StatusCode, loc, body)
			}
			made[k] = strings.SplitN(loc[i+len("/raportit/tehtavat/"):], "?", 2)[0]
		}
		if resp, page := rep.get("/raportit/tehtavat/" + made["sos"]); resp.StatusCode != 200 || !strings.Contains(page, "Sanna Sosiaali") {
			t.Errorf("the reporter's own = %d", resp.StatusCode)
		}
		if _, page := rep.get("/raportit/tehtavat"); strings.Contains(page, made["terv"]) || strings.Contains(page, made["lappi"]) {
			t.Error("the reporter's list shows assignments outside their subtree")
		}
		csrf := rep.csrf("/raportit/tehtavat")
		for _, k := range []string{"terv", "lappi"} {
			for _, p := range []string{"/raportit/tehtavat/" + made[k], "/raportit/tehtavat/" + made[k] + "?muoto=csv", "/raportit/tehtavat/" + made[k] + "?organisaatio=lappi"} {
				if resp, body := rep.get(p); resp.StatusCode != 404 || strings.Contains(body, "Teija") || strings.Contains(body, "Lauri") {
					t.Errorf("a reporter of Sosiaalipalvelut on %s = %d", p, resp.StatusCode)
				}
			}
			for _, action := range []string{"sulje", "muokkaa"} {
				if resp, _ := rep.post("/raportit/tehtavat", url.Values{"csrf": {csrf}, "toiminto": {action}, "tehtava": {made[k]}, "due": {"1.1.2099"}}); resp.StatusCode != 404 {
					t.Errorf("a reporter of Sosiaalipalvelut does %s to %s = %d", action, k, resp.StatusCode)
				}
			}
		}
		// A unit outside the reporter's subtree in the filter.
		if resp, _ := rep.get("/raportit/tehtavat/" + made["sos"] + "?yksikko=" + units["terv"]); resp.StatusCode != 404 {
			t.Errorf("filtering by another unit = %d", resp.StatusCode)
		}
		// The assignment outside stays open.
		if _, page := admin.get("/raportit/tehtavat/" + made["terv"]); !strings.Contains(page, "Sulje tehtävä") {
			t.Error("the reporter closed an assignment outside their subtree")
		}
		learner := newClient(t, r.URL)
		learner.register(account.NewID()[:10]+"@example.fi", "Olli Oppija")
		for _, p := range []string{"/raportit/tehtavat", "/raportit/tehtavat/" + made["sos"]} {
			if resp, _ := learner.get(p); resp.StatusCode != 404 {
				t.Errorf("a learner on %s = %d", p, resp.StatusCode)
			}
		}
	}
	// One run a server covers the three routes (the registrations it
	// makes count against the sign-up rate limit).
	var done sync.Map
	once := func(t *testing.T, r *running) {
		if _, ran := done.LoadOrStore(r, true); !ran {
			idor(t, r)
		}
	}
	idorMatrix["GET /raportit/tehtavat/:assignment"] = once
	idorMatrix["HEAD /raportit/tehtavat/:assignment"] = once
	idorMatrix["POST /raportit/tehtavat"] = once
}

// The learner sees what is assigned to them, due dates first and in plain
// words (days left, today, overdue), and gets the due dates as a calendar
// file; completing the module shows as such and leaves the calendar.
func TestLearnerSeesAssignmentsAndCalendar(t *testing.T) {
	r := startFresh(t)
	rep, units := unitPopulation(t, r, "")
	resp, _ := rep.post("/raportit/tehtavat", assignForm(rep, units["sos"], 3, "toinen"))
	m := assignmentLink.FindStringSubmatch(resp.Header.Get("Location"))
	if m == nil {
		t.Fatalf("create = %d", resp.StatusCode)
	}
	pertti := newClient(t, r.URL)
	pertti.login(emailOf(t, r, "Pertti Perhe"), "oma pitkä salalause 2026")
	_, page := pertti.get("/omat-opinnot")
	due := time.Now().In(i18n.Helsinki).AddDate(0, 0, 3)
	if !strings.Contains(page, "Sinulle määrätyt") || !strings.Contains(page, "Määräpäivä "+due.Format("2.1.2006")+": aikaa on 3 päivää.") ||
		!strings.Contains(page, "Käykää &lt;nämä&gt; läpi") {
		t.Fatalf("the dashboard:\n%s", page)
	}
	resp, cal := pertti.get("/omat-opinnot/tehtavat.ics")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/calendar; charset=utf-8" ||
		!strings.Contains(cal, "UID:assignment-"+m[1]+"@localhost\r\n") || !strings.Contains(cal, "DTSTART;VALUE=DATE:"+due.Format("20060102")+"\r\n") ||
		!strings.Contains(cal, `Käykää <nämä> läpi`) {
		t.Fatalf("calendar = %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), cal)
	}
	// The learner's export names the assignment.
	if resp, export := pertti.get("/api/v1/me/export"); resp.StatusCode != 200 || !strings.Contains(export, `"id": "`+m[1]+`"`) || !strings.Contains(export, `"sso_groups": []`) {
		t.Fatalf("the export = %d\n%s", resp.StatusCode, export)
	}
	// Another download: the same UID (calendars update the event).
	if _, again := pertti.get("/omat-opinnot/tehtavat.ics"); strings.Count(again, "UID:assignment-"+m[1]+"@localhost") != 1 {
		t.Fatal("the UID is not stable")
	}
	pertti.post("/osiot/toinen/jatko/luettu", url.Values{"csrf": {pertti.csrf("/osiot/toinen/jatko")}})
	if _, page := pertti.get("/omat-opinnot?lang=en"); !strings.Contains(page, "Completed on ") {
		t.Fatal("the completed assignment does not say so")
	}
	if _, cal := pertti.get("/omat-opinnot/tehtavat.ics"); strings.Contains(cal, "BEGIN:VEVENT") {
		t.Fatal("a completed assignment is still in the calendar")
	}
	// Teija (another unit) has nothing assigned, until one overdue by ten
	// days (made when its date was still ahead) and one due today.
	teija := newClient(t, r.URL)
	teija.login(emailOf(t, r, "Teija Terveys"), "oma pitkä salalause 2026")
	if _, page := teija.get("/omat-opinnot"); strings.Contains(page, "Sinulle määrätyt") {
		t.Fatal("Teija sees an assignment of another unit")
	}
	ctx := t.Context()
	past := assign.NewStore(r.db)
	past.SetClock(func() time.Time { return time.Now().AddDate(0, 0, -40) })
	tree, _ := org.NewDirectory(r.db).Units(ctx, "pirkanmaa")
	u, _ := r.Accounts().UserByEmail(ctx, emailOf(t, r, "Teija Terveys"))
	me := []assign.Member{{ID: u.ID, Unit: units["terv"]}}
	c := fixture(t).Current().Course
	if _, errs := past.Create(ctx, assign.Assignment{Org: "pirkanmaa", Kind: assign.KindPeople, People: []string{u.ID}, Due: time.Now().AddDate(0, 0, -10)}, tree, me, c); len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, errs := assign.NewStore(r.db).Create(ctx, assign.Assignment{Org: "pirkanmaa", Kind: assign.KindPeople, People: []string{u.ID}, Modules: []string{"toinen"}, Due: time.Now()}, tree, me, c); len(errs) > 0 {
		t.Fatal(errs)
	}
	_, page = teija.get("/omat-opinnot")
	overdue := strings.Index(page, "Myöhässä: määräpäivä oli "+time.Now().In(i18n.Helsinki).AddDate(0, 0, -10).Format("2.1.2006")+", 10 päivää sitten.")
	today := strings.Index(page, "Määräpäivä on tänään")
	if overdue < 0 || today < overdue {
		t.Fatalf("overdue at %d, today at %d:\n%s", overdue, today, page)
	}
}

// An administrator sets whether an organisation requires the reminders of
// its assignments; the privacy notice tells learners what that means.
func TestAssignmentRemindersRequiredSetting(t *testing.T) {
	r := start(t)
	admin := newClient(t, r.URL)
	ae := account.NewID()[:10] + "@example.fi"
	admin.register(ae, "Ylli")
	signInAdmin(t, admin, r.Accounts(), ae)
	dir := org.NewDirectory(r.db)
	for _, on := range []bool{true, false} {
		v := url.Values{"csrf": {admin.csrf("/yllapito/organisaatiot/pirkanmaa")}, "toiminto": {"tehtavamuistutukset"}}
		if on {
			v.Set("reminders_required", "on")
		}
		if resp, _ := admin.post("/yllapito/organisaatiot/pirkanmaa", v); resp.StatusCode != 303 {
			t.Fatalf("setting %v = %d", on, resp.StatusCode)
		}
		o, err := dir.Get(t.Context(), "pirkanmaa")
		if err != nil || o.AssignmentRemindersRequired != on {
			t.Fatalf("required = %v, want %v (%v)", o.AssignmentRemindersRequired, on, err)
		}
	}
	for lang, want := range map[string]string{"fi": "Määrätyt opinnot", "sv": "Tilldelade studier", "en": "Assigned studies"} {
		if _, page := admin.get("/tietosuoja?lang=" + lang); !strings.Contains(page, `<h3 id="maaratyt">`+want+`</h3>`) {
			t.Errorf("the privacy notice (%s) does not tell of assigned studies", lang)
		}
	}
}

// A large assignment is listed 200 people a page with links between the
// pages; the filters stay in them, and the CSV has everyone.
func TestAssignmentPagesOfPeople(t *testing.T) {
	r := start(t)
	ctx := t.Context()
	dir := org.NewDirectory(r.db)
	unit, err := dir.AddUnit(ctx, "pirkanmaa", "", "Iso yksikkö "+account.NewID()[:6], "test")
	if err != nil {
		t.Fatal(err)
	}
	var docs []any
	var members []assign.Member
	for i := range 250 {
		id := "sivutus-" + account.NewID()[:8]
		docs = append(docs, bson.D{{Key: "_id", Value: id}, {Key: "email", Value: id + "@example.fi"}, {Key: "name", Value: fmt.Sprintf("Henkilö %03d", i)},
			{Key: "organisation", Value: "Pirkanmaan hyvinvointialue"}, {Key: "org_id", Value: "pirkanmaa"}, {Key: "unit_id", Value: unit.ID},
			{Key: "role", Value: account.RoleLearner}, {Key: "disabled", Value: false}, {Key: "created_at", Value: time.Now().UTC()}})
		members = append(members, assign.Member{ID: id, Unit: unit.ID})
	}
	if _, err := r.db.Collection("users").InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	tree, _ := dir.Units(ctx, "pirkanmaa")
	a, errs := assign.NewStore(r.db).Create(ctx, assign.Assignment{Org: "pirkanmaa", Kind: assign.KindUnit, Unit: unit.ID, Due: time.Now().AddDate(0, 1, 0), CreatedBy: "test"},
		tree, members, fixture(t).Current().Course)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	admin := newClient(t, r.URL)
	ae := account.NewID()[:10] + "@example.fi"
	admin.register(ae, "Ylli")
	signInAdmin(t, admin, r.Accounts(), ae)
	base := "/raportit/tehtavat/" + a.ID
	_, page := admin.get(base + "?tila=not_started")
	if !strings.Contains(page, "sivu 1 / 2") || strings.Count(page, "<td>Ei aloitettu</td>") != 200 || !strings.Contains(page, `tila=not_started&amp;organisaatio=pirkanmaa&amp;sivu=2" rel="next"`) ||
		!strings.Contains(page, `tila=not_started&amp;organisaatio=pirkanmaa&amp;muoto=csv"`) || !strings.Contains(page, `<a href="/raportit/tehtavat?organisaatio=pirkanmaa">`) {
		t.Fatalf("page 1 of 2:\n%s", page)
	}
	_, page = admin.get(base + "?organisaatio=pirkanmaa&tila=not_started&sivu=2")
	if strings.Count(page, "<td>Ei aloitettu</td>") != 50 || !strings.Contains(page, "Henkilö 249") || strings.Contains(page, "Henkilö 000<") || !strings.Contains(page, `rel="prev"`) {
		t.Fatalf("page 2 of 2:\n%s", page)
	}
	_, body := admin.get(base + "?muoto=csv")
	if n := strings.Count(body, "\n"); n != 251 {
		t.Fatalf("the CSV has %d lines, want 251", n)
	}
}
