package course

import (
	_ "embed"
	"html/template"
	"sort"
	"strings"
)

// Concept diagrams, drawn from the relations: the concept in the middle,
// its broader concepts above, narrower below, related beside (dashed) and
// the wholes it is part of above right (dotted). Every diagram has a
// <title>, a <desc> that says the same in words, and real <text>.

const (
	boxW, boxH = 190, 54
	gapX, gapY = 24, 70
	perRow     = 3
	margin     = 20
)

type box struct {
	x, y  int
	lines []string
	main  bool
}

// diagram.svg is the template of every diagram: html/template writes its
// text, so a term is escaped where it stands (in <title>, <desc> and
// <text>), and the Go code only lays the boxes and lines out.
//
//go:embed diagram.svg
var diagramSource string

var diagramTemplate = template.Must(template.New("diagram").Parse(strings.TrimSpace(diagramSource)))

// diagram is what diagram.svg draws.
type diagram struct {
	ID            string // prefix of the title's and description's ids
	Width, Height int
	Title, Desc   string
	TitleY        int
	Lines         []diagramLine
	Boxes         []diagramBox
	Legend        string
	LegendY       int
}

type diagramLine struct {
	X1, Y1, X2, Y2 int
	Colour, Width  string
	Dash           string
}

type diagramBox struct {
	X, Y, W, H int
	Bold       bool
	Texts      []diagramText
}

type diagramText struct {
	X, Y int
	Text string
}

func (b box) view() diagramBox {
	v := diagramBox{X: b.x, Y: b.y, W: boxW, H: boxH, Bold: b.main}
	top := b.y + boxH/2 - (len(b.lines)-1)*9 + 5
	for i, l := range b.lines {
		v.Texts = append(v.Texts, diagramText{X: b.x + boxW/2, Y: top + i*18, Text: l})
	}
	return v
}

func (d *diagram) svg(boxes []box) string {
	for _, b := range boxes {
		d.Boxes = append(d.Boxes, b.view())
	}
	var sb strings.Builder
	if err := diagramTemplate.Execute(&sb, d); err != nil {
		// The template is fixed and its data numbers and strings: a
		// failure is a programming error the glossary tests catch.
		panic("course: diagram: " + err.Error())
	}
	return sb.String()
}

// wrap breaks a term into at most three lines of about 22 characters.
func wrap(s string) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		if cur != "" && len([]rune(cur+" "+w)) > 22 {
			lines = append(lines, cur)
			cur = w
		} else if cur == "" {
			cur = w
		} else {
			cur += " " + w
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	if len(lines) > 3 {
		lines = append(lines[:2], lines[2]+"…")
	}
	return lines
}

// row lays out n boxes centred in width, wrapping after perRow.
func row(n, width, y int) (xs []int, ys []int, height int) {
	for i := 0; i < n; i++ {
		r, c := i/perRow, i%perRow
		inRow := min(perRow, n-r*perRow)
		rowW := inRow*boxW + (inRow-1)*gapX
		xs = append(xs, (width-rowW)/2+c*(boxW+gapX))
		ys = append(ys, y+r*(boxH+gapY/2))
	}
	rows := (n + perRow - 1) / perRow
	return xs, ys, rows*boxH + max(rows-1, 0)*gapY/2
}

func terms(c *Course, ids []string) []*Concept {
	var out []*Concept
	for _, id := range ids {
		if k, ok := c.Concept(id); ok {
			out = append(out, k)
		}
	}
	return out
}

func names(ks []*Concept) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = k.Term
	}
	return strings.Join(s, ", ")
}

// DiagramDescription says in words what the concept's diagram shows.
func (c *Course) DiagramDescription(k *Concept) string {
	parts := []string{"Käsite " + k.Term + "."}
	for _, r := range []struct {
		label string
		ids   []string
	}{{"Yläkäsitteet", k.Broader}, {"Alakäsitteet", k.Narrower}, {"Lähikäsitteet", k.Related}, {"Osa kokonaisuutta", k.PartOf}} {
		if ks := terms(c, r.ids); len(ks) > 0 {
			parts = append(parts, r.label+": "+names(ks)+".")
		}
	}
	if len(parts) == 1 {
		parts = append(parts, "Käsitteellä ei ole suhteita muihin sanaston käsitteisiin.")
	}
	return strings.Join(parts, " ")
}

// ConceptDiagram draws one concept with its neighbours.
func (c *Course) ConceptDiagram(k *Concept) string {
	broader, narrower := terms(c, k.Broader), terms(c, k.Narrower)
	related, partOf := terms(c, k.Related), terms(c, k.PartOf)
	width := 3*boxW + 2*gapX + 2*margin
	var boxes []box
	var lines []diagramLine
	y := margin + 24
	bx, bys, bh := row(len(broader)+len(partOf), width, y)
	if len(broader)+len(partOf) > 0 {
		y += bh + gapY
	}
	mainX := (width - boxW) / 2
	mainY := y
	// Related beside the concept (left and right), more below them.
	relX := []int{mainX - boxW - gapX, mainX + boxW + gapX}
	relY := mainY
	for i, r := range related {
		x := relX[i%2]
		yy := relY + (i/2)*(boxH+gapY/3)
		boxes = append(boxes, box{x: x, y: yy, lines: wrap(r.Term)})
		x1, x2 := mainX, x+boxW
		if x > mainX {
			x1, x2 = mainX+boxW, x
		}
		lines = append(lines, diagramLine{X1: x1, Y1: mainY + boxH/2, X2: x2, Y2: yy + boxH/2, Colour: "#4a4a4a", Width: "2", Dash: "6 4"})
	}
	sideRows := (len(related) + 1) / 2
	below := mainY + max(boxH, sideRows*(boxH+gapY/3)-gapY/3) + gapY
	for i, b := range append(broader, partOf...) {
		boxes = append(boxes, box{x: bx[i], y: bys[i], lines: wrap(b.Term)})
		dash := ""
		if i >= len(broader) {
			dash = "2 4"
		}
		lines = append(lines, diagramLine{X1: bx[i] + boxW/2, Y1: bys[i] + boxH, X2: mainX + boxW/2, Y2: mainY, Colour: "#1a1a1a", Width: "2", Dash: dash})
	}
	boxes = append(boxes, box{x: mainX, y: mainY, lines: wrap(k.Term), main: true})
	nx, nys, nh := row(len(narrower), width, below)
	for i, n := range narrower {
		boxes = append(boxes, box{x: nx[i], y: nys[i], lines: wrap(n.Term)})
		lines = append(lines, diagramLine{X1: mainX + boxW/2, Y1: mainY + boxH, X2: nx[i] + boxW/2, Y2: nys[i], Colour: "#1a1a1a", Width: "2"})
	}
	height := below + margin + 30
	if len(narrower) > 0 {
		height = below + nh + margin + 30
	}
	title := "Käsitekaavio: " + k.Term
	d := &diagram{ID: "kaavio", Width: width, Height: height, Title: title, Desc: c.DiagramDescription(k), TitleY: margin + 4, Lines: lines,
		Legend:  "Yhtenäinen viiva: ylä- ja alakäsite · katkoviiva: lähikäsite · pisteviiva: osa kokonaisuutta",
		LegendY: height - 14}
	return d.svg(boxes)
}

// ThemeNames are the Finnish names of the glossary's themes.
var ThemeNames = map[string]string{
	"henkilot": "Henkilöt", "organisointi": "Organisointi", "osallisuus": "Osallisuus", "palvelut": "Palvelut",
	"suunnitelmat": "Suunnitelmat", "tyoelama": "Työelämä", "tyokyky": "Työkyky",
}

// ThemeName is a theme's Finnish name (the id when unknown).
func ThemeName(theme string) string {
	if n, ok := ThemeNames[theme]; ok {
		return n
	}
	return theme
}

// Themes lists the glossary's themes in order.
func (c *Course) Themes() []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range c.Concepts {
		if k.Theme != "" && !seen[k.Theme] {
			seen[k.Theme] = true
			out = append(out, k.Theme)
		}
	}
	sort.Strings(out)
	return out
}

// ThemeConcepts are a theme's concepts by level: those without a broader
// concept in the theme first, then their narrower ones, and so on.
func (c *Course) ThemeConcepts(theme string) [][]*Concept {
	in := map[string]*Concept{}
	for _, k := range c.Concepts {
		if k.Theme == theme {
			in[k.ID] = k
		}
	}
	level := map[string]int{}
	var visit func(k *Concept, d int)
	visit = func(k *Concept, d int) {
		if old, ok := level[k.ID]; ok && old >= d || d > 10 {
			return
		}
		level[k.ID] = d
		for _, n := range k.Narrower {
			if nk := in[n]; nk != nil {
				visit(nk, d+1)
			}
		}
	}
	for _, k := range in {
		root := true
		for _, b := range k.Broader {
			if in[b] != nil {
				root = false
			}
		}
		if root {
			visit(k, 0)
		}
	}
	var levels [][]*Concept
	for _, k := range c.Concepts {
		if k.Theme != theme {
			continue
		}
		d := level[k.ID]
		for len(levels) <= d {
			levels = append(levels, nil)
		}
		levels[d] = append(levels[d], k)
	}
	return levels
}

// ThemeDiagram draws a theme's concepts by level, with lines from broader
// to narrower concepts.
func (c *Course) ThemeDiagram(theme, label string) string {
	levels := c.ThemeConcepts(theme)
	width := 3*boxW + 2*gapX + 2*margin
	pos := map[string][2]int{}
	var boxes []box
	y := margin + 30
	var desc []string
	for _, lv := range levels {
		xs, ys, h := row(len(lv), width, y)
		for i, k := range lv {
			pos[k.ID] = [2]int{xs[i], ys[i]}
			boxes = append(boxes, box{x: xs[i], y: ys[i], lines: wrap(k.Term)})
		}
		y += h + gapY
	}
	var lines []diagramLine
	for _, lv := range levels {
		for _, k := range lv {
			p := pos[k.ID]
			var ns []string
			for _, n := range k.Narrower {
				if q, ok := pos[n]; ok {
					lines = append(lines, diagramLine{X1: p[0] + boxW/2, Y1: p[1] + boxH, X2: q[0] + boxW/2, Y2: q[1], Colour: "#1a1a1a", Width: "1.5"})
					if nk, ok := c.Concept(n); ok {
						ns = append(ns, nk.Term)
					}
				}
			}
			if len(ns) > 0 {
				desc = append(desc, k.Term+": alakäsitteet "+strings.Join(ns, ", ")+".")
			}
		}
	}
	height := y - gapY + margin + 10
	var all []string
	for _, lv := range levels {
		for _, k := range lv {
			all = append(all, k.Term)
		}
	}
	d := "Teeman käsitteet: " + strings.Join(all, ", ") + ". " + strings.Join(desc, " ")
	title := "Käsitekaavio: " + label
	dg := &diagram{ID: "teema", Width: width, Height: height, Title: title, Desc: strings.TrimSpace(d), TitleY: margin + 6, Lines: lines}
	return dg.svg(boxes)
}
