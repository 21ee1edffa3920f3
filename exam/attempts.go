package exam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/cache"
	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/internal/notify"
	"github.com/tyokyky/tyokyky/internal/poll"
)

const (
	attemptsCollection = "exam_attempts"
	// learnersCollection has a document per learner (_id: the user id):
	// their attempts' ids, the open one, when they last submitted and
	// whether they have passed. Its conditional updates are the "one open
	// attempt per learner" constraint, and it spares every page a search
	// of all attempts.
	learnersCollection = "exam_learners"
	// deadlinesCollection lists the open attempts that have a deadline,
	// for the sweeper.
	deadlinesCollection  = "exam_deadlines"
	extensionsCollection = "exam_extensions"
	// answersCollection holds an open attempt's answers, a small document
	// per item (_id: attempt|item): saving one answer never rewrites the
	// attempt. Submitting copies them into the attempt and removes them.
	answersCollection = "exam_answers"
	// resultsCollection has a document per submitted attempt (_id: the
	// attempt's id): inserting it is the atomic transition from open to
	// submitted (a second insert fails on the id), and the attempt
	// document itself is never rewritten.
	resultsCollection = "exam_results"
	// claimsCollection has a document per learner's attempt number
	// beyond the first (_id: user id/number): inserting it is what claims
	// a retake. Across instances only an insert under a unique index is
	// atomic on every store (FerretDB's conditional updates are not), so
	// two instances starting one learner's retake at once make one.
	claimsCollection = "exam_attempt_claims"

	StatusOpen      = "open"
	StatusSubmitted = "submitted"

	// Grace is how long after its deadline an attempt is closed by the
	// sweeper (saves are refused from the deadline on).
	Grace = 30 * time.Second
)

// Attempt is one sitting of the exam by one learner.
type Attempt struct {
	ID     string `bson:"_id" json:"id"`
	UserID string `bson:"user_id" json:"-"`
	Number int    `bson:"number" json:"number"`
	// Status is worked out on reading: submitted when a result document
	// exists (the attempt document itself is never rewritten).
	Status   string     `bson:"-" json:"status"`
	Started  time.Time  `bson:"started" json:"started"`
	Deadline *time.Time `bson:"deadline,omitempty" json:"deadline,omitempty"`
	Version  int64      `bson:"content_version" json:"-"`
	Pass     int        `bson:"pass_percent" json:"pass_percent"`
	Items    []Drawn    `bson:"-" json:"-"`
	// Answers come from their own documents while the attempt is open
	// and from its result document once it is submitted.
	Answers   map[string]*Answer `bson:"-" json:"-"`
	Submitted *time.Time         `bson:"-" json:"submitted,omitempty"`
	// ClosedBy is "learner" or "deadline" (the sweeper).
	ClosedBy string  `bson:"-" json:"closed_by,omitempty"`
	Result   *Result `bson:"-" json:"result,omitempty"`

	// Draw is how Items are stored (see packed).
	Draw packed[[]Drawn] `bson:"draw" json:"-"`
}

// Drawn returns the attempt's drawn item, or nil.
func (a *Attempt) Drawn(item string) *Drawn {
	for i := range a.Items {
		if a.Items[i].ID == item {
			return &a.Items[i]
		}
	}
	return nil
}

// Open reports whether answers can still be saved at now.
func (a *Attempt) Open(now time.Time) bool {
	return a.Status == StatusOpen && (a.Deadline == nil || now.Before(*a.Deadline))
}

// Certifier is told of every passed attempt; the certificates implement it.
type Certifier interface {
	Passed(ctx context.Context, a *Attempt) error
}

// Errors of the exam.
var (
	ErrNotFound    = fault.New(fault.NotFound, "exam_attempt_not_found", "", "no such attempt")
	ErrClosed      = fault.New(fault.Conflict, "exam_closed", "", "the attempt is submitted: answers can no longer change")
	ErrLate        = fault.New(fault.Conflict, "exam_time_up", "", "the time is up: answers can no longer change")
	ErrBadAnswer   = fault.New(fault.Invalid, "exam_bad_answer", "", "the answer does not fit the item")
	ErrNoExam      = fault.New(fault.NotFound, "exam_none", "", "the course has no exam")
	ErrPassed      = fault.New(fault.Conflict, "exam_passed", "", "you have passed the exam already")
	ErrNoAttempts  = fault.New(fault.Conflict, "exam_no_attempts", "", "no attempts left")
	ErrBusy        = fault.New(fault.Busy, "exam_busy", "", "the attempt changed meanwhile; try again")
	ErrUnknownItem = fault.New(fault.Invalid, "exam_unknown_item", "", "the item is not part of this attempt")
)

// learnerDoc is a learner's exam record.
type learnerDoc struct {
	UserID        string     `bson:"_id"`
	Attempts      []string   `bson:"attempts"`
	N             int        `bson:"n"`
	Open          string     `bson:"open"`
	LastSubmitted *time.Time `bson:"last_submitted,omitempty"`
	Passed        bool       `bson:"passed"`
}

// ErrNotEligible is matched (errors.Is) by a NotEligibleError.
var ErrNotEligible = fault.New(fault.Forbidden, "exam_not_eligible", "", "the exam's eligibility rule is not met")

// NotEligibleError refuses a new attempt to a learner whom the exam's
// eligibility rule does not yet admit: Modules are the modules still to
// complete.
type NotEligibleError struct{ Modules []*course.Module }

func (e *NotEligibleError) Error() string {
	slugs := make([]string, 0, len(e.Modules))
	for _, m := range e.Modules {
		slugs = append(slugs, m.Slug)
	}
	return "complete every module before the exam; still to complete: " + strings.Join(slugs, ", ")
}

// Is makes errors.Is(err, ErrNotEligible) true.
func (e *NotEligibleError) Is(target error) bool { return target == ErrNotEligible }

// WaitError says when the next attempt may start.
type WaitError struct{ Until time.Time }

func (e *WaitError) Error() string {
	return "the next attempt can start at " + e.Until.Format(time.RFC3339)
}

// Extension is an administrator's grant of more time to one learner
// (WCAG 2.2.1 Timing Adjustable).
type Extension struct {
	UserID       string    `bson:"_id" json:"user_id"`
	ExtraMinutes int       `bson:"extra_minutes" json:"extra_minutes"`
	NoLimit      bool      `bson:"no_limit" json:"no_limit"`
	By           string    `bson:"by" json:"by"`
	At           time.Time `bson:"at" json:"at"`
}

// Store keeps attempts in the document store. Every change is a
// single-document atomic update, so several instances may serve one
// learner at once.
type Store struct {
	// crashAt, in tests, stops a submission at a named step as if the
	// process died there.
	crashAt func(step string) bool
	db      *database.DB
	// changed, where set, is told of changes the reports read (OnChange).
	changed notify.Listeners
	// locks serialize this process's writes of one attempt (FerretDB v1
	// does not apply conditional updates atomically; MongoDB does).
	locks *database.Locks
	// learnerLocks are a table of their own: a stripe shared with an
	// attempt's lock would deadlock close (attempt, then learner).
	learnerLocks *database.Locks
	// drawn caches attempt documents (immutable but for an extension's
	// deadline, which this process drops from the cache when it changes
	// it; another instance's change shows within two minutes), so that a
	// save reads only small documents.
	drawn *cache.TTL[*Attempt]
	// states are open attempts' save states (embedded store only).
	states *cache.TTL[*openState]
	// filterConditions, in tests, keeps conditions in the filters even on
	// the embedded store (the way of writing used on MongoDB).
	filterConditions bool
	now              func() time.Time
	log              *slog.Logger
	Certifier        Certifier
}

// NewStore uses db.
func NewStore(db *database.DB, log *slog.Logger) *Store {
	if log == nil {
		log = slog.Default()
	}
	return &Store{db: db, locks: database.NewLocks(), learnerLocks: database.NewLocks(), now: time.Now, log: log,
		drawn: cache.New[*Attempt](2*time.Minute, 20_000), states: cache.New[*openState](time.Hour, 20_000)}
}

// SetClock replaces the clock (tests of deadlines and waits).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// EnsureIndexes creates the exam's indexes.
func EnsureIndexes(ctx context.Context, db *database.DB) error {
	if _, err := db.Collection(deadlinesCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "deadline", Value: 1}}, Options: options.Index().SetName("deadline")}); err != nil {
		return fmt.Errorf("quiz: indexes: %w", err)
	}
	if _, err := db.Collection(resultsCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "passed", Value: 1}}, Options: options.Index().SetName("passed")}); err != nil {
		return fmt.Errorf("quiz: indexes: %w", err)
	}
	return nil
}

// conditionsInGo reports whether update conditions are checked in Go
// only, not in the filter: on FerretDB (embedded or a server that several
// instances share; see database.DB.FiltersScan).
func (s *Store) conditionsInGo() bool { return s.db.FiltersScan() && !s.filterConditions }

// stateInMemory reports whether open attempts' save states are kept in
// memory once read: only when this process is the store's one writer (it
// runs the embedded store; see database.DB.SingleWriter).
func (s *Store) stateInMemory() bool { return s.db.SingleWriter() && !s.filterConditions }

// where is a filter on _id with conditions. On FerretDB the conditions
// are left out of the filter: FerretDB v1 reads just one document only for
// a filter that is exactly {_id: …} (any other key makes it scan the whole
// collection inside the write: three instances on one store saved an
// exam answer in 0.8 s at the median, scanning every saved answer), and
// it would not make the check atomic anyway. The same conditions are
// checked in Go, on what was just read, under the document's lock, which
// serializes this process's writers of the document; across processes on
// FerretDB no guarantee rests on them (the exactly-once steps are inserts
// under unique ids). On MongoDB the conditions stay in the filter, so an
// update is atomic across instances.
func (s *Store) where(id string, conds ...bson.E) bson.D {
	f := bson.D{{Key: "_id", Value: id}}
	if !s.conditionsInGo() {
		f = append(f, conds...)
	}
	return f
}

func (s *Store) learner(ctx context.Context, userID string) (*learnerDoc, error) {
	var ld learnerDoc
	err := s.db.Collection(learnersCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&ld)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	return &ld, nil
}

// Start begins an attempt, or returns the learner's open one (created is
// false then): a reload, a reconnect or another device resumes exactly.
// A new attempt needs the exam's eligibility rule met by the learner's
// progress records (study.Progress.ForUser): otherwise the error is a
// *NotEligibleError and nothing is stored.
func (s *Store) Start(ctx context.Context, userID string, pub *course.Published, progress map[string]*course.SectionProgress) (a *Attempt, created bool, err error) {
	ex := pub.Course.Exam
	if ex == nil || len(ex.Items) == 0 {
		return nil, false, ErrNoExam
	}
	defer s.learnerLocks.Lock(userID)()
	// The reports are told only of what they read: a retake (its number)
	// and a submission settled here; a first attempt started changes
	// nothing of them until it is submitted (1,000 learners starting at
	// once would otherwise recompute 1,000 summaries beside the starts).
	told := false
	defer func() {
		if told {
			s.tell(userID)
		}
	}()
	learners := s.db.Collection(learnersCollection)
	for try := 0; try < 5; try++ {
		ld, err := s.learner(ctx, userID)
		if err != nil {
			return nil, false, err
		}
		if ld != nil && ld.Open != "" {
			a, err := s.get(ctx, ld.Open)
			if err == nil && a.Status == StatusOpen {
				return a, false, nil
			}
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, false, err
			}
			// Submitted (or lost) since: record what its result says (a
			// submission cut short by a crash left that undone) and start
			// anew under the rules.
			set := bson.D{{Key: "open", Value: ""}}
			if err == nil && a.Result != nil && a.Submitted != nil {
				set = settled(*a.Submitted, a.Result.Passed)
			}
			if _, err := learners.UpdateOne(ctx, s.where(userID, bson.E{Key: "open", Value: ld.Open}),
				bson.D{{Key: "$set", Value: set}}); err != nil {
				return nil, false, fmt.Errorf("quiz: %w", err)
			}
			told = true
			continue
		}
		if err := s.mayStart(ld, ex.Rules); err != nil {
			return nil, false, err
		}
		if missing := pub.Course.ExamMissing(progress); len(missing) > 0 {
			return nil, false, &NotEligibleError{Modules: missing}
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		var modules []string
		for _, m := range pub.Course.Modules {
			modules = append(modules, m.Slug)
		}
		n := 0
		if ld != nil {
			n = ld.N
		}
		a = &Attempt{ID: token("t") + token(""), UserID: userID, Number: n + 1, Status: StatusOpen, Started: now,
			Version: pub.Version, Pass: ex.Rules.PassPercent, Items: Draw(ex, modules), Answers: map[string]*Answer{}}
		limit, err := s.limitFor(ctx, userID, ex.Rules)
		if err != nil {
			return nil, false, err
		}
		if limit > 0 {
			d := now.Add(limit)
			a.Deadline = &d
		}
		// The attempt first, then the learner's claim on it: a crash in
		// between leaves an unclaimed attempt that nobody sees.
		a.Draw.V = a.Items
		if _, err := s.db.Collection(attemptsCollection).InsertOne(ctx, a); err != nil {
			return nil, false, fmt.Errorf("quiz: start: %w", err)
		}
		claimed := false
		if ld == nil {
			_, err = learners.InsertOne(ctx, learnerDoc{UserID: userID, Attempts: []string{a.ID}, N: 1, Open: a.ID})
			claimed = err == nil
			if err != nil && !mongo.IsDuplicateKeyError(err) {
				return nil, false, fmt.Errorf("quiz: start: %w", err)
			}
		} else {
			won, err := s.claimRetake(ctx, userID, n+1, a.ID, now)
			if err != nil {
				return nil, false, fmt.Errorf("quiz: start: %w", err)
			}
			claimed, told = won == a.ID, true
		}
		if !claimed { // another instance started one meanwhile: resume it
			_, _ = s.db.Collection(attemptsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: a.ID}})
			continue
		}
		if a.Deadline != nil {
			if _, err := s.db.Collection(deadlinesCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: a.ID}, {Key: "deadline", Value: *a.Deadline}}); err != nil {
				return nil, false, fmt.Errorf("quiz: start: %w", err)
			}
		}
		cached := *a
		cached.Answers = nil
		s.drawn.Put(a.ID, "", &cached)
		if s.stateInMemory() { // a new attempt: nothing saved, not closed
			s.states.Put(a.ID, "", &openState{seqs: map[string]int64{}})
		}
		return a, true, nil
	}
	return nil, false, ErrBusy
}

// claimDoc claims a learner's attempt number for one attempt.
type claimDoc struct {
	ID      string    `bson:"_id"` // user id/number
	UserID  string    `bson:"user_id"`
	Attempt string    `bson:"attempt"`
	At      time.Time `bson:"at"`
}

// claimRetake claims attempt number for attempt (already stored) and
// returns the attempt that holds the claim: this one, or the one another
// instance claimed first. Either way the learner's record is then brought
// to the claim (open, counted, listed) by an update every instance that
// sees the claim makes alike, so one that stopped after claiming is
// completed by the next start.
func (s *Store) claimRetake(ctx context.Context, userID string, number int, attempt string, now time.Time) (string, error) {
	claims := s.db.Collection(claimsCollection)
	c := claimDoc{ID: fmt.Sprintf("%s/%d", userID, number), UserID: userID, Attempt: attempt, At: now}
	if _, err := claims.InsertOne(ctx, c); mongo.IsDuplicateKeyError(err) {
		if err := claims.FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}}).Decode(&c); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	ld, err := s.learner(ctx, userID)
	if err != nil {
		return "", err
	}
	// Only a record still before this number follows the claim: one that
	// has moved on (the claimed attempt submitted since) stays.
	if ld != nil && ld.N == number-1 && (ld.Open == "" || ld.Open == c.Attempt) {
		_, err = s.db.Collection(learnersCollection).UpdateOne(ctx, s.where(userID, bson.E{Key: "n", Value: number - 1}),
			bson.D{{Key: "$set", Value: bson.D{{Key: "open", Value: c.Attempt}, {Key: "n", Value: number}}},
				{Key: "$addToSet", Value: bson.D{{Key: "attempts", Value: c.Attempt}}}})
		if err != nil {
			return "", err
		}
	}
	return c.Attempt, nil
}

// openAttempt is the learner's open attempt, or ErrNotFound.
func (s *Store) openAttempt(ctx context.Context, userID string) (*Attempt, error) {
	ld, err := s.learner(ctx, userID)
	if err != nil {
		return nil, err
	}
	if ld == nil || ld.Open == "" {
		return nil, ErrNotFound
	}
	a, err := s.get(ctx, ld.Open)
	if err != nil {
		return nil, err
	}
	if a.Status != StatusOpen {
		return nil, ErrNotFound
	}
	return a, nil
}

// mayStart applies the rules on attempts to the learner's record.
func (s *Store) mayStart(ld *learnerDoc, r course.ExamRules) error {
	if ld == nil {
		return nil
	}
	if ld.Passed {
		return ErrPassed
	}
	if ld.N >= r.Attempts {
		return ErrNoAttempts
	}
	if ld.LastSubmitted != nil && r.WaitHours > 0 {
		until := ld.LastSubmitted.Add(time.Duration(r.WaitHours) * time.Hour)
		if s.now().Before(until) {
			return &WaitError{Until: until}
		}
	}
	return nil
}

// limitFor is the learner's time limit: the rules' limit with any
// extension; 0 means none.
func (s *Store) limitFor(ctx context.Context, userID string, r course.ExamRules) (time.Duration, error) {
	if r.TimeLimit == 0 {
		return 0, nil
	}
	ext, err := s.Extension(ctx, userID)
	if err != nil {
		return 0, err
	}
	if ext != nil && ext.NoLimit {
		return 0, nil
	}
	minutes := r.TimeLimit
	if ext != nil {
		minutes += ext.ExtraMinutes
	}
	return time.Duration(minutes) * time.Minute, nil
}

// Get returns a learner's own attempt; another learner's is ErrNotFound.
func (s *Store) Get(ctx context.Context, userID, id string) (*Attempt, error) {
	a, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.UserID != userID {
		return nil, ErrNotFound
	}
	return a, nil
}

// openState is what a save must know of an attempt: whether it is closed
// and the sequence numbers of its saved answers.
type openState struct {
	closed bool
	seqs   map[string]int64
}

// state reads an attempt's state for a save of item. On the embedded store
// this process writes every change, so the state is kept in memory (under
// the attempt's lock) once read; elsewhere it is read each time.
func (s *Store) state(ctx context.Context, attemptID, item string) (*openState, error) {
	if s.stateInMemory() {
		if st, ok := s.states.Get(attemptID); ok {
			return st, nil
		}
	}
	st := &openState{seqs: map[string]int64{}}
	r, err := s.result(ctx, attemptID)
	if err != nil {
		return nil, err
	}
	st.closed = r != nil
	if !s.stateInMemory() {
		cur, err := s.answer(ctx, attemptID, item)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			st.seqs[item] = cur.Seq
		}
		return st, nil
	}
	a, err := s.drawnAttempt(ctx, attemptID)
	if err != nil {
		return nil, err
	}
	for _, d := range a.Items {
		cur, err := s.answer(ctx, attemptID, d.ID)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			st.seqs[d.ID] = cur.Seq
		}
	}
	s.states.Put(attemptID, "", st)
	return st, nil
}

// resultDoc is a submitted attempt's grade and answers.
type resultDoc struct {
	ID        string    `bson:"_id"`
	UserID    string    `bson:"user_id"`
	Submitted time.Time `bson:"submitted"`
	ClosedBy  string    `bson:"closed_by"`
	// Passed repeats the packed result's verdict where a query can see
	// it: the certificates' backfill finds passed attempts by it even
	// when the learner record never heard of them (a crash between the
	// two writes).
	Passed bool           `bson:"passed,omitempty"`
	Graded packed[graded] `bson:"graded"`
}

// graded is a result document's packed part.
type graded struct {
	Result  *Result            `json:"result"`
	Answers map[string]*Answer `json:"answers"`
}

// drawnAttempt is the attempt document (cached): the draw, its deadline.
func (s *Store) drawnAttempt(ctx context.Context, id string) (*Attempt, error) {
	return s.drawn.GetOrLoad(id, func() (*Attempt, string, error) {
		var a Attempt
		err := s.db.Collection(attemptsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&a)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, "", ErrNotFound
		}
		if err != nil {
			return nil, "", fmt.Errorf("quiz: %w", err)
		}
		a.Items = a.Draw.V
		return &a, "", nil
	})
}

// result is a submitted attempt's result document, or nil.
func (s *Store) result(ctx context.Context, id string) (*resultDoc, error) {
	var r resultDoc
	err := s.db.Collection(resultsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	return &r, nil
}

// get is the attempt with its state: submitted (with result and answers)
// when it has a result document, else open with its saved answers.
func (s *Store) get(ctx context.Context, id string) (*Attempt, error) {
	cached, err := s.drawnAttempt(ctx, id)
	if err != nil {
		return nil, err
	}
	a := *cached // the cached draw is shared: copy before filling in
	a.Answers = map[string]*Answer{}
	r, err := s.result(ctx, id)
	if err != nil {
		return nil, err
	}
	if r != nil {
		a.Status, a.Submitted, a.ClosedBy, a.Result = StatusSubmitted, &r.Submitted, r.ClosedBy, r.Graded.V.Result
		if r.Graded.V.Answers != nil {
			a.Answers = r.Graded.V.Answers
		}
		return &a, nil
	}
	a.Status = StatusOpen
	for _, d := range a.Items {
		ans, err := s.answer(ctx, a.ID, d.ID)
		if err != nil {
			return nil, err
		}
		if ans != nil {
			a.Answers[d.ID] = ans
		}
	}
	return &a, nil
}

func answerID(attempt, item string) string { return attempt + "|" + item }

// answer is the stored answer to one item of an open attempt, or nil.
func (s *Store) answer(ctx context.Context, attempt, item string) (*Answer, error) {
	var ans Answer
	err := s.db.Collection(answersCollection).FindOne(ctx, bson.D{{Key: "_id", Value: answerID(attempt, item)}}).Decode(&ans)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	return &ans, nil
}

// ForUser lists a learner's attempts, oldest first.
func (s *Store) ForUser(ctx context.Context, userID string) ([]*Attempt, error) {
	ld, err := s.learner(ctx, userID)
	if err != nil || ld == nil {
		return nil, err
	}
	out := make([]*Attempt, 0, len(ld.Attempts))
	for _, id := range ld.Attempts {
		a, err := s.get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// SaveResult tells what became of a save.
type SaveResult struct {
	Item  string `json:"item"`
	Seq   int64  `json:"seq"`
	Saved bool   `json:"saved"` // false: a newer save (higher seq) was kept
}

// SaveAnswer stores an answer unless a save with a higher sequence number
// is already stored. It is idempotent and atomic: concurrent saves of one
// item keep the newest, saves of different items never lose each other.
func (s *Store) SaveAnswer(ctx context.Context, userID, attemptID, item string, ans Answer) (*SaveResult, error) {
	defer s.locks.Lock(attemptID)()
	a, err := s.drawnAttempt(ctx, attemptID)
	if errors.Is(err, ErrNotFound) || (err == nil && a.UserID != userID) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	d := a.Drawn(item)
	if d == nil {
		return nil, ErrUnknownItem
	}
	if !validAnswer(d, &ans) || ans.Seq < 0 {
		return nil, ErrBadAnswer
	}
	st, err := s.state(ctx, a.ID, item)
	if err != nil {
		return nil, err
	}
	if st.closed {
		return nil, ErrClosed
	}
	if a.Deadline != nil && !s.now().Before(*a.Deadline) {
		return nil, ErrLate
	}
	if cur := st.seqs[item]; cur >= ans.Seq && cur > 0 {
		return &SaveResult{Item: item, Seq: cur, Saved: false}, nil
	}
	id := answerID(a.ID, item)
	doc := bson.D{{Key: "_id", Value: id}, {Key: "attempt", Value: a.ID}, {Key: "seq", Value: ans.Seq}}
	if len(ans.Choices) > 0 {
		doc = append(doc, bson.E{Key: "choices", Value: ans.Choices})
	}
	if ans.Value != nil {
		doc = append(doc, bson.E{Key: "value", Value: *ans.Value})
	}
	if len(ans.Matches) > 0 {
		doc = append(doc, bson.E{Key: "matches", Value: ans.Matches})
	}
	// Replace only an older save; when there is none, insert. A newer
	// save written meanwhile (another instance) makes the replace match
	// nothing and the insert fail on the id: this save is stale.
	_, err = s.db.Collection(answersCollection).ReplaceOne(ctx, s.where(id, bson.E{Key: "seq", Value: bson.D{{Key: "$lt", Value: ans.Seq}}}), doc,
		options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		cur, err := s.answer(ctx, a.ID, item)
		if err != nil || cur == nil {
			return nil, ErrBusy
		}
		return &SaveResult{Item: item, Seq: cur.Seq, Saved: false}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quiz: save: %w", err)
	}
	if s.stateInMemory() {
		st.seqs[item] = ans.Seq
	}
	return &SaveResult{Item: item, Seq: ans.Seq, Saved: true}, nil
}

// Submit grades the attempt and closes it: an atomic transition from
// open to submitted. Submitting again, or at the same moment from another
// tab or instance, returns the one stored result.
func (s *Store) Submit(ctx context.Context, userID, attemptID string) (*Attempt, error) {
	a, err := s.drawnAttempt(ctx, attemptID)
	if err == nil && a.UserID != userID {
		err = ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.close(ctx, a, "learner")
}

func (s *Store) close(ctx context.Context, a *Attempt, by string) (*Attempt, error) {
	defer s.locks.Lock(a.ID)()
	// Read again under the lock: what is graded is what is stored.
	a, err := s.get(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if a.Status == StatusSubmitted {
		return a, nil
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	result := Grade(a.Items, a.Answers, a.Pass)
	_, err = s.db.Collection(resultsCollection).InsertOne(ctx, resultDoc{ID: a.ID, UserID: a.UserID, Submitted: now, ClosedBy: by, Passed: result.Passed,
		Graded: packed[graded]{graded{Result: result, Answers: a.Answers}}})
	if mongo.IsDuplicateKeyError(err) {
		// Submitted meanwhile by another instance: its result stands.
		// (A FerretDB shared by instances has been seen to refuse the
		// insert before a read shows the other's result: read again for
		// a moment, and never answer a submit with an open attempt.)
		for range 20 {
			got, err := s.get(ctx, a.ID)
			if err != nil || got.Status == StatusSubmitted {
				return got, err
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		return nil, ErrBusy
	}
	if err != nil {
		return nil, fmt.Errorf("quiz: submit: %w", err)
	}
	a.Status, a.Submitted, a.Result, a.ClosedBy = StatusSubmitted, &now, result, by
	if st, ok := s.states.Get(a.ID); ok {
		st.closed = true
	}
	// The result document is the submission; every step after it is
	// derived from it and repaired (Start, Repair, the certificates'
	// backfill) if the process dies before it is done.
	if s.crashed("after-result") {
		return nil, errCrashed
	}
	s.release(ctx, a, settled(now, result.Passed))
	if s.crashed("after-release") {
		return nil, errCrashed
	}
	if a.Deadline != nil {
		_, _ = s.db.Collection(deadlinesCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: a.ID}})
	}
	if s.crashed("after-deadline") {
		return nil, errCrashed
	}
	if result.Passed && s.Certifier != nil {
		if err := s.Certifier.Passed(ctx, a); err != nil {
			// The result stands; the certificate is issued again by the
			// certifier's own retry.
			s.log.Error("quiz: certificate for a passed attempt", "attempt", a.ID, "err", err)
		}
	}
	return a, nil
}

// CloseIfLate closes and grades an open attempt whose deadline has
// passed (the learner's page does it at once; the sweeper would soon).
func (s *Store) CloseIfLate(ctx context.Context, a *Attempt) (*Attempt, error) {
	if a.Status == StatusOpen && a.Deadline != nil && !s.now().Before(*a.Deadline) {
		return s.close(ctx, a, "deadline")
	}
	return a, nil
}

// dropAnswers removes an attempt's answer documents (copied into it).
func (s *Store) dropAnswers(ctx context.Context, a *Attempt) {
	for _, d := range a.Items {
		if _, err := s.db.Collection(answersCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: answerID(a.ID, d.ID)}}); err != nil {
			s.log.Warn("quiz: removing a saved answer", "attempt", a.ID, "err", err)
		}
	}
}

// settled is what a submitted attempt sets on its learner's record.
func settled(submitted time.Time, passed bool) bson.D {
	set := bson.D{{Key: "open", Value: ""}, {Key: "last_submitted", Value: submitted}}
	if passed {
		set = append(set, bson.E{Key: "passed", Value: true})
	}
	return set
}

// errCrashed ends a close at a test's crash point: what follows the point
// is not done, as when the process dies there.
var errCrashed = errors.New("quiz: stopped at a crash point (test)")

// crashed reports whether a test stops the work at step.
func (s *Store) crashed(step string) bool {
	crashpoint.Reach("submit/" + step)
	return s.crashAt != nil && s.crashAt(step)
}

// Repair finishes submissions that a crash cut short: a learner record
// still pointing at an attempt that has a result gets what the result
// says (released, last submitted, passed); a submitted attempt's
// deadline entry goes. It returns how many records it repaired; it is
// idempotent, and runs at start-up and periodically.
func (s *Store) Repair(ctx context.Context) (int, error) {
	cur, err := s.db.Collection(learnersCollection).Find(ctx, bson.D{{Key: "open", Value: bson.D{{Key: "$gt", Value: ""}}}})
	if err != nil {
		return 0, fmt.Errorf("quiz: repair: %w", err)
	}
	var open []learnerDoc
	if err := cur.All(ctx, &open); err != nil {
		return 0, fmt.Errorf("quiz: repair: %w", err)
	}
	n := 0
	for _, ld := range open {
		r, err := s.result(ctx, ld.Open)
		if err != nil {
			return n, err
		}
		if r == nil {
			continue // really open
		}
		passed := r.Passed || r.Graded.V.Result != nil && r.Graded.V.Result.Passed
		a := &Attempt{ID: ld.Open, UserID: ld.UserID}
		s.release(ctx, a, settled(r.Submitted, passed))
		_, _ = s.db.Collection(deadlinesCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: ld.Open}})
		s.log.Info("quiz: a submission cut short was completed", "attempt", ld.Open, "passed", passed)
		n++
	}
	return n, nil
}

// release records a submitted attempt on the learner's record.
func (s *Store) release(ctx context.Context, a *Attempt, set bson.D) {
	defer s.learnerLocks.Lock(a.UserID)()
	defer s.tell(a.UserID)
	ld, err := s.learner(ctx, a.UserID)
	if err == nil && (ld == nil || ld.Open != a.ID) {
		return // not the open one (released already)
	}
	if err == nil {
		_, err = s.db.Collection(learnersCollection).UpdateOne(ctx, s.where(a.UserID, bson.E{Key: "open", Value: a.ID}), bson.D{{Key: "$set", Value: set}})
	}
	if err != nil {
		s.log.Error("quiz: learner record after submitting", "attempt", a.ID, "err", err)
	}
}

// Sweep closes and grades attempts whose deadline passed more than Grace
// ago. Several instances may sweep at once: each attempt is closed once.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-Grace).UTC()
	cur, err := s.db.Collection(deadlinesCollection).Find(ctx, bson.D{{Key: "deadline", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	if err != nil {
		return 0, fmt.Errorf("quiz: sweep: %w", err)
	}
	var overdue []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &overdue); err != nil {
		return 0, fmt.Errorf("quiz: sweep: %w", err)
	}
	n := 0
	for _, o := range overdue {
		a, err := s.get(ctx, o.ID)
		if errors.Is(err, ErrNotFound) {
			_, _ = s.db.Collection(deadlinesCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: o.ID}})
			continue
		}
		if err != nil {
			return n, err
		}
		if a.Status != StatusOpen || a.Deadline == nil || !a.Deadline.Before(cutoff) {
			if a.Status != StatusOpen {
				_, _ = s.db.Collection(deadlinesCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: o.ID}})
			}
			continue
		}
		closed, err := s.close(ctx, a, "deadline")
		if err != nil {
			return n, err
		}
		if closed.ClosedBy == "deadline" {
			n++
		}
	}
	return n, nil
}

// RunSweeper sweeps every interval until ctx ends.
func (s *Store) RunSweeper(ctx context.Context, interval time.Duration) {
	poll.Every(ctx, interval, s.log, "quiz: sweep failed", func(ctx context.Context) error {
		n, err := s.Sweep(ctx)
		if n > 0 {
			s.log.Info("quiz: overdue attempts closed", "count", n)
		}
		return err
	})
}

// Extension is a learner's time extension, or nil.
func (s *Store) Extension(ctx context.Context, userID string) (*Extension, error) {
	var e Extension
	err := s.db.Collection(extensionsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&e)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	return &e, nil
}

// SetExtension grants (or, with zero minutes and no "no limit", removes)
// a learner's extra time. An open attempt's deadline moves with it.
func (s *Store) SetExtension(ctx context.Context, userID, by string, extraMinutes int, noLimit bool, rules course.ExamRules) error {
	if extraMinutes < 0 || extraMinutes > 24*60 {
		return fmt.Errorf("extra time must be 0–1440 minutes")
	}
	coll := s.db.Collection(extensionsCollection)
	if extraMinutes == 0 && !noLimit {
		if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: userID}}); err != nil {
			return fmt.Errorf("quiz: %w", err)
		}
	} else {
		e := Extension{UserID: userID, ExtraMinutes: extraMinutes, NoLimit: noLimit, By: by, At: s.now().UTC().Truncate(time.Millisecond)}
		if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: userID}}, e, options.Replace().SetUpsert(true)); err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("quiz: %w", err)
		}
	}
	a, err := s.openAttempt(ctx, userID)
	if err != nil {
		return nil // no open attempt to adjust
	}
	limit, err := s.limitFor(ctx, userID, rules)
	if err != nil {
		return err
	}
	defer s.locks.Lock(a.ID)()
	set := bson.D{{Key: "$unset", Value: bson.D{{Key: "deadline", Value: ""}}}}
	deadlines := s.db.Collection(deadlinesCollection)
	if limit > 0 {
		d := a.Started.Add(limit)
		set = bson.D{{Key: "$set", Value: bson.D{{Key: "deadline", Value: d}}}}
		if _, err := deadlines.ReplaceOne(ctx, bson.D{{Key: "_id", Value: a.ID}}, bson.D{{Key: "_id", Value: a.ID}, {Key: "deadline", Value: d}},
			options.Replace().SetUpsert(true)); err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("quiz: %w", err)
		}
	} else if _, err := deadlines.DeleteOne(ctx, bson.D{{Key: "_id", Value: a.ID}}); err != nil {
		return fmt.Errorf("quiz: %w", err)
	}
	if cur, err := s.get(ctx, a.ID); err != nil || cur.Status != StatusOpen {
		return err
	}
	_, err = s.db.Collection(attemptsCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: a.ID}}, set)
	s.drawn.Delete(a.ID)
	return err
}

// DeleteUser removes what the exam keeps of a learner (account deletion).
// Submitted attempts stay for the item statistics, under a random
// pseudonym that ties them to each other (the statistics use each
// learner's first attempt) and to nobody; open attempts, saved answers,
// deadlines, extensions and the learner's record go.
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	defer s.tell(userID)
	ld, err := s.learner(ctx, userID)
	if err != nil {
		return err
	}
	pseudonym := "poistettu-" + token("") + token("")
	if ld != nil {
		for _, id := range ld.Attempts {
			a, err := s.get(ctx, id)
			if err == nil {
				s.dropAnswers(ctx, a)
			}
			s.drawn.Delete(id)
			s.states.Delete(id)
			if _, err := s.db.Collection(deadlinesCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
				return fmt.Errorf("quiz: %w", err)
			}
			if err == nil && a.Status == StatusSubmitted {
				for _, c := range []string{attemptsCollection, resultsCollection} {
					if _, err := s.db.Collection(c).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "user_id", Value: pseudonym}}}}); err != nil {
						return fmt.Errorf("quiz: %w", err)
					}
				}
				continue
			}
			for _, c := range []string{attemptsCollection, resultsCollection} {
				if _, err := s.db.Collection(c).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
					return fmt.Errorf("quiz: %w", err)
				}
			}
		}
	}
	if ld != nil {
		for k := 2; k <= ld.N+1; k++ {
			if _, err := s.db.Collection(claimsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("%s/%d", userID, k)}}); err != nil {
				return fmt.Errorf("quiz: %w", err)
			}
		}
	}
	for _, c := range []string{learnersCollection, extensionsCollection} {
		if _, err := s.db.Collection(c).DeleteOne(ctx, bson.D{{Key: "_id", Value: userID}}); err != nil {
			return fmt.Errorf("quiz: %w", err)
		}
	}
	return nil
}

// PassedAttempt names a learner's passed attempt.
type PassedAttempt struct{ UserID, Attempt string }

// PassedAttempts lists every learner's passed attempt (the certificates
// are issued from it again when issuing at submission failed).
func (s *Store) PassedAttempts(ctx context.Context) ([]PassedAttempt, error) {
	cur, err := s.db.Collection(learnersCollection).Find(ctx, bson.D{{Key: "passed", Value: true}})
	if err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	var learners []learnerDoc
	if err := cur.All(ctx, &learners); err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	var out []PassedAttempt
	seen := map[string]bool{}
	// Results that say passed, whatever their learner record says.
	rc, err := s.db.Collection(resultsCollection).Find(ctx, bson.D{{Key: "passed", Value: true}})
	if err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	var results []struct {
		ID     string `bson:"_id"`
		UserID string `bson:"user_id"`
	}
	if err := rc.All(ctx, &results); err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	for _, r := range results {
		if !seen[r.UserID] {
			seen[r.UserID] = true
			out = append(out, PassedAttempt{UserID: r.UserID, Attempt: r.ID})
		}
	}
	for _, ld := range learners {
		if seen[ld.UserID] {
			continue
		}
		for i := len(ld.Attempts) - 1; i >= 0; i-- {
			r, err := s.result(ctx, ld.Attempts[i])
			if err != nil {
				return out, err
			}
			if r != nil && r.Graded.V.Result != nil && r.Graded.V.Result.Passed {
				out = append(out, PassedAttempt{UserID: ld.UserID, Attempt: ld.Attempts[i]})
				break
			}
		}
	}
	return out, nil
}

// OutcomeRow is a learner's exam record for the reports: how many
// attempts, whether passed, and when last submitted.
type OutcomeRow struct {
	UserID        string     `bson:"_id"`
	Attempts      int        `bson:"n"`
	Passed        bool       `bson:"passed"`
	LastSubmitted *time.Time `bson:"last_submitted"`
}

// Outcome is one learner's exam record for the reports, read now; nil
// when they have none.
func (s *Store) Outcome(ctx context.Context, userID string) (*OutcomeRow, error) {
	var row OutcomeRow
	err := s.db.Collection(learnersCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&row)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	return &row, nil
}

// OnChange has f told a learner's id after every write made through this
// store of what the reports read of their exam (an attempt started,
// submitted or graded; the record deleted): the reports' summaries
// follow them. Listeners may be added while the store runs; each is told.
func (s *Store) OnChange(f func(userID string)) { s.changed.Add(f) }

func (s *Store) tell(userID string) {
	s.changed.Tell(userID)
}

// OutcomeRows lists every learner's exam record.
func (s *Store) OutcomeRows(ctx context.Context) ([]OutcomeRow, error) {
	cur, err := s.db.Collection(learnersCollection).Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	var out []OutcomeRow
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	return out, nil
}

// AttemptIDs are a learner's attempts, oldest first (one read by id).
func (s *Store) AttemptIDs(ctx context.Context, userID string) ([]string, error) {
	ld, err := s.learner(ctx, userID)
	if err != nil || ld == nil {
		return nil, err
	}
	return ld.Attempts, nil
}

// DeadlineSoon is an open attempt whose deadline comes within a window.
type DeadlineSoon struct {
	Attempt  string
	UserID   string
	Deadline time.Time
}

// DeadlinesBetween lists the open attempts whose deadline falls between
// from and to (for reminders), at most limit.
func (s *Store) DeadlinesBetween(ctx context.Context, from, to time.Time, limit int64) ([]DeadlineSoon, error) {
	cur, err := s.db.Collection(deadlinesCollection).Find(ctx, bson.D{{Key: "deadline", Value: bson.D{{Key: "$gte", Value: from.UTC()}, {Key: "$lt", Value: to.UTC()}}}},
		options.Find().SetLimit(limit))
	if err != nil {
		return nil, err
	}
	var rows []struct {
		ID       string    `bson:"_id"`
		Deadline time.Time `bson:"deadline"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, err
	}
	out := make([]DeadlineSoon, 0, len(rows))
	for _, r := range rows {
		var a struct {
			UserID string `bson:"user_id"`
		}
		if err := s.db.Collection(attemptsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: r.ID}}).Decode(&a); err != nil {
			continue // gone with its learner
		}
		out = append(out, DeadlineSoon{Attempt: r.ID, UserID: a.UserID, Deadline: r.Deadline})
	}
	return out, nil
}
