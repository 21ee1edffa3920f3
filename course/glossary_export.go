package course

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
)

// Exports of the glossary: CSV with the column names of the national
// terminology service, JSON, and SKOS as Turtle and JSON-LD. base is the
// address concept URIs start with (…/sanasto/), so each URI is also the
// concept's page.

// GlossaryCSV writes one row per concept; multiple values are joined
// with " | ".
func (c *Course) GlossaryCSV(base string) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("\ufeff") // so that spreadsheet programs read UTF-8
	w := csv.NewWriter(&buf)
	header := []string{"uri", "prefLabel_fi", "prefLabel_sv", "prefLabel_en", "altLabel_fi", "hiddenLabel_fi",
		"definition_fi", "scopeNote_fi", "broader", "narrower", "related", "isPartOf", "source", "theme", "modules"}
	if err := w.Write(header); err != nil {
		return nil, err
	}
	join := func(xs []string) string { return strings.Join(xs, " | ") }
	uris := func(ids []string) string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = base + id
		}
		return join(out)
	}
	for _, k := range c.Concepts {
		hidden := append(append([]string{}, k.NotRecommended...), k.Forms...)
		if err := w.Write([]string{base + k.ID, k.Term, k.SV, k.EN, join(k.Synonyms), join(hidden), k.Definition,
			join(k.Notes), uris(k.Broader), uris(k.Narrower), uris(k.Related), uris(k.PartOf), k.Source, k.Theme, join(k.Modules)}); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// GlossaryJSON is the concepts as they are in the content.
func (c *Course) GlossaryJSON() ([]byte, error) {
	return json.MarshalIndent(struct {
		Source   string     `json:"source"`
		Concepts []*Concept `json:"concepts"`
	}{"Työkyvyn tuen johtaminen sosiaali- ja terveydenhuollossa: käsitteet (Sotete-sanaston käsitteiden pohjalta, määritelmät kirjoitettu tätä koulutusta varten)", c.Concepts}, "", "  ")
}

// turtleString quotes a literal for Turtle.
func turtleString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// GlossaryTurtle is the glossary as a SKOS concept scheme in Turtle.
func (c *Course) GlossaryTurtle(base string) []byte {
	var b strings.Builder
	b.WriteString("@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n")
	b.WriteString("@prefix dct: <http://purl.org/dc/terms/> .\n\n")
	scheme := strings.TrimSuffix(base, "/")
	fmt.Fprintf(&b, "<%s> a skos:ConceptScheme ;\n  dct:title %s@fi ;\n  dct:source %s@fi .\n\n", scheme,
		turtleString("Työkyvyn tuen johtamisen käsitteet"), turtleString("Sotete-sanasto (TEM ja Sanastokeskus 2020): käsitteet; määritelmät tämän koulutuksen"))
	for _, k := range c.Concepts {
		fmt.Fprintf(&b, "<%s%s> a skos:Concept ;\n  skos:inScheme <%s> ;\n  skos:prefLabel %s@fi", base, k.ID, scheme, turtleString(k.Term))
		if k.SV != "" {
			fmt.Fprintf(&b, " , %s@sv", turtleString(k.SV))
		}
		if k.EN != "" {
			fmt.Fprintf(&b, " , %s@en", turtleString(k.EN))
		}
		b.WriteString(" ;\n")
		labels := func(pred string, xs []string) {
			for _, x := range xs {
				fmt.Fprintf(&b, "  %s %s@fi ;\n", pred, turtleString(x))
			}
		}
		labels("skos:altLabel", k.Synonyms)
		labels("skos:hiddenLabel", k.NotRecommended)
		labels("skos:hiddenLabel", k.Forms)
		fmt.Fprintf(&b, "  skos:definition %s@fi ;\n", turtleString(k.Definition))
		labels("skos:scopeNote", k.Notes)
		rel := func(pred string, ids []string) {
			for _, id := range ids {
				fmt.Fprintf(&b, "  %s <%s%s> ;\n", pred, base, id)
			}
		}
		rel("skos:broader", k.Broader)
		rel("skos:narrower", k.Narrower)
		rel("skos:related", k.Related)
		rel("dct:isPartOf", k.PartOf)
		fmt.Fprintf(&b, "  dct:source %s .\n\n", turtleString(k.Source))
	}
	return []byte(b.String())
}

// GlossaryJSONLD is the same SKOS graph as JSON-LD.
func (c *Course) GlossaryJSONLD(base string) ([]byte, error) {
	lit := func(v, lang string) map[string]string { return map[string]string{"@value": v, "@language": lang} }
	lits := func(xs []string, lang string) []map[string]string {
		out := []map[string]string{}
		for _, x := range xs {
			out = append(out, lit(x, lang))
		}
		return out
	}
	refs := func(ids []string) []map[string]string {
		out := []map[string]string{}
		for _, id := range ids {
			out = append(out, map[string]string{"@id": base + id})
		}
		return out
	}
	scheme := strings.TrimSuffix(base, "/")
	graph := []any{map[string]any{
		"@id": scheme, "@type": "skos:ConceptScheme",
		"dct:title":  lit("Työkyvyn tuen johtamisen käsitteet", "fi"),
		"dct:source": lit("Sotete-sanasto (TEM ja Sanastokeskus 2020): käsitteet; määritelmät tämän koulutuksen", "fi"),
	}}
	for _, k := range c.Concepts {
		pref := []map[string]string{lit(k.Term, "fi")}
		if k.SV != "" {
			pref = append(pref, lit(k.SV, "sv"))
		}
		if k.EN != "" {
			pref = append(pref, lit(k.EN, "en"))
		}
		graph = append(graph, map[string]any{
			"@id":              base + k.ID,
			"@type":            "skos:Concept",
			"skos:inScheme":    map[string]string{"@id": scheme},
			"skos:prefLabel":   pref,
			"skos:altLabel":    lits(k.Synonyms, "fi"),
			"skos:hiddenLabel": append(lits(k.NotRecommended, "fi"), lits(k.Forms, "fi")...),
			"skos:definition":  lit(k.Definition, "fi"),
			"skos:scopeNote":   lits(k.Notes, "fi"),
			"skos:broader":     refs(k.Broader),
			"skos:narrower":    refs(k.Narrower),
			"skos:related":     refs(k.Related),
			"dct:isPartOf":     refs(k.PartOf),
			"dct:source":       k.Source,
		})
	}
	return json.MarshalIndent(map[string]any{
		"@context": map[string]string{
			"skos": "http://www.w3.org/2004/02/skos/core#",
			"dct":  "http://purl.org/dc/terms/",
		},
		"@graph": graph,
	}, "", "  ")
}
