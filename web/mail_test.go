package web

import (
	"errors"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
)

const testSite = "https://kurssi.example.fi"

// sampleMail are values for every data key a kind may use.
var sampleMail = map[string]string{
	"link":           testSite + "/polku?token=abc&x=1",
	"new_email":      "maija.uusi@example.fi",
	"course":         "Työkyvyn tuen johtaminen",
	"answer":         "Kiitos huomiosta, se oli aiheellinen.\r\nKorjasimme virheen moduulin 2 tekstiin.\n\n\nTerveisin\nkurssin ylläpito",
	"role":           "sisällöntuottaja",
	"deadline":       "15.6.2026 klo 16.00",
	"section":        "Työkyvyn tuen prosessi",
	"days":           "14",
	"extension":      "30 minuuttia lisäaikaa jokaiseen tenttiyritykseen",
	"org":            "Pirkanmaan hyvinvointialue",
	"unit":           "Sosiaalipalvelut › Kotihoito",
	"expires":        "21.12.2026",
	"what":           "moduulit Työkyvyn tuki ja Monialainen työ",
	"due":            "31.3.2027",
	"note":           "Käykää nämä läpi ennen kevään kehityskeskusteluja.",
	"total":          "12",
	"completed":      "5",
	"overdue":        "2",
	"overdue_names":  "Aino Aaltonen (Kotihoito)",
	"finished_names": "Sanna Salo (Kotihoito)",
}

// sampleData is complete data for kind: every key it accepts.
func sampleData(kind string) map[string]string {
	k := mailKinds[kind]
	d := map[string]string{"site_url": testSite, "name": "Maija Esihenkilö"}
	for _, key := range slices.Concat(k.required, k.optional) {
		d[key] = sampleMail[key]
	}
	if !k.essential {
		d["unsubscribe"] = testSite + "/viestit/peru?token=xyz&k=1"
	}
	return d
}

// minimalData is data for kind with the required keys only.
func minimalData(kind string) map[string]string {
	d := sampleData(kind)
	delete(d, "name")
	for _, key := range mailKinds[kind].optional {
		delete(d, key)
	}
	return d
}

func TestEveryMailMessageInEveryLanguage(t *testing.T) {
	for _, lang := range Langs {
		if _, ok := mailMessages[lang]; !ok {
			t.Fatalf("no mail strings in %s", lang)
		}
		for key := range mailMessages["fi"] {
			if s, ok := mailMessages[lang][key]; !ok || strings.TrimSpace(s) == "" {
				t.Errorf("%s lacks mail string %q", lang, key)
			}
		}
		if len(mailMessages[lang]) != len(mailMessages["fi"]) {
			t.Errorf("%s has %d mail strings, fi has %d", lang, len(mailMessages[lang]), len(mailMessages["fi"]))
		}
	}
	if len(mailMessages) != len(Langs) {
		t.Errorf("mail strings in %d languages, UI in %d", len(mailMessages), len(Langs))
	}
}

func TestMailKindsAndTheirStrings(t *testing.T) {
	want := []string{"account_deleted", "assignment_digest", "assignment_due", "assignment_notice", "certificate_issued", "email_changed", "exam_extension", "feedback_answered", "invitation",
		"password_changed", "password_reset", "register_exists", "reminder_assignment", "reminder_assignment_due", "reminder_exam_deadline", "reminder_inactive",
		"role_changed", "test", "totp_disabled", "totp_enabled", "verify_email"}
	if got := MailKinds(); !slices.Equal(got, want) {
		t.Fatalf("MailKinds() = %v", got)
	}
	for _, kind := range want {
		if MailEssential(kind) != !strings.HasPrefix(kind, "reminder_") {
			t.Errorf("MailEssential(%s) = %v", kind, MailEssential(kind))
		}
	}
	if MailEssential("no_such_kind") {
		t.Error("an unknown kind is essential")
	}

	// Every string is used, and its placeholders are keys the kind
	// accepts; an optional key's placeholder appears only in a block
	// shown when the key is given.
	used := map[string]bool{"greeting": true, "greeting.name": true, "button.fallback": true, "footer.auto": true,
		"unsubscribe.text": true, "unsubscribe.label": true}
	for kind, k := range mailKinds {
		keys := k.keys()
		check := func(msgKey, when string) {
			used[msgKey] = true
			for _, lang := range Langs {
				for _, p := range placeholders(mailMessages[lang][msgKey]) {
					req, ok := keys[p]
					switch {
					case !ok:
						t.Errorf("%s %s: placeholder {%s} is not a data key of %s", lang, msgKey, p, kind)
					case !req && p != when && p != "name":
						t.Errorf("%s %s: optional {%s} in a block shown without it", lang, msgKey, p)
					}
				}
			}
		}
		check(kind+".subject", "")
		for _, b := range k.blocks {
			if b.quote != "" {
				if !mailMultiLine[b.quote] {
					t.Errorf("%s quotes %s, which is not multi-line", kind, b.quote)
				}
				continue
			}
			check(kind+"."+b.text, b.when)
			if b.link != "" && !mailURLKeys[b.link] {
				t.Errorf("%s links to %s, which is not a URL key", kind, b.link)
			}
		}
		for _, lang := range Langs {
			if p := placeholders(mailMessages[lang][kind+".subject"]); len(p) > 0 {
				t.Errorf("%s %s: the subject has data %v", lang, kind, p)
			}
		}
	}
	for key := range mailMessages["fi"] {
		if !used[key] {
			t.Errorf("mail string %q is not used", key)
		}
	}
	if p := placeholders(mailMessages["fi"]["greeting.name"]); !slices.Equal(p, []string{"name"}) {
		t.Errorf("greeting.name has %v", p)
	}
}

var (
	placeholderRE = regexp.MustCompile(`\{[a-z_.]+\}`)
	tagRE         = regexp.MustCompile(`<[a-zA-Z/!?]`)
	pxWidthRE     = regexp.MustCompile(`(?:^|;)\s*(?:width|min-width)\s*:\s*(\d+)px`)
)

func TestRenderMailEveryKindInEveryLanguage(t *testing.T) {
	for _, kind := range MailKinds() {
		for _, lang := range Langs {
			for _, full := range []bool{true, false} {
				data := sampleData(kind)
				if !full {
					data = minimalData(kind)
				}
				m, err := RenderMail(kind, lang, data)
				if err != nil {
					t.Errorf("%s %s: %v", kind, lang, err)
					continue
				}
				checkMail(t, kind, lang, data, m)
			}
		}
	}
}

// checkMail checks a rendered message against its data.
func checkMail(t *testing.T, kind, lang string, data map[string]string, m Mail) {
	t.Helper()
	where := kind + " " + lang
	if m.Subject == "" || strings.ContainsAny(m.Subject, "\r\n") || len(m.Subject) > 100 {
		t.Errorf("%s: subject %q", where, m.Subject)
	}
	for part, s := range map[string]string{"subject": m.Subject, "text": m.Text, "html": m.HTML} {
		if p := placeholderRE.FindString(s); p != "" {
			t.Errorf("%s: %s keeps the placeholder %s", where, part, p)
		}
		if !utf8.ValidString(s) {
			t.Errorf("%s: %s is not UTF-8", where, part)
		}
	}

	// The text body.
	if tag := tagRE.FindString(m.Text); tag != "" {
		t.Errorf("%s: text has a tag %q:\n%s", where, tag, m.Text)
	}
	lines := strings.Split(m.Text, "\n")
	for _, l := range lines {
		if utf8.RuneCountInString(l) > mailWidth && strings.Contains(strings.TrimPrefix(l, "> "), " ") {
			t.Errorf("%s: text line too long: %q", where, l)
		}
		if strings.TrimRight(l, " ") != l && l != "-- " {
			t.Errorf("%s: trailing space in %q", where, l)
		}
	}
	if strings.Contains(m.Text, "\n\n\n") || !strings.HasSuffix(m.Text, "\n") || strings.HasSuffix(m.Text, "\n\n") {
		t.Errorf("%s: text spacing:\n%s", where, m.Text)
	}
	site := T(lang, "site.main") + " " + T(lang, "site.sub")
	for _, own := range []string{site, data["site_url"], "-- "} {
		if !slices.Contains(lines, own) {
			t.Errorf("%s: text lacks the line %q:\n%s", where, own, m.Text)
		}
	}
	for _, key := range []string{"link", "unsubscribe"} {
		if v := data[key]; v != "" && !slices.Contains(lines, v) {
			t.Errorf("%s: the %s is not on its own line:\n%s", where, key, m.Text)
		}
	}
	flat := strings.Join(strings.Fields(strings.ReplaceAll(m.Text, "\n> ", " ")), " ")
	for key, v := range data {
		if key == "answer" {
			for _, p := range splitParagraphs(v) {
				for _, l := range p {
					if !strings.Contains(flat, l) {
						t.Errorf("%s: text lacks the answer's line %q:\n%s", where, l, m.Text)
					}
				}
			}
		} else if !strings.Contains(flat, v) {
			t.Errorf("%s: text lacks %s %q:\n%s", where, key, v, m.Text)
		}
	}
	if name := data["name"]; name != "" && !strings.HasPrefix(m.Text, strings.ReplaceAll(mailMessages[lang]["greeting.name"], "{name}", name)+"\n") ||
		name == "" && !strings.HasPrefix(m.Text, mailMessages[lang]["greeting"]+"\n") {
		t.Errorf("%s: greeting:\n%s", where, m.Text)
	}

	// The HTML body.
	if !strings.HasPrefix(m.HTML, "<!DOCTYPE html>\n") || strings.Contains(strings.ToLower(m.HTML), "<script") {
		t.Errorf("%s: html start or script:\n%s", where, m.HTML)
	}
	checkBalanced(t, where, m.HTML)
	doc, err := html.Parse(strings.NewReader(m.HTML))
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var (
		title, body string
		hrefs       []string
		charset     bool
	)
	var walk func(n *html.Node, inBody bool)
	walk = func(n *html.Node, inBody bool) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "html":
				if attr(n, "lang") != lang {
					t.Errorf("%s: html lang=%q", where, attr(n, "lang"))
				}
			case "meta":
				charset = charset || strings.EqualFold(attr(n, "charset"), "utf-8")
			case "title":
				title = textOf(n)
			case "a":
				hrefs = append(hrefs, attr(n, "href"))
				if textOf(n) == "" {
					t.Errorf("%s: a link without text", where)
				}
			case "script", "style", "link", "img", "iframe", "object", "form", "input":
				t.Errorf("%s: html has a %s element", where, n.Data)
			case "body":
				inBody = true
			}
			if n.Data != "html" && n.Data != "div" && attr(n, "lang") != "" && attr(n, "lang") != lang {
				t.Errorf("%s: %s lang=%q", where, n.Data, attr(n, "lang"))
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") || a.Key == "class" || a.Key == "id" {
					t.Errorf("%s: attribute %s", where, a.Key)
				}
			}
			for _, w := range pxWidthRE.FindAllStringSubmatch(attr(n, "style"), -1) {
				if px, _ := strconv.Atoi(w[1]); px > 320 {
					t.Errorf("%s: fixed width %spx", where, w[1])
				}
			}
		}
		if n.Type == html.TextNode && inBody {
			body += n.Data + " "
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inBody)
		}
	}
	walk(doc, false)
	if doc.FirstChild == nil || doc.FirstChild.Type != html.DoctypeNode || doc.FirstChild.Data != "html" {
		t.Errorf("%s: no doctype", where)
	}
	if !charset || title != m.Subject {
		t.Errorf("%s: charset %v, title %q", where, charset, title)
	}
	body = strings.Join(strings.Fields(body), " ")
	for key, v := range data {
		if key == "answer" {
			for _, p := range splitParagraphs(v) {
				for _, l := range p {
					if !strings.Contains(body, l) {
						t.Errorf("%s: html lacks the answer's line %q", where, l)
					}
				}
			}
			continue
		}
		if key == "unsubscribe" {
			continue // a link with a descriptive text
		}
		if !strings.Contains(body, v) {
			t.Errorf("%s: html lacks %s %q", where, key, v)
		}
	}
	for _, key := range []string{"link", "unsubscribe", "site_url"} {
		if v := data[key]; v != "" && !slices.Contains(hrefs, v) {
			t.Errorf("%s: html does not link to the %s %q: %v", where, key, v, hrefs)
		}
	}
	if !strings.Contains(body, T(lang, "site.main")) || !strings.Contains(body, T(lang, "site.sub")) {
		t.Errorf("%s: html footer lacks the site's name", where)
	}
	if strings.Contains(m.HTML, "&x=1") || (data["link"] != "" && !strings.Contains(m.HTML, "&amp;x=1")) {
		t.Errorf("%s: the link's & is not escaped", where)
	}
	if u := data["unsubscribe"]; MailEssential(kind) == (u != "") {
		t.Errorf("%s: unsubscribe %q for essential=%v", where, u, MailEssential(kind))
	}
	if MailEssential(kind) && (strings.Contains(m.Text, mailMessages[lang]["unsubscribe.label"]) || strings.Contains(body, mailMessages[lang]["unsubscribe.label"])) {
		t.Errorf("%s: an essential message offers unsubscribing", where)
	}
}

// checkBalanced checks that every non-void element is closed, in order.
func checkBalanced(t *testing.T, where, s string) {
	t.Helper()
	void := map[string]bool{"br": true, "meta": true, "hr": true, "img": true, "link": true, "input": true}
	var stack []string
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Errorf("%s: %v", where, z.Err())
			}
			if len(stack) > 0 {
				t.Errorf("%s: unclosed %v", where, stack)
			}
			return
		case html.StartTagToken:
			name, _ := z.TagName()
			if !void[string(name)] {
				stack = append(stack, string(name))
			}
		case html.SelfClosingTagToken:
			t.Errorf("%s: self-closing tag %s", where, z.Token().Data)
		case html.EndTagToken:
			name, _ := z.TagName()
			if len(stack) == 0 || stack[len(stack)-1] != string(name) {
				t.Errorf("%s: </%s> closes %v", where, name, stack)
				return
			}
			stack = stack[:len(stack)-1]
		}
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

func TestRenderMailEscapesHTML(t *testing.T) {
	data := sampleData("feedback_answered")
	data["name"] = `<script>alert("x")</script> & Co`
	data["answer"] = "Hyvä <b>huomio</b>.\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>"
	data["link"] = testSite + `/palaute?"><script>alert(1)</script>`
	m, err := RenderMail("feedback_answered", "fi", data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script") || strings.Contains(m.HTML, "<b>") || strings.Contains(m.HTML, "<img") {
		t.Fatalf("unescaped:\n%s", m.HTML)
	}
	for _, want := range []string{`Hei &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co,`, `Hyvä &lt;b&gt;huomio&lt;/b&gt;.<br>&lt;script&gt;alert(1)&lt;/script&gt;`,
		`&lt;img src=x onerror=alert(1)&gt;`, `%22%3e%3cscript%3e`} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("html lacks %s:\n%s", want, m.HTML)
		}
	}
	// The text body is plain text: the values as they are.
	if !strings.HasPrefix(m.Text, `Hei <script>alert("x")</script> & Co,`+"\n") || !strings.Contains(m.Text, "> <img src=x onerror=alert(1)>\n") {
		t.Errorf("text:\n%s", m.Text)
	}
	// A value with braces is not taken for a placeholder.
	data = sampleData("role_changed")
	data["role"] = "{name} {link}"
	m, err = RenderMail("role_changed", "en", data)
	if err != nil || !strings.Contains(strings.Join(strings.Fields(m.Text), " "), "New role: {name} {link}.") {
		t.Errorf("braces in a value: %v\n%s", err, m.Text)
	}
}

func TestRenderMailAnswerKeepsLineBreaks(t *testing.T) {
	data := sampleData("feedback_answered")
	data["answer"] = "Ensimmäinen rivi\r\ntoinen rivi\n\nToinen kappale, joka on niin pitkä, että tekstiversiossa se rivittyy useammalle riville lainausmerkin kanssa."
	m, err := RenderMail("feedback_answered", "fi", data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.HTML, "Ensimmäinen rivi<br>toinen rivi</p>") || strings.Count(m.HTML, `<p style="margin:8px 0;">`) != 2 {
		t.Errorf("html:\n%s", m.HTML)
	}
	want := "> Ensimmäinen rivi\n> toinen rivi\n>\n> Toinen kappale, joka on niin pitkä, että tekstiversiossa se rivittyy\n> useammalle riville lainausmerkin kanssa.\n"
	if !strings.Contains(m.Text, want) || strings.Contains(m.Text, "\r") {
		t.Errorf("text:\n%s", m.Text)
	}
	// Without the optional link there is no button.
	delete(data, "link")
	m, err = RenderMail("feedback_answered", "sv", data)
	if err != nil || strings.Contains(m.HTML, mailMessages["sv"]["feedback_answered.action"]) || strings.Contains(m.Text, mailMessages["sv"]["feedback_answered.action"]) {
		t.Errorf("without a link: %v\n%s", err, m.Text)
	}
}

func TestRenderMailOptionalData(t *testing.T) {
	data := sampleData("reminder_inactive")
	m, err := RenderMail("reminder_inactive", "fi", data)
	if err != nil || !strings.Contains(m.Text, "kohdasta ”Työkyvyn tuen prosessi”") || strings.Contains(m.Text, "mihin viimeksi jäit") {
		t.Errorf("with a section: %v\n%s", err, m.Text)
	}
	for _, section := range []string{"", "  "} {
		data["section"] = section
		data["name"] = section
		m, err = RenderMail("reminder_inactive", "fi", data)
		if err != nil || strings.Contains(m.Text, "kohdasta") || !strings.Contains(m.Text, "mihin viimeksi jäit") || !strings.HasPrefix(m.Text, "Hei,\n") {
			t.Errorf("with section %q: %v\n%s", section, err, m.Text)
		}
	}
	// The unsubscribe line is in both bodies.
	u := data["unsubscribe"]
	if !strings.Contains(m.Text, mailMessages["fi"]["unsubscribe.label"]+":\n"+u+"\n") || !strings.Contains(m.HTML, strings.ReplaceAll(u, "&", "&amp;")) {
		t.Errorf("unsubscribe:\n%s\n%s", m.Text, m.HTML)
	}
}

func TestRenderMailLanguageFallsBackToFinnish(t *testing.T) {
	fi, err := RenderMail("test", "fi", sampleData("test"))
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"", "de", "FI", "fi-FI"} {
		m, err := RenderMail("test", lang, sampleData("test"))
		if err != nil || m != fi {
			t.Errorf("lang %q: %v %+v", lang, err, m)
		}
	}
	en, _ := RenderMail("test", "en", sampleData("test"))
	if en.Subject != "Test message" || !strings.Contains(en.HTML, `<html lang="en">`) {
		t.Errorf("en: %+v", en)
	}
}

func TestRenderMailRefusesBadData(t *testing.T) {
	with := func(kind string, change func(map[string]string)) map[string]string {
		d := sampleData(kind)
		change(d)
		return d
	}
	set := func(key, v string) func(map[string]string) { return func(d map[string]string) { d[key] = v } }
	del := func(key string) func(map[string]string) { return func(d map[string]string) { delete(d, key) } }
	long := strings.Repeat("a", 501)
	cases := []struct {
		what, kind string
		data       map[string]string
		want       error
	}{
		{"unknown kind", "no_such_kind", map[string]string{"site_url": testSite}, ErrMailKind},
		{"empty kind", "", map[string]string{"site_url": testSite}, ErrMailKind},
		{"nil data", "test", nil, ErrMailData},
		{"no site_url", "test", with("test", del("site_url")), ErrMailData},
		{"empty site_url", "test", with("test", set("site_url", "")), ErrMailData},
		{"no link", "password_reset", with("password_reset", del("link")), ErrMailData},
		{"empty link", "password_reset", with("password_reset", set("link", "")), ErrMailData},
		{"blank link", "password_reset", with("password_reset", set("link", "   ")), ErrMailData},
		{"no course", "certificate_issued", with("certificate_issued", del("course")), ErrMailData},
		{"no answer", "feedback_answered", with("feedback_answered", del("answer")), ErrMailData},
		{"blank answer", "feedback_answered", with("feedback_answered", set("answer", "\n\r\n ")), ErrMailData},
		{"no new_email", "email_changed", with("email_changed", del("new_email")), ErrMailData},
		{"no role", "role_changed", with("role_changed", del("role")), ErrMailData},
		{"no extension", "exam_extension", with("exam_extension", del("extension")), ErrMailData},
		{"no days", "reminder_inactive", with("reminder_inactive", del("days")), ErrMailData},
		{"reminder without unsubscribe", "reminder_inactive", with("reminder_inactive", del("unsubscribe")), ErrMailData},
		{"reminder with empty unsubscribe", "reminder_exam_deadline", with("reminder_exam_deadline", set("unsubscribe", "")), ErrMailData},
		{"essential with unsubscribe", "password_reset", with("password_reset", set("unsubscribe", testSite+"/peru")), ErrMailData},
		{"unknown key", "test", with("test", set("surprise", "x")), ErrMailData},
		{"key of another kind", "test", with("test", set("link", testSite)), ErrMailData},
		{"section outside its kind", "reminder_exam_deadline", with("reminder_exam_deadline", set("section", "x")), ErrMailData},
		{"long name", "test", with("test", set("name", long)), ErrMailData},
		{"long role", "role_changed", with("role_changed", set("role", long)), ErrMailData},
		{"long link", "password_reset", with("password_reset", set("link", testSite+"/"+long)), ErrMailData},
		{"long answer", "feedback_answered", with("feedback_answered", set("answer", strings.Repeat("a", 4001))), ErrMailData},
		{"CR LF in name", "test", with("test", set("name", "Eve\r\nBcc: all@example.fi")), ErrMailData},
		{"LF in name", "test", with("test", set("name", "Eve\nBcc")), ErrMailData},
		{"CR in course", "certificate_issued", with("certificate_issued", set("course", "a\rb")), ErrMailData},
		{"tab in extension", "exam_extension", with("exam_extension", set("extension", "1.1.\t12")), ErrMailData},
		{"NUL in role", "role_changed", with("role_changed", set("role", "a\x00b")), ErrMailData},
		{"DEL in name", "test", with("test", set("name", "a\x7fb")), ErrMailData},
		{"C1 in name", "test", with("test", set("name", "a\u0085b")), ErrMailData},
		{"line separator in name", "test", with("test", set("name", "a\u2028b")), ErrMailData},
		{"bidi override in name", "test", with("test", set("name", "a\u202eb")), ErrMailData},
		{"lone CR in answer", "feedback_answered", with("feedback_answered", set("answer", "a\rb")), ErrMailData},
		{"CR at the end of answer", "feedback_answered", with("feedback_answered", set("answer", "a\r")), ErrMailData},
		{"tab in answer", "feedback_answered", with("feedback_answered", set("answer", "a\tb")), ErrMailData},
		{"ESC in answer", "feedback_answered", with("feedback_answered", set("answer", "a\x1b[31mb")), ErrMailData},
		{"invalid UTF-8 in name", "test", with("test", set("name", "Ma\xffija")), ErrMailData},
		{"invalid UTF-8 in answer", "feedback_answered", with("feedback_answered", set("answer", "a\xc3")), ErrMailData},
		{"relative link", "password_reset", with("password_reset", set("link", "/salasana/uusi?token=abc")), ErrMailData},
		{"javascript link", "password_reset", with("password_reset", set("link", "javascript:alert(1)")), ErrMailData},
		{"mailto link", "password_reset", with("password_reset", set("link", "mailto:a@example.fi")), ErrMailData},
		{"ftp link", "password_reset", with("password_reset", set("link", "ftp://example.fi/x")), ErrMailData},
		{"link without host", "password_reset", with("password_reset", set("link", "https:///x")), ErrMailData},
		{"scheme-relative link", "password_reset", with("password_reset", set("link", "//example.fi/x")), ErrMailData},
		{"opaque link", "password_reset", with("password_reset", set("link", "https:example.fi/x")), ErrMailData},
		{"link with user", "password_reset", with("password_reset", set("link", "https://kurssi.example.fi@evil.example/x")), ErrMailData},
		{"link with space", "password_reset", with("password_reset", set("link", testSite+"/a b")), ErrMailData},
		{"link with CR LF", "password_reset", with("password_reset", set("link", testSite+"/a\r\nb")), ErrMailData},
		{"relative site_url", "test", with("test", set("site_url", "kurssi.example.fi")), ErrMailData},
		{"javascript unsubscribe", "reminder_inactive", with("reminder_inactive", set("unsubscribe", "javascript:alert(1)")), ErrMailData},
		{"relative unsubscribe", "reminder_inactive", with("reminder_inactive", set("unsubscribe", "/peru?token=x")), ErrMailData},
	}
	for _, c := range cases {
		m, err := RenderMail(c.kind, "fi", c.data)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.what, err, c.want)
		} else if err.Error() == c.want.Error() {
			t.Errorf("%s: the error %q does not say what is wrong", c.what, err)
		}
		if m != (Mail{}) {
			t.Errorf("%s: a message with the error", c.what)
		}
		if errors.Is(err, ErrMailKind) && errors.Is(err, ErrMailData) {
			t.Errorf("%s: both errors", c.what)
		}
	}

	// Just within the limits.
	ok := []struct {
		what, kind string
		data       map[string]string
	}{
		{"name of 500 bytes", "test", with("test", set("name", strings.Repeat("ä", 250)))},
		{"answer of 4000 bytes with line breaks", "feedback_answered", with("feedback_answered", set("answer", strings.Repeat("abc\r\n\n", 666)+"abcd"))},
		{"http link", "password_reset", with("password_reset", set("link", "http://localhost:8080/salasana?token=a%20b#x"))},
		{"upper-case scheme", "password_reset", with("password_reset", set("link", "HTTPS://kurssi.example.fi/x"))},
		{"link with non-ASCII path", "reminder_inactive", with("reminder_inactive", set("link", testSite+"/moduulit/työkyky"))},
		{"empty optional name", "test", with("test", set("name", ""))},
		{"empty optional link", "feedback_answered", with("feedback_answered", set("link", ""))},
	}
	for _, c := range ok {
		if len(c.data["answer"]) > 4000 {
			t.Fatalf("%s: the sample is %d bytes", c.what, len(c.data["answer"]))
		}
		if _, err := RenderMail(c.kind, "sv", c.data); err != nil {
			t.Errorf("%s: %v", c.what, err)
		}
	}
}

func TestRenderMailDoesNotChangeData(t *testing.T) {
	data := sampleData("reminder_inactive")
	before := maps.Clone(data)
	if _, err := RenderMail("reminder_inactive", "en", data); err != nil || !maps.Equal(data, before) {
		t.Errorf("%v %v", err, data)
	}
}

func TestWrapText(t *testing.T) {
	got := wrapText("yksi kaksi  kolme https://example.fi/hyvin/pitka/osoite/joka/ei/mahdu neljä", "> ", 16)
	want := "> yksi kaksi\n> kolme\n> https://example.fi/hyvin/pitka/osoite/joka/ei/mahdu\n> neljä\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := wrapText("ääkköset ovat yksi merkki", "", 13); got != "ääkköset ovat\nyksi merkki\n" {
		t.Errorf("runes: %q", got)
	}
	if wrapText("", "> ", 10) != "" {
		t.Error("empty text makes lines")
	}
}

// TestMailPreview prints every kind (go test -run MailPreview -v).
func TestMailPreview(t *testing.T) {
	if !testing.Verbose() {
		t.Skip("only with -v")
	}
	for _, kind := range MailKinds() {
		m, err := RenderMail(kind, "fi", sampleData(kind))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("=== %s\nSubject: %s\n\n%s", kind, m.Subject, m.Text)
	}
	m, _ := RenderMail("reminder_inactive", "fi", sampleData("reminder_inactive"))
	t.Logf("%s", m.HTML)
}

// placeholders lists the placeholders of s (for tests).
func placeholders(s string) []string {
	var keys []string
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return keys
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return keys
		}
		if key := s[i+1 : i+j]; !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
		s = s[i+j+1:]
	}
}
