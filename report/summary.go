package report

import (
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
)

// LearnerSummary is everything the reports need of one learner, kept in
// the collection report_learners (_id: the user id) and recomputed whole
// from the learner's own records whenever one of them changes (see
// Summaries). Only learners (the role) have one.
type LearnerSummary struct {
	ID           string    `bson:"_id"`
	OrgID        string    `bson:"org_id,omitempty"`
	Organisation string    `bson:"organisation"`
	UnitID       string    `bson:"unit_id,omitempty"`
	CreatedAt    time.Time `bson:"created_at"`
	LastActive   time.Time `bson:"last_active"`
	// Modules are the modules with a progress record of the learner at a
	// section of the published course, by slug.
	Modules []ModuleSummary `bson:"modules,omitempty"`
	// Exam is set once the learner has submitted an attempt.
	Exam         *ExamSummary  `bson:"exam,omitempty"`
	Certificates []CertSummary `bson:"certificates,omitempty"`
	// ComputedAt is when the sources were read (not compared).
	ComputedAt time.Time `bson:"computed_at"`
}

// ModuleSummary is a learner's records of one module: how many sections
// are completed and the seconds spent in them. A module listed is a
// module started.
type ModuleSummary struct {
	Slug    string `bson:"slug"`
	Done    int    `bson:"done"`
	Seconds int    `bson:"seconds"`
}

// ExamSummary is a learner's exam: attempts, passed, last submitted.
type ExamSummary struct {
	Attempts      int       `bson:"attempts"`
	Passed        bool      `bson:"passed"`
	LastSubmitted time.Time `bson:"last_submitted"`
}

// CertSummary is one of a learner's certificates.
type CertSummary struct {
	Issued  time.Time `bson:"issued"`
	Revoked bool      `bson:"revoked"`
}

// Same says whether two summaries hold the same figures (ComputedAt
// aside).
func (l *LearnerSummary) Same(o *LearnerSummary) bool {
	a, b := *l, *o
	a.ComputedAt, b.ComputedAt = time.Time{}, time.Time{}
	return a.ID == b.ID && a.OrgID == b.OrgID && a.Organisation == b.Organisation && a.UnitID == b.UnitID &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastActive.Equal(b.LastActive) &&
		slices.Equal(a.Modules, b.Modules) && (a.Exam == nil) == (b.Exam == nil) && (a.Exam == nil || a.Exam.Attempts == b.Exam.Attempts &&
		a.Exam.Passed == b.Exam.Passed && a.Exam.LastSubmitted.Equal(b.Exam.LastSubmitted)) &&
		slices.EqualFunc(a.Certificates, b.Certificates, func(x, y CertSummary) bool { return x.Issued.Equal(y.Issued) && x.Revoked == y.Revoked })
}

// stamp is a time as the store keeps it (UTC, milliseconds).
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// Summarize makes the summaries of in's learners (of the role learner)
// from their rows. Progress records count only at sections of in.Course
// (as on the learner's own pages): a record set aside when its section
// was archived, or of a module no longer in the course, does not.
func Summarize(in Input) []LearnerSummary {
	sections := map[string]bool{}
	if in.Course != nil {
		for _, m := range in.Course.Modules {
			for _, s := range m.Sections {
				sections[m.Slug+"/"+s.Slug] = true
			}
		}
	}
	at := make(map[string]int, len(in.Learners))
	out := make([]LearnerSummary, 0, len(in.Learners))
	for _, l := range in.Learners {
		if l.Role != "" && l.Role != account.RoleLearner {
			continue
		}
		if _, dup := at[l.ID]; dup {
			continue
		}
		at[l.ID] = len(out)
		out = append(out, LearnerSummary{ID: l.ID, OrgID: l.OrgID, Organisation: l.Organisation, UnitID: l.UnitID,
			CreatedAt: stamp(l.CreatedAt), LastActive: stamp(l.LastActive)})
	}
	for _, r := range in.Records {
		i, ok := at[r.UserID]
		if !ok || !sections[r.Module+"/"+r.Section] {
			continue
		}
		s := &out[i]
		k := slices.IndexFunc(s.Modules, func(m ModuleSummary) bool { return m.Slug == r.Module })
		if k < 0 {
			s.Modules = append(s.Modules, ModuleSummary{Slug: r.Module})
			k = len(s.Modules) - 1
		}
		s.Modules[k].Seconds += r.Seconds
		if r.Completed != nil {
			s.Modules[k].Done++
		}
	}
	for _, o := range in.Outcomes {
		if i, ok := at[o.UserID]; ok && o.LastSubmitted != nil {
			out[i].Exam = &ExamSummary{Attempts: o.Attempts, Passed: o.Passed, LastSubmitted: stamp(*o.LastSubmitted)}
		}
	}
	for _, c := range in.Issued {
		if i, ok := at[c.UserID]; ok {
			out[i].Certificates = append(out[i].Certificates, CertSummary{Issued: stamp(c.Issued), Revoked: c.Revoked})
		}
	}
	for i := range out {
		s := &out[i]
		slices.SortFunc(s.Modules, func(a, b ModuleSummary) int { return strings.Compare(a.Slug, b.Slug) })
		slices.SortFunc(s.Certificates, func(a, b CertSummary) int {
			if c := a.Issued.Compare(b.Issued); c != 0 {
				return c
			}
			if a.Revoked == b.Revoked {
				return 0
			}
			if a.Revoked {
				return 1
			}
			return -1
		})
	}
	return out
}

// Build makes the report of in for f: its learners' summaries
// (Summarize), aggregated (Aggregate).
func Build(in Input, f Filter) *Report {
	list := Summarize(in)
	return Aggregate(in.Course, func(yield func(*LearnerSummary) bool) {
		for i := range list {
			if !yield(&list[i]) {
				return
			}
		}
	}, f)
}

// Aggregate makes the report of f from learners' summaries: the learners
// f keeps (organisation, units), their registrations, activity, modules,
// exam and certificates in the period.
func Aggregate(c *course.Course, learners iter.Seq[*LearnerSummary], f Filter) *Report {
	r := &Report{Filter: f}
	modules := c.Modules
	index := make(map[string]int, len(modules))
	for i, m := range modules {
		index[m.Slug] = i
	}
	rows := make([]ModuleRow, len(modules))
	times := make([]TimeRow, len(modules))
	seconds := make([]int, len(modules))
	for i, m := range modules {
		rows[i] = ModuleRow{Slug: m.Slug, Title: m.Title, Sections: len(m.Sections)}
		times[i] = TimeRow{Slug: m.Slug, Title: m.Title, BudgetMinutes: m.Minutes}
	}
	var units map[string]bool
	if f.Units != nil {
		units = make(map[string]bool, len(f.Units))
		for _, u := range f.Units {
			units[u] = true
		}
	}
	done := make([]int, len(modules))
	for l := range learners {
		if f.OrgID != "" && l.OrgID != f.OrgID || f.OrgID == "" && f.Organisation != "" && l.Organisation != f.Organisation {
			continue
		}
		if units != nil && !units[l.UnitID] {
			continue
		}
		r.Learners++
		if f.In(l.CreatedAt) {
			r.Registered++
		}
		if f.In(l.LastActive) {
			r.Active++
		}
		clear(done)
		for _, m := range l.Modules {
			i, ok := index[m.Slug]
			if !ok {
				continue
			}
			done[i] = m.Done
			rows[i].Started++
			times[i].Learners++
			seconds[i] += m.Seconds
		}
		completed := 0
		for i := range rows {
			row := &rows[i]
			n := min(done[i], row.Sections)
			switch {
			case n == 0:
				row.Buckets[0]++
			case row.Sections > 0 && n == row.Sections:
				row.Buckets[3]++
				row.Completed++
				completed++
			case 2*n < row.Sections:
				row.Buckets[1]++
			default:
				row.Buckets[2]++
			}
		}
		if completed > 0 && completed == len(modules) {
			r.CourseCompleted++
		}
		if l.Exam != nil {
			r.Exam.Learners++
			r.Exam.Attempts += l.Exam.Attempts
			if l.Exam.Passed {
				r.Exam.Passed++
			}
		}
		for _, cs := range l.Certificates {
			if !cs.Revoked && f.In(cs.Issued) {
				r.Certificates++
			}
		}
	}
	for i := range times {
		if times[i].Learners > 0 {
			times[i].AverageMinutes = math.Round(10*float64(seconds[i])/60/float64(times[i].Learners)) / 10
		}
	}
	r.Modules, r.Time = rows, times
	return r
}
