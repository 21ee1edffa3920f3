package api

import (
	"fmt"
	"html"
	"html/template"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/report"
	"github.com/tyokyky/tyokyky/web"
)

// requireReporter lets in reporters (their own organisation) and
// administrators, with two-factor authentication; others get 404.
func (s *Server) requireReporter(c *fiber.Ctx) error {
	return s.requireRole(c, account.RoleReporter, account.RoleAdmin)
}

type reportsData struct {
	Report        *report.Report
	Organisation  string   // "" = all
	Organisations []string // the choice, for administrators only
	Scoped        bool     // a reporter: their organisation only
	From, To      string
	Query         string // the filters, for the CSV links
	AsOf          string // when the figures were read
	ModulesChart  template.HTML
	TimeChart     template.HTML
	Buckets       [4]string
}

// reportFilter reads the filters; a reporter's organisation is always
// their own, whatever the address says.
func (s *Server) reportFilter(c *fiber.Ctx) (report.Filter, *reportsData, error) {
	v := s.viewerOf(c)
	d := &reportsData{Buckets: report.Buckets}
	var f report.Filter
	if v.User.Role == account.RoleReporter {
		// A reporter sees exactly their own listed organisation. "muu" is
		// free text shared by unrelated organisations: it scopes nothing,
		// so such a reporter sees no learners at all.
		if !v.User.InListedOrganisation() {
			return f, nil, fiber.NewError(fiber.StatusForbidden, "your account is not in a listed organisation, so it has no reports; an administrator can move it to one")
		}
		f.Organisation, d.Scoped = v.User.Organisation, true
	} else {
		f.Organisation = c.Query("organisaatio")
		if f.Organisation != "" && !account.ValidOrganisation(f.Organisation) {
			return f, nil, fiber.NewError(fiber.StatusBadRequest, "no such organisation")
		}
		d.Organisations = account.OrganisationChoices()
	}
	for _, p := range []struct {
		name string
		t    *time.Time
		s    *string
	}{{"alkaen", &f.From, &d.From}, {"asti", &f.To, &d.To}} {
		if q := c.Query(p.name); q != "" {
			t, err := time.ParseInLocation("2006-01-02", q, helsinki)
			if err != nil {
				return f, nil, fiber.NewError(fiber.StatusBadRequest, p.name+" must be a date such as 2026-11-24")
			}
			*p.t, *p.s = t, q
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return f, nil, fiber.NewError(fiber.StatusBadRequest, "the period ends before it begins")
	}
	d.Organisation = f.Organisation
	return f, d, nil
}

// reportRows are the rows of every report, read at once and kept for
// reportRowsTTL: reading every progress record is the costly part (about
// 5 s for 100,000 records on the embedded store), the aggregation is not.
type reportRows struct {
	mu sync.Mutex
	at time.Time
	in report.Input
}

// reportRowsTTL is how old the figures of a report may be.
const reportRowsTTL = time.Minute

func (s *Server) reportInput(c *fiber.Ctx) (report.Input, time.Time, error) {
	s.reports.mu.Lock()
	defer s.reports.mu.Unlock()
	if !s.reports.at.IsZero() && time.Since(s.reports.at) < reportRowsTTL {
		return s.reports.in, s.reports.at, nil
	}
	ctx := c.UserContext()
	var in report.Input
	var err error
	if in.Learners, err = s.accounts.LearnerRows(ctx); err != nil {
		return in, time.Time{}, err
	}
	if in.Records, err = s.progress.RecordRows(ctx); err != nil {
		return in, time.Time{}, err
	}
	if s.exam != nil {
		if in.Outcomes, err = s.exam.OutcomeRows(ctx); err != nil {
			return in, time.Time{}, err
		}
	}
	if s.certs != nil {
		if in.Issued, err = s.certs.IssuedRows(ctx); err != nil {
			return in, time.Time{}, err
		}
	}
	s.reports.in, s.reports.at = in, time.Now()
	return in, s.reports.at, nil
}

// buildReport builds the report of f from the rows (at most a minute old).
func (s *Server) buildReport(c *fiber.Ctx, f report.Filter) (*report.Report, time.Time, error) {
	in, at, err := s.reportInput(c)
	if err != nil {
		return nil, at, err
	}
	in.Course = s.published().Course
	return report.Build(in, f), at, nil
}

// reportsPage shows the reports: figures, charts as SVG with the same data
// in tables, and CSV downloads.
func (s *Server) reportsPage(c *fiber.Ctx) error {
	f, d, err := s.reportFilter(c)
	if err != nil {
		return err
	}
	var at time.Time
	if d.Report, at, err = s.buildReport(c, f); err != nil {
		return err
	}
	d.AsOf = at.In(helsinki).Format("2.1.2006 15.04")
	lang := s.lang(c)
	d.Query = c.Request().URI().QueryArgs().String()
	d.ModulesChart = modulesChart(d.Report, lang)
	d.TimeChart = timeChart(d.Report, lang)
	return s.renderPrivate(c, "reports", "reports.title", d)
}

// reportCSV is one report as CSV (?raportti=NAME and the page's filters).
func (s *Server) reportCSV(c *fiber.Ctx) error {
	name := c.Query("raportti")
	if !slices.Contains(report.Names, name) {
		return fiber.NewError(fiber.StatusNotFound, "raportti must be one of "+strings.Join(report.Names, ", "))
	}
	f, _, err := s.reportFilter(c)
	if err != nil {
		return err
	}
	r, _, err := s.buildReport(c, f)
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

// modulesChart is a stacked bar per module: how many learners have
// completed none, some, most or all of its sections.
func modulesChart(r *report.Report, lang string) template.HTML {
	const left, width, bar, gap = 190, 420, 22, 14
	height := len(r.Modules)*(bar+gap) + 60
	var b strings.Builder
	title := web.T(lang, "reports.modules.chart")
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-labelledby="chart-modules-title chart-modules-desc" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMinYMin meet">`, left+width+20, height)
	fmt.Fprintf(&b, `<title id="chart-modules-title">%s</title><desc id="chart-modules-desc">%s</desc>`, html.EscapeString(title), html.EscapeString(web.T(lang, "reports.chart.desc")))
	for i, m := range r.Modules {
		y := 10 + i*(bar+gap)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="13">%s</text>`, left-8, y+bar/2+5, html.EscapeString(shorten(m.Title, 26)))
		total := 0
		for _, n := range m.Buckets {
			total += n
		}
		x := float64(left)
		for k, n := range m.Buckets {
			if total == 0 || n == 0 {
				continue
			}
			w := float64(width) * float64(n) / float64(total)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s %d</title></rect>`, x, y, w, bar, bucketColours[k], html.EscapeString(m.Title), report.Buckets[k], n)
			x += w
		}
	}
	y := height - 30
	for k, name := range report.Buckets {
		x := left + k*105
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="14" fill="%s"/><text x="%d" y="%d" font-size="13">%s</text>`, x, y, bucketColours[k], x+20, y+12, name)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built here, every text escaped
}

// timeChart compares, per module, the average time of the learners who
// started it with its time budget.
func timeChart(r *report.Report, lang string) template.HTML {
	const left, width, bar, gap = 190, 420, 12, 18
	top := 1.0
	for _, t := range r.Time {
		top = max(top, t.AverageMinutes, float64(t.BudgetMinutes))
	}
	height := len(r.Time)*(2*bar+gap) + 60
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-labelledby="chart-time-title chart-time-desc" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMinYMin meet">`, left+width+20, height)
	fmt.Fprintf(&b, `<title id="chart-time-title">%s</title><desc id="chart-time-desc">%s</desc>`, html.EscapeString(web.T(lang, "reports.time.chart")), html.EscapeString(web.T(lang, "reports.chart.desc")))
	for i, t := range r.Time {
		y := 10 + i*(2*bar+gap)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="13">%s</text>`, left-8, y+bar+4, html.EscapeString(shorten(t.Title, 26)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s %.1f min</title></rect>`, left, y, float64(width)*t.AverageMinutes/top, bar, bucketColours[2], html.EscapeString(t.Title), html.EscapeString(web.T(lang, "reports.time.average")), t.AverageMinutes)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s %d min</title></rect>`, left, y+bar, float64(width)*float64(t.BudgetMinutes)/top, bar, bucketColours[0], html.EscapeString(t.Title), html.EscapeString(web.T(lang, "reports.time.budget")), t.BudgetMinutes)
	}
	y := height - 30
	for k, label := range []string{web.T(lang, "reports.time.average"), web.T(lang, "reports.time.budget")} {
		x := left + k*200
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="14" fill="%s"/><text x="%d" y="%d" font-size="13">%s</text>`, x, y, bucketColours[2-2*k], x+20, y+12, html.EscapeString(label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built here, every text escaped
}

// shorten cuts a label to n runes with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
