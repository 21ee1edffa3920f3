// Package assign is the course assigned by an organisation: HR (a
// reporter or an administrator) assigns the whole course or chosen modules
// to a unit (with or without its sub-units) or to a list of people, with a
// due date and a note. Who is assigned is a rule evaluated against the
// directory as it is now, so people who join the unit later are assigned
// and people who leave it are not; each person's completion date is kept
// once reached (a document per assignment and person), so it stays when
// the course's content changes later. It knows nothing of HTTP; the
// storage code is in store.go.
package assign

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/study"
)

// Kinds of target.
const (
	// KindUnit assigns the people of a unit (and, with Subunits, of every
	// unit below it).
	KindUnit = "unit"
	// KindPeople assigns the listed accounts.
	KindPeople = "people"
	// KindGroup assigns everyone whom the organisation's identity provider
	// put in a group at their last sign-in.
	KindGroup = "group"
)

// Statuses of an assignment.
const (
	Open   = "open"
	Closed = "closed"
)

// Assignment is the course, or some of its modules, assigned to people of
// one organisation by a due date.
type Assignment struct {
	ID  string `bson:"_id" json:"id"`
	Org string `bson:"org" json:"org"`
	// Kind is KindUnit, KindPeople or KindGroup. Unit is the assigned unit
	// (KindUnit), or for the others the unit subtree of the reporter who
	// made it ("": the whole organisation), whose people only it assigns: a
	// unit-scoped reporter sees the assignments whose Unit is in their
	// subtree.
	Kind     string   `bson:"kind" json:"kind"`
	Unit     string   `bson:"unit,omitempty" json:"unit,omitempty"`
	Subunits bool     `bson:"subunits,omitempty" json:"subunits,omitempty"`
	People   []string `bson:"people,omitempty" json:"people,omitempty"`
	Group    string   `bson:"group,omitempty" json:"group,omitempty"`
	// Modules are the assigned modules' slugs; empty: the whole course,
	// which a certificate completes too.
	Modules []string `bson:"modules,omitempty" json:"modules,omitempty"`
	// Due is the due day (midnight in Helsinki); the assignment is
	// overdue from the next midnight.
	Due       time.Time `bson:"due" json:"due"`
	Note      string    `bson:"note,omitempty" json:"note,omitempty"`
	CreatedBy string    `bson:"created_by" json:"-"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	Status    string    `bson:"status" json:"status"`
	ClosedAt  time.Time `bson:"closed_at,omitempty" json:"-"`
}

// Refusals.
var (
	ErrDuePast     = fault.New(fault.Invalid, "assignment_due_past", "due", "the due date is in the past")
	ErrDue         = fault.New(fault.Invalid, "assignment_due_invalid", "due", "the due date must be a date such as 31.3.2027")
	ErrUnit        = fault.New(fault.Invalid, "assignment_unit_invalid", "unit", "choose a unit of the organisation")
	ErrEmptyUnit   = fault.New(fault.Invalid, "assignment_unit_empty", "unit", "the unit has no people to assign")
	ErrPeople      = fault.New(fault.Invalid, "assignment_people_invalid", "people", "choose at least one person of the organisation")
	ErrModules     = fault.New(fault.Invalid, "assignment_modules_invalid", "modules", "choose modules of the course")
	ErrNote        = fault.New(fault.Invalid, "assignment_note_invalid", "note", "the note is at most 1000 characters")
	ErrKind        = fault.New(fault.Invalid, "assignment_kind_invalid", "kind", "assign to a unit, to people or to a group")
	ErrGroup       = fault.New(fault.Invalid, "assignment_group_invalid", "group", "name the group (1–200 characters)")
	ErrEmptyGroup  = fault.New(fault.Invalid, "assignment_group_empty", "group", "nobody of the organisation has signed in with that group")
	ErrDuplicate   = fault.New(fault.Conflict, "assignment_duplicate", "", "the same open assignment exists already")
	ErrNotFound    = fault.New(fault.NotFound, "assignment_not_found", "", "no such assignment")
	ErrClosed      = fault.New(fault.Conflict, "assignment_closed", "", "the assignment is closed")
	ErrNoDirectory = fault.New(fault.Invalid, "assignment_no_organisation", "", "the organisation has no units to assign to")
)

// Member is what an assignment needs of a person of the organisation.
type Member struct {
	ID, Name, Email, Unit string
	// Groups are the identity provider's groups at the last sign-in.
	Groups []string
}

// Day is the day of t in Helsinki, at its midnight.
func Day(t time.Time) time.Time {
	t = t.In(i18n.Helsinki)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, i18n.Helsinki)
}

// ParseDay reads a day as Finns write it (31.3.2027) or in ISO 8601.
func ParseDay(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	t, err := time.ParseInLocation("2006-01-02", s, i18n.Helsinki)
	if err != nil {
		t, err = time.ParseInLocation("2.1.2006", strings.TrimSuffix(s, "."), i18n.Helsinki)
	}
	if err != nil {
		return time.Time{}, ErrDue
	}
	return t, nil
}

// Overdue says whether the assignment is past its due day at now.
func (a *Assignment) Overdue(now time.Time) bool {
	return !now.Before(a.Due.In(i18n.Helsinki).AddDate(0, 0, 1))
}

// DaysLeft is how many days there are until the due day (0 on the day,
// negative when overdue).
func (a *Assignment) DaysLeft(now time.Time) int {
	return int(math.Round(a.Due.In(i18n.Helsinki).Sub(Day(now)).Hours() / 24)) // 23 or 25 hours at the clock changes
}

// WholeCourse says whether the whole course is assigned.
func (a *Assignment) WholeCourse() bool { return len(a.Modules) == 0 }

// key is what makes two open assignments the same: the organisation, the
// target and the modules (the due date and note do not count).
func (a *Assignment) key() string {
	mods := slices.Clone(a.Modules)
	slices.Sort(mods)
	target := a.Unit
	switch a.Kind {
	case KindUnit:
		if a.Subunits {
			target += "+"
		}
	case KindPeople:
		p := slices.Clone(a.People)
		slices.Sort(p)
		target = strings.Join(p, ",")
	case KindGroup:
		target += "#" + a.Group
	}
	return a.Org + "|" + a.Kind + "|" + target + "|" + strings.Join(mods, ",")
}

// Covers says whether the unit scope (a reporter's subtree; nil: the
// whole organisation) includes the assignment.
func (a *Assignment) Covers(scope []string) bool {
	return scope == nil || a.Unit != "" && slices.Contains(scope, a.Unit)
}

// Applies says whether the assignment applies to m now, with the
// organisation's units as they are now.
func (a *Assignment) Applies(m Member, t *org.Tree) bool {
	switch a.Kind {
	case KindPeople:
		return slices.Contains(a.People, m.ID)
	case KindGroup:
		return slices.Contains(m.Groups, a.Group) && (a.Unit == "" || m.Unit != "" && slices.Contains(t.Subtree(a.Unit), m.Unit))
	case KindUnit:
		if m.Unit == "" {
			return false
		}
		if m.Unit == a.Unit {
			return true
		}
		return a.Subunits && slices.Contains(t.Subtree(a.Unit), m.Unit)
	}
	return false
}

// Assigned are the members the assignment applies to now.
func (a *Assignment) Assigned(members []Member, t *org.Tree) []Member {
	var sub map[string]bool
	if a.Kind == KindUnit && a.Subunits || a.Kind == KindGroup && a.Unit != "" {
		sub = map[string]bool{}
		for _, id := range t.Subtree(a.Unit) {
			sub[id] = true
		}
	}
	var out []Member
	for _, m := range members {
		switch {
		case a.Kind == KindPeople && slices.Contains(a.People, m.ID),
			a.Kind == KindUnit && m.Unit != "" && (m.Unit == a.Unit || sub[m.Unit]),
			a.Kind == KindGroup && slices.Contains(m.Groups, a.Group) && (a.Unit == "" || sub[m.Unit]):
			out = append(out, m)
		}
	}
	return out
}

// check validates and normalises a new assignment against the
// organisation's units, its people and the course, at now.
func (a *Assignment) check(t *org.Tree, members []Member, c *course.Course, now time.Time) []error {
	var errs []error
	if a.Due.IsZero() {
		errs = append(errs, ErrDue)
	} else if a.Due = Day(a.Due); a.Due.Before(Day(now)) {
		errs = append(errs, ErrDuePast)
	}
	if err := checkNote(&a.Note); err != nil {
		errs = append(errs, err)
	}
	mods := []string{}
	for _, slug := range a.Modules {
		if m := visibleModule(c, slug); m == nil {
			errs = append(errs, ErrModules)
			break
		} else if !slices.Contains(mods, slug) {
			mods = append(mods, slug)
		}
	}
	if len(mods) == len(visibleModules(c)) {
		mods = nil // every module is the whole course
	}
	a.Modules = mods
	switch a.Kind {
	case KindUnit:
		a.People = nil
		if t == nil || t.Unit(a.Unit) == nil {
			errs = append(errs, ErrUnit)
		} else if len(a.Assigned(members, t)) == 0 {
			errs = append(errs, ErrEmptyUnit)
		}
	case KindPeople:
		a.Subunits = false
		ids := map[string]bool{}
		for _, m := range members {
			ids[m.ID] = true
		}
		var people []string
		for _, p := range a.People {
			if !ids[p] {
				errs = append(errs, ErrPeople)
				people = nil
				break
			}
			if !slices.Contains(people, p) {
				people = append(people, p)
			}
		}
		if len(people) == 0 && !slices.Contains(errs, error(ErrPeople)) {
			errs = append(errs, ErrPeople)
		}
		a.People = people
	case KindGroup:
		a.People, a.Subunits = nil, false
		a.Group = strings.TrimSpace(a.Group)
		if n := utf8.RuneCountInString(a.Group); n < 1 || n > 200 {
			errs = append(errs, ErrGroup)
		} else if len(a.Assigned(members, t)) == 0 {
			errs = append(errs, ErrEmptyGroup)
		}
	default:
		errs = append(errs, ErrKind)
	}
	return errs
}

func checkNote(note *string) error {
	*note = strings.TrimSpace(*note)
	if utf8.RuneCountInString(*note) > 1000 || !utf8.ValidString(*note) {
		return ErrNote
	}
	return nil
}

func visibleModules(c *course.Course) []*course.Module {
	var out []*course.Module
	for _, m := range c.Modules {
		if !m.Hidden {
			out = append(out, m)
		}
	}
	return out
}

func visibleModule(c *course.Course, slug string) *course.Module {
	for _, m := range visibleModules(c) {
		if m.Slug == slug {
			return m
		}
	}
	return nil
}

// Status is where a person is with an assignment.
type Status string

// Statuses, in the order reports list them.
const (
	NotStarted Status = "not_started"
	InProgress Status = "in_progress"
	Completed  Status = "completed"
	Overdue    Status = "overdue"
)

// Statuses are every status, for tables and filters.
var Statuses = []Status{NotStarted, InProgress, Completed, Overdue}

// Evidence is what the learners have done: completed sections per module
// and certificates, read once from the progress and certificate rows.
type Evidence struct {
	course *course.Course
	// done[user][module] is how many sections are complete and when the
	// last was; started[user][module] whether any record exists.
	done    map[string]map[string]progress
	certAt  map[string]time.Time // the first certificate not revoked
	modules []*course.Module
}

type progress struct {
	started bool
	done    int
	last    time.Time
}

// NewEvidence indexes the rows by learner.
func NewEvidence(c *course.Course, records []study.RecordRow, issued []cert.IssuedRow) *Evidence {
	e := EmptyEvidence(c)
	sections := map[string]bool{}
	for _, m := range e.modules {
		for _, s := range m.Sections {
			sections[m.Slug+"/"+s.Slug] = true
		}
	}
	for _, r := range records {
		if !sections[r.Module+"/"+r.Section] {
			continue // a section no longer in the course
		}
		per := e.done[r.UserID]
		if per == nil {
			per = map[string]progress{}
			e.done[r.UserID] = per
		}
		p := per[r.Module]
		p.started = true
		if r.Completed != nil {
			p.done++
			if r.Completed.After(p.last) {
				p.last = *r.Completed
			}
		}
		per[r.Module] = p
	}
	for _, ci := range issued {
		if !ci.Revoked {
			e.AddCertificate(ci.UserID, ci.Issued)
		}
	}
	return e
}

// EmptyEvidence is evidence of nothing yet, for Add and AddCertificate.
func EmptyEvidence(c *course.Course) *Evidence {
	return &Evidence{course: c, done: map[string]map[string]progress{}, certAt: map[string]time.Time{}, modules: visibleModules(c)}
}

// Add records a learner's progress in a module, as the reports'
// summaries keep it: started, the sections completed (at sections of the
// course) and when the last of them was completed.
func (e *Evidence) Add(user, module string, done int, last time.Time) {
	per := e.done[user]
	if per == nil {
		per = map[string]progress{}
		e.done[user] = per
	}
	p := per[module]
	p.started = true
	p.done += done
	if last.After(p.last) {
		p.last = last
	}
	per[module] = p
}

// AddCertificate records a learner's certificate (not revoked).
func (e *Evidence) AddCertificate(user string, issued time.Time) {
	if at, ok := e.certAt[user]; !ok || issued.Before(at) {
		e.certAt[user] = issued
	}
}

// Course is the course the evidence was read against.
func (e *Evidence) Course() *course.Course { return e.course }

// Progress is how many of the assignment's sections the user has
// completed, of how many, whether they have started any, and when the
// assignment was complete by the current rules (zero: not complete).
func (e *Evidence) Progress(a *Assignment, user string) (done, total int, started bool, completed time.Time) {
	per := e.done[user]
	complete := true
	for _, m := range e.modules {
		if !a.WholeCourse() && !slices.Contains(a.Modules, m.Slug) {
			continue
		}
		p := per[m.Slug]
		n := len(m.Sections)
		total += n
		done += min(p.done, n)
		started = started || p.started
		if n == 0 {
			continue
		}
		if p.done < n {
			complete = false
		} else if p.last.After(completed) {
			completed = p.last
		}
	}
	if !complete || total == 0 {
		completed = time.Time{}
	}
	if at, ok := e.certAt[user]; ok && a.WholeCourse() {
		started = true
		if completed.IsZero() || at.Before(completed) {
			completed = at
		}
	}
	return done, total, started, completed
}

// Row is one person's standing in an assignment.
type Row struct {
	Member
	UnitPath    string
	Status      Status
	Done, Total int
	// Completed is when the assignment was complete: kept once reached.
	Completed time.Time
	// New: the completion was reached now and is not yet kept.
	New bool
}

// Evaluate is the standing of every person the assignment applies to now:
// the kept completion dates (kept[user]) stand even if the content has
// changed since; other people are completed by the evidence, overdue
// past the due day, in progress with any record, else not started.
func Evaluate(a *Assignment, t *org.Tree, members []Member, e *Evidence, kept map[string]time.Time, now time.Time) []Row {
	overdue := a.Overdue(now)
	assigned := a.Assigned(members, t)
	rows := make([]Row, 0, len(assigned))
	paths := map[string]string{}
	for _, m := range assigned {
		r := Row{Member: m}
		if p, ok := paths[m.Unit]; ok {
			r.UnitPath = p
		} else if t != nil {
			r.UnitPath = strings.Join(t.Path(m.Unit), " › ")
			paths[m.Unit] = r.UnitPath
		}
		var started bool
		var at time.Time
		r.Done, r.Total, started, at = e.Progress(a, m.ID)
		switch k, ok := kept[m.ID]; {
		case ok:
			r.Status, r.Completed = Completed, k
		case !at.IsZero():
			r.Status, r.Completed, r.New = Completed, at, true
		case overdue:
			r.Status = Overdue
		case started:
			r.Status = InProgress
		default:
			r.Status = NotStarted
		}
		rows = append(rows, r)
	}
	return rows
}

// Summary counts rows by status.
type Summary struct {
	Label  string
	Unit   string
	Counts map[Status]int
	Total  int
}

// Percent is the share of the status in per cent, rounded down.
func (s Summary) Percent(st Status) int {
	if s.Total == 0 {
		return 0
	}
	return 100 * s.Counts[st] / s.Total
}

// Summarise counts all rows and the rows of each unit (by unit path).
func Summarise(rows []Row) (all Summary, units []Summary) {
	all = Summary{Counts: map[Status]int{}}
	by := map[string]*Summary{}
	for _, r := range rows {
		all.Counts[r.Status]++
		all.Total++
		s := by[r.Unit]
		if s == nil {
			s = &Summary{Label: r.UnitPath, Unit: r.Unit, Counts: map[Status]int{}}
			by[r.Unit] = s
		}
		s.Counts[r.Status]++
		s.Total++
	}
	for _, s := range by {
		units = append(units, *s)
	}
	slices.SortFunc(units, func(a, b Summary) int { return strings.Compare(a.Label, b.Label) })
	return all, units
}

// Reminder stages: when the assignment is made, 14 and 3 days before the
// due date.
const (
	StageAssigned = "assigned"
	StageDue14    = "due14"
	StageDue3     = "due3"
)

// Stages are the reminders the person of row should have had by now, in
// order: the notice of the assignment while it is open and not past due,
// and each of the 14- and 3-day reminders once its day has come, if the
// assignment was made before that day (one made 10 days before its due
// date has no 14-day reminder: its notice says the date). A completed or
// overdue person gets none.
func (a *Assignment) Stages(r Row, now time.Time) []string {
	if a.Status != Open || r.Status == Completed || r.Status == Overdue {
		return nil
	}
	out := []string{StageAssigned}
	left := a.DaysLeft(now)
	atMaking := a.DaysLeft(a.CreatedAt)
	if left <= 14 && left > 3 && atMaking > 14 {
		out = append(out, StageDue14)
	}
	if left <= 3 && left >= 0 && atMaking > 3 {
		out = append(out, StageDue3)
	}
	return out
}

// ReminderKey names one reminder of one person, for its claim and its
// message in the outbox.
func ReminderKey(assignment, user, stage string) string {
	return "assignment/" + assignment + "/" + user + "/" + stage
}

// DigestKey names the weekly digest of an assignment for the week of now
// (ISO week in Helsinki).
func DigestKey(assignment, to string, now time.Time) string {
	y, w := now.In(i18n.Helsinki).ISOWeek()
	return "assignment/" + assignment + "/digest/" + to + "/" + strconv.Itoa(y) + "-W" + strconv.Itoa(w)
}
