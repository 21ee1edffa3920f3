package api_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/account"
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
