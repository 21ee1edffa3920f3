package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	_ "image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/exam/cert"
)

type certJSON struct {
	ID      string `json:"id"`
	Holder  string `json:"holder"`
	Course  string `json:"course"`
	URL     string `json:"url"`
	Token   string `json:"token"`
	Revoked *struct {
		Reason string `json:"reason"`
	} `json:"revoked"`
}

type verifyJSON struct {
	Valid   bool           `json:"valid"`
	Revoked bool           `json:"revoked"`
	Reason  string         `json:"reason"`
	Claims  map[string]any `json:"claims"`
}

// passExam completes the course (the exam's eligibility rule), takes and
// passes the exam through the API and returns the learner's certificate.
func passExam(t *testing.T, b *browserClient) certJSON {
	t.Helper()
	studied(t, b)
	token := b.csrf("/tili")
	_, body := b.do("POST", "/api/v1/exam/attempts", nil, "X-CSRF-Token", token)
	a := decode[attemptJSON](t, body)
	for i, it := range a.Items {
		ans := rightAnswer(it)
		ans["seq"] = i + 1
		if resp, body := b.putJSON("/api/v1/exam/attempts/"+a.ID+"/answers/"+it.ID, token, ans); resp.StatusCode != 200 {
			t.Fatalf("save = %d %s", resp.StatusCode, body)
		}
	}
	resp, body := b.do("POST", "/api/v1/exam/attempts/"+a.ID+"/submit", nil, "X-CSRF-Token", token)
	if resp.StatusCode != 200 || !decode[attemptJSON](t, body).Result.Passed {
		t.Fatalf("submit = %d %s", resp.StatusCode, body)
	}
	_, body = b.get("/tentti/" + a.ID + "/tulos")
	if !strings.Contains(body, "saat todistuksen") || !strings.Contains(body, `href="/todistukset"`) {
		t.Errorf("the result page does not point to the certificate: %.600s", body[strings.Index(body, "<main"):])
	}
	// The certificate is issued in the background, within moments.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body = b.get("/api/v1/certificates")
		list := decode[struct{ Certificates []certJSON }](t, body).Certificates
		if resp.StatusCode == 200 && len(list) == 1 {
			return list[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("certificates = %d %s", resp.StatusCode, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCertificateIssuedVerifiedAndRevoked(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register(account.NewID()[:10]+"@example.fi", "Åsa Öhman-Järvinen")
	c := passExam(t, b)
	if c.Holder != "Åsa Öhman-Järvinen" || c.URL != "http://localhost/todistus/"+c.ID || c.Token == "" {
		t.Fatalf("certificate = %+v", c)
	}
	if strings.Contains(c.Token, "@") {
		t.Fatal("the token holds an e-mail address")
	}

	// The public page: no sign-in, a clear status in three languages.
	anon := newClient(t, r.URL)
	for lang, want := range map[string]string{"fi": "Voimassa", "sv": "Giltigt", "en": "Valid"} {
		resp, page := anon.get("/todistus/" + c.ID + "?lang=" + lang)
		if resp.StatusCode != 200 || !strings.Contains(page, want) || !strings.Contains(page, "Åsa Öhman-Järvinen") || !strings.Contains(page, "Testin koulutus Oy") {
			t.Fatalf("public page (%s) = %d, lacks %q", lang, resp.StatusCode, want)
		}
		if strings.Contains(page, "todistus.pdf") || strings.Contains(page, "@example.fi") {
			t.Errorf("the public page (%s) offers the holder's downloads or shows an e-mail address", lang)
		}
		if resp.Header.Get("X-Robots-Tag") != "noindex" || strings.Contains(resp.Header.Get("Cache-Control"), "public") {
			t.Errorf("public page headers = %v", resp.Header)
		}
	}
	if resp, _ := anon.get("/todistus/eiolemassa"); resp.StatusCode != 404 {
		t.Fatalf("unknown certificate = %d", resp.StatusCode)
	}
	_, own := b.get("/todistus/" + c.ID)
	if !strings.Contains(own, "/todistus/"+c.ID+"/todistus.pdf") || !strings.Contains(own, "todistus.jwt") {
		t.Error("the holder's page lacks the downloads")
	}
	if _, list := b.get("/todistukset"); !strings.Contains(list, "/todistus/"+c.ID) {
		t.Error("the learner's certificates page does not list it")
	}

	// The QR code opens the public page.
	resp, png := anon.get("/todistus/" + c.ID + "/qr.png")
	img, _, err := image.Decode(strings.NewReader(png))
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("QR = %d %v", resp.StatusCode, err)
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	// The image is the code alone, as generated: read it as such (the
	// general detector, which looks for the code in a photo, misread one
	// once under a full run).
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil || res.GetText() != c.URL {
		t.Fatalf("QR decodes to %v, %v; want %s", res, err, c.URL)
	}

	// The PDF (the holder's) shows the name and the course.
	resp, pdf := b.get("/todistus/" + c.ID + "/todistus.pdf")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf, "%PDF") {
		t.Fatalf("PDF = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	file := filepath.Join(t.TempDir(), "todistus.pdf")
	os.WriteFile(file, []byte(pdf), 0o600)
	text, err := exec.Command("pdftotext", "-layout", file, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext (make test installs poppler-utils): %v", err)
	}
	if !strings.Contains(string(text), "Åsa Öhman-Järvinen") || !strings.Contains(string(text), c.ID) {
		t.Fatalf("the PDF text lacks the holder or the id:\n%s", text)
	}
	if resp, jwt := b.get("/todistus/" + c.ID + "/todistus.jwt"); resp.StatusCode != 200 || jwt != c.Token {
		t.Fatalf("token file = %d", resp.StatusCode)
	}

	// The key set and the verification API.
	resp, jwks := anon.get("/.well-known/jwks.json")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "jwk-set+json") || strings.Contains(jwks, `"d"`) {
		t.Fatalf("JWKS = %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), jwks)
	}
	if _, err := cert.ParseJWKS([]byte(jwks)); err != nil {
		t.Fatal(err)
	}
	// The issuer profile the tokens' iss names.
	resp, profile := anon.get("/myontaja")
	var prof struct {
		ID      string   `json:"id"`
		Type    []string `json:"type"`
		Name    string   `json:"name"`
		Address struct {
			PostalCode string `json:"postalCode"`
		} `json:"address"`
	}
	json.Unmarshal([]byte(profile), &prof)
	if resp.StatusCode != 200 || prof.ID != "http://localhost/myontaja" || prof.Type[0] != "Profile" || prof.Name != "Testin koulutus Oy" || prof.Address.PostalCode != "00100" {
		t.Fatalf("issuer profile = %d %s", resp.StatusCode, profile)
	}
	verify := func(body string) (int, verifyJSON) {
		resp, out := anon.do("POST", "/api/v1/certificates/verify", strings.NewReader(body), "Content-Type", "application/json")
		var v verifyJSON
		json.Unmarshal([]byte(out), &v)
		return resp.StatusCode, v
	}
	tokenBody, _ := json.Marshal(map[string]string{"token": c.Token})
	if code, v := verify(string(tokenBody)); code != 200 || !v.Valid || v.Revoked || v.Claims["jti"] != c.URL {
		t.Fatalf("verify = %d %+v", code, v)
	}
	parts := strings.Split(c.Token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte("Åsa"), []byte("Eva"), 1)) + "." + parts[2]
	if code, v := verify(forged); code != 200 || v.Valid || !strings.Contains(v.Reason, "signature") {
		t.Fatalf("an altered token = %d %+v", code, v)
	}
	resp, problem := anon.do("POST", "/api/v1/certificates/verify", strings.NewReader(`{"token":`), "Content-Type", "application/json")
	if resp.StatusCode != 400 || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
		t.Fatalf("a broken body = %d %s", resp.StatusCode, problem)
	}

	// An administrator revokes it with a reason; everyone sees that.
	admin := newClient(t, r.URL)
	email := account.NewID()[:10] + "@example.fi"
	admin.register(email, "Ylli Ylläpito")
	signInAdmin(t, admin, r.Accounts(), email)
	token := admin.csrf("/yllapito/todistukset")
	if resp, _ := admin.post("/yllapito/todistukset/"+c.ID+"/peru", url.Values{"csrf": {token}, "reason": {""}}); resp.StatusCode != 422 {
		t.Fatalf("revoking without a reason = %d", resp.StatusCode)
	}
	if resp, _ := admin.post("/yllapito/todistukset/"+c.ID+"/peru", url.Values{"csrf": {token}, "reason": {"Suoritus tehtiin toisen tunnuksilla"}}); resp.StatusCode != 303 || resp.Header.Get("Location") != "/yllapito/todistukset?ilmoitus=peruttu" {
		t.Fatalf("revoke = %d", resp.StatusCode)
	}
	if _, page := admin.get("/yllapito/todistukset?ilmoitus=peruttu"); !strings.Contains(page, "Todistus on peruttu") || !strings.Contains(page, "toisen tunnuksilla") {
		t.Error("the administrators' list does not show the revocation")
	}
	if resp, _ := admin.do("POST", "/api/v1/admin/certificates/"+c.ID+"/revoke", strings.NewReader(`{"reason":"taas"}`), "Content-Type", "application/json", "X-CSRF-Token", token); resp.StatusCode != 409 {
		t.Fatalf("revoking twice = %d", resp.StatusCode)
	}
	if _, page := anon.get("/todistus/" + c.ID + "?lang=fi"); !strings.Contains(page, "Peruttu") || !strings.Contains(page, "toisen tunnuksilla") {
		t.Fatalf("the public page does not show the revocation: %s", page)
	}
	if code, v := verify(string(tokenBody)); code != 200 || v.Valid || !v.Revoked {
		t.Fatalf("verify after revoking = %+v", v)
	}
	// The status list has the certificate's bit set.
	resp, list := anon.get("/credentials/status/1")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vc+jwt" {
		t.Fatalf("status list = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lp, _ := base64.RawURLEncoding.DecodeString(strings.Split(list, ".")[1])
	var sl struct {
		Subject struct {
			EncodedList string `json:"encodedList"`
		} `json:"credentialSubject"`
	}
	json.Unmarshal(lp, &sl)
	bits, err := cert.DecodeList(sl.Subject.EncodedList)
	if err != nil {
		t.Fatal(err)
	}
	var cp struct {
		Status struct {
			Index string `json:"statusListIndex"`
		} `json:"credentialStatus"`
	}
	json.Unmarshal(payload, &cp)
	var index int
	for _, ch := range cp.Status.Index {
		index = index*10 + int(ch-'0')
	}
	if bits[index/8]&(0x80>>(index%8)) == 0 {
		t.Fatalf("bit %d of the status list is not set", index)
	}
	if resp, _ := anon.get("/credentials/status/0"); resp.StatusCode != 404 {
		t.Fatalf("status list 0 = %d", resp.StatusCode)
	}
	// The revocation is in the audit log.
	if _, log := admin.get("/yllapito/loki"); !strings.Contains(log, "certificate.revoke") {
		t.Error("the audit log lacks the revocation")
	}
}

func init() {
	// The holder's downloads: another learner gets 404.
	ownerOnly := func(t *testing.T, r *running) {
		a := newClient(t, r.URL)
		a.register(account.NewID()[:10]+"@example.fi", "Aino A")
		c := passExam(t, a)
		b := newClient(t, r.URL)
		b.register(account.NewID()[:10]+"@example.fi", "Bertta B")
		for _, p := range []string{"/todistus/" + c.ID + "/todistus.pdf", "/todistus/" + c.ID + "/todistus.jwt"} {
			if resp, body := b.get(p); resp.StatusCode != 404 || strings.Contains(body, c.Token) {
				t.Errorf("B on A's %s = %d", p, resp.StatusCode)
			}
		}
		if _, body := b.get("/api/v1/certificates"); strings.Contains(body, c.ID) {
			t.Error("B's certificate list shows A's")
		}
	}
	for _, route := range []string{"GET /todistus/:cert/todistus.pdf", "HEAD /todistus/:cert/todistus.pdf", "GET /todistus/:cert/todistus.jwt", "HEAD /todistus/:cert/todistus.jwt"} {
		idorMatrix[route] = ownerOnly
	}
	// The verification page and the QR code are public by design (an
	// employer checks them): they show the holder's name and the course,
	// never the e-mail address, the token or the downloads.
	public := func(t *testing.T, r *running) {
		a := newClient(t, r.URL)
		email := account.NewID()[:10] + "@example.fi"
		a.register(email, "Aino A")
		c := passExam(t, a)
		b := newClient(t, r.URL)
		b.register(account.NewID()[:10]+"@example.fi", "Bertta B")
		resp, page := b.get("/todistus/" + c.ID)
		if resp.StatusCode != 200 || !strings.Contains(page, "Aino A") {
			t.Fatalf("another learner on the public page = %d", resp.StatusCode)
		}
		if strings.Contains(page, email) || strings.Contains(page, c.Token) || strings.Contains(page, "todistus.pdf") {
			t.Error("the public page shows another learner private data")
		}
		if resp, png := b.get("/todistus/" + c.ID + "/qr.png"); resp.StatusCode != 200 || !strings.HasPrefix(png, "\x89PNG") {
			t.Errorf("another learner on the QR code = %d", resp.StatusCode)
		}
	}
	for _, route := range []string{"GET /todistus/:cert", "HEAD /todistus/:cert", "GET /todistus/:cert/qr.png", "HEAD /todistus/:cert/qr.png"} {
		idorMatrix[route] = public
	}
	// Revoking is for administrators only.
	notAdmin := func(t *testing.T, r *running) {
		a := newClient(t, r.URL)
		a.register(account.NewID()[:10]+"@example.fi", "Aino A")
		c := passExam(t, a)
		token := a.csrf("/tili")
		if resp, _ := a.post("/yllapito/todistukset/"+c.ID+"/peru", url.Values{"csrf": {token}, "reason": {"itse"}}); resp.StatusCode != 404 {
			t.Errorf("a learner revoking = %d", resp.StatusCode)
		}
		if resp, _ := a.do("POST", "/api/v1/admin/certificates/"+c.ID+"/revoke", strings.NewReader(`{"reason":"itse"}`), "Content-Type", "application/json", "X-CSRF-Token", token); resp.StatusCode != 404 {
			t.Errorf("a learner revoking in the API = %d", resp.StatusCode)
		}
	}
	idorMatrix["POST /yllapito/todistukset/:cert/peru"] = notAdmin
	idorMatrix["POST /api/v1/admin/certificates/:cert/revoke"] = notAdmin
	stateChanging["POST /yllapito/todistukset/:cert/peru"] = adminRefused("/yllapito/todistukset/x/peru", "reason=x")
	stateChanging["POST /api/v1/admin/certificates/:cert/revoke"] = adminRefusedAs("/api/v1/admin/certificates/x/revoke", `{"reason":"x"}`, "application/json")
	form := "application/x-www-form-urlencoded"
	// Verifying changes nothing and uses no session: the answer is the
	// same with a session cookie and without, so CSRF has nothing to take.
	stateChanging["POST /api/v1/certificates/verify"] = func(t *testing.T, r *running) {
		a := newClient(t, r.URL)
		a.register(account.NewID()[:10]+"@example.fi", "Aino A")
		_, with := a.do("POST", "/api/v1/certificates/verify", strings.NewReader("abc"), "Content-Type", form)
		_, without := newClient(t, r.URL).do("POST", "/api/v1/certificates/verify", strings.NewReader("abc"), "Content-Type", form)
		if with != without || !strings.Contains(with, `"valid":false`) {
			t.Errorf("verify with a session = %s, without = %s", with, without)
		}
	}
}
