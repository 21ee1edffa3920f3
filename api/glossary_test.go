package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/piprate/json-gold/ld"

	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/studio"
)

func TestGlossaryAPI(t *testing.T) {
	base := bundledSite(t)
	resp, body := get(t, base+"/api/v1/glossary")
	var all []struct {
		ID, Term, URL string
	}
	if err := json.Unmarshal([]byte(body), &all); err != nil || resp.StatusCode != 200 || len(all) < 40 {
		t.Fatalf("glossary = %d, %d concepts, %v", resp.StatusCode, len(all), err)
	}
	_, body = get(t, base+"/api/v1/glossary?module=tyokykyjohtaminen")
	var mod []struct{ ID string }
	json.Unmarshal([]byte(body), &mod)
	if len(mod) == 0 || len(mod) >= len(all) {
		t.Fatalf("module filter gave %d of %d", len(mod), len(all))
	}
	_, body = get(t, base+"/api/v1/glossary?letter=t")
	var byLetter []struct{ Term string }
	json.Unmarshal([]byte(body), &byLetter)
	for _, k := range byLetter {
		if !strings.HasPrefix(strings.ToLower(k.Term), "t") {
			t.Errorf("letter filter gave %q", k.Term)
		}
	}
	for _, bad := range []string{"?letter=ab", "?module=%3Cx%3E"} {
		if resp, _ := get(t, base+"/api/v1/glossary"+bad); resp.StatusCode != 400 {
			t.Errorf("%s = %d", bad, resp.StatusCode)
		}
	}
	resp, body = get(t, base+"/api/v1/glossary/osatyokykyisyys")
	if resp.StatusCode != 200 || !strings.Contains(body, `"sections":[`) || !strings.Contains(body, `"term":"osatyökykyisyys"`) {
		t.Fatalf("concept = %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, base+"/api/v1/glossary/ei-ole"); resp.StatusCode != 404 {
		t.Fatalf("unknown concept = %d", resp.StatusCode)
	}
	resp, body = get(t, base+"/api/v1/glossary/search?q=ty%C3%B6kyvyn%20tuen")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, `[{"id":"tyokyvyn-tuki"`) {
		t.Fatalf("search = %d %s", resp.StatusCode, body)
	}
	for _, q := range []string{"", "%20", strings.Repeat("a", 101)} {
		if resp, _ := get(t, base+"/api/v1/glossary/search?q="+q); resp.StatusCode != 400 {
			t.Errorf("search q=%q = %d", q, resp.StatusCode)
		}
	}
	// The page searches without JavaScript.
	_, page := get(t, base+"/sanasto?q=kuntoutuksessa")
	if !strings.Contains(page, `id="tulokset"`) || !strings.Contains(page, `<a href="/sanasto/kuntoutus">kuntoutus</a>`) {
		t.Fatal("glossary page search shows no results")
	}
}

func TestGlossaryExports(t *testing.T) {
	base := bundledSite(t)
	_, all := get(t, base+"/api/v1/glossary")
	var concepts []struct{ ID string }
	json.Unmarshal([]byte(all), &concepts)
	n := len(concepts)

	// CSV: the national service's columns, one row per concept.
	resp, body := get(t, base+"/api/v1/glossary/export.csv")
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %v", resp.StatusCode, err)
	}
	want := []string{"uri", "prefLabel_fi", "prefLabel_sv", "prefLabel_en", "altLabel_fi", "hiddenLabel_fi", "definition_fi", "scopeNote_fi", "broader", "narrower", "related"}
	for i, col := range want {
		if rows[0][i] != col {
			t.Errorf("csv column %d = %q, want %q", i, rows[0][i], col)
		}
	}
	if len(rows) != n+1 {
		t.Errorf("csv has %d rows for %d concepts", len(rows)-1, n)
	}

	// Turtle, parsed by a real RDF parser (rapper): one skos:Concept each.
	_, ttl := get(t, base+"/api/v1/glossary/export.ttl")
	f := filepath.Join(t.TempDir(), "sanasto.ttl")
	os.WriteFile(f, []byte(ttl), 0o644)
	rapper, err := exec.LookPath("rapper")
	if err != nil {
		t.Fatal("rapper is not installed: run `make test`, which installs raptor2-utils")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(rapper, "-q", "-i", "turtle", "-o", "ntriples", f, "http://example.invalid/")
	cmd.Stderr = &stderr
	nt, err := cmd.Output()
	if err != nil {
		t.Fatalf("rapper: %v\n%s", err, stderr.String())
	}
	if got := strings.Count(string(nt), "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2004/02/skos/core#Concept>"); got != n {
		t.Errorf("Turtle has %d skos:Concept, want %d", got, n)
	}
	if strings.Count(string(nt), `"@sv .`) < n/2 {
		t.Error("Turtle lacks the Swedish labels")
	}

	// JSON-LD, expanded to RDF by a JSON-LD processor.
	_, jsonld := get(t, base+"/api/v1/glossary/export.jsonld")
	var doc any
	if err := json.Unmarshal([]byte(jsonld), &doc); err != nil {
		t.Fatal(err)
	}
	opts := ld.NewJsonLdOptions("")
	opts.Format = "application/n-quads"
	quads, err := ld.NewJsonLdProcessor().ToRDF(doc, opts)
	if err != nil {
		t.Fatalf("JSON-LD: %v", err)
	}
	if got := strings.Count(quads.(string), "<http://www.w3.org/2004/02/skos/core#Concept>"); got != n {
		t.Errorf("JSON-LD has %d skos:Concept, want %d", got, n)
	}
	// Both serialisations say the same.
	if strings.Count(string(nt), "\n") != strings.Count(quads.(string), "\n") {
		t.Errorf("Turtle has %d triples, JSON-LD %d", strings.Count(string(nt), "\n"), strings.Count(quads.(string), "\n"))
	}
}

// Diagrams are well-formed SVG with a title and a description, for every
// concept and every theme.
func TestGlossaryDiagrams(t *testing.T) {
	base := bundledSite(t)
	_, all := get(t, base+"/api/v1/glossary")
	var concepts []struct{ ID string }
	json.Unmarshal([]byte(all), &concepts)
	check := func(url string) {
		resp, body := get(t, base+url)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Fatalf("%s = %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var svg struct {
			XMLName xml.Name `xml:"svg"`
			Title   string   `xml:"title"`
			Desc    string   `xml:"desc"`
			Texts   []string `xml:"text"`
		}
		if err := xml.Unmarshal([]byte(body), &svg); err != nil {
			t.Fatalf("%s is not well-formed XML: %v", url, err)
		}
		if svg.Title == "" || len(svg.Desc) < 20 || len(svg.Texts) < 2 {
			t.Errorf("%s: title %q, desc %q, %d texts", url, svg.Title, svg.Desc, len(svg.Texts))
		}
	}
	for _, k := range concepts {
		check("/sanasto/" + k.ID + "/kaavio.svg")
	}
	_, page := get(t, base+"/sanasto/kaaviot")
	themes := regexp.MustCompile(`/sanasto/teemat/([a-z]+)\.svg`).FindAllStringSubmatch(page, -1)
	if len(themes) < 5 {
		t.Fatalf("diagrams page shows %d themes", len(themes))
	}
	for _, m := range themes {
		check("/sanasto/teemat/" + m[1] + ".svg")
	}
	if resp, _ := get(t, base+"/sanasto/teemat/ei-ole.svg"); resp.StatusCode != 404 {
		t.Errorf("unknown theme = %d", resp.StatusCode)
	}
	if resp, _ := get(t, base+"/sanasto/ei-ole/kaavio.svg"); resp.StatusCode != 404 {
		t.Errorf("unknown concept diagram = %d", resp.StatusCode)
	}
}

// startPublished serves the bundled course imported into a fresh store, so
// that edits can be published.
func startPublished(t *testing.T) (*running, *course.Library) {
	t.Helper()
	ctx := context.Background()
	db := env.Database()
	if err := studio.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	store := studio.NewStore(db)
	if _, _, err := store.Import(ctx, content.Bundled(), "test"); err != nil {
		t.Fatal(err)
	}
	lib, err := course.NewLibrary(ctx, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return startOpts(t, lib, func(o *api.Options, _ *media.Options) { o.Studio = store }), lib
}

func TestAuthorEditsAConcept(t *testing.T) {
	r, lib := startPublished(t)
	learner := newClient(t, r.URL)
	learner.register("lukija@example.fi", "Lukija")
	if resp, _ := learner.get("/sanasto/tyokyky/muokkaa"); resp.StatusCode != 404 {
		t.Fatalf("a learner on the edit page = %d", resp.StatusCode)
	}
	author := newClient(t, r.URL)
	author.register("kirjoittaja@example.fi", "Kirsi Kirjoittaja")
	signInAdmin(t, author, r.Accounts(), "kirjoittaja@example.fi")
	r.Accounts().SetRole(t.Context(), "kirjoittaja@example.fi", "author")
	_, page := author.get("/sanasto/tyokyky/muokkaa")
	token := csrfField.FindStringSubmatch(page)[1]
	values := func(changes map[string]string) url.Values {
		k, _ := lib.Current().Course.Concept("tyokyky")
		v := url.Values{"csrf": {token}, "term": {k.Term}, "definition": {k.Definition}, "theme": {k.Theme}, "source": {k.Source},
			"sv": {k.SV}, "en": {k.EN}, "synonyms": {strings.Join(k.Synonyms, ", ")}, "notes": {strings.Join(k.Notes, "\n")},
			"forms": {strings.Join(k.Forms, ", ")}, "modules": {strings.Join(k.Modules, ", ")}, "broader": {strings.Join(k.Broader, ", ")},
			"narrower": {strings.Join(k.Narrower, ", ")}, "related": {strings.Join(k.Related, ", ")}, "part_of": {strings.Join(k.PartOf, ", ")}}
		for f, x := range changes {
			v.Set(f, x)
		}
		return v
	}
	before := lib.Current().Version
	k, _ := lib.Current().Course.Concept("tyokyky")
	resp, body := author.post("/sanasto/tyokyky/muokkaa", values(map[string]string{
		"definition": "Ihmisen voimavarojen ja työn vaatimusten yhteensopivuus, jota tuetaan yhdessä.",
		"related":    strings.Join(append(append([]string{}, k.Related...), "kuntoutus"), ", "),
	}))
	if resp.StatusCode != 303 {
		t.Fatalf("edit = %d\n%s", resp.StatusCode, body)
	}
	if lib.Current().Version != before+1 {
		t.Fatalf("version %d after the edit, want %d", lib.Current().Version, before+1)
	}
	_, page = get(t, r.URL+"/sanasto/tyokyky")
	if !strings.Contains(page, "jota tuetaan yhdessä") {
		t.Fatal("the concept page does not show the new definition")
	}
	_, api := get(t, r.URL+"/api/v1/glossary/kuntoutus")
	if !strings.Contains(api, `"tyokyky"`) {
		t.Fatal("the related concept did not get the inverse relation")
	}
	// A cycle of broader concepts and an unknown concept are refused.
	resp, body = author.post("/sanasto/tyokyky/muokkaa", values(map[string]string{"broader": "osatyokykyisyys"}))
	if resp.StatusCode != 422 || !strings.Contains(body, "cycle") {
		t.Fatalf("cycle = %d", resp.StatusCode)
	}
	resp, body = author.post("/sanasto/tyokyky/muokkaa", values(map[string]string{"related": "ei-ole-olemassa"}))
	if resp.StatusCode != 422 || !strings.Contains(body, "ei-ole-olemassa") {
		t.Fatalf("unknown concept = %d", resp.StatusCode)
	}
	if lib.Current().Version != before+1 {
		t.Fatal("a refused edit was published")
	}
}
