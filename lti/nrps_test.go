package lti

import (
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/internal/ltitest"
)

// The course roster (Names and Role Provisioning), for a registration
// that allows it: the active members who never launched get accounts in
// the registration's organisation (once), over the service's pages; an
// inactive member does not; without the scope nothing is read; without
// the registration's permission no roster is kept.
func TestRosters(t *testing.T) {
	f := setup(t)
	withToolKeys(t, f)
	ctx := t.Context()
	f.pf.SetMembers(
		map[string]any{"user_id": learner.Sub, "status": "Active", "name": "Liisa Oppija", "roles": []string{ltitest.RoleLearner}},
		map[string]any{"user_id": "never-1", "status": "Active", "name": "Niilo Ei-käynyt", "email": "niilo@pirha.fi", "roles": []string{ltitest.RoleLearner}},
		map[string]any{"user_id": "gone-1", "status": "Inactive", "name": "Lähtenyt", "roles": []string{ltitest.RoleLearner}},
		map[string]any{"user_id": "never-2", "given_name": "Nea", "family_name": "Nimetön", "roles": []string{ltitest.RoleInstructor}},
	)
	// Not allowed: the launch keeps no roster.
	if _, err := f.launch(t, learner, toolURL+"/"); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.SyncRosters(ctx); n != 0 || err != nil {
		t.Fatalf("without permission: %d %v", n, err)
	}
	reg := *f.reg
	reg.Roster = true
	if _, errs := f.svc.ChangeRegistration(ctx, reg); len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, err := f.launch(t, learner, toolURL+"/"); err != nil {
		t.Fatal(err)
	}
	// Without the scope the service refuses.
	f.pf.Grant(ltitest.ScopeScore)
	if _, err := f.svc.SyncRosters(ctx); err == nil {
		t.Fatal("the roster was read without its scope")
	}
	f.pf.Grant(ltitest.ScopeScore, ltitest.ScopeNRPS)
	f.svc.mu.Lock()
	f.svc.tokens = map[string]cachedToken{} // the token without the scope is forgotten
	f.svc.mu.Unlock()
	// A roster whose service does not answer is reported, and the
	// others are read all the same.
	if err := f.svc.saveRoster(ctx, f.reg, "http://127.0.0.1:1/ei-vastaa"); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.SyncRosters(ctx); n != 2 || err == nil || !strings.Contains(err.Error(), "127.0.0.1:1/ei-vastaa") {
		t.Fatalf("roster = %d %v", n, err)
	}
	u, err := f.accounts.UserByIdentity(ctx, f.pf.URL, "never-1")
	if err != nil || u.Name != "Niilo Ei-käynyt" || u.Email != "niilo@pirha.fi" || u.OrgID != "pirkanmaa" {
		t.Fatalf("a member who never launched: %+v %v", u, err)
	}
	if u, err := f.accounts.UserByIdentity(ctx, f.pf.URL, "never-2"); err != nil || u.Name != "Nea Nimetön" || !IsPlaceholder(u.Email) {
		t.Fatalf("a member without an address: %+v %v", u, err)
	}
	if _, err := f.accounts.UserByIdentity(ctx, f.pf.URL, "gone-1"); err == nil {
		t.Fatal("an inactive member got an account")
	}
	if n, _ := f.svc.SyncRosters(ctx); n != 0 { // (the broken one fails again)
		t.Fatalf("a second read made %d more", n)
	}
}
