package api_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/internal/lrstest"
	"github.com/tyokyky/tyokyky/internal/ltitest"
	"github.com/tyokyky/tyokyky/xapi"
)

// waitStatements waits until the LRS holds n statements (or fails).
func waitStatements(t *testing.T, lrs *lrstest.Server, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := lrs.Statements()
		if len(st) >= n {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the LRS has %d statements, want %d (refused: %v)", len(st), n, lrs.Refused())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func verbCounts(stmts []map[string]any) map[string]int {
	out := map[string]int{}
	for _, st := range stmts {
		id := st["verb"].(map[string]any)["id"].(string)
		out[id[strings.LastIndex(id, "/")+1:]]++
	}
	return out
}

// Administrators configure learning record stores on /yllapito/xapi:
// refused input with the messages, the password never shown back (only
// "set") and kept when a change leaves it empty, every change audited.
func TestXAPIAdminPage(t *testing.T) {
	r := start(t)
	lrs := lrstest.Start(t)
	admin := newClient(t, r.URL)
	ae := account.NewID()[:10] + "@example.fi"
	admin.register(ae, "Ylli")
	signInAdmin(t, admin, r.Accounts(), ae)
	resp, page := admin.get("/yllapito/xapi")
	if resp.StatusCode != 200 || !strings.Contains(page, "Oppimistietovarastoja ei ole vielä lisätty.") {
		t.Fatalf("the page = %d\n%s", resp.StatusCode, page)
	}
	token := csrfField.FindStringSubmatch(page)[1]
	resp, page = admin.post("/yllapito/xapi", url.Values{"csrf": {token}, "name": {"Analytiikka"}, "endpoint": {"http://lrs.example.fi/xapi/"},
		"username": {"tyokyky"}, "password": {""}})
	if resp.StatusCode != 422 || !strings.Contains(page, `<a href="#endpoint">Anna https-osoite`) || !strings.Contains(page, `<a href="#password">Anna salasana`) ||
		!strings.Contains(page, `value="Analytiikka"`) {
		t.Fatalf("a bad store = %d\n%s", resp.StatusCode, page)
	}
	resp, _ = admin.post("/yllapito/xapi", url.Values{"csrf": {token}, "name": {"Analytiikka"}, "endpoint": {lrs.Endpoint},
		"username": {lrs.Username}, "password": {lrs.Password}, "actor": {"account"}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/yllapito/xapi?ilmoitus=lisatty" {
		t.Fatalf("add = %d", resp.StatusCode)
	}
	_, page = admin.get("/yllapito/xapi?ilmoitus=lisatty")
	if !strings.Contains(page, "Oppimistietovarasto on lisätty.") || !strings.Contains(page, "<code>"+lrs.Endpoint+"</code>") || !strings.Contains(page, "<td>asetettu</td>") ||
		strings.Contains(page, lrs.Password) || !strings.Contains(page, "0 odottaa, 0 hylätty") {
		t.Fatalf("the page after adding:\n%s", page)
	}
	lrss, _ := r.xapi.LRSs(t.Context())
	if len(lrss) != 1 {
		t.Fatalf("%d stores", len(lrss))
	}
	id := lrss[0].ID
	if resp, _ := admin.post("/yllapito/xapi/"+id, url.Values{"csrf": {token}, "name": {"Analytiikka"}, "endpoint": {lrs.Endpoint}, "username": {lrs.Username},
		"password": {""}, "actor": {"mbox"}}); resp.StatusCode != 303 {
		t.Fatalf("change = %d", resp.StatusCode)
	}
	got, _ := r.xapi.LRS(t.Context(), id)
	if got.Active || got.Actor != xapi.ActorMbox || len(got.Sealed) == 0 {
		t.Fatalf("after the change: %+v", got)
	}
	if resp, page := admin.post("/yllapito/xapi/"+id, url.Values{"csrf": {token}, "name": {"A"}, "endpoint": {lrs.Endpoint}, "username": {"a:b"}}); resp.StatusCode != 422 ||
		!strings.Contains(page, "Nimessä on 2–100 merkkiä.") || !strings.Contains(page, "kaksoispistettä") {
		t.Fatalf("a bad change = %d", resp.StatusCode)
	}
	if resp, _ := admin.post("/yllapito/xapi/eiole", url.Values{"csrf": {token}, "name": {"Analytiikka"}}); resp.StatusCode != 404 {
		t.Fatalf("an unknown store = %d", resp.StatusCode)
	}
	_, logPage := admin.get("/yllapito/loki")
	for _, want := range []string{"xapi.add", "xapi.change", "Analytiikka user=" + lrs.Username + " actor=mbox active=false password_changed=false"} {
		if !strings.Contains(logPage, want) {
			t.Errorf("the audit log lacks %q", want)
		}
	}
}

// End to end: an LRS configured on /yllapito/xapi; a learner marks a
// section read (the module with it completes), passes the exam and gets
// the certificate: the LRS holds the statements, each valid and each
// once; a 500 and a 429 are tried again; deleting the account voids them
// all and leaves nothing of the person.
func TestXAPIStatementsEndToEnd(t *testing.T) {
	r := start(t)
	lrs := lrstest.Start(t)
	admin := newClient(t, r.URL)
	ae := account.NewID()[:10] + "@example.fi"
	admin.register(ae, "Ylli")
	signInAdmin(t, admin, r.Accounts(), ae)
	if resp, _ := admin.post("/yllapito/xapi", url.Values{"csrf": {admin.csrf("/yllapito/xapi")}, "name": {"Analytiikka"}, "endpoint": {lrs.Endpoint},
		"username": {lrs.Username}, "password": {lrs.Password}}); resp.StatusCode != 303 {
		t.Fatalf("add = %d", resp.StatusCode)
	}
	b := newClient(t, r.URL)
	b.register("xapi@example.fi", "Xena Xapi")
	u, _ := r.Accounts().UserByEmail(t.Context(), "xapi@example.fi")
	// The first answer a 500, the next a 429: both tried again.
	lrs.Fail(1, 500, "")
	lrs.Fail(1, 429, "1")
	token := b.csrf("/osiot/toinen/jatko")
	if resp, _ := b.post("/osiot/toinen/jatko/luettu", url.Values{"csrf": {token}}); resp.StatusCode >= 400 {
		t.Fatalf("mark read = %d", resp.StatusCode)
	}
	// The test server's back-off is 100 ms; the 429 asks for a second.
	st := waitStatements(t, lrs, 2)
	if c := verbCounts(st); c["experienced"] != 1 || c["completed"] != 1 || lrs.Requests() < 3 {
		t.Fatalf("after the section: %v in %d requests", c, lrs.Requests())
	}
	// A task answered completes its section.
	if resp, _ := b.post("/tehtavat/ensimmainen.tehtava.tehtava-pohdi-omaa-tyotasi/vastaus", url.Values{"csrf": {token}, "text": {"Vastaukseni."}}); resp.StatusCode >= 400 {
		t.Fatalf("answer = %d", resp.StatusCode)
	}
	st = waitStatements(t, lrs, 3)
	if c := verbCounts(st); c["experienced"] != 2 {
		t.Fatalf("after the task: %v", c)
	}
	passExam(t, b) // the rest of the course (by the store), the exam over HTTP, the certificate
	sections := 0
	for _, m := range r.Course().Modules {
		sections += len(m.Sections)
	}
	want := sections + len(r.Course().Modules) + 2 + 1 // experienced, completed, answered + passed, earned
	st = waitStatements(t, lrs, want)
	c := verbCounts(st)
	if len(st) != want || c["answered"] != 1 || c["passed"] != 1 || c["earned"] != 1 || c["experienced"] != sections || c["completed"] != len(r.Course().Modules) {
		t.Fatalf("the LRS has %v", c)
	}
	for _, s := range st {
		if err := lrstest.Validate(s); err != nil {
			t.Fatal(err)
		}
		if acc := s["actor"].(map[string]any)["account"].(map[string]any); acc["name"] != u.ID || acc["homePage"] != "http://localhost/" {
			t.Fatalf("actor %v", acc)
		}
		if strings.Contains(mustJSON(s), "xapi@example.fi") {
			t.Fatal("the e-mail address went to an LRS that names learners by account")
		}
	}
	if len(lrs.Refused()) > 0 {
		t.Fatalf("refused: %v", lrs.Refused())
	}
	// Deleting the account voids every statement.
	token = b.csrf("/tili")
	if resp, _ := b.post("/tili/poista", url.Values{"csrf": {token}, "password": {"oma pitkä salalause 2026"}}); resp.StatusCode != 303 {
		t.Fatalf("delete = %d", resp.StatusCode)
	}
	all := waitStatements(t, lrs, 2*want)
	for _, s := range st {
		if lrs.VoidedBy(s["id"].(string)) == "" {
			t.Fatalf("%v not voided", s["verb"])
		}
	}
	if verbCounts(all)["voided"] != want {
		t.Fatalf("%v", verbCounts(all))
	}
	scanForPerson(t, r.db, []string{"xapi@example.fi", "Xena Xapi", u.ID})
}

// A launch from a learning platform is a launched statement.
func TestXAPILaunched(t *testing.T) {
	r, pf, _ := startLTI(t)
	lrs := lrstest.Start(t)
	if _, errs := r.xapi.AddLRS(t.Context(), xapi.LRS{Name: "Analytiikka", Endpoint: lrs.Endpoint, Username: lrs.Username}, lrs.Password); len(errs) > 0 {
		t.Fatal(errs)
	}
	person := &ltitest.Person{Sub: "x-1", Name: "Xavier Launch", Email: "xavier@pirha.fi", Roles: []string{ltitest.RoleLearner}, ResourceLink: "rl-x"}
	b := newClient(t, r.URL)
	pf.Queue("x-mod", person)
	resp := ltiLogin(t, b, pf, "x-mod", r.URL+"/osiot/ensimmainen", false)
	_, form := platformAnswers(t, resp.Header.Get("Location"))
	if resp, _ := b.post("/lti/launch", form); resp.StatusCode != 303 {
		t.Fatalf("launch = %d", resp.StatusCode)
	}
	st := waitStatements(t, lrs, 1)
	if err := lrstest.Validate(st[0]); err != nil {
		t.Fatal(err)
	}
	obj := st[0]["object"].(map[string]any)
	if verbCounts(st)["launched"] != 1 || obj["id"] != "http://localhost/osiot/ensimmainen" || obj["definition"].(map[string]any)["type"] != xapi.TypeModule ||
		st[0]["actor"].(map[string]any)["account"].(map[string]any)["name"] != mustUser(t, r, pf.URL, "x-1") {
		t.Fatalf("%v", st[0])
	}
}

func init() {
	stateChanging["POST /yllapito/xapi"] = adminRefused("/yllapito/xapi", "name=x&endpoint=https%3A%2F%2Flrs.example")
	stateChanging["POST /yllapito/xapi/:lrs"] = adminRefused("/yllapito/xapi/x", "name=x")
	// The stores are administrators' only: a learner finds nothing.
	idorMatrix["POST /yllapito/xapi/:lrs"] = func(t *testing.T, r *running) {
		ctx := t.Context()
		l, errs := r.xapi.AddLRS(ctx, xapi.LRS{Name: "Analytiikka", Endpoint: "https://lrs.example.fi/xapi/", Username: "u"}, "p")
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		// A learner made by the store: the matrix's registrations over
		// HTTP are near the sign-up rate limit of one address.
		email := account.NewID()[:10] + "@example.fi"
		if _, errs := r.Accounts().Register(ctx, account.Registration{Email: email, Name: "Aapo Ei-ylläpitäjä", Password: "oma pitkä salalause 2026",
			Organisation: account.OtherOrganisation, OrganisationOther: "Testi"}); len(errs) > 0 {
			t.Fatal(errs)
		}
		b := newClient(t, r.URL)
		b.login(email, "oma pitkä salalause 2026")
		if resp, _ := b.post("/yllapito/xapi/"+l.ID, url.Values{"csrf": {b.csrf("/tili")}, "name": {"Evil"}, "endpoint": {"https://evil.example/"}, "username": {"u"}, "active": {"on"}}); resp.StatusCode != 404 {
			t.Errorf("a learner on POST /yllapito/xapi/{lrs} = %d, want 404", resp.StatusCode)
		}
		if got, _ := r.xapi.LRS(ctx, l.ID); got.Name != "Analytiikka" || got.Endpoint != "https://lrs.example.fi/xapi/" {
			t.Errorf("a learner changed the store: %+v", got)
		}
	}
}
