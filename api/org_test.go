package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/org"
)

// GET /api/v1/organisations lists the seeded, active organisations with
// their units depth first, named in the reader's language, and no
// domains; an inactive one is left out.
func TestOrganisationsAPI(t *testing.T) {
	r := start(t)
	ctx := t.Context()
	dir := org.NewDirectory(r.db)
	sote, err := dir.AddUnit(ctx, "pirkanmaa", "", "Sosiaalipalvelut", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddUnit(ctx, "pirkanmaa", sote.ID, "Perhekeskus", "test"); err != nil {
		t.Fatal(err)
	}
	if err := dir.AddDomain(ctx, "pirkanmaa", "pirha.fi"); err != nil {
		t.Fatal(err)
	}
	if err := dir.Update(ctx, "kainuu", "Kainuun hyvinvointialue", "Kajanalands välfärdsområde", false); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, r.URL+"/api/v1/organisations", "Accept-Language", "sv")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var got struct {
		Organisations []struct {
			Code, Name string
			NameFI     string `json:"name_fi"`
			Units      []org.Entry
		}
		Other string
	}
	var raw map[string][]map[string]any
	json.Unmarshal([]byte(body), &raw)
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Organisations) != 22 || got.Other != "muu" {
		t.Fatalf("%d organisations, other %q", len(got.Organisations), got.Other)
	}
	for i, o := range got.Organisations {
		if _, has := raw["organisations"][i]["domains"]; has {
			t.Fatalf("the API shows domains: %v", raw["organisations"][i])
		}
		switch o.Code {
		case "kainuu":
			t.Fatal("an inactive organisation is listed")
		case "pirkanmaa":
			if o.NameFI != "Pirkanmaan hyvinvointialue" || len(o.Units) != 2 || o.Units[1].Name != "Perhekeskus" || o.Units[1].Depth != 1 ||
				len(o.Units[1].Path) != 2 || o.Units[0].ID != sote.ID {
				t.Fatalf("pirkanmaa: %+v", o)
			}
		case "hus":
			if o.Units == nil || len(o.Units) != 0 {
				t.Fatalf("hus units %v", o.Units)
			}
		}
	}
	for _, o := range got.Organisations {
		if o.Code == "hus" && o.Name != "HUS-sammanslutningen" {
			t.Fatalf("the Swedish name of hus: %q", o.Name)
		}
	}
}

// An administrator keeps the directory on its pages: the list with each
// organisation's learners, a new organisation (refused with messages
// first), its domains (one owner each), units added, renamed and moved
// with their history shown, units pasted as CSV; every change audited.
func TestAdminOrganisationPages(t *testing.T) {
	r := start(t)
	learner := newClient(t, r.URL)
	learner.registerIn(account.NewID()[:10]+"@example.fi", "Liisa Oppija", "pirkanmaa")
	admin := newClient(t, r.URL)
	ae := account.NewID()[:10] + "@example.fi"
	admin.register(ae, "Ylli")
	signInAdmin(t, admin, r.Accounts(), ae)
	token := admin.csrf("/yllapito/organisaatiot")

	resp, page := admin.get("/yllapito/organisaatiot")
	if resp.StatusCode != 200 || !strings.Contains(page, `<a href="/yllapito/organisaatiot/pirkanmaa">Pirkanmaan hyvinvointialue</a></th><td>pirkanmaa</td><td></td><td>käytössä</td><td>1</td>`) {
		t.Fatalf("organisations = %d\n%s", resp.StatusCode, page)
	}
	// A bad organisation is refused with the messages, the values kept.
	resp, page = admin.post("/yllapito/organisaatiot", url.Values{"csrf": {token}, "code": {"Iso Koodi"}, "name_fi": {"Esimerkki Oy"}, "domains": {"esimerkki.fi"}})
	if resp.StatusCode != 422 || !strings.Contains(page, `<a href="#code">Lyhenteessä on 2–32 merkkiä`) || !strings.Contains(page, `value="Esimerkki Oy"`) {
		t.Fatalf("a bad organisation = %d\n%s", resp.StatusCode, page)
	}
	resp, _ = admin.post("/yllapito/organisaatiot", url.Values{"csrf": {token}, "code": {"esimerkki"}, "name_fi": {"Esimerkki Oy"}, "name_sv": {"Exempel Ab"}, "domains": {"esimerkki.fi, ESIMERKKI.com"}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/yllapito/organisaatiot/esimerkki?ilmoitus=lisatty" {
		t.Fatalf("add = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, page = admin.get("/yllapito/organisaatiot/esimerkki?ilmoitus=lisatty"); resp.StatusCode != 200 || !strings.Contains(page, "Organisaatio on lisätty.") || !strings.Contains(page, "esimerkki.com") {
		t.Fatalf("the new organisation's page = %d\n%s", resp.StatusCode, page)
	}
	change := func(want int, values url.Values) string {
		t.Helper()
		values.Set("csrf", token)
		resp, page := admin.post("/yllapito/organisaatiot/esimerkki", values)
		if resp.StatusCode != want {
			t.Fatalf("%v = %d, want %d\n%s", values, resp.StatusCode, want, page)
		}
		return page
	}
	admin.post("/yllapito/organisaatiot/pirkanmaa", url.Values{"csrf": {token}, "toiminto": {"lisaa-verkkotunnus"}, "domain": {"pirha.fi"}})
	if page := change(422, url.Values{"toiminto": {"lisaa-verkkotunnus"}, "domain": {"pirha.fi"}}); !strings.Contains(page, "Verkkotunnus pirha.fi kuuluu toiselle organisaatiolle.") {
		t.Fatalf("another organisation's domain:\n%s", page)
	}
	change(303, url.Values{"toiminto": {"poista-verkkotunnus"}, "domain": {"esimerkki.com"}})
	change(303, url.Values{"toiminto": {"lisaa-yksikko"}, "unit_name": {"Hoitotyö"}})
	dir := org.NewDirectory(r.db)
	tree, _ := dir.Units(t.Context(), "esimerkki")
	hoito := tree.Units[0].ID
	change(303, url.Values{"toiminto": {"lisaa-yksikko"}, "unit_name": {"Osasto 1"}, "parent": {hoito}})
	if page := change(422, url.Values{"toiminto": {"lisaa-yksikko"}, "unit_name": {"Osasto 1"}, "parent": {hoito}}); !strings.Contains(page, "Samassa kohdassa on jo samanniminen yksikkö.") {
		t.Fatalf("a second sibling of one name:\n%s", page)
	}
	change(303, url.Values{"toiminto": {"tuo-yksikot"}, "csv": {"Hallinto;Talous\nHoitotyö;Osasto 2\n"}})
	tree, _ = dir.Units(t.Context(), "esimerkki")
	if len(tree.Units) != 5 {
		t.Fatalf("%d units after the import", len(tree.Units))
	}
	var osasto1 string
	for _, u := range tree.Units {
		if u.Name == "Osasto 1" {
			osasto1 = u.ID
		}
	}
	// Osasto 1 is renamed and moved to the top level; then Hoitotyö
	// cannot move under its own sub-unit.
	change(303, url.Values{"toiminto": {"muuta-yksikko"}, "unit": {osasto1}, "new_name": {"Osasto 1 (akuutti)"}, "new_parent": {""}})
	tree, _ = dir.Units(t.Context(), "esimerkki")
	if len(tree.Subtree(hoito)) != 2 {
		t.Fatalf("Hoitotyö's subtree after the move: %v", tree.Subtree(hoito))
	}
	if page := change(422, url.Values{"toiminto": {"muuta-yksikko"}, "unit": {hoito}, "new_name": {""}, "new_parent": {tree.Subtree(hoito)[1]}}); !strings.Contains(page, "Yksikköä ei voi siirtää itsensä") {
		t.Fatalf("a move under a sub-unit:\n%s", page)
	}
	// A unit of another organisation is not found here.
	other, _ := dir.AddUnit(t.Context(), "hus", "", "Vieras", "test")
	if page := change(422, url.Values{"toiminto": {"muuta-yksikko"}, "unit": {other.ID}, "new_name": {"Kaapattu"}, "new_parent": {"="}}); !strings.Contains(page, "Organisaatiossa ei ole tätä yksikköä.") {
		t.Fatalf("another organisation's unit:\n%s", page)
	}
	_, page = admin.get("/yllapito/organisaatiot/esimerkki")
	for _, want := range []string{"Osasto 1 (akuutti)", "Hoitotyö › Osasto 2", "Hallinto › Talous", "Yksiköiden muutoshistoria", "Osasto 1, paikka Hoitotyö"} {
		if !strings.Contains(page, want) {
			t.Errorf("the organisation page lacks %q", want)
		}
	}
	// Inactive: not offered at registration.
	change(303, url.Values{"toiminto": {"tiedot"}, "name_fi": {"Esimerkki Oyj"}, "name_sv": {"Exempel Abp"}})
	if o, _ := dir.Get(t.Context(), "esimerkki"); o.Active || o.NameFI != "Esimerkki Oyj" {
		t.Fatalf("after saving the details: %+v", o)
	}
	if _, page := newClient(t, r.URL).get("/rekisteroidy"); strings.Contains(page, "Esimerkki") || !strings.Contains(page, `<option value="pirkanmaa">Pirkanmaan hyvinvointialue</option>`) {
		t.Fatal("the registration form offers an inactive organisation, or not the active ones")
	}
	change(400, url.Values{"toiminto": {"jotain"}})
	if resp, _ := admin.get("/yllapito/organisaatiot/eiole"); resp.StatusCode != 404 {
		t.Fatalf("an unknown organisation = %d", resp.StatusCode)
	}
	if _, log := admin.get("/yllapito/loki"); !strings.Contains(log, "org.add") || !strings.Contains(log, "org.muuta-yksikko") || !strings.Contains(log, "org.tuo-yksikot") {
		t.Error("the audit log lacks the directory's changes")
	}
}

// A learner chooses an organisation and a unit at registration (by short
// code, or by the old name as older clients send) and changes them on
// /tili; a unit of another organisation is refused, and so is an
// organisation that is not in the directory.
func TestRegistrationAndAccountChooseUnit(t *testing.T) {
	r := start(t)
	ctx := t.Context()
	dir := org.NewDirectory(r.db)
	perhe, _ := dir.AddUnit(ctx, "keski-suomi", "", "Perhepalvelut", "test")
	neuvola, _ := dir.AddUnit(ctx, "keski-suomi", perhe.ID, "Neuvola", "test")
	vieras, _ := dir.AddUnit(ctx, "lappi", "", "Vieras yksikkö", "test")

	b := newClient(t, r.URL)
	_, page := b.get("/rekisteroidy")
	if !strings.Contains(page, `<optgroup label="Keski-Suomen hyvinvointialue" data-organisation="keski-suomi">`) || !strings.Contains(page, `<option value="keski-suomi/`+neuvola.ID+`">Perhepalvelut › Neuvola</option>`) {
		t.Fatalf("the registration form's units:\n%s", page)
	}
	reg := func(email, organisation, unit string) (*http.Response, string) {
		return b.post("/rekisteroidy", url.Values{"csrf": {b.csrf("/rekisteroidy")}, "email": {email}, "name": {"Niina Neuvola"},
			"password": {"oma pitkä salalause 2026"}, "organisation": {organisation}, "unit": {unit}})
	}
	if resp, page := reg("a@example.fi", "keski-suomi", "lappi/"+vieras.ID); resp.StatusCode != 422 || !strings.Contains(page, "Organisaatiossa ei ole tätä yksikköä.") {
		t.Fatalf("a unit of another organisation = %d\n%s", resp.StatusCode, page)
	}
	if resp, page := reg("a@example.fi", "keski-suomi", "keski-suomi/"+vieras.ID); resp.StatusCode != 422 || !strings.Contains(page, `selected>Keski-Suomen`) {
		t.Fatalf("another organisation's unit under this code = %d\n%s", resp.StatusCode, page)
	}
	if resp, _ := reg("a@example.fi", "ei-ole", ""); resp.StatusCode != 422 {
		t.Fatalf("an organisation not in the directory = %d", resp.StatusCode)
	}
	if resp, _ := reg("a@example.fi", "keski-suomi", "keski-suomi/"+neuvola.ID); resp.StatusCode != 200 {
		t.Fatalf("registration = %d", resp.StatusCode)
	}
	u, _ := r.Accounts().UserByEmail(ctx, "a@example.fi")
	if u.OrgID != "keski-suomi" || u.UnitID != neuvola.ID || u.Organisation != "Keski-Suomen hyvinvointialue" {
		t.Fatalf("registered %+v", u)
	}
	// The old name still registers, linked to the record.
	if resp, _ := reg("b@example.fi", "Lapin hyvinvointialue", ""); resp.StatusCode != 200 {
		t.Fatalf("registration by the old name = %d", resp.StatusCode)
	}
	if u, _ := r.Accounts().UserByEmail(ctx, "b@example.fi"); u.OrgID != "lappi" || u.UnitID != "" {
		t.Fatalf("registered by the old name: %+v", u)
	}

	// On /tili: the current choice is selected; another organisation's
	// unit is refused; a move to Lappi's unit and to "muu" work.
	if resp := b.login("a@example.fi", "oma pitkä salalause 2026"); resp.StatusCode != 303 {
		t.Fatalf("sign-in = %d", resp.StatusCode)
	}
	_, page = b.get("/tili")
	if !strings.Contains(page, `<option value="keski-suomi/`+neuvola.ID+`" selected>`) {
		t.Fatalf("/tili does not show the unit:\n%s", page)
	}
	token := b.csrf("/tili")
	if resp, page := b.post("/tili/yksikko", url.Values{"csrf": {token}, "organisation": {"keski-suomi"}, "unit": {"lappi/" + vieras.ID}}); resp.StatusCode != 422 || !strings.Contains(page, "Organisaatiossa ei ole tätä yksikköä.") {
		t.Fatalf("another organisation's unit on /tili = %d", resp.StatusCode)
	}
	if resp, _ := b.post("/tili/yksikko", url.Values{"csrf": {token}, "organisation": {"lappi"}, "unit": {"lappi/" + vieras.ID}}); resp.StatusCode != 303 {
		t.Fatalf("a move = %d", resp.StatusCode)
	}
	if u, _ := r.Accounts().UserByEmail(ctx, "a@example.fi"); u.OrgID != "lappi" || u.UnitID != vieras.ID || u.Organisation != "Lapin hyvinvointialue" {
		t.Fatalf("after the move %+v", u)
	}
	if resp, _ := b.post("/tili/yksikko", url.Values{"csrf": {token}, "organisation": {"muu"}, "organisation_other": {"Yksityinen Oy"}, "unit": {"lappi/" + vieras.ID}}); resp.StatusCode != 303 {
		t.Fatalf("a move to muu = %d", resp.StatusCode)
	}
	if u, _ := r.Accounts().UserByEmail(ctx, "a@example.fi"); u.OrgID != "" || u.UnitID != "" || u.OrganisationOther != "Yksityinen Oy" {
		t.Fatalf("after the move to muu %+v", u)
	}
	if resp, _ := b.post("/tili/yksikko", url.Values{"csrf": {token}, "organisation": {"muu"}}); resp.StatusCode != 422 {
		t.Fatalf("muu without a name = %d", resp.StatusCode)
	}
}

func init() {
	form := "application/x-www-form-urlencoded"
	stateChanging["POST /yllapito/organisaatiot"] = adminRefused("/yllapito/organisaatiot", "code=x&name_fi=Xyz")
	stateChanging["POST /yllapito/organisaatiot/:org"] = adminRefused("/yllapito/organisaatiot/pirkanmaa", "toiminto=lisaa-verkkotunnus&domain=evil.fi")
	stateChanging["POST /tili/yksikko"] = func(t *testing.T, r *running) {
		b := newClient(t, r.URL)
		b.register(account.NewID()[:10]+"@example.fi", "Csrf Testaaja")
		if resp, _ := b.do("POST", "/tili/yksikko", strings.NewReader("organisation=hus"), "Content-Type", form); resp.StatusCode != 403 {
			t.Errorf("POST /tili/yksikko without a CSRF token = %d, want 403", resp.StatusCode)
		}
	}
	// The directory's pages are administrators' only: a learner finds
	// nothing there, reading or writing.
	for _, method := range []string{"GET", "HEAD", "POST"} {
		idorMatrix[method+" /yllapito/organisaatiot/:org"] = func(t *testing.T, r *running) {
			b := newClient(t, r.URL)
			b.register(account.NewID()[:10]+"@example.fi", "Aapo Ei-ylläpitäjä")
			var resp *http.Response
			if method != "POST" {
				resp, _ = b.do(method, "/yllapito/organisaatiot/pirkanmaa", nil)
			} else {
				resp, _ = b.post("/yllapito/organisaatiot/pirkanmaa", url.Values{"csrf": {b.csrf("/tili")}, "toiminto": {"lisaa-verkkotunnus"}, "domain": {"evil.fi"}})
			}
			if resp.StatusCode != 404 {
				t.Errorf("a learner on %s /yllapito/organisaatiot/pirkanmaa = %d, want 404", method, resp.StatusCode)
			}
			if o, _ := org.NewDirectory(r.db).Get(t.Context(), "pirkanmaa"); len(o.Domains) != 0 {
				t.Errorf("a learner added a domain: %v", o.Domains)
			}
		}
	}
}
