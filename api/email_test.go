package api_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/internal/smtptest"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/media"
)

func init() {
	form := "application/x-www-form-urlencoded"
	refused := func(path string) func(*testing.T, *running) {
		return func(t *testing.T, r *running) {
			b := newClient(t, r.URL)
			b.register(account.NewID()[:10]+"@example.fi", "Csrf Testaaja")
			if resp, _ := b.do("POST", path, strings.NewReader("email=a%40example.fi&x=1"), "Content-Type", form); resp.StatusCode != 403 {
				t.Errorf("POST %s without a CSRF token = %d, want 403", path, resp.StatusCode)
			}
		}
	}
	for _, p := range []string{"/salasana/unohtui", "/tili/sahkoposti", "/tili/sahkoposti/vahvista", "/tili/viestit"} {
		stateChanging["POST "+p] = refused(p)
	}
	// One-click unsubscribing is authorised by its link's token, not by a
	// session (RFC 8058: the mail program posts without cookies): with a
	// session cookie but no valid token it changes nothing.
	stateChanging["POST /viestit/peru"] = func(t *testing.T, r *running) {
		b := newClient(t, r.URL)
		email := account.NewID()[:10] + "@example.fi"
		b.register(email, "Muistutusten Tilaaja")
		b.post("/tili/viestit", url.Values{"csrf": {b.csrf("/tili")}, "reminders": {"1"}, "mail_lang": {"fi"}})
		if resp, _ := b.do("POST", "/viestit/peru", strings.NewReader("List-Unsubscribe=One-Click"), "Content-Type", form); resp.StatusCode != 400 {
			t.Errorf("unsubscribing without a token = %d, want 400", resp.StatusCode)
		}
		if u, _ := r.Accounts().UserByEmail(t.Context(), email); !u.Reminders {
			t.Error("a request without a token turned the reminders off")
		}
	}
	stateChanging["POST /yllapito/posti/testi"] = adminRefused("/yllapito/posti/testi", "to=a%40example.fi")
	stateChanging["POST /yllapito/posti/:message/uudelleen"] = adminRefused("/yllapito/posti/x/uudelleen", "x=1")
	learnerGets404 := func(method, path string) func(*testing.T, *running) {
		return func(t *testing.T, r *running) {
			a := newClient(t, r.URL)
			a.register(account.NewID()[:10]+"@example.fi", "Uteliaan Oppija")
			id, err := r.Outbox().Enqueue(t.Context(), mail.Request{To: "toinen@example.fi", Kind: "test", Lang: "fi", Data: map[string]string{"site_url": "http://localhost"}})
			if err != nil {
				t.Fatal(err)
			}
			p := strings.Replace(path, ":message", id, 1)
			var resp *http.Response
			if method == "GET" {
				resp, _ = a.get(p)
			} else {
				resp, _ = a.post(p, url.Values{"csrf": {a.csrf("/tili")}})
			}
			if resp.StatusCode != 404 {
				t.Errorf("a learner on %s %s = %d, want 404", method, p, resp.StatusCode)
			}
		}
	}
	for _, route := range []string{"GET /yllapito/posti/:message", "HEAD /yllapito/posti/:message", "GET /yllapito/posti/:message/html", "HEAD /yllapito/posti/:message/html"} {
		method, path, _ := strings.Cut(route, " ")
		if method == "HEAD" {
			method = "GET"
		}
		idorMatrix[route] = learnerGets404(method, path)
	}
	idorMatrix["POST /yllapito/posti/:message/uudelleen"] = learnerGets404("POST", "/yllapito/posti/:message/uudelleen")
}

// outboxFor lists the outbox messages to an address, oldest first.
func outboxFor(t *testing.T, r *running, to string) []mail.Message {
	t.Helper()
	all, err := r.Outbox().List(t.Context(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []mail.Message
	for _, m := range all {
		if m.To == to {
			full, err := r.Outbox().Message(t.Context(), m.ID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, *full)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

var linkIn = regexp.MustCompile(`https?://[^\s"<>]+`)

// linkTo finds the link to path in a message's text.
func linkTo(t *testing.T, text, path string) string {
	t.Helper()
	for _, l := range linkIn.FindAllString(text, -1) {
		if u, err := url.Parse(l); err == nil && u.Path == path {
			return u.RequestURI()
		}
	}
	t.Fatalf("no link to %s in:\n%s", path, text)
	return ""
}

func kinds(msgs []mail.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Kind)
	}
	return out
}

// The registration form and API answer a new and a taken address alike;
// the owner of the taken address is told by e-mail, the new account gets
// its verification link.
func TestRegistrationRevealsNoAccounts(t *testing.T) {
	r := start(t)
	owner := newClient(t, r.URL)
	owner.register("omistaja@example.fi", "Olli Omistaja")

	answer := func(email string) (int, string) {
		b := newClient(t, r.URL)
		resp, body := b.post("/rekisteroidy", url.Values{"csrf": {b.csrf("/rekisteroidy")}, "email": {email}, "name": {"Joku Yrittäjä"},
			"password": {"aivan toinen salalause"}, "organisation": {account.Organisations[2]}})
		body = strings.ReplaceAll(body, url.QueryEscape(email), "ADDRESS")
		body = strings.ReplaceAll(body, email, "ADDRESS")
		return resp.StatusCode, csrfField.ReplaceAllString(body, "")
	}
	newStatus, newBody := answer("uusi@example.fi")
	takenStatus, takenBody := answer("omistaja@example.fi")
	if newStatus != 200 || takenStatus != newStatus || takenBody != newBody {
		t.Fatalf("new address: %d, taken: %d; bodies equal: %v", newStatus, takenStatus, takenBody == newBody)
	}
	if got := kinds(outboxFor(t, r, "uusi@example.fi")); !slices.Equal(got, []string{"verify_email"}) {
		t.Errorf("the new account got %v", got)
	}
	if got := kinds(outboxFor(t, r, "omistaja@example.fi")); !slices.Equal(got, []string{"verify_email", "register_exists"}) {
		t.Errorf("the owner got %v", got)
	}
	// The owner's password was not touched.
	if resp := newClient(t, r.URL).login("omistaja@example.fi", "oma pitkä salalause 2026"); resp.StatusCode != 303 {
		t.Fatal("the owner can no longer sign in")
	}
}

// The forgotten-password form answers a known and an unknown address
// with the same status and body; the times are logged (measured, not
// asserted: see docs/benchmarks.md).
func TestForgotPasswordRevealsNoAccounts(t *testing.T) {
	r := start(t)
	newClient(t, r.URL).register("tunnettu@example.fi", "Tuula Tunnettu")
	b := newClient(t, r.URL)
	token := b.csrf("/salasana/unohtui")
	ask := func(email string) (int, string, time.Duration) {
		start := time.Now()
		resp, body := b.post("/salasana/unohtui", url.Values{"csrf": {token}, "email": {email}})
		return resp.StatusCode, body, time.Since(start)
	}
	var known, unknown []time.Duration
	for i := range 4 {
		ks, kb, kd := ask("tunnettu@example.fi")
		us, ub, ud := ask("tuntematon" + string(rune('a'+i)) + "@example.fi")
		if ks != 200 || us != ks || ub != kb {
			t.Fatalf("known: %d, unknown: %d; bodies equal: %v\n%s", ks, us, ub == kb, kb)
		}
		known, unknown = append(known, kd), append(unknown, ud)
	}
	t.Logf("forgotten password: known address %v, unknown %v", known, unknown)
	if got := kinds(outboxFor(t, r, "tunnettu@example.fi")); len(got) != 5 || got[1] != "password_reset" {
		t.Errorf("the known address got %v", got)
	}
	// Per address: the sixth request within the hour waits.
	ask("tunnettu@example.fi")
	if resp, _ := b.post("/salasana/unohtui", url.Values{"csrf": {token}, "email": {"tunnettu@example.fi"}}); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("sixth request = %d", resp.StatusCode)
	}
	if resp, body := b.post("/salasana/unohtui", url.Values{"csrf": {token}, "email": {"ei osoite"}}); resp.StatusCode != 422 || !strings.Contains(body, "sähköpostiosoite") {
		t.Fatalf("a malformed address = %d", resp.StatusCode)
	}
}

// smtpServer runs the platform with a real SMTP server behind its outbox
// and a sender, as production does.
func smtpServer(t *testing.T) (*running, *smtptest.Server) {
	t.Helper()
	srv := smtptest.Start(t, smtptest.Options{Username: "kurssi", Password: "salasana"})
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := env.DB.Named("mail_" + hex.EncodeToString(b))
	if err := mail.EnsureIndexes(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	outbox := mail.NewOutbox(db, api.MailRenderer(), "example.fi", false)
	relay, err := mail.ParseSMTP(srv.URL, "Kurssi <kurssi@example.fi>")
	if err != nil {
		t.Fatal(err)
	}
	relay.TLSConfig = srv.ClientTLS
	sender := mail.NewSender(outbox, relay, nil)
	sender.Poll = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	go sender.Run(ctx)
	t.Cleanup(cancel)
	r := startOpts(t, fixture(t), func(o *api.Options, _ *media.Options) { o.Mail = outbox })
	return r, srv
}

// Forgotten password end to end: the link arrives at the SMTP server, it
// sets a new password once, every old session ends, and the owner is
// told of the change.
func TestPasswordResetByEmail(t *testing.T) {
	r, srv := smtpServer(t)
	old := newClient(t, r.URL)
	old.register("unohtaja@example.fi", "Unto Unohtaja")
	if _, ok := srv.WaitTo("unohtaja@example.fi", 10*time.Second); !ok {
		t.Fatal("no verification message")
	}
	b := newClient(t, r.URL)
	if resp, _ := b.post("/salasana/unohtui", url.Values{"csrf": {b.csrf("/salasana/unohtui")}, "email": {"Unohtaja@Example.fi "}}); resp.StatusCode != 200 {
		t.Fatalf("request = %d", resp.StatusCode)
	}
	var msg smtptest.Received
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(msg.Text, "/salasana/uusi") {
		msg, _ = srv.WaitTo("unohtaja@example.fi", time.Second)
	}
	if !msg.TLS || msg.HTML == "" || msg.Header.Get("List-Unsubscribe") != "" {
		t.Fatalf("reset message: TLS %v, HTML %d bytes, headers %v", msg.TLS, len(msg.HTML), msg.Header)
	}
	link := linkTo(t, msg.Text, "/salasana/uusi")
	if resp, page := b.get(link); resp.StatusCode != 200 || !strings.Contains(page, `name="token"`) {
		t.Fatalf("reset page = %d", resp.StatusCode)
	}
	token, _ := url.ParseQuery(strings.SplitN(link, "?", 2)[1])
	resp, _ := b.post("/salasana/uusi", url.Values{"csrf": {b.csrf(link)}, "token": {token.Get("token")}, "password": {"uusi muistettava salalause"}})
	if resp.StatusCode != 303 {
		t.Fatalf("new password = %d", resp.StatusCode)
	}
	if resp, _ := old.get("/omat-opinnot"); resp.StatusCode == 200 {
		t.Fatal("the old session survived the reset")
	}
	if resp := newClient(t, r.URL).login("unohtaja@example.fi", "uusi muistettava salalause"); resp.StatusCode != 303 {
		t.Fatal("the new password does not work")
	}
	again, body := b.post("/salasana/uusi", url.Values{"csrf": {b.csrf(link)}, "token": {token.Get("token")}, "password": {"kolmas salalause tähän"}})
	if again.StatusCode != 422 || !strings.Contains(body, "linkki") {
		t.Fatalf("the link worked twice: %d", again.StatusCode)
	}
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m, _ := srv.WaitTo("unohtaja@example.fi", time.Second); strings.Contains(m.Subject, "alasana") && !strings.Contains(m.Text, "/salasana/uusi") {
			return // the "password changed" notice
		}
	}
	t.Fatal("no notice of the changed password")
}

// Verification, a change of address, and the reminders' one-click
// unsubscribe.
func TestVerifyChangeAddressAndUnsubscribe(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("vahvistaja@example.fi", "Veera Vahvistaja")
	_, page := b.get("/tili")
	if !strings.Contains(page, "ei ole vahvistettu") {
		t.Fatal("the account page does not say the address is unverified")
	}
	msgs := outboxFor(t, r, "vahvistaja@example.fi")
	link := linkTo(t, msgs[0].Text, "/sahkoposti/vahvista")
	if resp, body := newClient(t, r.URL).get(link); resp.StatusCode != 200 || !strings.Contains(body, "vahvistettu") {
		t.Fatalf("verify = %d", resp.StatusCode)
	}
	// Opened again (a mail filter got there first): still fine.
	if resp, _ := b.get(link); resp.StatusCode != 200 {
		t.Fatalf("verify again = %d", resp.StatusCode)
	}
	if u, _ := r.Accounts().UserByEmail(t.Context(), "vahvistaja@example.fi"); !u.EmailVerified {
		t.Fatal("not verified")
	}
	if resp, body := b.get("/sahkoposti/vahvista?token=vaarennetty-linkki-joka-ei-kelpaa"); resp.StatusCode != 400 || !strings.Contains(body, "Linkki ei toimi") {
		t.Fatalf("a forged link = %d", resp.StatusCode)
	}

	// A new address: needs the password, waits for its own verification,
	// and the old address is told once it changes.
	token := b.csrf("/tili")
	if resp, _ := b.post("/tili/sahkoposti", url.Values{"csrf": {token}, "email": {"uusi.osoite@example.fi"}, "password": {"väärä"}}); resp.StatusCode != 422 {
		t.Fatalf("a change with a wrong password = %d", resp.StatusCode)
	}
	if resp, _ := b.post("/tili/sahkoposti", url.Values{"csrf": {token}, "email": {"uusi.osoite@example.fi"}, "password": {"oma pitkä salalause 2026"}}); resp.StatusCode != 303 {
		t.Fatalf("change = %d", resp.StatusCode)
	}
	if u, _ := r.Accounts().UserByEmail(t.Context(), "vahvistaja@example.fi"); u == nil || u.EmailPending != "uusi.osoite@example.fi" {
		t.Fatal("the new address is not pending")
	}
	msgs = outboxFor(t, r, "uusi.osoite@example.fi")
	if len(msgs) != 1 || msgs[0].Kind != "verify_email" {
		t.Fatalf("the new address got %v", kinds(msgs))
	}
	if resp, _ := b.get(linkTo(t, msgs[0].Text, "/sahkoposti/vahvista")); resp.StatusCode != 200 {
		t.Fatalf("verifying the new address = %d", resp.StatusCode)
	}
	if u, err := r.Accounts().UserByEmail(t.Context(), "uusi.osoite@example.fi"); err != nil || !u.EmailVerified || u.EmailPending != "" {
		t.Fatalf("after the change: %+v %v", u, err)
	}
	if got := kinds(outboxFor(t, r, "vahvistaja@example.fi")); got[len(got)-1] != "email_changed" {
		t.Errorf("the old address got %v", got)
	}

	// Reminders: on in the preferences, off with one click without
	// signing in.
	if resp, _ := b.post("/tili/viestit", url.Values{"csrf": {token}, "reminders": {"1"}, "mail_lang": {"sv"}}); resp.StatusCode != 303 {
		t.Fatalf("preferences = %d", resp.StatusCode)
	}
	u, _ := r.Accounts().UserByEmail(t.Context(), "uusi.osoite@example.fi")
	if !u.Reminders || u.MailLang() != "sv" {
		t.Fatalf("preferences not saved: %+v", u)
	}
	unsub, err := r.Accounts().UnsubscribeToken(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	anon := newClient(t, r.URL)
	if resp, body := anon.get("/viestit/peru?token=" + unsub); resp.StatusCode != 200 || !strings.Contains(body, `method="post"`) {
		t.Fatalf("unsubscribe page = %d", resp.StatusCode)
	}
	if u, _ := r.Accounts().User(t.Context(), u.ID); !u.Reminders {
		t.Fatal("opening the unsubscribe page turned the reminders off")
	}
	if resp, _ := anon.do("POST", "/viestit/peru?token="+unsub, strings.NewReader("List-Unsubscribe=One-Click"), "Content-Type", "application/x-www-form-urlencoded"); resp.StatusCode != 200 {
		t.Fatalf("one-click unsubscribe = %d", resp.StatusCode)
	}
	if u, _ := r.Accounts().User(t.Context(), u.ID); u.Reminders {
		t.Fatal("the reminders are still on")
	}
}

// Administrators read the development mailbox (no SMTP configured): the
// list, a message's text, its HTML in a sandbox; they queue a test message
// and retry a failed one.
func TestAdminOutbox(t *testing.T) {
	r := start(t)
	a := newClient(t, r.URL)
	a.register("posti.admin@example.fi", "Postin Ylläpitäjä")
	signInAdmin(t, a, r.Accounts(), "posti.admin@example.fi")
	resp, page := a.get("/yllapito/posti")
	if resp.StatusCode != 200 || !strings.Contains(page, "TYOKYKY_SMTP_URL") || !strings.Contains(page, "posti.admin@example.fi") {
		t.Fatalf("outbox page = %d", resp.StatusCode)
	}
	token := csrfField.FindStringSubmatch(page)[1]
	if resp, _ := a.post("/yllapito/posti/testi", url.Values{"csrf": {token}, "to": {"testi.vastaanottaja@example.fi"}}); resp.StatusCode != 303 {
		t.Fatalf("test message = %d", resp.StatusCode)
	}
	if resp, _ := a.post("/yllapito/posti/testi", url.Values{"csrf": {token}, "to": {"ei osoite\r\nBcc: x@example.fi"}}); resp.StatusCode != 422 {
		t.Fatalf("a bad test address = %d", resp.StatusCode)
	}
	msgs := outboxFor(t, r, "testi.vastaanottaja@example.fi")
	if len(msgs) != 1 || msgs[0].State != mail.Held {
		t.Fatalf("test message: %+v", msgs)
	}
	_, page = a.get("/yllapito/posti?tila=held")
	if !strings.Contains(page, "/yllapito/posti/"+msgs[0].ID) {
		t.Fatal("the held message is not listed")
	}
	resp, page = a.get("/yllapito/posti/" + msgs[0].ID)
	if resp.StatusCode != 200 || !strings.Contains(page, "<pre class=\"mail-text\">") || !strings.Contains(page, msgs[0].MessageID[1:len(msgs[0].MessageID)-1]) {
		t.Fatalf("message page = %d", resp.StatusCode)
	}
	resp, html := a.get("/yllapito/posti/" + msgs[0].ID + "/html")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") || html != msgs[0].HTML {
		t.Fatalf("message HTML = %d %s", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	if resp, _ := a.get("/yllapito/posti?tila=kaikki"); resp.StatusCode != 400 {
		t.Fatalf("unknown state = %d", resp.StatusCode)
	}
	// A failed message goes back to the queue; a held one cannot.
	if resp, _ := a.post("/yllapito/posti/"+msgs[0].ID+"/uudelleen", url.Values{"csrf": {token}}); resp.StatusCode != 409 {
		t.Fatalf("retrying a held message = %d", resp.StatusCode)
	}
	if _, err := r.db.Collection("outbox").UpdateOne(t.Context(), bson.D{{Key: "_id", Value: msgs[0].ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: mail.Failed}}}}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := a.post("/yllapito/posti/"+msgs[0].ID+"/uudelleen", url.Values{"csrf": {token}}); resp.StatusCode != 303 {
		t.Fatalf("retry = %d", resp.StatusCode)
	}
	if m, _ := r.Outbox().Message(t.Context(), msgs[0].ID); m.State != mail.Pending {
		t.Fatalf("after retry: %s", m.State)
	}
}

// In a real browser: "Unohditko salasanasi?" on the sign-in page, the
// message arrives at the SMTP server, its link sets a new password, and
// the session the learner had elsewhere is gone.
func TestForgotPasswordInTheBrowser(t *testing.T) {
	r, srv := smtpServer(t)
	other := newClient(t, r.URL)
	other.register("selain.unohtaja@example.fi", "Seija Selain")
	if resp, _ := other.get("/omat-opinnot"); resp.StatusCode != 200 {
		t.Fatal("the other session is not signed in")
	}
	ctx := browser(t)
	defer artifact(t, ctx)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(r.URL+"/kirjaudu"),
		chromedp.Click(chromedp.CSS(`a[href="/salasana/unohtui"]`)),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "selain.unohtaja@example.fi"),
		chromedp.Submit(chromedp.CSS("#email")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.querySelector("h1") && document.querySelector("h1").textContent.includes("Tarkista sähköpostisi")`, "the answer to the request")
	var link string
	deadline := time.Now().Add(15 * time.Second)
	for link == "" && time.Now().Before(deadline) {
		for _, m := range srv.Messages() {
			if m.To[0] == "selain.unohtaja@example.fi" && strings.Contains(m.Text, "/salasana/uusi?token=") {
				link = linkTo(t, m.Text, "/salasana/uusi")
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if link == "" {
		t.Fatal("no reset message at the SMTP server")
	}
	const newPassword = "selaimessa vaihdettu salalause"
	if err := chromedp.Do(ctx,
		chromedp.Navigate(r.URL+link),
		chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#password"), newPassword),
		chromedp.Submit(chromedp.CSS("#password")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `location.pathname === "/kirjaudu"`, "the sign-in page after the new password")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#email"), "selain.unohtaja@example.fi"),
		chromedp.SendKeys(chromedp.CSS("#password"), newPassword),
		chromedp.Submit(chromedp.CSS("#password")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `location.pathname === "/omat-opinnot"`, "the dashboard with the new password")
	if resp, _ := other.get("/omat-opinnot"); resp.StatusCode == 200 {
		t.Fatal("the old session survived the reset")
	}
}

// Notices: an answered feedback goes to the address its sender left, a
// role change and two-factor changes to the account, each in the
// recipient's chosen language.
func TestNoticesAreQueued(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("palautteen.antaja@example.fi", "Paula Palaute")
	tok := b.csrf("/tili")
	b.post("/tili/viestit", url.Values{"csrf": {tok}, "mail_lang": {"en"}})
	if resp, body := b.post("/palaute", url.Values{"csrf": {b.csrf("/palaute")}, "kind": {"content"}, "message": {"Moduulin 2 taulukossa on virhe."}, "contact": {"palautteen.antaja@example.fi"}}); resp.StatusCode >= 400 {
		t.Fatalf("feedback = %d %.600s", resp.StatusCode, body)
	}
	admin := newClient(t, r.URL)
	admin.register("vastaaja@example.fi", "Vastaava Ylläpitäjä")
	signInAdmin(t, admin, r.Accounts(), "vastaaja@example.fi")
	_, inbox := admin.get("/yllapito/palaute")
	id := regexp.MustCompile(`action="/yllapito/palaute/([0-9a-f-]+)"`).FindStringSubmatch(inbox)
	if id == nil {
		t.Fatalf("no feedback in the inbox: %s", inbox)
	}
	token := csrfField.FindStringSubmatch(inbox)[1]
	answer := "Kiitos, korjasimme taulukon.\nTerveisin ylläpito"
	for range 2 { // saving the same answer twice sends it once
		if resp, _ := admin.post("/yllapito/palaute/"+id[1], url.Values{"csrf": {token}, "status": {"answered"}, "answer": {answer}}); resp.StatusCode != 303 {
			t.Fatalf("answer = %d", resp.StatusCode)
		}
	}
	u, _ := r.Accounts().UserByEmail(t.Context(), "palautteen.antaja@example.fi")
	if resp, _ := admin.post("/yllapito/kayttajat/"+u.ID+"/rooli", url.Values{"csrf": {token}, "role": {"author"}}); resp.StatusCode != 303 {
		t.Fatalf("role = %d", resp.StatusCode)
	}
	msgs := outboxFor(t, r, "palautteen.antaja@example.fi")
	if got := kinds(msgs); !slices.Equal(got, []string{"verify_email", "feedback_answered", "role_changed"}) {
		t.Fatalf("the sender got %v", got)
	}
	if !strings.Contains(msgs[1].Text, "korjasimme taulukon") || msgs[1].Lang != "en" {
		t.Errorf("feedback answer (%s): %s", msgs[1].Lang, msgs[1].Text)
	}
	if !strings.Contains(msgs[2].Text, "Content author") && !strings.Contains(strings.ToLower(msgs[2].Text), "author") {
		t.Errorf("role notice: %s", msgs[2].Text)
	}
}
