package api_test

import (
	"bytes"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/org"
)

// postFile posts a multipart form with a file, as a browser's upload.
func postFile(b *browserClient, path string, fields map[string]string, file string) (int, string) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("file", "kutsut.csv")
	_, _ = fw.Write([]byte(file))
	_ = w.Close()
	resp, page := b.do("POST", path, &body, "Content-Type", w.FormDataContentType())
	return resp.StatusCode, page
}

// Invitations end to end with a real SMTP server: a bad file is refused
// with every problem by line and nobody is invited; a good one (Excel's
// BOM and semicolons) sends each person a link that makes their account
// in the right unit, once; a unit outside the reporter's subtree is
// refused.
func TestInvitationsEndToEnd(t *testing.T) {
	r, srv := smtpServer(t)
	rep, units := unitPopulation(t, r, "")
	csrf := rep.csrf("/raportit/tehtavat")
	bad := "Nimi;Sähköposti;Yksikkö\nKaisa Kutsuttu;kaisa@example.fi;Sosiaalipalvelut\nLeo Lähde;leo(at)example.fi;Sosiaalipalvelut\nMia Muu;mia@example.fi;Terveyspalvelut\nNiko Nimi;KAISA@example.fi;Perhekeskus\n"
	code, page := postFile(rep, "/raportit/kutsut", map[string]string{"csrf": csrf}, bad)
	for _, want := range []string{"Rivi 3: leo(at)example.fi ei ole sähköpostiosoite.", "Rivi 4: organisaatiossa ei ole yksikköä Terveyspalvelut, johon voisit kutsua.",
		"Rivi 5: kaisa@example.fi on tiedostossa jo rivillä 2."} {
		if !strings.Contains(page, want) {
			t.Errorf("the refusal lacks %q", want)
		}
	}
	if code != 422 {
		t.Fatalf("a bad file = %d", code)
	}
	// A pasted row with broken quoting.
	if resp, page := rep.post("/raportit/kutsut", url.Values{"csrf": {csrf}, "csv": {"Kaisa Kutsuttu,kaisa@example.fi,Sosiaalipalvelut\n\"Leo, leo@example.fi, Perhekeskus\n"}}); resp.StatusCode != 422 ||
		!strings.Contains(page, "Rivi 2: lainausmerkki puuttuu tai on väärässä kohdassa.") || !strings.Contains(page, "Kaisa Kutsuttu,kaisa@example.fi") {
		t.Fatalf("broken quoting = %d", resp.StatusCode)
	}
	good := "\ufeffNimi;Sähköposti;Yksikkö\r\nKaisa Kutsuttu;Kaisa@Example.fi;Sosiaalipalvelut\r\nNiko Nimi;niko@example.fi;Sosiaalipalvelut / Perhekeskus\r\n"
	code, _ = postFile(rep, "/raportit/kutsut", map[string]string{"csrf": csrf}, good)
	if code != 303 {
		t.Fatalf("a good file = %d", code)
	}
	if _, page := rep.get("/raportit/tehtavat?kutsuttu=2"); !strings.Contains(page, "2 kutsua on lähetetty.") {
		t.Fatal("no notice of the invitations")
	}
	msg, ok := srv.WaitTo("niko@example.fi", 10*time.Second)
	if !ok || !strings.Contains(strings.Join(strings.Fields(msg.Text), " "), "Pirkanmaan hyvinvointialue kutsuu sinut verkkokurssille yksikön Sosiaalipalvelut › Perhekeskus jäseneksi.") {
		t.Fatalf("the invitation to Niko: %v\n%s", ok, msg.Text)
	}
	if _, ok := srv.WaitTo("kaisa@example.fi", 10*time.Second); !ok {
		t.Fatal("no invitation to Kaisa")
	}
	invited := 0
	for _, m := range srv.Messages() {
		if m.Subject == "Kutsu verkkokurssille" {
			invited++
		}
	}
	if invited != 2 {
		t.Fatalf("%d invitations: the refused files sent something", invited)
	}
	link := linkTo(t, msg.Text, "/kutsu")
	niko := newClient(t, r.URL)
	resp, page := niko.get(link)
	if resp.StatusCode != 200 || !strings.Contains(page, `value="niko@example.fi" readonly`) || !strings.Contains(page, `value="Niko Nimi"`) {
		t.Fatalf("the invitation page = %d\n%s", resp.StatusCode, page)
	}
	token, _ := url.ParseQuery(strings.SplitN(link, "?", 2)[1])
	form := url.Values{"csrf": {niko.csrf(link)}, "token": {token.Get("token")}, "name": {"Niko Nimi"}, "password": {"lyhyt"}}
	if resp, _ := niko.post("/kutsu", form); resp.StatusCode != 422 {
		t.Fatalf("a short password = %d", resp.StatusCode)
	}
	form.Set("password", "niko kutsuttiin kurssille 2026")
	if resp, page := niko.post("/kutsu", form); resp.StatusCode != 200 || !strings.Contains(page, "Tilisi on luotu organisaatioon Pirkanmaan hyvinvointialue.") {
		t.Fatalf("accept = %d\n%s", resp.StatusCode, page)
	}
	u, err := r.Accounts().UserByEmail(t.Context(), "niko@example.fi")
	if err != nil || u.OrgID != "pirkanmaa" || u.UnitID != units["perhe"] || u.Name != "Niko Nimi" {
		t.Fatalf("the account %+v %v", u, err)
	}
	if resp := newClient(t, r.URL).login("niko@example.fi", "niko kutsuttiin kurssille 2026"); resp.StatusCode != 303 {
		t.Fatalf("sign-in = %d", resp.StatusCode)
	}
	if resp, _ := niko.post("/kutsu", form); resp.StatusCode != 400 {
		t.Fatalf("the link again = %d", resp.StatusCode)
	}
	if resp, page := newClient(t, r.URL).get(link); resp.StatusCode != 400 || !strings.Contains(page, "Kutsulinkki ei toimi") {
		t.Fatalf("the used link = %d", resp.StatusCode)
	}
	// Niko now has an account: inviting him again is refused by line.
	if resp, page := rep.post("/raportit/kutsut", url.Values{"csrf": {csrf}, "csv": {"Niko Nimi,niko@example.fi,Perhekeskus"}}); resp.StatusCode != 422 ||
		!strings.Contains(page, "Rivi 1: osoitteella niko@example.fi on jo tili organisaatiossa.") {
		t.Fatalf("inviting an account = %d", resp.StatusCode)
	}
	if resp, page := rep.post("/raportit/kutsut", url.Values{"csrf": {csrf}, "csv": {"Kaisa Kutsuttu,kaisa@example.fi,Perhekeskus"}}); resp.StatusCode != 422 ||
		!strings.Contains(page, "Rivi 1: kaisa@example.fi on jo kutsuttu.") {
		t.Fatalf("inviting again = %d", resp.StatusCode)
	}
}

func init() {
	form := "application/x-www-form-urlencoded"
	stateChanging["POST /raportit/kutsut"] = func(t *testing.T, r *running) {
		b := newClient(t, r.URL)
		email := account.NewID()[:10] + "@example.fi"
		b.register(email, "Csrf Raportoija")
		signInAs(t, b, r.Accounts(), email, account.RoleAdmin)
		if resp, _ := b.do("POST", "/raportit/kutsut", strings.NewReader("organisaatio=pirkanmaa&csv=A+B,ab@example.fi,x"), "Content-Type", form); resp.StatusCode != 403 {
			t.Errorf("POST /raportit/kutsut without a CSRF token = %d, want 403", resp.StatusCode)
		}
	}
	stateChanging["POST /kutsu"] = func(t *testing.T, r *running) {
		b := newClient(t, r.URL)
		b.get("/kirjaudu") // an anonymous session with its token
		if resp, _ := b.do("POST", "/kutsu", strings.NewReader("token=x&name=A+B&password=pitka+salalause+2026"), "Content-Type", form); resp.StatusCode != 403 {
			t.Errorf("POST /kutsu without a CSRF token = %d, want 403", resp.StatusCode)
		}
	}
}

// An invitation to an address of an organisation's own sign-in: the page
// offers that sign-in, and when the organisation requires it the link
// leads straight there (with the address, for home realm discovery).
func TestInvitationToTheEmployersSignIn(t *testing.T) {
	r := start(t)
	ctx := t.Context()
	_, units := unitPopulation(t, r, "")
	dir := org.NewDirectory(r.db)
	if err := dir.AddDomain(ctx, "pirkanmaa", "pirha.fi"); err != nil {
		t.Fatal(err)
	}
	if _, errs := dir.AddProvider(ctx, org.Provider{ID: "pirha", Org: "pirkanmaa", Issuer: "https://login.example.fi/pirha", ClientID: "tyokyky"},
		"salaisuus", bytes.Repeat([]byte{1}, 32)); len(errs) > 0 {
		t.Fatal(errs)
	}
	tree, _ := dir.Units(ctx, "pirkanmaa")
	store := assign.NewStore(r.db)
	rows, errs := assign.ReadInvitations(strings.NewReader("Olli Oma,olli@pirha.fi,"+units["sos"]+"\nVeera Vieras,veera@example.fi,"+units["sos"]), tree, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	issued, errs := store.Invite(ctx, "pirkanmaa", "test", "fi", rows, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	b := newClient(t, r.URL)
	if _, page := b.get("/kutsu?token=" + issued[0].Token); !strings.Contains(page, `href="/kirjaudu/sso?email=olli%40pirha.fi&amp;jatka=%2Fkutsu%3Ftoken%3D`+issued[0].Token+`"`) {
		t.Fatalf("the page does not offer the employer's sign-in:\n%s", page)
	}
	if _, page := b.get("/kutsu?token=" + issued[1].Token); strings.Contains(page, "/kirjaudu/sso") {
		t.Fatal("an address outside the domain is offered the employer's sign-in")
	}
	if err := dir.SetSSORequired(ctx, "pirkanmaa", true); err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.get("/kutsu?token=" + issued[0].Token); resp.StatusCode != 303 || resp.Header.Get("Location") != "/kirjaudu/sso?email=olli%40pirha.fi&jatka=%2Fkutsu%3Ftoken%3D"+issued[0].Token {
		t.Fatalf("required = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// An invited person whose organisation signs its people in with its own
// provider: the link's sign-in comes back to the invitation, where the
// account made just in time joins the invitation's unit and spends the
// link; another account signed in is told the invitation is not its.
func TestInvitationThroughTheEmployersSignIn(t *testing.T) {
	r, m, _ := startSSO(t)
	ctx := t.Context()
	dir := org.NewDirectory(r.db)
	tree, err := dir.Tree(ctx, "pirkanmaa")
	if err != nil {
		t.Fatal(err)
	}
	store := assign.NewStore(r.db)
	rows, errs := assign.ReadInvitations(strings.NewReader("Olli Oma,olli@pirha.fi,Perhekeskus\nPia Pirha,pia@pirha.fi,Perhekeskus\n"), tree, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	issued, errs := store.Invite(ctx, "pirkanmaa", "test", "fi", rows, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	back := "/kutsu?token=" + issued[0].Token
	b := newClient(t, r.URL)
	if _, page := b.get(back); !strings.Contains(page, `href="/kirjaudu/sso?email=olli%40pirha.fi&amp;jatka=`+url.QueryEscape(back)+`"`) {
		t.Fatalf("the employer's sign-in does not come back to the invitation:\n%s", page)
	}
	olli := &oidcPerson{sub: "olli", claims: map[string]any{"email": "olli@pirha.fi", "email_verified": true, "name": "Olli Oma"}}
	if to := signInThroughProvider(t, b, m, olli, back); to != back {
		t.Fatalf("after the sign-in: %s", to)
	}
	u, err := r.Accounts().UserByEmail(ctx, "olli@pirha.fi")
	if err != nil || u.OrgID != "pirkanmaa" || u.UnitID != "" {
		t.Fatalf("the account made just in time: %+v %v", u, err)
	}
	resp, page := b.get(back)
	if resp.StatusCode != 200 || !strings.Contains(page, "yksikön Perhekeskus jäseneksi. Olet kirjautunut kutsutulla osoitteella olli@pirha.fi") || strings.Contains(page, `name="password"`) {
		t.Fatalf("the invitation signed in = %d:\n%s", resp.StatusCode, page)
	}
	resp, page = b.post("/kutsu", url.Values{"csrf": {b.csrf(back)}, "token": {issued[0].Token}})
	if resp.StatusCode != 200 || !strings.Contains(page, "Tilisi kuuluu nyt organisaation Pirkanmaan hyvinvointialue yksikköön Perhekeskus.") {
		t.Fatalf("joining = %d:\n%s", resp.StatusCode, page)
	}
	if u, _ = r.Accounts().UserByEmail(ctx, "olli@pirha.fi"); u.UnitID != tree.Flat()[0].ID || u.OrgID != "pirkanmaa" {
		t.Fatalf("after joining: %+v", u)
	}
	if resp, _ := b.get(back); resp.StatusCode != 400 {
		t.Fatalf("the spent link = %d", resp.StatusCode)
	}
	// Pia's link opened by Olli's session: not his to use.
	if resp, page := b.get("/kutsu?token=" + issued[1].Token); resp.StatusCode != 403 || !strings.Contains(page, "lähetetty osoitteeseen pia@pirha.fi") {
		t.Fatalf("another's invitation = %d", resp.StatusCode)
	}
	if resp, _ := b.post("/kutsu", url.Values{"csrf": {b.csrf("/omat-opinnot")}, "token": {issued[1].Token}}); resp.StatusCode != 403 {
		t.Fatalf("joining with another's invitation = %d", resp.StatusCode)
	}
	if _, err := store.Invitation(ctx, issued[1].Token); err != nil {
		t.Fatalf("Pia's link was spent: %v", err)
	}
}
