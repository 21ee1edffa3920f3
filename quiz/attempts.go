package quiz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/database"
)

const (
	attemptsCollection   = "exam_attempts"
	openCollection       = "exam_open" // one document per learner with an open attempt: the unique constraint
	extensionsCollection = "exam_extensions"

	StatusOpen      = "open"
	StatusSubmitted = "submitted"

	// Grace is how long after its deadline an attempt is closed by the
	// sweeper (saves are refused from the deadline on).
	Grace = 30 * time.Second
)

// Attempt is one sitting of the exam by one learner.
type Attempt struct {
	ID        string             `bson:"_id" json:"id"`
	UserID    string             `bson:"user_id" json:"-"`
	Number    int                `bson:"number" json:"number"`
	Status    string             `bson:"status" json:"status"`
	Started   time.Time          `bson:"started" json:"started"`
	Deadline  *time.Time         `bson:"deadline,omitempty" json:"deadline,omitempty"`
	Version   int64              `bson:"content_version" json:"-"`
	Pass      int                `bson:"pass_percent" json:"pass_percent"`
	Items     []Drawn            `bson:"items" json:"-"`
	Answers   map[string]*Answer `bson:"answers" json:"-"`
	Rev       int64              `bson:"rev" json:"-"`
	Submitted *time.Time         `bson:"submitted,omitempty" json:"submitted,omitempty"`
	// ClosedBy is "learner" or "deadline" (the sweeper).
	ClosedBy string  `bson:"closed_by,omitempty" json:"closed_by,omitempty"`
	Result   *Result `bson:"result,omitempty" json:"result,omitempty"`
}

// Drawn returns the attempt's drawn item, or nil.
func (a *Attempt) Drawn(item string) *Drawn {
	for i := range a.Items {
		if a.Items[i].Item.ID == item {
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
	ErrNotFound     = errors.New("no such attempt")
	ErrClosed       = errors.New("the attempt is submitted: answers can no longer change")
	ErrLate         = errors.New("the time is up: answers can no longer change")
	ErrBadAnswer    = errors.New("the answer does not fit the item")
	ErrNoExam       = errors.New("the course has no exam")
	ErrPassed       = errors.New("you have passed the exam already")
	ErrNoAttempts   = errors.New("no attempts left")
	ErrBusy         = errors.New("the attempt changed meanwhile; try again")
	ErrUnknownItem  = errors.New("the item is not part of this attempt")
	errClaimMissing = errors.New("claim points to a missing attempt")
)

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
	db *mongo.Database
	// locks serialize this process's writes of one attempt (FerretDB v1
	// does not apply conditional updates atomically; MongoDB does).
	locks     *database.Locks
	now       func() time.Time
	log       *slog.Logger
	Certifier Certifier
}

// NewStore uses db.
func NewStore(db *mongo.Database, log *slog.Logger) *Store {
	if log == nil {
		log = slog.Default()
	}
	return &Store{db: db, locks: database.NewLocks(), now: time.Now, log: log}
}

// SetClock replaces the clock (tests of deadlines and waits).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// EnsureIndexes creates the attempts' indexes.
func EnsureIndexes(ctx context.Context, db *mongo.Database) error {
	c := db.Collection(attemptsCollection)
	for _, m := range []mongo.IndexModel{
		{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "number", Value: 1}}, Options: options.Index().SetName("user_number").SetUnique(true)},
		{Keys: bson.D{{Key: "status", Value: 1}, {Key: "deadline", Value: 1}}, Options: options.Index().SetName("status_deadline")},
	} {
		if _, err := c.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("quiz: indexes: %w", err)
		}
	}
	return nil
}

// Start begins an attempt, or returns the learner's open one (created is
// false then): a reload, a reconnect or another device resumes exactly.
func (s *Store) Start(ctx context.Context, userID string, pub *course.Published) (a *Attempt, created bool, err error) {
	ex := pub.Course.Exam
	if ex == nil || len(ex.Items) == 0 {
		return nil, false, ErrNoExam
	}
	for try := 0; try < 5; try++ {
		if a, err := s.openAttempt(ctx, userID); err == nil {
			return a, false, nil
		} else if !errors.Is(err, ErrNotFound) && !errors.Is(err, errClaimMissing) {
			return nil, false, err
		}
		past, err := s.ForUser(ctx, userID)
		if err != nil {
			return nil, false, err
		}
		if err := s.mayStart(past, ex.Rules); err != nil {
			return nil, false, err
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		var modules []string
		for _, m := range pub.Course.Modules {
			modules = append(modules, m.Slug)
		}
		a = &Attempt{ID: token("t") + token(""), UserID: userID, Number: len(past) + 1, Status: StatusOpen, Started: now,
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
		if _, err := s.db.Collection(attemptsCollection).InsertOne(ctx, a); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				continue // another start took this number: resume it
			}
			return nil, false, fmt.Errorf("quiz: start: %w", err)
		}
		_, err = s.db.Collection(openCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: userID}, {Key: "attempt", Value: a.ID}})
		if err == nil {
			return a, true, nil
		}
		_, _ = s.db.Collection(attemptsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: a.ID}})
		if !mongo.IsDuplicateKeyError(err) {
			return nil, false, fmt.Errorf("quiz: start: %w", err)
		}
	}
	return nil, false, ErrBusy
}

// openAttempt follows the learner's claim to the open attempt.
func (s *Store) openAttempt(ctx context.Context, userID string) (*Attempt, error) {
	var claim struct {
		Attempt string `bson:"attempt"`
	}
	err := s.db.Collection(openCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&claim)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	a, err := s.get(ctx, claim.Attempt)
	if errors.Is(err, ErrNotFound) || (err == nil && a.Status != StatusOpen) {
		// Submitted (or lost) since: release the claim.
		_, _ = s.db.Collection(openCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: userID}, {Key: "attempt", Value: claim.Attempt}})
		return nil, errClaimMissing
	}
	return a, err
}

// mayStart applies the rules on attempts to the learner's past attempts.
func (s *Store) mayStart(past []*Attempt, r course.ExamRules) error {
	var last *Attempt
	for _, a := range past {
		if a.Status != StatusSubmitted {
			continue
		}
		if a.Result != nil && a.Result.Passed {
			return ErrPassed
		}
		if last == nil || a.Submitted.After(*last.Submitted) {
			last = a
		}
	}
	if len(past) >= r.Attempts {
		return ErrNoAttempts
	}
	if last != nil && r.WaitHours > 0 {
		until := last.Submitted.Add(time.Duration(r.WaitHours) * time.Hour)
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

func (s *Store) get(ctx context.Context, id string) (*Attempt, error) {
	var a Attempt
	err := s.db.Collection(attemptsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&a)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	if a.Answers == nil {
		a.Answers = map[string]*Answer{}
	}
	return &a, nil
}

// ForUser lists a learner's attempts, oldest first.
func (s *Store) ForUser(ctx context.Context, userID string) ([]*Attempt, error) {
	cur, err := s.db.Collection(attemptsCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}},
		options.Find().SetSort(bson.D{{Key: "number", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
	}
	var out []*Attempt
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("quiz: %w", err)
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
	a, err := s.Get(ctx, userID, attemptID)
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
	now := s.now()
	if a.Status != StatusOpen {
		return nil, ErrClosed
	}
	if !a.Open(now) {
		return nil, ErrLate
	}
	field := "answers." + item
	defer s.locks.Lock(a.ID)()
	filter := bson.D{{Key: "_id", Value: a.ID}, {Key: "status", Value: StatusOpen},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: field, Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: field + ".seq", Value: bson.D{{Key: "$lt", Value: ans.Seq}}}},
		}}}
	if a.Deadline != nil {
		filter = append(filter, bson.E{Key: "deadline", Value: bson.D{{Key: "$gt", Value: now.UTC()}}})
	}
	res, err := s.db.Collection(attemptsCollection).UpdateOne(ctx, filter, bson.D{
		{Key: "$set", Value: bson.D{{Key: field, Value: ans}}},
		{Key: "$inc", Value: bson.D{{Key: "rev", Value: int64(1)}}},
	})
	if err != nil {
		return nil, fmt.Errorf("quiz: save: %w", err)
	}
	if res.MatchedCount == 1 {
		return &SaveResult{Item: item, Seq: ans.Seq, Saved: true}, nil
	}
	// Why not: closed meanwhile, late, or an equal or newer save.
	a, err = s.Get(ctx, userID, attemptID)
	if err != nil {
		return nil, err
	}
	switch {
	case a.Status != StatusOpen:
		return nil, ErrClosed
	case !a.Open(s.now()):
		return nil, ErrLate
	}
	stored := int64(0)
	if cur := a.Answers[item]; cur != nil {
		stored = cur.Seq
	}
	return &SaveResult{Item: item, Seq: stored, Saved: false}, nil
}

// Submit grades the attempt and closes it: an atomic transition from
// open to submitted. Submitting again, or at the same moment from another
// tab or instance, returns the one stored result.
func (s *Store) Submit(ctx context.Context, userID, attemptID string) (*Attempt, error) {
	a, err := s.Get(ctx, userID, attemptID)
	if err != nil {
		return nil, err
	}
	return s.close(ctx, a, "learner")
}

func (s *Store) close(ctx context.Context, a *Attempt, by string) (*Attempt, error) {
	defer s.locks.Lock(a.ID)()
	for try := 0; try < 10; try++ {
		if a.Status == StatusSubmitted {
			return a, nil
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		result := Grade(a.Items, a.Answers, a.Pass)
		res, err := s.db.Collection(attemptsCollection).UpdateOne(ctx,
			bson.D{{Key: "_id", Value: a.ID}, {Key: "status", Value: StatusOpen}, {Key: "rev", Value: a.Rev}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: StatusSubmitted}, {Key: "submitted", Value: now},
				{Key: "result", Value: result}, {Key: "closed_by", Value: by}}}})
		if err != nil {
			return nil, fmt.Errorf("quiz: submit: %w", err)
		}
		if res.MatchedCount == 1 {
			a.Status, a.Submitted, a.Result, a.ClosedBy = StatusSubmitted, &now, result, by
			_, _ = s.db.Collection(openCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: a.UserID}, {Key: "attempt", Value: a.ID}})
			if result.Passed && s.Certifier != nil {
				if err := s.Certifier.Passed(ctx, a); err != nil {
					// The result stands; the certificate is issued again
					// by the certifier's own retry.
					s.log.Error("quiz: certificate for a passed attempt", "attempt", a.ID, "err", err)
				}
			}
			return a, nil
		}
		// Submitted by someone else, or an answer saved in between:
		// read again and grade what is stored.
		if a, err = s.get(ctx, a.ID); err != nil {
			return nil, err
		}
	}
	return nil, ErrBusy
}

// CloseIfLate closes and grades an open attempt whose deadline has
// passed (the learner's page does it at once; the sweeper would soon).
func (s *Store) CloseIfLate(ctx context.Context, a *Attempt) (*Attempt, error) {
	if a.Status == StatusOpen && a.Deadline != nil && !s.now().Before(*a.Deadline) {
		return s.close(ctx, a, "deadline")
	}
	return a, nil
}

// Sweep closes and grades attempts whose deadline passed more than Grace
// ago. Several instances may sweep at once: each attempt is closed once.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-Grace).UTC()
	cur, err := s.db.Collection(attemptsCollection).Find(ctx, bson.D{{Key: "status", Value: StatusOpen},
		{Key: "deadline", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	if err != nil {
		return 0, fmt.Errorf("quiz: sweep: %w", err)
	}
	var overdue []*Attempt
	if err := cur.All(ctx, &overdue); err != nil {
		return 0, fmt.Errorf("quiz: sweep: %w", err)
	}
	n := 0
	for _, a := range overdue {
		if a.Answers == nil {
			a.Answers = map[string]*Answer{}
		}
		if _, err := s.close(ctx, a, "deadline"); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// RunSweeper sweeps every interval until ctx ends.
func (s *Store) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("quiz: sweep failed", "err", err)
			} else if n > 0 {
				s.log.Info("quiz: overdue attempts closed", "count", n)
			}
		}
	}
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
	if limit > 0 {
		set = bson.D{{Key: "$set", Value: bson.D{{Key: "deadline", Value: a.Started.Add(limit)}}}}
	}
	_, err = s.db.Collection(attemptsCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: a.ID}, {Key: "status", Value: StatusOpen}}, set)
	return err
}

// DeleteUser removes a learner's attempts (account deletion).
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	for _, c := range []string{attemptsCollection} {
		if _, err := s.db.Collection(c).DeleteMany(ctx, bson.D{{Key: "user_id", Value: userID}}); err != nil {
			return fmt.Errorf("quiz: %w", err)
		}
	}
	for _, c := range []string{openCollection, extensionsCollection} {
		if _, err := s.db.Collection(c).DeleteOne(ctx, bson.D{{Key: "_id", Value: userID}}); err != nil {
			return fmt.Errorf("quiz: %w", err)
		}
	}
	return nil
}
