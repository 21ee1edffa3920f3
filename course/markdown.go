package course

import (
	"bytes"
	"fmt"
	"html"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// RendererVersion changes whenever the HTML the pipeline produces for the
// same source changes; cached renderings of another version are redone.
const RendererVersion = 1

// Env is what rendering needs to know about the rest of the course: the
// laws, glossary concepts, media and files that links and blocks refer to.
// Every lookup may be nil (then every reference is unknown).
type Env struct {
	// File is the content-relative path of the file being rendered, e.g.
	// modules/01-tyokyvyn-tuki/02-palvelupolku.md.
	File string
	Law  func(id string) (*Law, bool)
	Term func(id string) (*Concept, bool)
	// Media returns a media item with its transcript already rendered.
	Media func(id string) (*MediaItem, bool)
	// Page maps a content file path (and fragment) to its page URL.
	Page func(file string) (string, bool)
	// Hidden says whether a content file is a page of a hidden module.
	Hidden func(file string) bool
	// Asset maps a content file path of an image to its URL.
	Asset func(file string) (string, bool)
	// Linker, when set, links the first occurrence of each glossary
	// concept; NoLink lists concepts (or "*" for all) not to link.
	Linker *TermLinker
	NoLink []string
}

// Heading is an entry of a section's table of contents.
type Heading struct {
	Level int    `json:"level"`
	ID    string `json:"id"`
	Text  string `json:"text"`
}

// Task is a learning task found in a section.
type Task struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Answer bool   `json:"answer"`
	// Minutes is the time the task takes ({minuutit=N}); it counts in the
	// section's time budget.
	Minutes int `json:"minutes,omitempty"`
	// Applied marks the module's applied assignment ({sovellus}): a task
	// of hours with guidance, an example answer and a rubric.
	Applied bool `json:"applied,omitempty"`
}

// Rendered is the result of rendering one Markdown body.
type Rendered struct {
	HTML  string    `json:"html"`
	TOC   []Heading `json:"toc,omitempty"`
	Tasks []Task    `json:"tasks,omitempty"`
	Media []string  `json:"media,omitempty"`
	Laws  []string  `json:"laws,omitempty"`
	Terms []string  `json:"terms,omitempty"`
	Words int       `json:"words"`

	ids   map[string]bool // every element id, for checking links' fragments
	links []pendingLink   // links to other pages' fragments, checked once all are rendered
}

// pendingLink is a link to a fragment of another content file.
type pendingLink struct {
	file, fragment string
	offset         int
}

// Issue is a problem in a Markdown body at a byte offset of the body.
type Issue struct {
	Offset int
	Msg    string
}

var md = goldmark.New(
	goldmark.WithExtensions(
		extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignNone)),
		extension.Strikethrough,
		extension.Footnote,
		extension.DefinitionList,
		extension.NewTypographer(extension.WithTypographicSubstitutions(map[extension.TypographicPunctuation]string{
			// Finnish uses the same mark to open and close a quotation.
			extension.LeftDoubleQuote:  "&rdquo;",
			extension.RightDoubleQuote: "&rdquo;",
			extension.LeftSingleQuote:  "&rsquo;",
			extension.RightSingleQuote: "&rsquo;",
			extension.Apostrophe:       "&rsquo;",
			extension.EnDash:           "&ndash;",
			extension.EmDash:           "&mdash;",
			extension.Ellipsis:         "&hellip;",
			extension.LeftAngleQuote:   "&raquo;",
			extension.RightAngleQuote:  "&raquo;",
		})),
	),
	goldmark.WithParserOptions(
		parser.WithAutoHeadingID(),
		parser.WithBlockParsers(util.Prioritized(directiveParser{}, 50)),
	),
	goldmark.WithRendererOptions(
		renderer.WithNodeRenderers(util.Prioritized(&directiveRenderer{}, 100)),
	),
)

// rendering carries the Env and the results through the node renderers.
type rendering struct {
	env    Env
	result *Rendered
	issues []Issue
	source []byte
	taskN  map[string]int
	tables []*east.Table
}

// tableRegion holds a table in a region of its own that scrolls sideways
// when the table is wider than the screen (WCAG 1.4.10): focusable, so
// that keyboard users can scroll it, and named after the heading it
// follows or its columns.
type tableRegion struct {
	ast.BaseBlock
	labelledBy, label string
}

var kindTableRegion = ast.NewNodeKind("TableRegion")

func (n *tableRegion) Kind() ast.NodeKind { return kindTableRegion }

func (n *tableRegion) Dump(source []byte, level int) { ast.DumpHelper(n, source, level, nil, nil) }

// wrapTables puts each table in its tableRegion.
func (r *rendering) wrapTables() {
	for _, t := range r.tables {
		region := &tableRegion{}
		for prev := t.PreviousSibling(); prev != nil; prev = prev.PreviousSibling() {
			if h, ok := prev.(*ast.Heading); ok {
				if id, ok := h.AttributeString("id"); ok {
					if b, ok := id.([]byte); ok {
						region.labelledBy = string(b)
					}
				}
				break
			}
		}
		if region.labelledBy == "" {
			var cols []string
			if head, ok := t.FirstChild().(*east.TableHeader); ok {
				for c := head.FirstChild(); c != nil; c = c.NextSibling() {
					if s := strings.TrimSpace(plainText(c, r.source)); s != "" {
						cols = append(cols, s)
					}
				}
			}
			region.label = "Taulukko: " + strings.Join(cols, ", ")
		}
		parent := t.Parent()
		parent.InsertBefore(parent, t, region)
		parent.RemoveChild(parent, t)
		region.AppendChild(region, t)
	}
}

var renderingKey = parser.NewContextKey()

// Render turns a Markdown body into sanitized HTML and reports every
// problem it finds (unknown laws, terms and media, broken links, images
// without alt text, raw HTML, malformed blocks). It never fails: the HTML
// of a body with problems is still safe.
func Render(source []byte, env Env) (*Rendered, []Issue) {
	r := &rendering{env: env, result: &Rendered{ids: map[string]bool{}}, source: source, taskN: map[string]int{}}
	pc := parser.NewContext(parser.WithIDs(newFinnishIDs()))
	pc.Set(renderingKey, r)
	doc := md.Parser().Parse(text.NewReader(source), parser.WithContext(pc))
	if list, ok := pc.Get(directiveIssues).([]directiveIssue); ok {
		for _, i := range list {
			r.issues = append(r.issues, Issue(i))
		}
	}
	r.inspect(doc)
	r.wrapTables()
	if env.Linker != nil && !contains(env.NoLink, "*") {
		linked := map[string]bool{}
		for _, id := range append(append([]string{}, r.result.Terms...), env.NoLink...) {
			linked[id] = true
		}
		r.result.Terms = append(r.result.Terms, env.Linker.link(doc, source, linked)...)
	}

	var buf bytes.Buffer
	if err := md.Renderer().Render(&buf, source, doc); err != nil {
		r.issues = append(r.issues, Issue{0, "render: " + err.Error()})
	}
	r.result.HTML = policy().Sanitize(buf.String())
	r.result.Words = countWords(r.result.HTML)
	sort.SliceStable(r.issues, func(i, j int) bool { return r.issues[i].Offset < r.issues[j].Offset })
	return r.result, r.issues
}

// inspect walks the tree before rendering: it resolves links, checks
// images and raw HTML, collects headings, and marks table alignment with
// classes (the CSP forbids style attributes).
func (r *rendering) inspect(doc ast.Node) {
	var blockStart int
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		if n.Type() == ast.TypeBlock && n.Lines().Len() > 0 {
			blockStart = n.Lines().At(0).Start
		}
		switch n := n.(type) {
		case *Directive:
			blockStart = n.Offset
			r.checkDirective(n)
		case *ast.Heading:
			id, _ := n.AttributeString("id")
			idb, _ := id.([]byte)
			r.result.ids[string(idb)] = true
			if n.Level <= 3 {
				r.result.TOC = append(r.result.TOC, Heading{Level: n.Level, ID: string(idb), Text: plainText(n, r.source)})
			}
			if n.Level == 1 {
				r.issue(blockStart, "use ## and ### for headings in a section: the page title is the only level-1 heading")
			}
		case *ast.Link:
			r.resolveLink(n, blockStart)
		case *ast.AutoLink:
			u := string(n.URL(r.source))
			if !safeURL(u) {
				r.issue(blockStart, fmt.Sprintf("link %q: only http, https and mailto links are allowed", u))
			}
		case *ast.Image:
			r.issue(r.find(blockStart, n.Destination), "use ::kuva[caption]{src=\"…\" alt=\"…\"} for images, so that each has a caption and alt text")
			if len(plainText(n, r.source)) == 0 {
				r.issue(r.find(blockStart, n.Destination), "image without alt text")
			}
		case *ast.RawHTML, *ast.HTMLBlock:
			r.issue(blockStart, "raw HTML is not allowed (it is not rendered); use Markdown or a course block")
		case *east.Table:
			r.tables = append(r.tables, n)
		case *east.TableCell:
			if _, head := n.Parent().(*east.TableHeader); head && strings.TrimSpace(plainText(n, r.source)) == "" {
				r.issue(blockStart, "a table's header cell is empty: name every column (the first one too), so that screen readers can read each cell with its header")
			}
			switch n.Alignment {
			case east.AlignLeft:
				n.SetAttributeString("class", []byte("align-left"))
			case east.AlignRight:
				n.SetAttributeString("class", []byte("align-right"))
			case east.AlignCenter:
				n.SetAttributeString("class", []byte("align-center"))
			}
		}
		return ast.WalkContinue, nil
	})
}

func (r *rendering) issue(offset int, msg string) {
	r.issues = append(r.issues, Issue{offset, msg})
}

// find locates text in the source at or after a block's start, for the
// position of an inline element (goldmark keeps none).
func (r *rendering) find(from int, needle []byte) int {
	if from < 0 || from > len(r.source) || len(needle) == 0 {
		return from
	}
	if i := bytes.Index(r.source[from:], needle); i >= 0 {
		return from + i
	}
	return from
}

var lawRef = regexp.MustCompile(`^(\d{1,5}/\d{4})(?:#([0-9]+ ?[a-z]?|luku-?[0-9]+))?$`)

// resolveLink rewrites laki:, sanasto: and .md links to page URLs and
// checks every other destination.
func (r *rendering) resolveLink(n *ast.Link, blockStart int) {
	dest := string(n.Destination)
	at := r.find(blockStart, n.Destination)
	switch {
	case strings.HasPrefix(dest, "laki:"):
		m := lawRef.FindStringSubmatch(strings.TrimPrefix(dest, "laki:"))
		if m == nil {
			r.issue(at, fmt.Sprintf("law link %q: write laki:NUMBER/YEAR or laki:NUMBER/YEAR#SECTION", dest))
			n.Destination = []byte("/lainsaadanto")
			return
		}
		if r.env.Law == nil {
			r.issue(at, "unknown law "+m[1])
		} else if _, ok := r.env.Law(m[1]); !ok {
			r.issue(at, "unknown law "+m[1]+": add it to legislation.yaml")
		}
		r.result.Laws = appendUnique(r.result.Laws, m[1])
		n.Destination = []byte("/lainsaadanto#" + LawAnchor(m[1]))
		n.SetAttributeString("class", []byte("law-link"))
	case strings.HasPrefix(dest, "sanasto:"):
		id := strings.TrimPrefix(dest, "sanasto:")
		var c *Concept
		ok := false
		if r.env.Term != nil {
			c, ok = r.env.Term(id)
		}
		if !ok {
			r.issue(at, "unknown glossary concept "+strconv.Quote(id))
		}
		r.result.Terms = appendUnique(r.result.Terms, id)
		n.Destination = []byte("/sanasto/" + url.PathEscape(id))
		n.SetAttributeString("class", []byte("term"))
		if ok && len(n.Title) == 0 {
			n.Title = []byte(c.Term)
		}
	case isContentLink(dest):
		target, frag, _ := strings.Cut(dest, "#")
		file := path.Clean(path.Join(path.Dir(r.env.File), target))
		u, ok := "", false
		if r.env.Page != nil {
			u, ok = r.env.Page(file)
		}
		if !ok {
			r.issue(at, fmt.Sprintf("broken link %q: no such module or section", dest))
			return
		}
		if r.env.Hidden != nil && r.env.Hidden(file) && !r.env.Hidden(r.env.File) {
			r.issue(at, fmt.Sprintf("link %q: the page is in a hidden module, which learners cannot open; show the module first", dest))
		}
		if frag != "" {
			u += "#" + frag
			r.result.links = append(r.result.links, pendingLink{file, frag, at})
		}
		n.Destination = []byte(u)
	default:
		if !safeURL(dest) {
			r.issue(at, fmt.Sprintf("link %q: only http, https, mailto and relative links are allowed", dest))
		}
	}
}

func isContentLink(dest string) bool {
	target, _, _ := strings.Cut(dest, "#")
	return strings.HasSuffix(target, ".md") && !strings.Contains(target, "://") && !strings.HasPrefix(target, "/")
}

// safeURL allows http, https, mailto and relative URLs.
func safeURL(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "", "http", "https", "mailto":
	default:
		return false
	}
	return !strings.ContainsAny(raw, "\x00\t\n\r")
}

// LawAnchor is the fragment id of a law on the legislation page.
func LawAnchor(id string) string {
	return "laki-" + strings.ReplaceAll(id, "/", "-")
}

func (r *rendering) checkDirective(d *Directive) {
	switch d.Name {
	case "info", "huomio", "esimerkki":
		if !d.Container {
			r.issue(d.Offset, ":"+":"+d.Name+" must be a container: :::"+d.Name+"[title] … :::")
		}
	case "tehtava":
		if !d.Container {
			r.issue(d.Offset, "a task is a container: :::tehtava[title]{vastaus} … :::")
		}
		if d.Label == "" {
			r.issue(d.Offset, "a task needs a title: :::tehtava[title]")
		}
		for f := range d.Flags {
			if f != "vastaus" && f != "sovellus" {
				r.issue(d.Offset, "unknown task option "+strconv.Quote(f)+" (known: vastaus, sovellus, minuutit=N)")
			}
		}
		for a := range d.Attrs {
			if a != "minuutit" {
				r.issue(d.Offset, "unknown task option "+strconv.Quote(a)+" (known: vastaus, sovellus, minuutit=N)")
			}
		}
		minutes := 0
		if v, ok := d.Attrs["minuutit"]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 600 {
				r.issue(d.Offset, "minuutit must be the task's time in whole minutes, 1–600, not "+strconv.Quote(v))
			}
			minutes = n
		}
		applied := d.Flags["sovellus"]
		if applied {
			if !d.Flags["vastaus"] {
				r.issue(d.Offset, "an applied assignment keeps its result in the learning diary: add vastaus ({vastaus sovellus minuutit=N})")
			}
			if minutes > 0 && minutes < 60 {
				r.issue(d.Offset, "an applied assignment takes hours, not "+strconv.Itoa(minutes)+" minutes: use {sovellus} for the module's long assignment only")
			}
			have := map[string]bool{}
			for ch := d.FirstChild(); ch != nil; ch = ch.NextSibling() {
				if cd, ok := ch.(*Directive); ok {
					have[cd.Name] = true
				}
			}
			for _, need := range []string{"ohje", "malli", "arviointi"} {
				if !have[need] {
					r.issue(d.Offset, "an applied assignment needs a :::"+need+" block ("+appliedParts[need]+")")
				}
			}
		}
		id := d.ID
		if id == "" {
			id = "tehtava-" + slugASCII(d.Label)
		}
		r.taskN[id]++
		if r.taskN[id] > 1 {
			id += "-" + strconv.Itoa(r.taskN[id])
		}
		d.ID = id
		r.result.ids[id] = true
		r.result.Tasks = append(r.result.Tasks, Task{ID: id, Title: d.Label, Answer: d.Flags["vastaus"], Minutes: minutes, Applied: applied})
	case "ohje", "malli", "arviointi":
		if p, ok := d.Parent().(*Directive); !ok || p.Name != "tehtava" || !d.Container {
			r.issue(d.Offset, ":::"+d.Name+" belongs inside a :::tehtava block")
		}
	case "video", "audio":
		if d.Container {
			r.issue(d.Offset, "::"+d.Name+" is one line: ::"+d.Name+"[title]{#media-id}")
		}
		if d.ID == "" {
			r.issue(d.Offset, "::"+d.Name+" needs a media id: {#media-id}")
			return
		}
		r.result.Media = appendUnique(r.result.Media, d.ID)
		var m *MediaItem
		ok := false
		if r.env.Media != nil {
			m, ok = r.env.Media(d.ID)
		}
		if !ok {
			r.issue(d.Offset, "unknown media id "+strconv.Quote(d.ID)+": add content/media/"+d.ID+".md")
		} else if m.Kind != d.Name {
			r.issue(d.Offset, fmt.Sprintf("media %s is %s, not %s", d.ID, m.Kind, d.Name))
		} else {
			d.Media = m
		}
	case "kuva":
		if d.Container {
			r.issue(d.Offset, "::kuva is one line: ::kuva[caption]{src=\"…\" alt=\"…\"}")
		}
		if strings.TrimSpace(d.Attrs["alt"]) == "" {
			r.issue(d.Offset, "figure without alt text: add alt=\"…\" describing what the image shows")
		}
		src := d.Attrs["src"]
		if src == "" {
			r.issue(d.Offset, "figure without src=\"…\"")
			return
		}
		if strings.Contains(src, "://") || strings.HasPrefix(src, "/") {
			r.issue(d.Offset, "figure src must be a path inside the content folder, e.g. kuvat/kaavio.svg")
			return
		}
		file := path.Clean(path.Join(path.Dir(r.env.File), src))
		if r.env.Asset == nil {
			r.issue(d.Offset, "no such image "+file)
		} else if u, ok := r.env.Asset(file); !ok {
			r.issue(d.Offset, "no such image "+file)
		} else {
			d.Attrs["url"] = u
		}
	default:
		r.issue(d.Offset, "unknown block "+strconv.Quote(d.Name)+" (known: info, huomio, esimerkki, tehtava, ohje, malli, arviointi, video, audio, kuva)")
	}
}

type directiveRenderer struct{}

func (directiveRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(KindDirective, renderDirective)
	reg.Register(kindTableRegion, renderTableRegion)
}

func renderTableRegion(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*tableRegion)
	switch {
	case !entering:
		w.WriteString("</div>\n")
	case n.labelledBy != "":
		fmt.Fprintf(w, `<div class="table-wrap" role="region" tabindex="0" aria-labelledby="%s">`+"\n", html.EscapeString(n.labelledBy))
	default:
		fmt.Fprintf(w, `<div class="table-wrap" role="region" tabindex="0" aria-label="%s">`+"\n", html.EscapeString(n.label))
	}
	return ast.WalkContinue, nil
}

var calloutNames = map[string]string{"info": "Tietoa", "huomio": "Huomaa", "esimerkki": "Esimerkki"}

// appliedParts are the blocks an applied assignment must have, and
// taskParts the summaries they open under.
var (
	appliedParts = map[string]string{"ohje": "step-by-step guidance", "malli": "an example of a good answer", "arviointi": "a self-assessment rubric"}
	taskParts    = map[string]string{"ohje": "Ohje tehtävään", "malli": "Esimerkki hyvästä vastauksesta", "arviointi": "Itsearviointi"}
)

func renderDirective(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	d := node.(*Directive)
	label := html.EscapeString(d.Label)
	switch d.Name {
	case "info", "huomio", "esimerkki":
		if entering {
			fmt.Fprintf(w, `<div class="callout callout-%s" role="note">`+"\n", d.Name)
			title := label
			if title == "" {
				title = calloutNames[d.Name]
			}
			fmt.Fprintf(w, `<p class="callout-title"><span class="visually-hidden">%s: </span>%s</p>`+"\n", calloutNames[d.Name], title)
		} else {
			w.WriteString("</div>\n")
		}
	case "tehtava":
		if entering {
			kind, cls := "Oppimistehtävä", "task"
			if d.Flags["sovellus"] {
				kind, cls = "Soveltava tehtävä", "task task-applied"
			}
			length := ""
			if n, err := strconv.Atoi(d.Attrs["minuutit"]); err == nil && n > 0 {
				length = fmt.Sprintf(` <span class="task-length">(%d min)</span>`, n)
			}
			fmt.Fprintf(w, `<section class="%s" id="%s" aria-labelledby="%s-otsikko">`+"\n", cls, d.ID, d.ID)
			fmt.Fprintf(w, `<h3 class="task-title" id="%s-otsikko"><span class="task-kind">%s</span> %s%s</h3>`+"\n", d.ID, kind, label, length)
		} else {
			if d.Flags["vastaus"] {
				fmt.Fprintln(w, AnswerSlot(d.ID))
			}
			w.WriteString("</section>\n")
		}
	case "ohje", "malli", "arviointi":
		if entering {
			fmt.Fprintf(w, `<details class="task-guidance task-%s"><summary>%s</summary>`+"\n", d.Name, taskParts[d.Name])
		} else {
			w.WriteString("</details>\n")
		}
	case "video", "audio":
		if !entering {
			return ast.WalkContinue, nil
		}
		m := d.Media
		title := label
		if title == "" && m != nil {
			title = html.EscapeString(m.Title)
		}
		kind := map[string]string{"video": "Video", "audio": "Podcast"}[d.Name]
		fmt.Fprintf(w, `<figure class="media media-%s" id="media-%s">`+"\n", d.Name, html.EscapeString(d.ID))
		fmt.Fprintf(w, `<figcaption><span class="media-kind">%s</span> %s`, kind, title)
		if m != nil && m.Minutes > 0 {
			fmt.Fprintf(w, ` <span class="media-length">(%d min)</span>`, m.Minutes)
		}
		w.WriteString("</figcaption>\n")
		fmt.Fprintf(w, `<div class="media-player" data-media="%s"></div>`+"\n", html.EscapeString(d.ID))
		if m != nil && m.TranscriptHTML != "" {
			w.WriteString(`<details class="transcript"><summary>Tekstivastine</summary>` + "\n")
			w.WriteString(m.TranscriptHTML)
			w.WriteString("</details>\n")
		}
		w.WriteString("</figure>\n")
	case "kuva":
		if !entering {
			return ast.WalkContinue, nil
		}
		fmt.Fprintf(w, `<figure class="figure"><img src="%s" alt="%s" loading="lazy"><figcaption>%s</figcaption></figure>`+"\n",
			html.EscapeString(d.Attrs["url"]), html.EscapeString(d.Attrs["alt"]), label)
	default:
		// Unknown blocks render their content only; the checker reports them.
	}
	return ast.WalkContinue, nil
}

var (
	policyOnce sync.Once
	thePolicy  *bluemonday.Policy
)

// policy is the allow-list every rendered body passes through: only the
// elements and attributes the pipeline itself produces, and links with
// http, https, mailto or relative URLs.
func policy() *bluemonday.Policy {
	policyOnce.Do(func() {
		p := bluemonday.NewPolicy()
		p.AllowStandardURLs()
		p.RequireNoFollowOnLinks(false)
		p.AllowURLSchemes("http", "https", "mailto")
		p.AllowRelativeURLs(true)
		p.RequireParseableURLs(true)
		p.AllowElements("p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li",
			"dl", "dt", "dd", "table", "thead", "tbody", "tr", "th", "td", "sup", "sub", "h2", "h3", "h4", "h5", "h6",
			"figure", "figcaption", "details", "summary", "section", "div", "span", "abbr")
		p.AllowAttrs("href", "title").OnElements("a")
		p.AllowAttrs("src", "alt", "loading").OnElements("img")
		p.AllowAttrs("start").Matching(bluemonday.Integer).OnElements("ol")
		p.AllowAttrs("id").Matching(regexp.MustCompile(`^[\p{L}\p{N}_:.-]{1,100}$`)).Globally()
		p.AllowAttrs("class").Matching(regexp.MustCompile(`^[a-z][a-z0-9 -]{0,80}$`)).Globally()
		p.AllowAttrs("role").Matching(regexp.MustCompile(`^(note|doc-noteref|doc-endnotes|doc-backlink|doc-endnote)$`)).Globally()
		p.AllowAttrs("aria-labelledby").Matching(regexp.MustCompile(`^[\p{L}\p{N}_-]{1,100}$`)).OnElements("section")
		p.AllowAttrs("role").Matching(regexp.MustCompile(`^region$`)).OnElements("div")
		p.AllowAttrs("tabindex").Matching(regexp.MustCompile(`^0$`)).OnElements("div")
		p.AllowAttrs("aria-labelledby").Matching(regexp.MustCompile(`^[\p{L}\p{N}_-]{1,100}$`)).OnElements("div")
		p.AllowAttrs("aria-label").Matching(regexp.MustCompile(`^[^<>"]{1,300}$`)).OnElements("div")
		p.AllowAttrs("data-task", "data-media").Matching(regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)).OnElements("div")
		p.AllowAttrs("data-term").Matching(regexp.MustCompile(`^[a-z0-9-]{1,100}$`)).OnElements("a")
		p.AllowAttrs("title").OnElements("abbr")
		thePolicy = p
	})
	return thePolicy
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// countWords counts the words of the visible text of rendered HTML.
func countWords(h string) int {
	return len(strings.FieldsFunc(html.UnescapeString(tagRE.ReplaceAllString(h, " ")), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && r != '-' && r != '\''
	}))
}

// plainText is the text of an inline container.
func plainText(n ast.Node, source []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch t := c.(type) {
		case *ast.Text:
			b.Write(t.Segment.Value(source))
			if t.SoftLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(t.Value)
		case *ast.CodeSpan:
			for ch := t.FirstChild(); ch != nil; ch = ch.NextSibling() {
				if tx, ok := ch.(*ast.Text); ok {
					b.Write(tx.Segment.Value(source))
				}
			}
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return strings.TrimSpace(html.UnescapeString(b.String()))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// finnishIDs makes readable heading ids from Finnish text, ä, ö and å
// folded to a, o and a so that links need no escaping:
// "Mitä työkyky on?" becomes "mita-tyokyky-on"; repeats get -1, -2, ….
type finnishIDs struct{ taken map[string]bool }

func newFinnishIDs() *finnishIDs { return &finnishIDs{taken: map[string]bool{}} }

func (f *finnishIDs) Generate(value []byte, kind ast.NodeKind) []byte {
	base := Slug(string(value), false)
	if base == "" {
		base = "otsikko"
	}
	id := base
	for n := 1; f.taken[id]; n++ {
		id = base + "-" + strconv.Itoa(n)
	}
	f.taken[id] = true
	return []byte(id)
}

func (f *finnishIDs) Put(value []byte) { f.taken[string(value)] = true }

// Slug lowercases s and joins its words with hyphens. With keepNordic,
// ä, ö and å stay (for readable heading ids); without, they become a, o, a
// (for file and URL slugs).
func Slug(s string, keepNordic bool) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case r == 'ä' || r == 'ö' || r == 'å':
			if !keepNordic {
				r = map[rune]rune{'ä': 'a', 'ö': 'o', 'å': 'a'}[r]
			}
		case r == 'é':
			r = 'e'
		case r == 'ü':
			r = 'u'
		default:
			dash = b.Len() > 0
			continue
		}
		if dash {
			b.WriteByte('-')
			dash = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func slugASCII(s string) string { return Slug(s, false) }

// AnswerSlot is the placeholder the renderer leaves where a task's answer
// form goes; the pages put the form (a template) in its place.
func AnswerSlot(taskID string) string {
	return `<div class="task-answer" data-task="` + taskID + `"></div>`
}
