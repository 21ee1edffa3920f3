package api

import (
	"errors"
	"fmt"
	"iter"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/report"
	"github.com/tyokyky/tyokyky/web"
)

// reportHandlers serve the organisation reports (the page and its CSV
// downloads) from the learners' summaries only (report.Summaries): never
// from the progress records.
type reportHandlers struct {
	*core
	sums *report.Summaries
	dir  *org.Directory // nil: no units
	// maxAge is how old the stored summaries may be, as read by this
	// process (0: reportRowsTTL; negative: they are read for every
	// report). This process's own changes show at once either way.
	maxAge time.Duration
}

type reportsData struct {
	Report           *report.Report
	Organisation     string      // the chosen value (directory id, "muu"); "" = all
	OrganisationName string      // the organisation in view, named in the page's language
	Organisations    []orgChoice // the choice, for administrators only
	Scoped           bool        // a reporter: their organisation only
	// Units are the units the reader may narrow the report to (of the
	// organisation in view, within a unit-scoped reporter's subtree);
	// Unit is the chosen one, UnitScope the reporter's own unit.
	Units        []unitChoice
	Unit         string
	UnitScope    string
	From, To     string
	Query        string            // the filters
	CSV          map[string]string // report name → its CSV address with the filters
	AsOf         string            // when the figures were read
	ModulesChart chart
	TimeChart    chart
	Buckets      [4]string
}

// reportFilter reads the filters; a reporter's organisation is always
// their own, whatever the address says. Organisations are matched by
// their directory id, so a renamed organisation's report stays whole.
func (h *reportHandlers) reportFilter(c *fiber.Ctx) (report.Filter, *reportsData, error) {
	v := h.viewerOf(c)
	d := &reportsData{Buckets: report.Buckets}
	var f report.Filter
	ctx := c.UserContext()
	lang := h.lang(c)
	if !v.User.Can(account.Administer) {
		// A reporter sees exactly their own listed organisation. "muu" is
		// free text shared by unrelated organisations: it scopes nothing,
		// so such a reporter sees no learners at all.
		if !v.User.InListedOrganisation() && v.User.OrgID == "" {
			return f, nil, fiber.NewError(fiber.StatusForbidden, "your account is not in a listed organisation, so it has no reports; an administrator can move it to one")
		}
		f.Organisation, d.Scoped = v.User.Organisation, true
		if h.dir != nil && v.User.OrgID != "" {
			f.OrgID = v.User.OrgID
			if o, err := h.dir.Get(ctx, f.OrgID); err == nil {
				f.Organisation = o.Name("fi")
				d.OrganisationName = o.Name(lang)
			} else if !errors.Is(err, org.ErrNotFound) {
				return f, nil, err
			}
		}
	} else {
		if err := h.adminOrganisation(c, &f, d); err != nil {
			return f, nil, err
		}
	}
	if d.OrganisationName == "" {
		d.OrganisationName = f.Organisation
	}
	for _, p := range []struct {
		name string
		t    *time.Time
		s    *string
	}{{"alkaen", &f.From, &d.From}, {"asti", &f.To, &d.To}} {
		if q := strings.TrimSpace(c.Query(p.name)); q != "" {
			t, err := parseDay(q)
			if err != nil {
				return f, nil, fiber.NewError(fiber.StatusBadRequest, p.name+" must be a date such as 24.11.2026 or 2026-11-24")
			}
			*p.t, *p.s = t, dayIn(lang, t)
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return f, nil, fiber.NewError(fiber.StatusBadRequest, "the period ends before it begins")
	}
	if err := h.unitFilter(c, v.User, &f, d); err != nil {
		return f, nil, err
	}
	return f, d, nil
}

// adminOrganisation reads an administrator's ?organisaatio=: a directory
// id (or, from older links, an organisation's old Finnish name), "muu",
// or nothing for every organisation; and lists the choices.
func (h *reportHandlers) adminOrganisation(c *fiber.Ctx, f *report.Filter, d *reportsData) error {
	asked := c.Query("organisaatio")
	other := orgChoice{Value: account.OtherOrganisation, Name: web.T(h.lang(c), "reports.organisation.other")}
	if h.dir == nil {
		if asked != "" && !account.ValidOrganisation(asked) {
			return fiber.NewError(fiber.StatusBadRequest, "no such organisation")
		}
		for _, name := range account.OrganisationChoices() {
			if name == account.OtherOrganisation {
				d.Organisations = append(d.Organisations, other)
			} else {
				d.Organisations = append(d.Organisations, orgChoice{Value: name, Name: name})
			}
		}
		f.Organisation, d.Organisation = asked, asked
		return nil
	}
	ctx := c.UserContext()
	list, err := h.dir.List(ctx)
	if err != nil {
		return err
	}
	lang := h.lang(c)
	for _, o := range list {
		d.Organisations = append(d.Organisations, orgChoice{Value: o.ID, Name: o.Name(lang)})
	}
	d.Organisations = append(d.Organisations, other)
	switch {
	case asked == "":
	case asked == account.OtherOrganisation:
		f.Organisation, d.Organisation = asked, asked
	default:
		for _, o := range list {
			if o.ID == asked || o.Legacy != "" && o.Legacy == asked || o.NameFI == asked {
				f.OrgID, f.Organisation = o.ID, o.Name("fi")
				d.Organisation, d.OrganisationName = o.ID, o.Name(lang)
				break
			}
		}
		if f.OrgID == "" {
			return fiber.NewError(fiber.StatusBadRequest, "no such organisation")
		}
	}
	return nil
}

// unitFilter narrows a report to a unit's subtree: a reporter with a unit
// sees only their unit and the units below it, whatever the address asks
// (a unit outside it is 404); anyone may narrow further with ?yksikko=
// to a unit of the organisation in view.
func (h *reportHandlers) unitFilter(c *fiber.Ctx, u *account.User, f *report.Filter, d *reportsData) error {
	asked := c.Query("yksikko")
	if h.dir == nil || f.OrgID == "" {
		if asked != "" {
			return fiber.NewError(fiber.StatusBadRequest, "yksikko needs an organisation of the directory")
		}
		return nil
	}
	t, err := h.dir.Units(c.UserContext(), f.OrgID)
	if err != nil {
		return err
	}
	scope := "" // "": the whole organisation
	if d.Scoped && u.UnitID != "" {
		scope = u.UnitID
		f.Units = t.Subtree(u.UnitID)
		if f.Units == nil {
			f.Units = []string{u.UnitID} // a unit no longer in the tree: its own learners only
		}
		d.UnitScope = strings.Join(t.Path(u.UnitID), " › ")
		f.UnitName = d.UnitScope
	}
	for _, e := range t.Flat() {
		if scope == "" || slices.Contains(f.Units, e.ID) {
			d.Units = append(d.Units, unitChoice{ID: e.ID, Label: strings.Join(e.Path, " › "), Depth: e.Depth})
		}
	}
	if asked != "" {
		if t.Unit(asked) == nil || scope != "" && !slices.Contains(f.Units, asked) {
			return fiber.ErrNotFound // not a unit this reader may see
		}
		f.Units, d.Unit = t.Subtree(asked), asked
		f.UnitName = strings.Join(t.Path(asked), " › ")
	}
	return nil
}

// parseDay reads a day as Finns write it (24.11.2026) or in ISO 8601
// (2026-11-24), in Helsinki time.
func parseDay(q string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", q, i18n.Helsinki)
	if err != nil {
		t, err = time.ParseInLocation("2.1.2006", strings.TrimSuffix(q, "."), i18n.Helsinki)
	}
	return t, err
}

// dayIn writes a day for the filter form's date field (an input value that
// parseDay reads back, not a date shown as text): 24.11.2026 in Finnish,
// 2026-11-24 in Swedish and (unambiguous) in English.
func dayIn(lang string, t time.Time) string {
	if lang == "fi" {
		return t.Format("2.1.2006")
	}
	return t.Format("2006-01-02")
}

// reportRowsTTL is how old the figures of other instances' changes may
// be: the stored summaries are reread in the background when older.
const reportRowsTTL = time.Minute

// age is how old the stored summaries a report reads may be.
func (h *reportHandlers) age() time.Duration {
	if h.maxAge == 0 {
		return reportRowsTTL
	}
	return h.maxAge
}

// buildReport builds the report of f from the summaries.
func (h *reportHandlers) buildReport(c *fiber.Ctx, f report.Filter) (*report.Report, time.Time, error) {
	age := h.age()
	co := h.published().Course
	var r *report.Report
	at, err := h.sums.Read(c.UserContext(), age, func(all iter.Seq[*report.LearnerSummary]) { r = report.Aggregate(co, all, f) })
	if err != nil {
		return nil, at, err
	}
	return r, at, nil
}

// page shows the reports: figures, charts as SVG with the same data
// in tables, and CSV downloads.
func (h *reportHandlers) page(c *fiber.Ctx) error {
	f, d, err := h.reportFilter(c)
	if err != nil {
		return err
	}
	var at time.Time
	if d.Report, at, err = h.buildReport(c, f); err != nil {
		return err
	}
	d.AsOf = at.In(i18n.Helsinki).Format("2.1.2006 15.04")
	lang := h.lang(c)
	d.Query = c.Request().URI().QueryArgs().String()
	// The CSV links carry the page's filters. Made here as whole
	// addresses: a template would escape the = and & of a query put into
	// the middle of one.
	d.CSV = map[string]string{}
	for _, name := range report.Names {
		q, _ := url.ParseQuery(d.Query)
		if q == nil {
			q = url.Values{}
		}
		q.Set("raportti", name)
		d.CSV[name] = "/raportit.csv?" + q.Encode()
	}
	d.ModulesChart = modulesChart(d.Report, lang)
	d.TimeChart = timeChart(d.Report, lang)
	return h.renderPrivate(c, "reports", "reports.title", d)
}

// csv is one report as CSV (?raportti=NAME and the page's filters).
func (h *reportHandlers) csv(c *fiber.Ctx) error {
	name := c.Query("raportti")
	if !slices.Contains(report.Names, name) {
		return fiber.NewError(fiber.StatusNotFound, "raportti must be one of "+strings.Join(report.Names, ", "))
	}
	f, _, err := h.reportFilter(c)
	if err != nil {
		return err
	}
	r, _, err := h.buildReport(c, f)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="raportti-`+name+`.csv"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return r.WriteCSV(c.Response().BodyWriter(), name)
}

// The charts' colours: each distinct from white at 3:1 or more, and told
// apart in the legend by text too.
var bucketColours = [4]string{"#8a8f98", "#b35c00", "#2f6fa8", "#1f7a3a"}

// chart is a horizontal bar chart drawn by the reports template: each
// bar's label is text that wraps (never clipped, whatever the width),
// each line a row of segments whose X and W are per cent of the width.
type chart struct {
	Title string
	Note  string // where the same figures are
	// LabelLang is the language of the bars' labels when it is not the
	// page's (the modules' titles are Finnish).
	LabelLang string
	Bars      []chartBar
	Legend    []chartSegment
}

type chartBar struct {
	Label string
	Lines [][]chartSegment
	Text  string // the figures, for screen readers
}

type chartSegment struct {
	X, W          float64
	Colour, Title string
}

// modulesChart is a stacked bar per module: how many learners have
// completed none, some, most or all of its sections.
func modulesChart(r *report.Report, lang string) chart {
	ch := chart{Title: web.T(lang, "reports.modules.chart"), Note: web.T(lang, "reports.chart.desc"), LabelLang: "fi"}
	for _, m := range r.Modules {
		total := 0
		for _, n := range m.Buckets {
			total += n
		}
		bar := chartBar{Label: m.Title}
		var line []chartSegment
		var text []string
		x := 0.0
		for k, n := range m.Buckets {
			text = append(text, fmt.Sprintf("%s %d", report.Buckets[k], n))
			if total == 0 || n == 0 {
				continue
			}
			w := 100 * float64(n) / float64(total)
			line = append(line, chartSegment{X: round1(x), W: round1(w), Colour: bucketColours[k], Title: fmt.Sprintf("%s: %d", report.Buckets[k], n)})
			x += w
		}
		bar.Lines, bar.Text = [][]chartSegment{line}, strings.Join(text, ", ")
		ch.Bars = append(ch.Bars, bar)
	}
	for k, name := range report.Buckets {
		ch.Legend = append(ch.Legend, chartSegment{Colour: bucketColours[k], Title: name})
	}
	return ch
}

// timeChart compares, per module, the average time of the learners who
// started it with its time budget.
func timeChart(r *report.Report, lang string) chart {
	ch := chart{Title: web.T(lang, "reports.time.chart"), Note: web.T(lang, "reports.chart.desc"), LabelLang: "fi"}
	top := 1.0
	for _, t := range r.Time {
		top = max(top, t.AverageMinutes, float64(t.BudgetMinutes))
	}
	average, budget := web.T(lang, "reports.time.average"), web.T(lang, "reports.time.budget")
	for _, t := range r.Time {
		ch.Bars = append(ch.Bars, chartBar{Label: t.Title,
			Lines: [][]chartSegment{
				{{W: round1(100 * t.AverageMinutes / top), Colour: bucketColours[2], Title: fmt.Sprintf("%s: %.1f min", average, t.AverageMinutes)}},
				{{W: round1(100 * float64(t.BudgetMinutes) / top), Colour: bucketColours[0], Title: fmt.Sprintf("%s: %d min", budget, t.BudgetMinutes)}},
			},
			Text: fmt.Sprintf("%s %.1f min, %s %d min", average, t.AverageMinutes, budget, t.BudgetMinutes)})
	}
	ch.Legend = []chartSegment{{Colour: bucketColours[2], Title: average}, {Colour: bucketColours[0], Title: budget}}
	return ch
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
