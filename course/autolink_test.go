package course_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/course"
)

var termLink = regexp.MustCompile(`<a href="/sanasto/([a-z0-9-]+)" title="[^"]*" class="term term-auto" data-term="[a-z0-9-]+">([^<]*)</a>`)

func autolinked(t *testing.T, c *course.Course, md string, nolink ...string) map[string]string {
	t.Helper()
	env := course.Env{File: "x.md", Linker: course.NewTermLinker(c.Concepts), NoLink: nolink,
		Term: func(id string) (*course.Concept, bool) { return c.Concept(id) }}
	r, issues := course.Render([]byte(md), env)
	if len(issues) > 0 {
		t.Fatalf("issues: %v", issues)
	}
	out := map[string]string{}
	for _, m := range termLink.FindAllStringSubmatch(r.HTML, -1) {
		out[strings.ToLower(m[2])] = m[1]
	}
	return out
}

// Inflected forms in running text link to their concepts.
func TestAutolinkInflectedForms(t *testing.T) {
	c := bundled(t)
	cases := map[string]string{
		"työkyvyn":                     "tyokyky",
		"työkykyä":                     "tyokyky",
		"työkyvystä":                   "tyokyky",
		"työkyvyn tuen":                "tyokyvyn-tuki",
		"työkyvyn tukea":               "tyokyvyn-tuki",
		"osatyökykyisille":             "osatyokykyisyys",
		"osatyökykyisten":              "osatyokykyisyys",
		"osatyökykyisyyden":            "osatyokykyisyys",
		"monialaisessa yhteistyössä":   "monialainen-yhteistyo",
		"moniammatillista yhteistyötä": "moniammatillinen-yhteistyo",
		"toimintakyvyn":                "toimintakyky",
		"työkyvyttömyyden":             "tyokyvyttomyys",
		"varhaisen tuen":               "varhainen-tuki",
		"kuntoutukseen":                "kuntoutus",
		"kuntoutuksen":                 "kuntoutus",
		"ammatillisen kuntoutuksen":    "ammatillinen-kuntoutus",
		"työterveysneuvottelun":        "tyoterveysneuvottelu",
		"työterveysneuvottelussa":      "tyoterveysneuvottelu",
		"osasairauspäivärahaa":         "osasairauspaivaraha",
		"osasairauspäivärahan":         "osasairauspaivaraha",
		"työn muokkausta":              "tyon-muokkaus",
		"korvaavaa työtä":              "korvaava-tyo",
		"asiakasosallisuuden":          "asiakasosallisuus",
		"kokemusasiantuntijat":         "kokemusasiantuntija",
		"kokemusasiantuntijoiden":      "kokemusasiantuntija",
		"yhteiskehittämistä":           "yhteiskehittaminen",
		"hyvinvointialueen":            "hyvinvointialue",
		"hyvinvointialueilla":          "hyvinvointialue",
		"palvelutarpeen arvioinnin":    "palvelutarpeen-arviointi",
		"asiakassuunnitelman":          "asiakassuunnitelma",
		"työkykyjohtamisen":            "tyokykyjohtaminen",
		"yhdyspinnoilla":               "yhdyspinta",
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for form, want := range cases {
		got := autolinked(t, c, "Teksti, jossa on "+form+" keskellä lausetta.")
		if got[form] != want {
			t.Errorf("%q linked %v, want %s", form, got, want)
		}
	}
}

func TestAutolinkDoesNotLink(t *testing.T) {
	c := bundled(t)
	for _, md := range []string{
		"## Työkyvyn tuki otsikossa\n",
		"[työkyvyn tuki linkissä](https://example.fi)\n",
		"`työkyvyn tuki` koodissa\n",
		"```\ntyökyvyn tuki\n```\n",
		"Tukiasema ja tukija eivät ole tukea.\n", // parts of other words
		"Kyky ja työ erikseen.\n",
	} {
		if got := autolinked(t, c, md); len(got) > 0 {
			t.Errorf("%q linked %v", md, got)
		}
	}
	// The first occurrence only, and an explicit link counts as the first.
	got := autolinked(t, c, "Työkyky ja työkyvyn arvio. Taas työkyky.\n")
	if len(got) != 1 {
		t.Errorf("linked %v", got)
	}
	r, _ := course.Render([]byte("[työkyky](sanasto:tyokyky) ja työkyky.\n"), course.Env{Linker: course.NewTermLinker(c.Concepts),
		Term: func(id string) (*course.Concept, bool) { return c.Concept(id) }})
	if strings.Count(r.HTML, `/sanasto/tyokyky"`) != 1 {
		t.Errorf("explicit and automatic link both: %s", r.HTML)
	}
	// Authors can suppress links.
	if got := autolinked(t, c, "Työkyky ja kuntoutus.\n", "tyokyky"); got["työkyky"] != "" || got["kuntoutus"] != "kuntoutus" {
		t.Errorf("nolink tyokyky: %v", got)
	}
	if got := autolinked(t, c, "Työkyky ja kuntoutus.\n", "*"); len(got) != 0 {
		t.Errorf("nolink *: %v", got)
	}
}
