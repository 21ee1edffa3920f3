package api

import (
	"encoding/csv"
	"errors"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/report"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/web"
)

// assignHandlers serve the assignments: HR's list and forms
// (/raportit/tehtavat), one assignment's standing per person and unit, and
// the learner's own. The figures come from the reports' rows (at most a
// minute old) and each organisation's people, kept as long.
type assignHandlers struct {
	*core
	mail   *mailer
	rep    *reportHandlers
	dir    *org.Directory
	assign *assign.Store

	mu      sync.Mutex
	members map[string]membersEntry
}

type membersEntry struct {
	at   time.Time
	rows []assign.Member
}

// assignScope is what the reader may see: one organisation of the
// directory and, for a unit-scoped reporter, their unit's subtree.
type assignScope struct {
	Org   *org.Organisation
	Tree  *org.Tree
	Units []string // nil: the whole organisation
	// UnitLabel is the reporter's own unit's path ("" for the whole).
	UnitLabel string
	Admin     bool
}

// scope finds the reader's organisation: a reporter's own (by its code,
// or the name accounts stored before the directory), an administrator's
// choice (?organisaatio=code; nil Org when none is chosen yet).
func (h *assignHandlers) scope(c *fiber.Ctx) (*assignScope, error) {
	ctx := c.UserContext()
	u := h.viewerOf(c).User
	s := &assignScope{}
	var code string
	if u.Can(account.Administer) {
		s.Admin = true
		code = strings.TrimSpace(c.Query("organisaatio"))
		if code == "" {
			code = strings.TrimSpace(c.FormValue("organisaatio"))
		}
		if code == "" {
			return s, nil
		}
	} else {
		if !u.InListedOrganisation() {
			return nil, fiber.NewError(fiber.StatusForbidden, "your account is not in a listed organisation, so it has no assignments; an administrator can move it to one")
		}
		code = u.OrgID
		if code == "" {
			o, err := h.dir.ByLegacy(ctx, u.Organisation)
			if errors.Is(err, org.ErrNotFound) {
				return nil, fiber.NewError(fiber.StatusForbidden, "your organisation is not in the directory, so it has no units to assign to")
			}
			if err != nil {
				return nil, err
			}
			code = o.ID
		}
	}
	o, err := h.dir.Get(ctx, code)
	if errors.Is(err, org.ErrNotFound) {
		return nil, fiber.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	t, err := h.dir.Tree(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	s.Org, s.Tree = o, t
	if !s.Admin && u.UnitID != "" {
		s.Units = t.Subtree(u.UnitID)
		if s.Units == nil {
			s.Units = []string{u.UnitID} // a unit no longer in the tree: its own people only
		}
		s.UnitLabel = strings.Join(t.Path(u.UnitID), " › ")
	}
	return s, nil
}

// inScope says whether a unit is one the reader sees.
func (s *assignScope) inScope(unit string) bool {
	return s.Units == nil || slices.Contains(s.Units, unit)
}

// people are the organisation's people within the reader's scope.
func (h *assignHandlers) people(c *fiber.Ctx, s *assignScope) ([]assign.Member, error) {
	if c.Method() == fiber.MethodPost {
		// A change is checked against the people as they are now.
		h.forgetMembers(s.Org.ID)
	}
	all, err := h.orgMembers(c, s.Org.ID)
	if err != nil {
		return nil, err
	}
	if s.Units == nil {
		return all, nil
	}
	var out []assign.Member
	for _, m := range all {
		if m.Unit != "" && s.inScope(m.Unit) {
			out = append(out, m)
		}
	}
	return out, nil
}

// orgMembers are the organisation's people, as old as the reports' rows may be.
func (h *assignHandlers) orgMembers(c *fiber.Ctx, code string) ([]assign.Member, error) {
	h.mu.Lock()
	e, ok := h.members[code]
	h.mu.Unlock()
	if ok && time.Since(e.at) < h.rep.age() {
		return e.rows, nil
	}
	rows, err := h.accounts.Members(c.UserContext(), code)
	if err != nil {
		return nil, err
	}
	out := make([]assign.Member, len(rows))
	for i, r := range rows {
		out[i] = assign.Member{ID: r.ID, Name: r.Name, Email: r.Email, Unit: r.UnitID, Groups: r.Groups}
	}
	h.mu.Lock()
	if h.members == nil {
		h.members = map[string]membersEntry{}
	}
	h.members[code] = membersEntry{at: time.Now(), rows: out}
	h.mu.Unlock()
	return out, nil
}

// forgetMembers drops the cached people of an organisation (after an
// assignment is made, so that its page shows who it applies to now).
func (h *assignHandlers) forgetMembers(code string) {
	h.mu.Lock()
	delete(h.members, code)
	h.mu.Unlock()
}

// currentEvidence is what learners have done, from the reports'
// summaries (never the progress records).
func (h *assignHandlers) currentEvidence(c *fiber.Ctx) (*assign.Evidence, time.Time, error) {
	ev := assign.EmptyEvidence(h.published().Course)
	at, err := h.rep.sums.Read(c.UserContext(), h.rep.age(), func(all iter.Seq[*report.LearnerSummary]) {
		for l := range all {
			for _, m := range l.Modules {
				ev.Add(l.ID, m.Slug, m.Done, m.Last)
			}
			for _, cs := range l.Certificates {
				if !cs.Revoked {
					ev.AddCertificate(l.ID, cs.Issued)
				}
			}
		}
	})
	return ev, at, err
}

// standing evaluates an assignment for the reader's scope and keeps the
// completions it finds reached.
func (h *assignHandlers) standing(c *fiber.Ctx, s *assignScope, a *assign.Assignment, people []assign.Member, ev *assign.Evidence) ([]assign.Row, error) {
	kept, err := h.assign.Kept(c.UserContext(), a.ID)
	if err != nil {
		return nil, err
	}
	rows := assign.Evaluate(a, s.Tree, people, ev, kept, h.assign.Now())
	if err := h.assign.Keep(c.UserContext(), a.ID, rows); err != nil {
		return nil, err
	}
	return rows, nil
}

// assignmentView is an assignment as the pages show it.
type assignmentView struct {
	*assign.Assignment
	Target   string // the unit's path or how many people
	Modules  []string
	Due      string
	DueISO   string
	Overdue  bool
	Summary  assign.Summary
	Complete int // per cent completed
}

func (h *assignHandlers) view(lang string, s *assignScope, a *assign.Assignment, rows []assign.Row) assignmentView {
	v := assignmentView{Assignment: a, Due: i18n.Date(lang, a.Due), DueISO: a.Due.In(i18n.Helsinki).Format("2006-01-02"), Overdue: a.Overdue(h.assign.Now())}
	switch a.Kind {
	case assign.KindUnit:
		v.Target = strings.Join(s.Tree.Path(a.Unit), " › ")
		if v.Target == "" {
			v.Target = web.T(lang, "assign.unit.gone")
		}
		if a.Subunits {
			v.Target += " " + web.T(lang, "assign.with.subunits")
		}
	case assign.KindGroup:
		v.Target = web.T(lang, "assign.group.target", a.Group)
	default:
		v.Target = web.TN(lang, "assign.people.count", len(a.People))
	}
	if pub := h.published(); pub != nil {
		for _, slug := range a.Modules {
			title := slug
			for _, m := range pub.Course.Modules {
				if m.Slug == slug {
					title = m.Title
				}
			}
			v.Modules = append(v.Modules, title)
		}
	}
	if rows != nil {
		v.Summary, _ = assign.Summarise(rows)
		v.Complete = v.Summary.Percent(assign.Completed)
	}
	return v
}

type moduleChoice struct {
	Slug, Title string
	Checked     bool
}

type assignListData struct {
	Scope         *assignScope
	Organisations []org.Organisation // administrators' choice
	Assignments   []assignmentView
	Units         []unitChoice
	Modules       []moduleChoice
	Values        map[string]string
	Errors        []fieldError
	Notice        string
	Invited       int // invitations just sent
	AsOf          string
	Statuses      []assign.Status
}

// list is GET /raportit/tehtavat: the organisation's assignments with
// their completion, and the form that makes one.
func (h *assignHandlers) list(c *fiber.Ctx) error {
	d := &assignListData{Values: map[string]string{"kind": assign.KindUnit, "subunits": "on"}}
	switch c.Query("ilmoitus") {
	case "luotu":
		d.Notice = "assign.created"
	case "tallennettu":
		d.Notice = "assign.saved"
	case "suljettu":
		d.Notice = "assign.closed.notice"
	}
	d.Invited, _ = strconv.Atoi(c.Query("kutsuttu"))
	return h.showList(c, fiber.StatusOK, d)
}

func (h *assignHandlers) showList(c *fiber.Ctx, status int, d *assignListData) error {
	ctx := c.UserContext()
	lang := h.lang(c)
	s, err := h.scope(c)
	if err != nil {
		return err
	}
	d.Scope, d.Statuses = s, assign.Statuses
	if s.Org == nil {
		if d.Organisations, err = h.dir.List(ctx); err != nil {
			return err
		}
		return h.renderAssign(c, status, "assignments", d)
	}
	list, err := h.assign.List(ctx, s.Org.ID)
	if err != nil {
		return err
	}
	people, err := h.people(c, s)
	if err != nil {
		return err
	}
	ev, at, err := h.currentEvidence(c)
	if err != nil {
		return err
	}
	d.AsOf = i18n.DateTime(lang, at)
	for i := range list {
		a := &list[i]
		if !a.Covers(s.Units) {
			continue
		}
		rows, err := h.standing(c, s, a, people, ev)
		if err != nil {
			return err
		}
		d.Assignments = append(d.Assignments, h.view(lang, s, a, rows))
	}
	for _, e := range s.Tree.Flat() {
		if s.inScope(e.ID) {
			d.Units = append(d.Units, unitChoice{ID: e.ID, Label: strings.Join(e.Path, " › "), Depth: e.Depth})
		}
	}
	chosen := strings.Split(d.Values["modules"], ",")
	for _, m := range h.published().Course.Modules {
		if !m.Hidden {
			d.Modules = append(d.Modules, moduleChoice{Slug: m.Slug, Title: m.Title, Checked: slices.Contains(chosen, m.Slug)})
		}
	}
	return h.renderAssign(c, status, "assignments", d)
}

func (h *assignHandlers) renderAssign(c *fiber.Ctx, status int, name string, d any) error {
	if status != fiber.StatusOK {
		return h.renderForm(c, status, name, "assign.title", d)
	}
	return h.renderPrivate(c, name, "assign.title", d)
}

// post is POST /raportit/tehtavat: toiminto=luo makes an assignment,
// muokkaa changes one's due date and note, sulje closes one.
func (h *assignHandlers) post(c *fiber.Ctx) error {
	switch c.FormValue("toiminto") {
	case "luo":
		return h.create(c)
	case "muokkaa", "sulje":
		return h.change(c)
	}
	return fiber.NewError(fiber.StatusBadRequest, "toiminto must be luo, muokkaa or sulje")
}

func (h *assignHandlers) create(c *fiber.Ctx) error {
	ctx := c.UserContext()
	s, err := h.scope(c)
	if err != nil {
		return err
	}
	if s.Org == nil {
		return fiber.NewError(fiber.StatusBadRequest, "organisaatio is required")
	}
	people, err := h.people(c, s)
	if err != nil {
		return err
	}
	values := map[string]string{"kind": c.FormValue("kind"), "unit": c.FormValue("unit"), "subunits": c.FormValue("subunits"), "group": c.FormValue("group"),
		"people": c.FormValue("people"), "due": c.FormValue("due"), "note": c.FormValue("note"), "modules": strings.Join(formValues(c, "modules"), ",")}
	a := assign.Assignment{Org: s.Org.ID, Kind: values["kind"], Subunits: values["subunits"] != "", Modules: formValues(c, "modules"),
		Note: values["note"], CreatedBy: h.viewerOf(c).User.ID}
	var errs []error
	if strings.TrimSpace(values["due"]) != "" {
		if a.Due, err = assign.ParseDay(values["due"]); err != nil {
			errs = append(errs, err)
		}
	}
	switch a.Kind {
	case assign.KindUnit:
		a.Unit = values["unit"]
		if a.Unit != "" && !s.inScope(a.Unit) {
			errs = append(errs, assign.ErrUnit) // a unit outside the reporter's subtree is not theirs to assign
			a.Unit = "eiole"
		}
	case assign.KindGroup:
		a.Group = values["group"]
		if len(s.Units) > 0 {
			a.Unit = s.Units[0] // a unit-scoped reporter's group: within their subtree
		}
	case assign.KindPeople:
		// People by their addresses, one a line (or separated by commas),
		// among the reader's scope.
		if len(s.Units) > 0 {
			a.Unit = s.Units[0]
		}
		byEmail := map[string]string{}
		for _, m := range people {
			byEmail[strings.ToLower(m.Email)] = m.ID
		}
		for _, e := range strings.FieldsFunc(values["people"], func(r rune) bool { return r == ',' || r == ';' || r == '\n' || r == '\r' || r == ' ' }) {
			id, ok := byEmail[strings.ToLower(e)]
			if !ok {
				id = "unknown:" + e
			}
			a.People = append(a.People, id)
		}
	}
	// The store checks everything (a due date that did not parse is zero,
	// an out-of-scope unit unknown), so one answer lists every problem.
	made, more := h.assign.Create(ctx, a, s.Tree, people, h.published().Course)
	for _, e := range more {
		if !slices.Contains(errs, e) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		d := &assignListData{Values: values}
		if err := fieldErrorsOf(h.lang(c), errs, &d.Errors); err != nil {
			return err
		}
		return h.showList(c, fiber.StatusUnprocessableEntity, d)
	}
	h.audit(c, "assignment.create", made.ID, s.Org.ID+" "+made.Kind+" "+made.Unit)
	return c.Redirect("/raportit/tehtavat/"+made.ID+h.orgQuery(s, "?")+"ilmoitus=luotu", fiber.StatusSeeOther)
}

// orgQuery is the administrator's organisation for a link's query (sep
// is the separator before it), ending in the next separator.
func (h *assignHandlers) orgQuery(s *assignScope, sep string) string {
	if s.Admin && s.Org != nil {
		return sep + "organisaatio=" + urlQueryEscape(s.Org.ID) + "&"
	}
	return sep
}

func formValues(c *fiber.Ctx, name string) []string {
	var out []string
	for _, v := range c.Request().PostArgs().PeekMulti(name) {
		if s := strings.TrimSpace(string(v)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// fieldErrorsOf turns refusals into a form's messages; any other error
// is returned as a failure.
func fieldErrorsOf(lang string, errs []error, out *[]fieldError) error {
	for _, err := range errs {
		f, ok := fault.As(err)
		if !ok {
			return err
		}
		*out = append(*out, fieldError{Field: f.Field, Code: f.Code, Message: web.T(lang, f.MessageKey(), f.Args...)})
	}
	return nil
}

// visible is the assignment with the id if the reader may see it: of
// their organisation and, for a unit-scoped reporter, of their subtree;
// anything else is 404, as if it did not exist.
func (h *assignHandlers) visible(c *fiber.Ctx, id string) (*assignScope, *assign.Assignment, error) {
	a, err := h.assign.Get(c.UserContext(), id)
	if errors.Is(err, assign.ErrNotFound) {
		return nil, nil, fiber.ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	if h.viewerOf(c).User.Can(account.Administer) && c.Query("organisaatio") == "" && c.FormValue("organisaatio") == "" {
		c.Request().URI().QueryArgs().Set("organisaatio", a.Org)
	}
	s, err := h.scope(c)
	if err != nil {
		return nil, nil, err
	}
	if s.Org == nil || a.Org != s.Org.ID || !a.Covers(s.Units) {
		return nil, nil, fiber.ErrNotFound
	}
	return s, a, nil
}

// change is toiminto=muokkaa (due date and note) or sulje (close).
func (h *assignHandlers) change(c *fiber.Ctx) error {
	ctx := c.UserContext()
	s, a, err := h.visible(c, c.FormValue("tehtava"))
	if err != nil {
		return err
	}
	if c.FormValue("toiminto") == "sulje" {
		if err := h.assign.Close(ctx, a.ID); err != nil {
			return err
		}
		h.audit(c, "assignment.close", a.ID, "")
		return c.Redirect("/raportit/tehtavat"+h.orgQuery(s, "?")+"ilmoitus=suljettu", fiber.StatusSeeOther)
	}
	due, err := assign.ParseDay(c.FormValue("due"))
	if err == nil {
		err = h.assign.Edit(ctx, a.ID, due, c.FormValue("note"))
	}
	if err != nil {
		if _, ok := fault.As(err); !ok {
			return err
		}
		d := &assignmentData{Values: map[string]string{"due": c.FormValue("due"), "note": c.FormValue("note")}}
		if err := fieldErrorsOf(h.lang(c), []error{err}, &d.Errors); err != nil {
			return err
		}
		return h.showAssignment(c, fiber.StatusUnprocessableEntity, s, a, d)
	}
	h.audit(c, "assignment.edit", a.ID, due.Format("2006-01-02"))
	return c.Redirect("/raportit/tehtavat/"+a.ID+h.orgQuery(s, "?")+"ilmoitus=tallennettu", fiber.StatusSeeOther)
}

type assignmentData struct {
	Scope      *assignScope
	Assignment assignmentView
	Rows       []assign.Row
	Units      []assign.Summary
	Chart      chart
	Statuses   []assign.Status
	// Shown is how many people the filters keep; Rows are one page of
	// them (Page of Pages), Prev and Next the other pages' queries.
	Shown, Page, Pages int
	Prev, Next         string
	CSV                string // the CSV's address with the filters
	// The filters and the sort: Status and Unit chosen, Sort the column.
	Status, Unit, Sort string
	Back               string // the list's address
	UnitChoices        []unitChoice
	Values             map[string]string
	Errors             []fieldError
	Notice             string
	AsOf               string
}

// assignPageSize is how many people a page of an assignment lists.
const assignPageSize = 200

// statusColours tell the statuses apart (each at 3:1 or more against
// white, and named in the legend and the table too).
var statusColours = map[assign.Status]string{assign.NotStarted: "#8a8f98", assign.InProgress: "#2f6fa8", assign.Completed: "#1f7a3a", assign.Overdue: "#b3261e"}

// page is GET /raportit/tehtavat/{assignment}: the standing per unit
// (a chart and a table) and per person, filtered by ?tila= and
// ?yksikko=, sorted by ?jarjestys=; ?muoto=csv is the same as CSV.
func (h *assignHandlers) page(c *fiber.Ctx) error {
	s, a, err := h.visible(c, c.Params("assignment"))
	if err != nil {
		return err
	}
	d := &assignmentData{Values: map[string]string{}}
	switch c.Query("ilmoitus") {
	case "luotu":
		d.Notice = "assign.created"
	case "tallennettu":
		d.Notice = "assign.saved"
	}
	return h.showAssignment(c, fiber.StatusOK, s, a, d)
}

func (h *assignHandlers) showAssignment(c *fiber.Ctx, status int, s *assignScope, a *assign.Assignment, d *assignmentData) error {
	lang := h.lang(c)
	people, err := h.people(c, s)
	if err != nil {
		return err
	}
	ev, at, err := h.currentEvidence(c)
	if err != nil {
		return err
	}
	rows, err := h.standing(c, s, a, people, ev)
	if err != nil {
		return err
	}
	d.Scope, d.Statuses, d.AsOf = s, assign.Statuses, i18n.DateTime(lang, at)
	d.Assignment = h.view(lang, s, a, rows)
	if d.Values["due"] == "" {
		d.Values["due"] = dayIn(lang, a.Due)
	}
	if _, ok := d.Values["note"]; !ok {
		d.Values["note"] = a.Note
	}
	// Filters.
	d.Status, d.Unit, d.Sort = c.Query("tila"), c.Query("yksikko"), c.Query("jarjestys")
	if d.Status != "" && !slices.Contains(assign.Statuses, assign.Status(d.Status)) {
		return fiber.NewError(fiber.StatusBadRequest, "tila must be one of not_started, in_progress, completed, overdue")
	}
	var inUnit []string
	if d.Unit != "" {
		if s.Tree.Unit(d.Unit) == nil || !s.inScope(d.Unit) {
			return fiber.ErrNotFound // not a unit this reader may see
		}
		inUnit = s.Tree.Subtree(d.Unit)
	}
	switch d.Sort {
	case "", "nimi", "yksikko", "tila", "valmis":
	default:
		return fiber.NewError(fiber.StatusBadRequest, "jarjestys must be nimi, yksikko, tila or valmis")
	}
	var shown []assign.Row
	for _, r := range rows {
		if (d.Status == "" || string(r.Status) == d.Status) && (inUnit == nil || slices.Contains(inUnit, r.Unit)) {
			shown = append(shown, r)
		}
	}
	sortRows(shown, d.Sort)
	_, d.Units = assign.Summarise(rows)
	d.Shown = len(shown)
	d.Chart = statusChart(lang, d.Units)
	for _, e := range s.Tree.Flat() {
		if s.inScope(e.ID) {
			d.UnitChoices = append(d.UnitChoices, unitChoice{ID: e.ID, Label: strings.Join(e.Path, " › "), Depth: e.Depth})
		}
	}
	d.Back = "/raportit/tehtavat" + strings.TrimSuffix(strings.TrimSuffix(h.orgQuery(s, "?"), "&"), "?")
	switch c.Query("muoto") {
	case "csv":
		return h.writeCSV(c, a, shown)
	case "":
	default:
		return fiber.NewError(fiber.StatusBadRequest, "muoto must be csv")
	}
	// One page of people at a time: an organisation's assignment may have
	// thousands (the CSV has them all).
	d.Pages = max(1, (len(shown)+assignPageSize-1)/assignPageSize)
	d.Page = 1
	if p := c.Query("sivu"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > d.Pages {
			return fiber.NewError(fiber.StatusBadRequest, "sivu must be a page number from 1 to "+strconv.Itoa(d.Pages))
		}
		d.Page = n
	}
	d.Rows = shown[(d.Page-1)*assignPageSize : min(len(shown), d.Page*assignPageSize)]
	var q fasthttp.Args
	c.Request().URI().QueryArgs().CopyTo(&q)
	q.Del("ilmoitus")
	q.Del("sivu")
	// Whole addresses: html/template keeps a URL at the start of an
	// attribute as it is, but would escape = and & in a query part.
	self := "/raportit/tehtavat/" + a.ID + "?"
	pageQuery := func(n int) string {
		var pq fasthttp.Args
		q.CopyTo(&pq)
		pq.Set("sivu", strconv.Itoa(n))
		return self + pq.String()
	}
	var cq fasthttp.Args
	q.CopyTo(&cq)
	cq.Set("muoto", "csv")
	d.CSV = self + cq.String()
	if d.Page > 1 {
		d.Prev = pageQuery(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.Next = pageQuery(d.Page + 1)
	}
	return h.renderAssign(c, status, "assignment", d)
}

func sortRows(rows []assign.Row, by string) {
	order := map[assign.Status]int{assign.Overdue: 0, assign.NotStarted: 1, assign.InProgress: 2, assign.Completed: 3}
	type keyed struct {
		name string
		row  assign.Row
	}
	ks := make([]keyed, len(rows))
	for i, r := range rows {
		ks[i] = keyed{strings.ToLower(r.Name), r}
	}
	slices.SortStableFunc(ks, func(x, y keyed) int {
		a, b := x.row, y.row
		switch by {
		case "yksikko":
			if c := strings.Compare(a.UnitPath, b.UnitPath); c != 0 {
				return c
			}
		case "tila":
			if c := order[a.Status] - order[b.Status]; c != 0 {
				return c
			}
		case "valmis":
			if c := b.Done*max(a.Total, 1) - a.Done*max(b.Total, 1); c != 0 {
				return c
			}
		}
		if c := strings.Compare(x.name, y.name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for i := range ks {
		rows[i] = ks[i].row
	}
}

// statusChart is a stacked bar per unit: how many are in each status.
func statusChart(lang string, units []assign.Summary) chart {
	ch := chart{Title: web.T(lang, "assign.chart"), Note: web.T(lang, "assign.chart.desc")}
	for _, u := range units {
		bar := chartBar{Label: u.Label}
		var line []chartSegment
		var text []string
		x := 0.0
		for _, st := range assign.Statuses {
			n := u.Counts[st]
			name := web.T(lang, "assign.status."+string(st))
			text = append(text, name+" "+strconv.Itoa(n))
			if n == 0 || u.Total == 0 {
				continue
			}
			w := 100 * float64(n) / float64(u.Total)
			line = append(line, chartSegment{X: round1(x), W: round1(w), Colour: statusColours[st], Title: name + ": " + strconv.Itoa(n)})
			x += w
		}
		bar.Lines, bar.Text = [][]chartSegment{line}, strings.Join(text, ", ")
		ch.Bars = append(ch.Bars, bar)
	}
	for _, st := range assign.Statuses {
		ch.Legend = append(ch.Legend, chartSegment{Colour: statusColours[st], Title: web.T(lang, "assign.status."+string(st))})
	}
	return ch
}

// writeCSV is the people of an assignment as CSV (the page's filters).
func (h *assignHandlers) writeCSV(c *fiber.Ctx, a *assign.Assignment, rows []assign.Row) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="tehtava-`+a.ID+`.csv"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	w := csv.NewWriter(c.Response().BodyWriter())
	if err := w.Write([]string{"nimi", "sähköposti", "yksikkö", "tila", "osioita suoritettu", "osioita", "valmis"}); err != nil {
		return err
	}
	for _, r := range rows {
		done := ""
		if !r.Completed.IsZero() {
			done = r.Completed.In(i18n.Helsinki).Format("2006-01-02")
		}
		if err := w.Write([]string{csvSafe(r.Name), csvSafe(r.Email), csvSafe(r.UnitPath), web.T("fi", "assign.status."+string(r.Status)),
			strconv.Itoa(r.Done), strconv.Itoa(r.Total), done}); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula (CWE-1236).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// learnerAssignments are what the learner's own pages show of the
// assignments: the open ones that apply to them, by due date.
type learnerAssignments struct {
	dir    *org.Directory
	assign *assign.Store
	certs  *cert.Store // nil: no certificates
	// exam finds the learner's certificates through their attempts (reads
	// by id; nil: by a search of the certificates).
	exam *exam.Store
}

// myAssignment is an assignment on the learner's page, in plain words.
type myAssignment struct {
	ID      string        `json:"id"`
	Modules []string      `json:"modules"` // titles; empty: the whole course
	Note    string        `json:"note,omitempty"`
	Status  assign.Status `json:"status"`
	// When says the due date and how it stands, as a sentence.
	When    string    `json:"when"`
	Done    int       `json:"sections_done"`
	Total   int       `json:"sections"`
	Due     time.Time `json:"due"`
	created time.Time
}

// of lists the open assignments that apply to u, due dates first, with
// their standing from the learner's records.
func (l *learnerAssignments) of(c *fiber.Ctx, u *account.User, records map[string]*course.SectionProgress, co *course.Course, lang string) ([]myAssignment, error) {
	if l == nil || u.OrgID == "" {
		return nil, nil
	}
	ctx := c.UserContext()
	list, err := l.assign.List(ctx, u.OrgID)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	t, err := l.dir.Tree(ctx, u.OrgID)
	if err != nil {
		return nil, err
	}
	me := assign.Member{ID: u.ID, Name: u.Name, Email: u.Email, Unit: u.UnitID, Groups: u.Groups}
	var rows []study.RecordRow
	for _, p := range records {
		rows = append(rows, study.RecordRow{UserID: u.ID, Module: p.Module, Section: p.Section, Completed: p.CompletedAt, Seconds: p.Seconds})
	}
	var issued []cert.IssuedRow
	if l.certs != nil {
		var cs []*cert.Certificate
		if l.exam != nil {
			ids, err := l.exam.AttemptIDs(ctx, u.ID)
			if err != nil {
				return nil, err
			}
			cs, err = l.certs.ForAttempts(ctx, u.ID, ids)
			if err != nil {
				return nil, err
			}
		} else if cs, err = l.certs.ForUser(ctx, u.ID); err != nil {
			return nil, err
		}
		for _, ci := range cs {
			issued = append(issued, cert.IssuedRow{UserID: u.ID, Issued: ci.Issued, Revoked: ci.Revoked != nil})
		}
	}
	ev := assign.NewEvidence(co, rows, issued)
	now := l.assign.Now()
	var out []myAssignment
	for i := range list {
		a := &list[i]
		if a.Status != assign.Open || !a.Applies(me, t) {
			continue
		}
		kept := map[string]time.Time{}
		if at, err := l.assign.KeptFor(ctx, a.ID, u.ID); err != nil {
			return nil, err
		} else if !at.IsZero() {
			kept[u.ID] = at
		}
		r := assign.Evaluate(a, t, []assign.Member{me}, ev, kept, now)
		if len(r) != 1 {
			continue
		}
		if err := l.assign.Keep(ctx, a.ID, r); err != nil {
			return nil, err
		}
		m := myAssignment{ID: a.ID, Note: a.Note, Status: r[0].Status, Done: r[0].Done, Total: r[0].Total, Due: a.Due, created: a.CreatedAt}
		for _, slug := range a.Modules {
			for _, mod := range co.Modules {
				if mod.Slug == slug {
					m.Modules = append(m.Modules, mod.Title)
				}
			}
		}
		day := i18n.Date(lang, a.Due)
		switch left := a.DaysLeft(now); {
		case m.Status == assign.Completed:
			m.When = web.T(lang, "mine.completed", i18n.Date(lang, r[0].Completed), day)
		case m.Status == assign.Overdue:
			m.When = web.TN(lang, "mine.overdue", -left, day, -left)
		case left == 0:
			m.When = web.T(lang, "mine.today", day)
		default:
			m.When = web.TN(lang, "mine.due", left, day, left)
		}
		out = append(out, m)
	}
	// Due dates first: the ones still to do by due date, the completed last.
	slices.SortStableFunc(out, func(a, b myAssignment) int {
		if (a.Status == assign.Completed) != (b.Status == assign.Completed) {
			if a.Status == assign.Completed {
				return 1
			}
			return -1
		}
		return a.Due.Compare(b.Due)
	})
	return out, nil
}

// calendar is GET /omat-opinnot/tehtavat.ics: the due dates of the
// learner's open assignments not yet completed, as an iCalendar file.
func (h *studyHandlers) calendar(c *fiber.Ctx) error {
	if h.mine == nil {
		return fiber.ErrNotFound
	}
	v := h.viewerOf(c)
	lang := h.lang(c)
	all, _, err := studyOf(c.UserContext(), h.progress, v, false)
	if err != nil {
		return err
	}
	co := h.published().Course
	mine, err := h.mine.of(c, v.User, all, co, lang)
	if err != nil {
		return err
	}
	host := strings.TrimPrefix(strings.TrimPrefix(h.siteURL, "https://"), "http://")
	var events []assign.Event
	for _, m := range mine {
		if m.Status == assign.Completed {
			continue
		}
		what := web.T(lang, "assign.whole")
		if len(m.Modules) > 0 {
			what = strings.Join(m.Modules, ", ")
		}
		desc := web.T(lang, "mine.calendar.desc", co.Meta.Title)
		if m.Note != "" {
			desc += "\n\n" + m.Note
		}
		events = append(events, assign.Event{UID: "assignment-" + m.ID + "@" + host, Day: m.Due, Stamp: m.created,
			Summary: web.T(lang, "mine.calendar.summary", what), Description: desc, URL: h.siteURL + "/omat-opinnot"})
	}
	c.Set(fiber.HeaderContentType, "text/calendar; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="tehtavat.ics"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return assign.WriteICS(c.Response().BodyWriter(), web.T(lang, "mine.title"), events)
}
