package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/study"
)

// summariesCollection holds one LearnerSummary a learner.
const summariesCollection = "report_learners"

// Sources are the stores a learner's summary is computed from.
type Sources struct {
	Accounts *account.Store
	Progress *study.Progress
	Exam     *exam.Store // nil: no exam
	Certs    *cert.Store // nil: no certificates
	// Course is the published course (its sections decide which progress
	// records count).
	Course func() *course.Course
}

// Summaries keeps the learners' summaries (report_learners) up to date.
//
// A summary is never updated piece by piece: across instances on one
// FerretDB an $inc or a conditional update is not atomic. It is
// recomputed whole from the learner's own records (their account row,
// their progress records read by _id, their exam record, their
// certificates by their attempts) and written with one replace
// (Recompute). The stores tell Touch of every change they make; Run
// recomputes each touched learner after Delay (a burst of saves is
// recomputed once). A recompute that read its sources before the last
// change and wrote after that change's own recompute would leave a stale
// summary: within one process the recomputes of a learner are serialised
// by a lock; where other processes may write (not SingleWriter), each
// touched learner is recomputed once more after Settle, and every
// recompute is bounded by RecomputeTimeout (< Settle), so a stale write
// lands before the second recompute reads. A change whose touch was lost
// (a crash between the write and the recompute) is corrected by Rebuild,
// which serve runs under a lease every day and the command tyokyky report
// rebuild runs on demand.
type Summaries struct {
	db    *database.DB
	src   Sources
	log   *slog.Logger
	locks *database.Locks

	// Delay is how long Run waits after a learner's first touch before
	// recomputing; Settle when it recomputes them again (multi-writer).
	Delay, Settle time.Duration
	// othersWrite: other processes may write the summaries (tests set it;
	// otherwise !db.SingleWriter()).
	othersWrite bool

	mu       sync.Mutex
	pending  map[string]due
	inflight int // taken, being recomputed
	wake     chan struct{}

	// The snapshot: every summary, read once and kept up to date with
	// this process's own writes; reread in the background when older than
	// the age a report allows (other instances' writes).
	snapMu    sync.RWMutex
	snap      *snapshot
	snapAt    time.Time
	loadMu    sync.Mutex
	reloading bool
}

type due struct {
	at     time.Time
	settle bool // the second recompute of a touch
	// outcome: only the exam or certificates changed (TouchOutcome), so
	// where this process is the only writer the learner's modules are
	// taken from their summary instead of read again from the records.
	outcome bool
}

// errNoCourse: nothing is published yet, so no record can be counted.
var errNoCourse = errors.New("report: no published course yet")

// RecomputeTimeout bounds one learner's recompute.
const RecomputeTimeout = 5 * time.Second

// NewSummaries keeps the summaries of db from src.
func NewSummaries(db *database.DB, src Sources, log *slog.Logger) *Summaries {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Summaries{db: db, src: src, log: log, locks: database.NewLocks(), Delay: time.Second, Settle: 3 * RecomputeTimeout,
		othersWrite: !db.SingleWriter(), pending: map[string]due{}, wake: make(chan struct{}, 1)}
}

// Follow has every source store tell Touch of its changes (their
// OnChange). Call it once; the stores may already run (their hooks are
// set atomically), and a change made before is corrected by the next
// Rebuild.
func (s *Summaries) Follow() {
	s.src.Accounts.OnChange(s.Touch)
	s.src.Progress.OnChange(s.Touch)
	if s.src.Exam != nil {
		s.src.Exam.OnChange(s.TouchOutcome)
	}
	if s.src.Certs != nil {
		s.src.Certs.OnChange(s.TouchOutcome)
	}
}

// TouchOutcome asks for a learner's summary to be recomputed after a
// change of their exam or certificates only (Touch for anything else).
func (s *Summaries) TouchOutcome(userID string) {
	if s == nil || userID == "" {
		return
	}
	s.mu.Lock()
	if d, ok := s.pending[userID]; !ok || d.settle {
		s.pending[userID] = due{at: time.Now().Add(s.Delay), outcome: true}
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Touch asks for a learner's summary to be recomputed (Run does it after
// Delay). It never blocks; a nil Summaries does nothing.
func (s *Summaries) Touch(userID string) {
	if s == nil || userID == "" {
		return
	}
	s.mu.Lock()
	if d, ok := s.pending[userID]; !ok || d.settle {
		s.pending[userID] = due{at: time.Now().Add(s.Delay)}
	} else if d.outcome {
		d.outcome = false // everything, then
		s.pending[userID] = d
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Pending is how many learners wait for a recompute or are being
// recomputed.
func (s *Summaries) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) + s.inflight
}

// take removes and returns the learners due by now (all first touches
// too, when flush).
func (s *Summaries) take(now time.Time, flush bool) (taken []due, ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, d := range s.pending {
		if !d.at.After(now) || flush && !d.settle {
			ids, taken = append(ids, id), append(taken, d)
			delete(s.pending, id)
			s.inflight++
		}
	}
	return taken, ids
}

// next is when the next waiting learner is due (zero: none waits).
func (s *Summaries) next() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, d := range s.pending {
		if next.IsZero() || d.at.Before(next) {
			next = d.at
		}
	}
	return next
}

// Run recomputes touched learners until ctx ends.
func (s *Summaries) Run(ctx context.Context) {
	for {
		taken, ids := s.take(time.Now(), false)
		s.recomputeAll(ctx, ids, taken)
		// After the recomputes: they may have asked for second ones.
		next := s.next()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 10*time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Flush recomputes at once every learner touched and not yet recomputed
// (a report does so first: it shows every change this process has made).
func (s *Summaries) Flush(ctx context.Context) {
	if s == nil {
		return
	}
	taken, ids := s.take(time.Now(), true)
	s.recomputeAll(ctx, ids, taken)
}

// flushMax is how many waiting learners a report recomputes before it
// reads; with more (a busy hour), it leaves them to Run and its figures
// may be up to Delay behind.
const flushMax = 32

// Held is how many summaries this process holds in memory (0 before
// the first read of them has finished).
func (s *Summaries) Held() int {
	s.snapMu.RLock()
	defer s.snapMu.RUnlock()
	return s.snap.len()
}

// Warm reads the stored summaries into memory (serve does it at start,
// so that the first report does not wait for the scan).
func (s *Summaries) Warm(ctx context.Context) error { return s.load(ctx, time.Now()) }

func (s *Summaries) recomputeAll(ctx context.Context, ids []string, taken []due) {
	for i, id := range ids {
		s.recomputeTaken(ctx, id, taken[i])
	}
}

// recomputeTaken recomputes a learner take returned: again later if it
// failed, once more after Settle where other processes write.
func (s *Summaries) recomputeTaken(ctx context.Context, id string, d due) {
	settle := d.settle
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}()
	if ctx.Err() != nil {
		return
	}
	recompute := s.Recompute
	if d.outcome && !s.othersWrite {
		recompute = s.recomputeOutcome
	}
	if err := recompute(ctx, id); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("report summary", "user", id, "err", err)
			s.Touch(id) // try again
		}
		return
	}
	if !settle && s.othersWrite {
		s.mu.Lock()
		if _, ok := s.pending[id]; !ok {
			s.pending[id] = due{at: time.Now().Add(s.Settle), settle: true}
		}
		s.mu.Unlock()
	}
}

// Compute reads an account's sources now and makes its summary; nil when
// there is no such account.
func (s *Summaries) Compute(ctx context.Context, userID string) (*LearnerSummary, error) {
	return s.compute(ctx, userID, nil)
}

// compute is Compute; with modules (a learner's summary made by this
// process, the only writer) their modules are taken from it instead of
// read from the records.
func (s *Summaries) compute(ctx context.Context, userID string, modules *LearnerSummary) (*LearnerSummary, error) {
	started := time.Now()
	c := s.src.Course()
	if c == nil {
		return nil, errNoCourse
	}
	row, err := s.src.Accounts.LearnerRow(ctx, userID)
	if err != nil || row == nil {
		return nil, err
	}
	in := Input{Course: c, Learners: []account.LearnerRow{*row}}
	var sections []string
	for _, m := range c.Modules {
		for _, sec := range m.Sections {
			sections = append(sections, m.Slug+"/"+sec.Slug)
		}
	}
	if modules == nil {
		if in.Records, err = s.src.Progress.RecordRowsOf(ctx, userID, sections); err != nil {
			return nil, err
		}
	}
	if s.src.Exam != nil {
		o, err := s.src.Exam.Outcome(ctx, userID)
		if err != nil {
			return nil, err
		}
		if o != nil {
			in.Outcomes = []exam.OutcomeRow{*o}
		}
		if s.src.Certs != nil {
			attempts, err := s.src.Exam.AttemptIDs(ctx, userID)
			if err != nil {
				return nil, err
			}
			if in.Issued, err = s.src.Certs.IssuedRowsOf(ctx, userID, attempts); err != nil {
				return nil, err
			}
		}
	}
	list := Summarize(in)
	if len(list) != 1 {
		return nil, nil
	}
	list[0].ComputedAt = stamp(started)
	if modules != nil {
		list[0].Modules = modules.Modules
	}
	return &list[0], nil
}

// recomputeOutcome is Recompute after a change of a learner's exam or
// certificates only, where this process is the summaries' only writer:
// the modules come from the learner's summary as this process last wrote
// or read it (one lookup at most), not from their records (one lookup a
// section). Without a summary it is Recompute.
func (s *Summaries) recomputeOutcome(ctx context.Context, userID string) error {
	defer s.locks.Lock(userID)()
	ctx, cancel := context.WithTimeout(ctx, RecomputeTimeout)
	defer cancel()
	s.snapMu.RLock()
	prev := s.snap.get(userID)
	s.snapMu.RUnlock()
	if prev == nil { // not read yet, or made since the snapshot was read
		var err error
		if prev, err = s.Get(ctx, userID); err != nil {
			return err
		}
	}
	sum, err := s.compute(ctx, userID, prev)
	if err != nil {
		return err
	}
	if sum == nil {
		return s.remove(ctx, userID)
	}
	return s.write(ctx, sum)
}

// Recompute makes a learner's summary from their sources now and writes
// it whole (or deletes it when the account is gone).
func (s *Summaries) Recompute(ctx context.Context, userID string) error {
	defer s.locks.Lock(userID)()
	ctx, cancel := context.WithTimeout(ctx, RecomputeTimeout)
	defer cancel()
	sum, err := s.Compute(ctx, userID)
	if err != nil {
		return err
	}
	if sum == nil {
		return s.remove(ctx, userID)
	}
	return s.write(ctx, sum)
}

func (s *Summaries) write(ctx context.Context, sum *LearnerSummary) error {
	coll := s.db.Collection(summariesCollection)
	doc, err := pack(sum)
	if err != nil {
		return err
	}
	for try := 0; try < 5; try++ {
		_, err = coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: sum.ID}}, doc, options.Replace().SetUpsert(true))
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("report: summary: %w", err)
	}
	s.remember(sum.ID, sum)
	return nil
}

func (s *Summaries) remove(ctx context.Context, userID string) error {
	if _, err := s.db.Collection(summariesCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: userID}}); err != nil {
		return fmt.Errorf("report: summary: %w", err)
	}
	s.remember(userID, nil)
	return nil
}

// remember keeps a write in the snapshot, if one is loaded.
func (s *Summaries) remember(id string, sum *LearnerSummary) {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if s.snap == nil {
		return
	}
	if sum == nil {
		s.snap.remove(id)
	} else {
		s.snap.put(sum)
	}
}

// summaryDoc is a summary as stored: its id and the summary as one JSON
// string. FerretDB v1's cost per document grows with the number of its
// fields and nested values, not with bytes (see exam's packed): a
// summary's modules as nested documents made a scan of them about ten
// times slower than the progress records themselves. The field is never
// queried; MongoDB does not care either way.
type summaryDoc struct {
	ID string `bson:"_id"`
	S  string `bson:"s"`
}

func pack(sum *LearnerSummary) (summaryDoc, error) {
	b, err := json.Marshal(sum)
	if err != nil {
		return summaryDoc{}, fmt.Errorf("report: summary: %w", err)
	}
	return summaryDoc{ID: sum.ID, S: string(b)}, nil
}

func (d summaryDoc) unpack() (*LearnerSummary, error) {
	sum := new(LearnerSummary)
	if err := json.Unmarshal([]byte(d.S), sum); err != nil {
		return nil, fmt.Errorf("report: summary %s: %w", d.ID, err)
	}
	sum.ID = d.ID
	return sum, nil
}

// interned keeps one copy of the strings many summaries share (role,
// organisation, unit, module slugs): 100,000 summaries in memory are
// then far fewer objects for the garbage collector to trace.
type interned map[string]string

func (in interned) of(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	in[s] = s
	return s
}

func (in interned) summary(sum *LearnerSummary) {
	sum.Role, sum.OrgID, sum.Organisation, sum.UnitID = in.of(sum.Role), in.of(sum.OrgID), in.of(sum.Organisation), in.of(sum.UnitID)
	for i := range sum.Modules {
		sum.Modules[i].Slug = in.of(sum.Modules[i].Slug)
	}
}

// Get is a learner's stored summary (nil: none).
func (s *Summaries) Get(ctx context.Context, userID string) (*LearnerSummary, error) {
	var d summaryDoc
	err := s.db.Collection(summariesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report: summary: %w", err)
	}
	return d.unpack()
}

// All reads every stored summary (one scan of the collection).
func (s *Summaries) All(ctx context.Context) (map[string]*LearnerSummary, error) {
	cur, err := s.db.Collection(summariesCollection).Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("report: summaries: %w", err)
	}
	defer cur.Close(ctx)
	out := map[string]*LearnerSummary{}
	strs := interned{}
	for cur.Next(ctx) {
		var d summaryDoc
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("report: summaries: %w", err)
		}
		sum, err := d.unpack()
		if err != nil {
			return nil, err
		}
		strs.summary(sum)
		out[sum.ID] = sum
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("report: summaries: %w", err)
	}
	return out, nil
}

// Any reports whether at least one summary is stored (it reads one:
// counting reads them all on FerretDB).
func (s *Summaries) Any(ctx context.Context) (bool, error) {
	err := s.db.Collection(summariesCollection).FindOne(ctx, bson.D{}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, err
}

// load reads the snapshot anew, unless a scan that began after asked
// has been read meanwhile (concurrent first reports scan once). Writes
// this process makes during the scan are kept.
func (s *Summaries) load(ctx context.Context, asked time.Time) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	s.snapMu.RLock()
	fresh := s.snap != nil && s.snapAt.After(asked)
	s.snapMu.RUnlock()
	if fresh {
		return nil
	}
	at := time.Now()
	all, err := s.All(ctx)
	if err != nil {
		return err
	}
	next := newSnapshot(all)
	all = nil // the pointer form is garbage now, before the merge below
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	// What this process wrote while the scan ran may be missing from it:
	// take those summaries from the old snapshot when newer.
	if old := s.snap; old != nil {
		var o LearnerSummary
		var ex ExamSummary
		for id, i := range old.index {
			if n, ok := next.computedAt(id); ok && timeOf(old.rows[i].computed).After(n) {
				old.fill(&o, &ex, id, i)
				next.put(&o)
			}
		}
	}
	s.snap, s.snapAt = next, at
	return nil
}

// Read calls f with every summary, as this process knows them (each
// summary it yields is valid until the next: copy what you keep): every
// touch it has seen recomputed first (Flush; unless more than flushMax
// wait), the stored summaries read
// at most maxAge ago (the first read waits for the scan; later ones
// reread in the background and go on with the ones they have; maxAge < 0
// rereads every time). It returns when the stored summaries were read.
func (s *Summaries) Read(ctx context.Context, maxAge time.Duration, f func(iter.Seq[*LearnerSummary])) (time.Time, error) {
	if s == nil {
		f(func(func(*LearnerSummary) bool) {})
		return time.Now(), nil
	}
	asked := time.Now()
	if s.Pending() <= flushMax {
		s.Flush(ctx)
	}
	s.snapMu.RLock()
	loaded, at := s.snap != nil, s.snapAt
	s.snapMu.RUnlock()
	switch {
	case !loaded || maxAge < 0:
		if err := s.load(ctx, asked); err != nil {
			return time.Time{}, err
		}
	case time.Since(at) > maxAge:
		s.snapMu.Lock()
		start := !s.reloading
		s.reloading = true
		s.snapMu.Unlock()
		if start {
			go func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
				defer cancel()
				if err := s.load(ctx, time.Now()); err != nil {
					s.log.Warn("rereading the report summaries", "err", err)
				}
				s.snapMu.Lock()
				s.reloading = false
				s.snapMu.Unlock()
			}()
		}
	}
	s.snapMu.RLock()
	defer s.snapMu.RUnlock()
	f(s.snap.each)
	return s.snapAt, nil
}

// RebuildCounts say what a rebuild did.
type RebuildCounts struct {
	Learners  int // learners found in the sources
	Written   int // summaries written (absent, or different and recomputed)
	Unchanged int // summaries already right
	Deleted   int // summaries of accounts that are gone
}

// Rebuild recomputes every account's summary from the sources and deletes
// the summaries of accounts that are gone. It reads the sources
// in bulk (one scan each) and writes only what differs, so it is safe
// while serving: a learner without a summary gets the bulk one by an
// insert (a summary a touch wrote meanwhile wins the unique _id); one
// whose stored summary differs from the bulk one is recomputed from
// fresh reads (Recompute), as a touch would be.
func (s *Summaries) Rebuild(ctx context.Context) (RebuildCounts, error) {
	var n RebuildCounts
	c := s.src.Course()
	if c == nil {
		return n, errNoCourse
	}
	accounts, err := s.src.Accounts.AccountRows(ctx)
	if err != nil {
		return n, err
	}
	z := newSummarizer(c, accounts)
	accounts = nil
	if err := s.src.Progress.EachRecordRow(ctx, func(r study.RecordRow) error {
		z.record(r)
		return nil
	}); err != nil {
		return n, err
	}
	if s.src.Exam != nil {
		outcomes, err := s.src.Exam.OutcomeRows(ctx)
		if err != nil {
			return n, err
		}
		for _, o := range outcomes {
			z.outcome(o)
		}
	}
	if s.src.Certs != nil {
		issued, err := s.src.Certs.IssuedRows(ctx)
		if err != nil {
			return n, err
		}
		for _, ci := range issued {
			z.issued(ci)
		}
	}
	computed := z.done()
	stored, err := s.All(ctx)
	if err != nil {
		return n, err
	}
	now := stamp(time.Now())
	var absent []any
	insert := func(force bool) error {
		if len(absent) == 0 || !force && len(absent) < 1000 {
			return nil
		}
		docs := absent
		absent = nil
		_, err := s.db.Collection(summariesCollection).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		// A duplicate: a touch wrote that summary meanwhile, and it stays.
		dups := 0
		var bulk mongo.BulkWriteException
		if errors.As(err, &bulk) && mongo.IsDuplicateKeyError(err) {
			dups, err = len(bulk.WriteErrors), nil
		}
		if err != nil {
			return fmt.Errorf("report: summaries: %w", err)
		}
		n.Written += len(docs) - dups
		n.Unchanged += dups
		return nil
	}
	for i := range computed {
		sum := &computed[i]
		n.Learners++
		old, ok := stored[sum.ID]
		delete(stored, sum.ID)
		switch {
		case ok && old.Same(sum):
			n.Unchanged++
		case !ok:
			sum.ComputedAt = now
			doc, err := pack(sum)
			if err != nil {
				return n, err
			}
			absent = append(absent, doc)
			if err := insert(false); err != nil {
				return n, err
			}
		default:
			if err := s.Recompute(ctx, sum.ID); err != nil {
				return n, err
			}
			n.Written++
		}
	}
	if err := insert(true); err != nil {
		return n, err
	}
	if n.Written > 0 {
		// What was inserted is in no snapshot yet: the next report reads
		// them all again.
		s.snapMu.Lock()
		s.snap, s.snapAt = nil, time.Time{}
		s.snapMu.Unlock()
	}
	// Stored summaries of no learner of the bulk read: recomputed (an
	// account made since keeps its summary), the rest deleted.
	for id := range stored {
		if err := s.Recompute(ctx, id); err != nil {
			return n, err
		}
		if sum, err := s.Get(ctx, id); err != nil {
			return n, err
		} else if sum == nil {
			n.Deleted++
		} else {
			n.Written++
		}
	}
	return n, nil
}
