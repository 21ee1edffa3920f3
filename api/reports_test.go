package api_test

import (
	"encoding/csv"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/account"
)

func TestReportsScopedToTheReportersOrganisation(t *testing.T) {
	r := start(t)
	orgA, orgB := account.Organisations[0], account.Organisations[1]
	// Three learners of A (one passes the exam), two of B.
	for i, org := range []string{orgA, orgA, orgA, orgB, orgB} {
		b := newClient(t, r.URL)
		email := account.NewID()[:10] + "@example.fi"
		b.registerIn(email, "Oppija", org)
		if i == 0 {
			passExam(t, b)
		}
		if i == 3 {
			tok := b.csrf("/tili")
			b.putJSON("/api/v1/progress/ensimmainen/alku", tok, map[string]any{"event": "completed"})
		}
	}
	reporter := newClient(t, r.URL)
	email := account.NewID()[:10] + "@example.fi"
	reporter.registerIn(email, "Raili Raportoija", orgA)
	signInAs(t, reporter, r.Accounts(), email, account.RoleReporter)
	resp, page := reporter.get("/raportit")
	if resp.StatusCode != 200 || !strings.Contains(page, orgA) || !strings.Contains(page, `class="bar-chart"`) || !strings.Contains(page, `class="bar"`) {
		t.Fatalf("reports = %d", resp.StatusCode)
	}
	// The organisation in the address is ignored for a reporter.
	for _, p := range []string{"/raportit.csv?raportti=oppijat", "/raportit.csv?raportti=oppijat&organisaatio=" + strings.ReplaceAll(orgB, " ", "+")} {
		resp, body := reporter.get(p)
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if resp.StatusCode != 200 || err != nil || len(rows) != 2 || rows[1][0] != orgA || rows[1][1] != "3" {
			t.Fatalf("%s = %d %v", p, resp.StatusCode, rows)
		}
	}
	_, body := reporter.get("/raportit.csv?raportti=koe")
	if rows, _ := csv.NewReader(strings.NewReader(body)).ReadAll(); len(rows) != 2 || rows[1][0] != "1" || rows[1][2] != "1" {
		t.Fatalf("exam CSV = %v", rows)
	}
	_, body = reporter.get("/raportit.csv?raportti=moduulit")
	// A's learner who passed has completed the course (the exam asks
	// for it); B's progress must not show.
	if rows, _ := csv.NewReader(strings.NewReader(body)).ReadAll(); len(rows) < 2 || rows[1][2] != "1" {
		t.Fatalf("modules CSV (B's progress must not show) = %v", rows)
	}
	// An administrator sees every organisation, or chooses one.
	admin := newClient(t, r.URL)
	ae := account.NewID()[:10] + "@example.fi"
	admin.register(ae, "Ylli")
	signInAdmin(t, admin, r.Accounts(), ae)
	_, body = admin.get("/raportit.csv?raportti=oppijat&organisaatio=" + strings.ReplaceAll(orgB, " ", "+"))
	if rows, _ := csv.NewReader(strings.NewReader(body)).ReadAll(); len(rows) != 2 || rows[1][0] != orgB || rows[1][1] != "2" {
		t.Fatalf("admin, organisation B = %v", rows)
	}
	if resp, _ := admin.get("/raportit?organisaatio=Ei+ole"); resp.StatusCode != 400 {
		t.Fatalf("an unknown organisation = %d", resp.StatusCode)
	}
	if resp, _ := admin.get("/raportit?alkaen=eilen"); resp.StatusCode != 400 {
		t.Fatalf("a bad date = %d", resp.StatusCode)
	}
	// Dates as Finns write them, or in ISO 8601; shown in the page's language.
	if resp, page := admin.get("/raportit?alkaen=1.9.2026&asti=2026-12-31"); resp.StatusCode != 200 ||
		!strings.Contains(page, `value="1.9.2026"`) || !strings.Contains(page, `value="31.12.2026"`) {
		t.Fatalf("Finnish and ISO dates = %d", resp.StatusCode)
	}
	if resp, page := admin.get("/raportit?lang=sv&alkaen=1.9.2026"); resp.StatusCode != 200 || !strings.Contains(page, `value="2026-09-01"`) {
		t.Fatalf("a date on the Swedish page = %d", resp.StatusCode)
	}
	if resp, _ := admin.get("/raportit?alkaen=31.2.2026"); resp.StatusCode != 400 {
		t.Fatalf("a day that does not exist = %d", resp.StatusCode)
	}
	if resp, _ := admin.get("/raportit.csv?raportti=x"); resp.StatusCode != 404 {
		t.Fatalf("an unknown report = %d", resp.StatusCode)
	}
	// Learners and visitors find nothing.
	learner := newClient(t, r.URL)
	learner.register(account.NewID()[:10]+"@example.fi", "Lauri")
	for _, p := range []string{"/raportit", "/raportit.csv?raportti=oppijat"} {
		if resp, _ := learner.get(p); resp.StatusCode != 404 {
			t.Errorf("a learner on %s = %d", p, resp.StatusCode)
		}
		if resp, _ := newClient(t, r.URL).get(p); resp.StatusCode < 300 {
			t.Errorf("a visitor on %s = %d", p, resp.StatusCode)
		}
	}
}

func init() {
	// A reporter sees their own organisation, whatever the address asks.
	scoped := func(t *testing.T, r *running) {
		mine, theirs := account.Organisations[5], account.Organisations[6]
		other := newClient(t, r.URL)
		other.registerIn(account.NewID()[:10]+"@example.fi", "Muun organisaation oppija", theirs)
		rep := newClient(t, r.URL)
		email := account.NewID()[:10] + "@example.fi"
		rep.registerIn(email, "Raportoija", mine)
		signInAs(t, rep, r.Accounts(), email, account.RoleReporter)
		for _, p := range []string{"/raportit?organisaatio=" + url.QueryEscape(theirs), "/raportit.csv?raportti=oppijat&organisaatio=" + url.QueryEscape(theirs)} {
			// Both name the organisation they cover: the reporter's own.
			if resp, body := rep.get(p); resp.StatusCode != 200 || strings.Contains(body, theirs) || !strings.Contains(body, mine) {
				t.Errorf("a reporter of %s on %s = %d, shows the other organisation", mine, p, resp.StatusCode)
			}
		}
	}
	idorMatrix["GET /raportit"] = scoped
	idorMatrix["GET /raportit.csv"] = scoped
}

// "muu" is free text that unrelated organisations share: it cannot make
// a reporter. The role is refused (store, command and administration
// page), and a reporter of "muu" left from before sees no learners.
func TestReporterOfOtherOrganisationSeesNobody(t *testing.T) {
	r := start(t)
	learner := newClient(t, r.URL)
	resp, body := learner.post("/rekisteroidy", url.Values{"csrf": {learner.csrf("/rekisteroidy")}, "email": {"toinen@example.fi"}, "name": {"Toisen Yrityksen Oppija"},
		"password": {"oma pitkä salalause 2026"}, "organisation": {account.OtherOrganisation}, "organisation_other": {"Yritys B Oy"}})
	if resp.StatusCode != 200 {
		t.Fatalf("register = %d %s", resp.StatusCode, body)
	}
	rep := newClient(t, r.URL)
	resp, body = rep.post("/rekisteroidy", url.Values{"csrf": {rep.csrf("/rekisteroidy")}, "email": {"muu@example.fi"}, "name": {"Muun Raportoija"},
		"password": {"oma pitkä salalause 2026"}, "organisation": {account.OtherOrganisation}, "organisation_other": {"Yritys A Oy"}})
	if resp.StatusCode != 200 {
		t.Fatalf("register = %d %s", resp.StatusCode, body)
	}
	rep.login("muu@example.fi", "oma pitkä salalause 2026")
	if _, err := r.Accounts().SetRole(t.Context(), "muu@example.fi", account.RoleReporter); !errors.Is(err, account.ErrReporterOrganisation) {
		t.Fatalf("reporter role for a muu account: %v", err)
	}
	// Through the administration page.
	admin := newClient(t, r.URL)
	admin.register("yllapitaja@example.fi", "Ylli Ylläpitäjä")
	signInAdmin(t, admin, r.Accounts(), "yllapitaja@example.fi")
	u, _ := r.Accounts().UserByEmail(t.Context(), "muu@example.fi")
	if resp, _ := admin.post("/yllapito/kayttajat/"+u.ID+"/rooli", url.Values{"csrf": {admin.csrf("/yllapito/kayttajat")}, "role": {account.RoleReporter}}); resp.StatusCode != 409 {
		t.Fatalf("admin giving a muu account the reporter role = %d, want 409", resp.StatusCode)
	}
	// A reporter of "muu" from before this rule: set in the database.
	signInAs(t, rep, r.Accounts(), "muu@example.fi", account.RoleLearner)
	if _, err := r.db.Collection("users").UpdateByID(t.Context(), u.ID, bson.D{{Key: "$set", Value: bson.D{{Key: "role", Value: account.RoleReporter}}}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(account.SessionCacheTTL + 100*time.Millisecond)
	for _, p := range []string{"/raportit", "/raportit.csv?raportti=oppijat"} {
		resp, body := rep.get(p)
		if resp.StatusCode != 403 || strings.Contains(body, "Toisen Yrityksen Oppija") || strings.Contains(body, "Yritys B") {
			t.Errorf("a reporter of muu on %s = %d, or it showed another organisation's learner", p, resp.StatusCode)
		}
	}
}

// A report follows this instance's changes at once, though it rereads
// the stored summaries only once a minute: a learner who registers and
// spends time on a section after the reporter's first look shows in the
// next.
func TestReportsFollowChangesAtOnce(t *testing.T) {
	r := start(t)
	orgA := account.Organisations[4]
	reporter := newClient(t, r.URL)
	email := account.NewID()[:10] + "@example.fi"
	reporter.registerIn(email, "Raili Raportoija", orgA)
	signInAs(t, reporter, r.Accounts(), email, account.RoleReporter)
	figures := func(name string) []string {
		t.Helper()
		resp, body := reporter.get("/raportit.csv?raportti=" + name)
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if resp.StatusCode != 200 || err != nil || len(rows) < 2 {
			t.Fatalf("%s CSV = %d %v %v", name, resp.StatusCode, rows, err)
		}
		return rows[1]
	}
	if got := figures("oppijat"); got[1] != "0" {
		t.Fatalf("before: %v", got)
	}
	if got := figures("moduulit"); got[2] != "0" {
		t.Fatalf("modules before: %v", got)
	}
	b := newClient(t, r.URL)
	b.registerIn(account.NewID()[:10]+"@example.fi", "Oppija", orgA)
	tok := b.csrf("/tili")
	if resp, body := b.putJSON("/api/v1/progress/ensimmainen/alku", tok, map[string]any{"event": "heartbeat", "seconds": 20}); resp.StatusCode != 200 {
		t.Fatalf("progress = %d %s", resp.StatusCode, body)
	}
	if got := figures("oppijat"); got[1] != "1" {
		t.Fatalf("the new learner does not show at once: %v", got)
	}
	if got := figures("moduulit"); got[2] != "1" || got[3] != "0" {
		t.Fatalf("the learner's start does not show at once: %v", got)
	}
}
