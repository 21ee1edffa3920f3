package xapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/retry"
)

// Collections: the LRS configurations, the statement queue, the claims of
// its tries, and what was queued of each person (to queue nothing twice,
// and to void it on deletion).
const (
	lrsCollection    = "xapi_lrs"
	queueCollection  = "xapi_statements"
	claimsCollection = "xapi_claims"
	peopleCollection = "xapi_people"
)

// Statement states in the queue. A statement the LRS accepted leaves the
// queue at once (what was queued of a person stays listed in
// xapi_people, which is all the voiding needs): the queue holds only what
// waits and what was given up, so the senders' scans stay small.
const (
	StatePending = "pending"
	StateFailed  = "failed"
)

// GiveUp is how long a statement is tried before it is given up; a
// statement an LRS refused as invalid is given up after MaxRefusals tries.
const (
	GiveUp      = 7 * 24 * time.Hour
	MaxRefusals = 3
	claimTTL    = 2 * time.Minute
)

// EnsureIndexes creates the indexes: the queue by LRS and state, and the
// clean-up of claims.
func EnsureIndexes(ctx context.Context, db *database.DB) error {
	for coll, keys := range map[string]bson.D{
		queueCollection:  {{Key: "lrs", Value: 1}, {Key: "state", Value: 1}, {Key: "next_try", Value: 1}},
		claimsCollection: {{Key: "until", Value: 1}},
	} {
		if _, err := db.Collection(coll).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys, Options: options.Index().SetName("xapi_" + coll)}); err != nil {
			return fmt.Errorf("xapi: indexes: %w", err)
		}
	}
	return nil
}

// LRSs are the configured stores by name.
func (s *Service) LRSs(ctx context.Context) ([]LRS, error) {
	cur, err := s.o.DB.Collection(lrsCollection).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "name", Value: 1}}))
	if err != nil {
		return nil, err
	}
	var out []LRS
	return out, cur.All(ctx, &out)
}

// LRS is the store with the id, or ErrLRSNotFound.
func (s *Service) LRS(ctx context.Context, id string) (*LRS, error) {
	var l LRS
	err := s.o.DB.Collection(lrsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&l)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrLRSNotFound
	}
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// AddLRS configures a store, its password sealed; it sends from now on.
func (s *Service) AddLRS(ctx context.Context, l LRS, password string) (*LRS, []error) {
	defer s.forgetActive()
	l.Sealed = nil
	if errs := l.check(password); len(errs) > 0 {
		return nil, errs
	}
	l.ID = randomID()
	sealed, err := sealPassword(s.o.KeySecret, l.ID, password)
	if err != nil {
		return nil, []error{err}
	}
	l.Sealed, l.Active, l.CreatedAt = sealed, true, s.now().Truncate(time.Millisecond)
	if _, err := s.o.DB.Collection(lrsCollection).InsertOne(ctx, l); err != nil {
		return nil, []error{err}
	}
	return &l, nil
}

// ChangeLRS saves a store's name, endpoint, user name, actor and whether
// it is active; a new password replaces the sealed one ("" keeps it).
func (s *Service) ChangeLRS(ctx context.Context, l LRS, password string) (*LRS, []error) {
	defer s.forgetActive()
	old, err := s.LRS(ctx, l.ID)
	if err != nil {
		return nil, []error{err}
	}
	l.Sealed, l.CreatedAt = old.Sealed, old.CreatedAt
	if errs := l.check(password); len(errs) > 0 {
		return nil, errs
	}
	if password != "" {
		if l.Sealed, err = sealPassword(s.o.KeySecret, l.ID, password); err != nil {
			return nil, []error{err}
		}
	}
	_, err = s.o.DB.Collection(lrsCollection).UpdateByID(ctx, l.ID, bson.D{{Key: "$set", Value: bson.D{
		{Key: "name", Value: l.Name}, {Key: "endpoint", Value: l.Endpoint}, {Key: "username", Value: l.Username},
		{Key: "password_sealed", Value: l.Sealed}, {Key: "active", Value: l.Active}, {Key: "actor", Value: l.Actor}}}})
	if err != nil {
		return nil, []error{err}
	}
	s.nudge()
	return &l, nil
}

// queued is a statement in the outbox for one LRS.
type queued struct {
	ID          string    `bson:"_id"` // lrs|statement id
	LRS         string    `bson:"lrs"`
	StatementID string    `bson:"statement_id"`
	UserID      string    `bson:"user_id,omitempty"` // "" for a voiding statement
	Verb        string    `bson:"verb"`
	Statement   string    `bson:"statement"` // the JSON sent, the same on every try
	State       string    `bson:"state"`
	Attempts    int       `bson:"attempts"`
	Refusals    int       `bson:"refusals"`
	NextTry     time.Time `bson:"next_try"`
	GiveUpAt    time.Time `bson:"give_up_at"`
	CreatedAt   time.Time `bson:"created_at"`
	LastError   string    `bson:"last_error,omitempty"`
}

// person is what was queued of a person: the queue ids (lrs|statement
// id), read by _id before queueing so that nothing is queued twice.
type person struct {
	ID     string   `bson:"_id"`
	Queued []string `bson:"queued"`
}

func (s *Service) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// enqueue inserts the events' statements for every active LRS. The
// insert under the unique _id lrs|statement id is what makes a statement
// queued once, whichever instance queues it.
func (s *Service) enqueue(ctx context.Context, userID string, evs []Event) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	lrss, err := s.LRSs(ctx)
	if err != nil {
		return 0, err
	}
	var p person
	if err := s.o.DB.Collection(peopleCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&p); err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return 0, err
	}
	known := map[string]bool{}
	for _, q := range p.Queued {
		known[q] = true
	}
	now := s.now().Truncate(time.Millisecond)
	n := 0
	for i := range lrss {
		l := &lrss[i]
		if !l.Active {
			continue
		}
		for _, ev := range evs {
			id := l.ID + "|" + StatementID(s.o.BaseURL, ev.Key)
			if known[id] {
				continue
			}
			st, err := s.statement(ctx, l, ev)
			if err != nil {
				return n, err
			}
			body, err := marshal(st)
			if err != nil {
				return n, err
			}
			// Remembered first: a crash between the two leaves a key
			// without a statement (voided on deletion, harmlessly), never a
			// statement the deletion would not find.
			if err := s.remember(ctx, userID, id); err != nil {
				return n, err
			}
			q := queued{ID: id, LRS: l.ID, StatementID: st.ID, UserID: userID, Verb: ev.Verb.ID, Statement: body, State: StatePending,
				NextTry: now, GiveUpAt: now.Add(GiveUp), CreatedAt: now}
			if _, err := s.o.DB.Collection(queueCollection).InsertOne(ctx, q); err != nil {
				if mongo.IsDuplicateKeyError(err) {
					continue // queued already (another instance, an earlier try)
				}
				return n, err
			}
			n++
		}
	}
	if n > 0 {
		s.nudge()
	}
	return n, nil
}

// remember adds a queue id to what was queued of a person (an upsert,
// tried again on the duplicate key of a concurrent first one).
func (s *Service) remember(ctx context.Context, userID, id string) error {
	var err error
	for range 3 {
		_, err = s.o.DB.Collection(peopleCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}},
			bson.D{{Key: "$addToSet", Value: bson.D{{Key: "queued", Value: id}}}}, options.UpdateOne().SetUpsert(true))
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	return err
}

// QueuedState is a queued statement as administrators and tests see it.
type QueuedState struct {
	ID, LRS, StatementID, UserID, Verb, State, LastError string
	Attempts                                             int
}

// Queued lists the queue (all of it: for tests and the administrators'
// counts).
func (s *Service) Queued(ctx context.Context) ([]QueuedState, error) {
	cur, err := s.o.DB.Collection(queueCollection).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetProjection(bson.D{{Key: "statement", Value: 0}}))
	if err != nil {
		return nil, err
	}
	var qs []queued
	if err := cur.All(ctx, &qs); err != nil {
		return nil, err
	}
	out := make([]QueuedState, 0, len(qs))
	for _, q := range qs {
		out = append(out, QueuedState{ID: q.ID, LRS: q.LRS, StatementID: q.StatementID, UserID: q.UserID, Verb: q.Verb, State: q.State, LastError: q.LastError, Attempts: q.Attempts})
	}
	return out, nil
}

type claim struct {
	ID     string    `bson:"_id"` // queue id # try
	Holder string    `bson:"holder"`
	Until  time.Time `bson:"until"`
}

// claimTry takes a statement's next try by inserting its claim; a claim
// of a sender that died (its time over) is stepped over.
func (s *Service) claimTry(ctx context.Context, id string, attempts int, holder string) (int, bool, error) {
	claims := s.o.DB.Collection(claimsCollection)
	for try := attempts + 1; try <= attempts+5; try++ {
		now := s.now()
		_, err := claims.InsertOne(ctx, claim{ID: id + "#" + strconv.Itoa(try), Holder: holder, Until: now.Add(claimTTL)})
		if err == nil {
			return try, true, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return 0, false, err
		}
		var c claim
		if err := claims.FindOne(ctx, bson.D{{Key: "_id", Value: id + "#" + strconv.Itoa(try)}}).Decode(&c); err != nil || c.Until.After(now) {
			return 0, false, nil
		}
	}
	return 0, false, nil
}

// Send sends due statements until ctx ends (every instance runs one;
// each try is claimed by an insert, so one sender makes it).
func (s *Service) Send(ctx context.Context, poll time.Duration) {
	for {
		n, err := s.SendOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.o.Logger.Warn("xapi: sending statements", "err", err)
		}
		if n > 0 {
			continue
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// SendOnce sends one batch of due statements to each active LRS and
// records the outcomes; it returns how many statements it tried.
func (s *Service) SendOnce(ctx context.Context) (int, error) {
	lrss, err := s.LRSs(ctx)
	if err != nil {
		return 0, err
	}
	tried := 0
	for i := range lrss {
		l := &lrss[i]
		if !l.Active {
			continue
		}
		n, err := s.sendTo(ctx, l)
		tried += n
		if err != nil {
			return tried, err
		}
	}
	return tried, nil
}

func (s *Service) sendTo(ctx context.Context, l *LRS) (int, error) {
	coll := s.o.DB.Collection(queueCollection)
	cur, err := coll.Find(ctx, bson.D{{Key: "lrs", Value: l.ID}, {Key: "state", Value: StatePending}, {Key: "next_try", Value: bson.D{{Key: "$lte", Value: s.now()}}}},
		options.Find().SetSort(bson.D{{Key: "next_try", Value: 1}, {Key: "created_at", Value: 1}}).SetLimit(int64(s.o.Batch*2)).SetProjection(bson.D{{Key: "statement", Value: 0}}))
	if err != nil {
		return 0, err
	}
	var due []queued
	if err := cur.All(ctx, &due); err != nil {
		return 0, err
	}
	var batch []*queued
	for i := range due {
		if len(batch) == s.o.Batch {
			break
		}
		q := &due[i]
		try, ok, err := s.claimTry(ctx, q.ID, q.Attempts, s.holder)
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		// Read it again after the claim: another sender may have finished
		// it between the look and the claim, or the person been erased.
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: q.ID}}).Decode(q); err != nil || q.State != StatePending {
			continue
		}
		q.Attempts = try
		batch = append(batch, q)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	// Oldest first, as they happened: a voiding statement after what it
	// voids.
	slices.SortStableFunc(batch, func(a, b *queued) int { return a.CreatedAt.Compare(b.CreatedAt) })
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	outcomes := s.sendBatch(sctx, l, batch)
	cancel()
	for i, q := range batch {
		s.record(ctx, q, outcomes[i])
	}
	return len(batch), nil
}

// record writes a try's outcome (only the try's owner writes).
func (s *Service) record(ctx context.Context, q *queued, sendErr error) {
	now := s.now()
	set := bson.D{{Key: "attempts", Value: q.Attempts}}
	var de *deliveryError
	if sendErr != nil && !errors.As(sendErr, &de) {
		de = &deliveryError{err: sendErr}
	}
	switch {
	case sendErr == nil:
		s.delivered(ctx, q)
		return
	case de.status == http.StatusBadRequest && q.Refusals+1 >= MaxRefusals:
		set = append(set, bson.E{Key: "state", Value: StateFailed}, bson.E{Key: "refusals", Value: q.Refusals + 1}, bson.E{Key: "last_error", Value: clip(sendErr.Error())})
		s.o.Logger.Warn("xapi: the LRS refused a statement for good", "statement", q.ID, "err", sendErr)
	case now.After(q.GiveUpAt):
		set = append(set, bson.E{Key: "state", Value: StateFailed}, bson.E{Key: "last_error", Value: clip("not accepted within a week: " + sendErr.Error())})
	default:
		wait := retry.Backoff(s.o.Backoff, q.Attempts)
		if de.retryAfter > 0 {
			wait = min(de.retryAfter, time.Hour) // the LRS's rate limit says when
		}
		if de.status == http.StatusBadRequest {
			set = append(set, bson.E{Key: "refusals", Value: q.Refusals + 1})
		}
		set = append(set, bson.E{Key: "next_try", Value: now.Add(wait)}, bson.E{Key: "last_error", Value: clip(sendErr.Error())})
	}
	ctx = context.WithoutCancel(ctx)
	for i := range 20 {
		if _, err := s.o.DB.Collection(queueCollection).UpdateByID(ctx, q.ID, bson.D{{Key: "$set", Value: set}}); err == nil {
			return
		}
		time.Sleep(time.Duration(i+1) * 100 * time.Millisecond)
	}
	s.o.Logger.Error("xapi: recording a statement's try failed", "statement", q.ID)
}

// delivered takes a statement the LRS accepted out of the queue (only
// the try's owner does).
func (s *Service) delivered(ctx context.Context, q *queued) {
	ctx = context.WithoutCancel(ctx)
	for i := range 20 {
		if _, err := s.o.DB.Collection(queueCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: q.ID}}); err == nil {
			return
		}
		time.Sleep(time.Duration(i+1) * 100 * time.Millisecond)
	}
	s.o.Logger.Error("xapi: taking a delivered statement out of the queue failed", "statement", q.ID)
}

// DeleteUser forgets a person (account deletion): what of theirs is
// queued and never tried is dropped; every statement of theirs an LRS
// has or may have (sent, tried, being sent) is voided by
// a voiding statement of the tool's (actor: the site's own account;
// object: a StatementRef), which is all the queue keeps of them
// afterwards. A statement being sent now is voided after its try's claim
// runs out, so the voiding never arrives before it.
func (s *Service) DeleteUser(ctx context.Context, userID string) error {
	var p person
	err := s.o.DB.Collection(peopleCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	if err != nil {
		return err
	}
	coll := s.o.DB.Collection(queueCollection)
	now := s.now().Truncate(time.Millisecond)
	for _, id := range p.Queued {
		var q queued
		err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&q)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return err
		}
		lrsID, stmtID := splitQueueID(id)
		void, after := true, now
		switch {
		case err != nil: // sent (or never inserted): void it
		case q.State == StateFailed && q.Refusals >= MaxRefusals:
			void = false // the LRS refused it: it has nothing to void
		case q.State == StatePending:
			// Take its next try, so no sender starts it now; a try under
			// way (the claim is someone's) may still deliver it.
			_, ok, err := s.claimTry(ctx, id, q.Attempts, "erasure")
			if err != nil {
				return err
			}
			if !ok {
				after = now.Add(claimTTL)
			}
			void = !ok || q.Attempts > 0
		}
		if void {
			if err := s.enqueueVoid(ctx, lrsID, stmtID, now, after); err != nil {
				return err
			}
		}
		if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
			return err
		}
	}
	if _, err := coll.DeleteMany(ctx, bson.D{{Key: "user_id", Value: userID}}); err != nil {
		return err
	}
	_, err = s.o.DB.Collection(peopleCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: userID}})
	return err
}

// enqueueVoid queues the statement that voids stmtID at an LRS.
func (s *Service) enqueueVoid(ctx context.Context, lrsID, stmtID string, now, notBefore time.Time) error {
	st := s.voiding(stmtID, now)
	body, err := marshal(st)
	if err != nil {
		return err
	}
	q := queued{ID: lrsID + "|" + st.ID, LRS: lrsID, StatementID: st.ID, Verb: Voided.ID, Statement: body, State: StatePending,
		NextTry: notBefore, GiveUpAt: now.Add(GiveUp), CreatedAt: now}
	if _, err := s.o.DB.Collection(queueCollection).InsertOne(ctx, q); err != nil && !mongo.IsDuplicateKeyError(err) {
		return err
	}
	s.nudge()
	return nil
}

func splitQueueID(id string) (lrs, statement string) {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '|' {
			return id[:i], id[i+1:]
		}
	}
	return "", id
}

// Purge drops what the outbox no longer needs: claims over a day old and
// statements given up over keep ago.
func (s *Service) Purge(ctx context.Context, keep time.Duration) (int64, error) {
	now := s.now()
	if _, err := s.o.DB.Collection(claimsCollection).DeleteMany(ctx, bson.D{{Key: "until", Value: bson.D{{Key: "$lt", Value: now.Add(-24 * time.Hour)}}}}); err != nil {
		return 0, err
	}
	r, err := s.o.DB.Collection(queueCollection).DeleteMany(ctx, bson.D{{Key: "state", Value: StateFailed}, {Key: "created_at", Value: bson.D{{Key: "$lt", Value: now.Add(-keep)}}}})
	if err != nil {
		return 0, err
	}
	return r.DeletedCount, nil
}
