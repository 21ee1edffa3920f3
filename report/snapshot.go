package report

import (
	"math"
	"time"
)

// snapshot holds every account's summary in memory for the reports, in a
// form the garbage collector need not trace. As a map of pointers to
// LearnerSummary (strings, slices, an *ExamSummary each) 100,000
// summaries were most of a 64 MB live heap, and under page load each
// collection marked them for 80–130 ms of one of two cores, every 1.7 s:
// the pages' kept-alive p99 doubled (docs/benchmarks.md). Here a summary
// is a fixed-size record without pointers; its texts (role,
// organisation, unit, module slugs: a few hundred in all) are numbers in
// one table, and its modules and certificates are runs in two shared
// arrays. Only the index's keys (the user ids) are pointers.
//
// A snapshot is guarded by Summaries.snapMu.
type snapshot struct {
	index map[string]int32 // user id → its row
	rows  []flatSummary
	mods  []flatModule
	certs []flatCert
	texts []string
	text  map[string]uint32
	// stale counts rows, modules and certificates no longer reached (a
	// removed account, a run replaced by a longer one); past half of the
	// whole, the arrays are rebuilt.
	stale int
}

type flatSummary struct {
	role, org, orgName, unit  uint32
	created, active, computed int64
	mod, cert                 uint32 // the first of the row's runs
	nMods, nCerts             uint32
	exam, passed              bool
	attempts                  int32
	lastSubmitted             int64
}

type flatModule struct {
	slug          uint32
	done          int32
	seconds, last int64
}

type flatCert struct {
	issued  int64
	revoked bool
}

// noTime stands for the zero time.
const noTime = math.MinInt64

func flatTime(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

func timeOf(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func newSnapshot(all map[string]*LearnerSummary) *snapshot {
	p := &snapshot{index: make(map[string]int32, len(all)), rows: make([]flatSummary, 0, len(all)), text: map[string]uint32{}}
	for _, sum := range all {
		p.put(sum)
	}
	return p
}

func (p *snapshot) len() int {
	if p == nil {
		return 0
	}
	return len(p.index)
}

func (p *snapshot) textOf(s string) uint32 {
	if i, ok := p.text[s]; ok {
		return i
	}
	p.texts = append(p.texts, s)
	p.text[s] = uint32(len(p.texts) - 1)
	return uint32(len(p.texts) - 1)
}

// put keeps sum, replacing the account's row if it has one.
func (p *snapshot) put(sum *LearnerSummary) {
	i, ok := p.index[sum.ID]
	if !ok {
		p.rows = append(p.rows, flatSummary{})
		i = int32(len(p.rows) - 1)
		p.index[sum.ID] = i
	}
	r := &p.rows[i]
	old := *r // a new row's is empty: its runs are made at the end
	*r = flatSummary{role: p.textOf(sum.Role), org: p.textOf(sum.OrgID), orgName: p.textOf(sum.Organisation), unit: p.textOf(sum.UnitID),
		created: flatTime(sum.CreatedAt), active: flatTime(sum.LastActive), computed: flatTime(sum.ComputedAt)}
	if sum.Exam != nil {
		r.exam, r.passed, r.attempts, r.lastSubmitted = true, sum.Exam.Passed, int32(sum.Exam.Attempts), flatTime(sum.Exam.LastSubmitted)
	}
	r.nMods, r.nCerts = uint32(len(sum.Modules)), uint32(len(sum.Certificates))
	r.mod = place(&p.mods, &p.stale, old.mod, old.nMods, r.nMods)
	for k, m := range sum.Modules {
		p.mods[int(r.mod)+k] = flatModule{slug: p.textOf(m.Slug), done: int32(m.Done), seconds: int64(m.Seconds), last: flatTime(m.Last)}
	}
	r.cert = place(&p.certs, &p.stale, old.cert, old.nCerts, r.nCerts)
	for k, c := range sum.Certificates {
		p.certs[int(r.cert)+k] = flatCert{issued: flatTime(c.Issued), revoked: c.Revoked}
	}
	p.compactIfStale()
}

// place is where a run of n entries of arr goes that replaces a run of
// oldN at start: the same place when it fits (what is left of the old one
// goes stale), else a new run at the end (the whole old one goes stale).
func place[T any](arr *[]T, stale *int, start, oldN, n uint32) uint32 {
	if n <= oldN {
		*stale += int(oldN - n)
		return start
	}
	*stale += int(oldN)
	*arr = append(*arr, make([]T, n)...)
	return uint32(len(*arr)) - n
}

// remove forgets an account's summary.
func (p *snapshot) remove(id string) {
	i, ok := p.index[id]
	if !ok {
		return
	}
	delete(p.index, id)
	r := &p.rows[i]
	p.stale += 1 + int(r.nMods) + int(r.nCerts)
	p.compactIfStale()
}

func (p *snapshot) compactIfStale() {
	if p.stale <= 1024 || p.stale <= (len(p.rows)+len(p.mods)+len(p.certs))/2 {
		return
	}
	n := &snapshot{index: make(map[string]int32, len(p.index)), rows: make([]flatSummary, 0, len(p.index)), text: map[string]uint32{}}
	var l LearnerSummary
	var ex ExamSummary
	for id, i := range p.index {
		p.fill(&l, &ex, id, i)
		n.put(&l)
	}
	*p = *n
}

// get is a copy of an account's summary (nil: none).
func (p *snapshot) get(id string) *LearnerSummary {
	if p == nil {
		return nil
	}
	i, ok := p.index[id]
	if !ok {
		return nil
	}
	l := &LearnerSummary{}
	p.fill(l, &ExamSummary{}, id, i)
	return l
}

// computedAt is when an account's summary was computed (false: none).
func (p *snapshot) computedAt(id string) (time.Time, bool) {
	i, ok := p.index[id]
	if !ok {
		return time.Time{}, false
	}
	return timeOf(p.rows[i].computed), true
}

// fill makes l the summary of row i, reusing l's slices and ex.
func (p *snapshot) fill(l *LearnerSummary, ex *ExamSummary, id string, i int32) {
	r := &p.rows[i]
	*l = LearnerSummary{ID: id, Role: p.texts[r.role], OrgID: p.texts[r.org], Organisation: p.texts[r.orgName], UnitID: p.texts[r.unit],
		CreatedAt: timeOf(r.created), LastActive: timeOf(r.active), ComputedAt: timeOf(r.computed),
		Modules: l.Modules[:0], Certificates: l.Certificates[:0]}
	for _, m := range p.mods[r.mod : r.mod+r.nMods] {
		l.Modules = append(l.Modules, ModuleSummary{Slug: p.texts[m.slug], Done: int(m.done), Seconds: int(m.seconds), Last: timeOf(m.last)})
	}
	for _, c := range p.certs[r.cert : r.cert+r.nCerts] {
		l.Certificates = append(l.Certificates, CertSummary{Issued: timeOf(c.issued), Revoked: c.revoked})
	}
	if r.exam {
		*ex = ExamSummary{Attempts: int(r.attempts), Passed: r.passed, LastSubmitted: timeOf(r.lastSubmitted)}
		l.Exam = ex
	}
}

// each yields every summary. The summary yielded is reused for the next
// one: a caller that keeps one past its turn must copy it.
func (p *snapshot) each(yield func(*LearnerSummary) bool) {
	if p == nil {
		return
	}
	var l LearnerSummary
	var ex ExamSummary
	for id, i := range p.index {
		p.fill(&l, &ex, id, i)
		if !yield(&l) {
			return
		}
	}
}
