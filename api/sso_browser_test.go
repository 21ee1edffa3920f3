package api_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tyokyky/tyokyky/org"
)

// The employer sign-in in chromium, with the keyboard: on /kirjaudu the
// work address and Enter; the provider's sign-in page; back on
// /omat-opinnot signed in, the account's unit taken from the claim.
func TestEmployerSignInInTheBrowser(t *testing.T) {
	r, m, _ := startSSO(t, true)
	m.QueueUser(&oidcPerson{sub: "selma", claims: map[string]any{"email": "selma.selain@pirha.fi", "email_verified": true,
		"name": "Selma Selain", "department": "Perhekeskus"}})
	ctx := browser(t)
	defer artifact(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.URL+"/kirjaudu")); err != nil {
		t.Fatal(err)
	}
	if err := tabTo(ctx, "#sso-email", 30); err != nil {
		t.Fatal(err)
	}
	// Enter sends the form; the browser follows its redirect to the
	// provider only because the page's form-action names the provider.
	if err := chromedp.Do(ctx, chromedp.KeyEvent("selma.selain@pirha.fi"), chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("at %s", evalString(ctx, `location.href`))
		}
	}()
	waitFor(t, ctx, `location.pathname === "/oidc/authorize" && !!document.querySelector("#username")`, "the provider's sign-in page")
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("#username")), chromedp.KeyEvent("selma"), chromedp.KeyEvent("\t"),
		chromedp.KeyEvent("salasana"), chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `location.pathname === "/omat-opinnot" && !!document.querySelector('form[action="/kirjaudu-ulos"]')`, "my studies, signed in")
	if got := evalString(ctx, `location.origin`); got != r.URL {
		t.Fatalf("ended at %s", got)
	}
	u, err := r.Accounts().UserByEmail(t.Context(), "selma.selain@pirha.fi")
	if err != nil {
		t.Fatal(err)
	}
	tree, _ := org.NewDirectory(r.db).Units(t.Context(), "pirkanmaa")
	if p := strings.Join(tree.Path(u.UnitID), " / "); p != "Perhekeskus" || u.OrgID != "pirkanmaa" {
		t.Fatalf("the account's organisation %q and unit %q", u.OrgID, p)
	}
}
