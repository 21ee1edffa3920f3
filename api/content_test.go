package api_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestFrontPageHasEverySection(t *testing.T) {
	r := start(t)
	_, body := get(t, r.URL+"/")
	for _, h := range []string{"Mitä?", "Kenelle?", "Tavoitteet", "Koulutuksen sisältö", "Laajuus ja opiskelu", "Sanasto",
		"Lainsäädäntö", "Koulutusmateriaalin tausta", "Materiaalin viittaaminen", "Tekijät", "Saavutettavuus",
		"Anna palautetta", "Koulutuksen rahoitus", "Avainsanat"} {
		if !regexp.MustCompile(`<h2 id="[a-z]+">` + regexp.QuoteMeta(h) + `</h2>`).MatchString(body) {
			t.Errorf("front page lacks the section %q", h)
		}
	}
	for _, want := range []string{
		`href="/osiot/ensimmainen"`, `href="/osiot/toinen"`, // structure figure
		`<figcaption id="rakenne-kuvateksti">`, `Testi Tekijä, FM, kirjoittaja, Testi Oy`,
		`href="/sanasto"`, `href="/lainsaadanto"`, `href="/palaute"`,
		`<em>testaamisesta</em>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("front page lacks %q", want)
		}
	}
}

func TestModuleAndSectionPages(t *testing.T) {
	r := start(t)
	resp, body := get(t, r.URL+"/osiot/ensimmainen")
	if resp.StatusCode != 200 {
		t.Fatalf("module page = %d", resp.StatusCode)
	}
	for _, want := range []string{`<h1 id="page-title" lang="fi">Ensimmäinen osio</h1>`, `Oppija tuntee rakenteet.`,
		`href="/osiot/ensimmainen/alku"`, `href="/osiot/ensimmainen/tehtava"`, `30 min`, `Osio toimii myös itsenäisenä kokonaisuutena`} {
		if !strings.Contains(body, want) {
			t.Errorf("module page lacks %q", want)
		}
	}

	resp, body = get(t, r.URL+"/osiot/ensimmainen/alku")
	if resp.StatusCode != 200 {
		t.Fatalf("section page = %d", resp.StatusCode)
	}
	for _, want := range []string{
		`<nav class="breadcrumbs" aria-label="Murupolku">`,
		`<h1 id="page-title" lang="fi">Alku</h1>`,
		`<nav class="toc"`, `<a href="#mita-tyokyky-on">Mitä työkyky on?</a>`,
		`href="/osiot/ensimmainen/tehtava" rel="next"`, `href="/osiot/ensimmainen" rel="prev"`,
		`Sivu 1/2`, `<div class="prose" lang="fi">`,
		`<a href="/lainsaadanto#laki-612-2021" class="law-link">`,
		`<details class="transcript"><summary>Tekstivastine</summary>`,
		`<img src="/kurssi/kuvat/`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("section page lacks %q", want)
		}
	}
	// The last section of a module leads to the next module.
	_, body = get(t, r.URL+"/osiot/ensimmainen/tehtava")
	if !strings.Contains(body, `href="/osiot/toinen" rel="next"`) {
		t.Error("last section does not lead to the next module")
	}

	for _, path := range []string{"/osiot/ei-ole", "/osiot/ensimmainen/ei-ole", "/osiot/ENSIMMAINEN", "/osiot/ensimmainen/..%2f..%2fetc", "/osiot/%3Cscript%3E"} {
		resp, body := get(t, r.URL+path)
		if resp.StatusCode != 404 || !strings.Contains(body, "Sivua ei löytynyt") {
			t.Errorf("%s = %d, want the 404 page", path, resp.StatusCode)
		}
	}
}

func TestLegislationPage(t *testing.T) {
	r := start(t)
	resp, body := get(t, r.URL+"/lainsaadanto")
	if resp.StatusCode != 200 {
		t.Fatalf("legislation = %d", resp.StatusCode)
	}
	for _, want := range []string{`id="laki-612-2021"`, `Laki sosiaali- ja terveydenhuollon järjestämisestä (612/2021)`,
		`href="https://www.finlex.fi/fi/laki/ajantasa/2021/20210612"`, `<th scope="row" lang="fi">1. Ensimmäinen osio</th>`, `7 § – Edistäminen`} {
		if !strings.Contains(body, want) {
			t.Errorf("legislation page lacks %q", want)
		}
	}
}

func TestUILanguage(t *testing.T) {
	r := start(t)
	resp, body := get(t, r.URL+"/osiot/ensimmainen/alku?lang=sv")
	if !strings.Contains(body, `<html lang="sv">`) || !strings.Contains(body, "Hoppa till innehållet") || !strings.Contains(body, `<div class="prose" lang="fi">`) {
		t.Fatal("?lang=sv did not give a Swedish UI around the Finnish text")
	}
	cookie := resp.Header.Get("Set-Cookie")
	if !strings.Contains(cookie, "lang=sv") || !strings.Contains(strings.ToLower(cookie), "samesite=lax") || !strings.Contains(strings.ToLower(cookie), "httponly") {
		t.Fatalf("language choice not remembered: Set-Cookie %q", cookie)
	}
	_, body = get(t, r.URL+"/", "Cookie", "lang=sv")
	if !strings.Contains(body, `<html lang="sv">`) {
		t.Error("remembered choice not used")
	}
	_, body = get(t, r.URL+"/", "Accept-Language", "de-DE,en-GB;q=0.8,fi;q=0.5")
	if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "Skip to content") {
		t.Error("Accept-Language en-GB did not choose English")
	}
	_, body = get(t, r.URL+"/", "Accept-Language", "de-DE")
	if !strings.Contains(body, `<html lang="fi">`) {
		t.Error("unknown language did not fall back to Finnish")
	}
	_, body = get(t, r.URL+"/?lang=xx")
	if !strings.Contains(body, `<html lang="fi">`) {
		t.Error("unknown ?lang= was not ignored")
	}
	// The cached page of one language never leaks into another.
	_, fi := get(t, r.URL+"/osiot", "Cookie", "lang=fi")
	_, en := get(t, r.URL+"/osiot", "Cookie", "lang=en")
	if !strings.Contains(fi, "Koulutuksen osiot") || !strings.Contains(en, "Modules of the course") {
		t.Error("cached pages mix languages")
	}
	// Language links keep the page.
	if !strings.Contains(fi, `href="/osiot?lang=sv" lang="sv" hreflang="sv"`) {
		t.Error("language switcher does not link the same page")
	}
}

func TestPagesRevalidateWithETag(t *testing.T) {
	r := start(t)
	resp, _ := get(t, r.URL+"/osiot/ensimmainen")
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	resp, _ = get(t, r.URL+"/osiot/ensimmainen", "If-None-Match", etag)
	if resp.StatusCode != 304 {
		t.Fatalf("revalidation = %d, want 304", resp.StatusCode)
	}
	resp, _ = get(t, r.URL+"/osiot/ensimmainen", "If-None-Match", etag, "Cookie", "lang=en")
	if resp.StatusCode != 200 {
		t.Fatalf("another language revalidated with the Finnish ETag: %d", resp.StatusCode)
	}
}

func TestFigureIsServedSafely(t *testing.T) {
	r := start(t)
	_, body := get(t, r.URL+"/osiot/ensimmainen/alku")
	src := regexp.MustCompile(`<img src="(/kurssi/kuvat/[0-9a-f]{16}\.svg)"`).FindStringSubmatch(body)
	if src == nil {
		t.Fatal("no figure on the page")
	}
	resp, svg := get(t, r.URL+src[1])
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(svg, "<title>Kaavio</title>") {
		t.Fatalf("figure = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("figure CSP = %q", csp)
	}
	if resp, _ := get(t, r.URL+"/kurssi/kuvat/0000000000000000.svg"); resp.StatusCode != 404 {
		t.Fatalf("unknown figure = %d", resp.StatusCode)
	}
}

func TestCourseAPI(t *testing.T) {
	r := start(t)
	resp, body := get(t, r.URL+"/api/v1/course")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("course = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var c struct {
		Title        string `json:"title"`
		TotalMinutes int    `json:"total_minutes"`
		Modules      []struct {
			Slug     string `json:"slug"`
			Sections []struct {
				API string `json:"api"`
			} `json:"sections"`
		} `json:"modules"`
		Laws []struct {
			ID string `json:"id"`
		} `json:"laws"`
	}
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	if c.Title != "Testikurssi" || len(c.Modules) != 2 || c.TotalMinutes != 90 || len(c.Laws) != 1 {
		t.Fatalf("course = %+v", c)
	}
	resp, body = get(t, r.URL+c.Modules[0].Sections[0].API)
	var s struct {
		Title string `json:"title"`
		HTML  string `json:"html"`
		Next  struct {
			URL string `json:"url"`
		} `json:"next"`
		Media []string `json:"media"`
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil || resp.StatusCode != 200 {
		t.Fatalf("section %d: %v", resp.StatusCode, err)
	}
	if s.Title != "Alku" || !strings.Contains(s.HTML, `<h2 id="mita-tyokyky-on">`) || s.Next.URL != "/osiot/ensimmainen/tehtava" || len(s.Media) != 1 {
		t.Fatalf("section = %+v", s)
	}
	resp, body = get(t, r.URL+"/api/v1/modules/ensimmainen")
	if resp.StatusCode != 200 || !strings.Contains(body, `"objectives":["Oppija tuntee rakenteet."]`) {
		t.Fatalf("module = %d %s", resp.StatusCode, body)
	}
	for _, path := range []string{"/api/v1/modules/nope", "/api/v1/modules/ensimmainen/sections/nope", "/api/v1/modules/a%20b"} {
		resp, _ := get(t, r.URL+path)
		if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s = %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	r := start(t)
	resp, body := get(t, r.URL+"/api/v1/openapi.json")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"openapi": "3.1.0"`) {
		t.Fatalf("openapi = %d", resp.StatusCode)
	}
}

func TestGlossaryPages(t *testing.T) {
	r := start(t)
	resp, body := get(t, r.URL+"/sanasto")
	if resp.StatusCode != 200 || !strings.Contains(body, `<a href="/sanasto/tyokyky">työkyky</a>`) || !strings.Contains(body, `id="kirjain-T"`) {
		t.Fatalf("glossary = %d\n%s", resp.StatusCode, body)
	}
	_, body = get(t, r.URL+"/sanasto/tyokyky")
	for _, want := range []string{`<h1 id="page-title" lang="fi">työkyky</h1>`, `<dd lang="sv">arbetsförmåga</dd>`, `<dd lang="en">work ability</dd>`,
		`href="/osiot/ensimmainen/alku"`} {
		if !strings.Contains(body, want) {
			t.Errorf("concept page lacks %q", want)
		}
	}
	if resp, _ := get(t, r.URL+"/sanasto/ei-ole"); resp.StatusCode != 404 {
		t.Errorf("unknown concept = %d", resp.StatusCode)
	}
	// Every glossary link in a section leads to an existing concept page.
	_, body = get(t, r.URL+"/osiot/ensimmainen/alku")
	for _, m := range regexp.MustCompile(`href="(/sanasto/[a-z0-9-]+)"`).FindAllStringSubmatch(body, -1) {
		if resp, _ := get(t, r.URL+m[1]); resp.StatusCode != 200 {
			t.Errorf("%s = %d", m[1], resp.StatusCode)
		}
	}
}
