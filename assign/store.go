package assign

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/org"
)

// Collections.
const (
	assignmentsCollection = "assignments"
	// keysCollection holds one document per open assignment, _id its key
	// (organisation, target, modules): the unique _id refuses a duplicate
	// even when two reporters assign the same at once.
	keysCollection = "assignment_keys"
	// peopleCollection keeps each person's completion, _id assignment|user.
	peopleCollection = "assignment_people"
)

// keptTTL is how long the kept completions of an assignment are read from
// memory before the store is read again (another instance may have kept
// some meanwhile; they are the same dates the evidence gives).
const keptTTL = time.Minute

// Store keeps assignments and their people's completions.
type Store struct {
	db  *database.DB
	now func() time.Time

	mu   sync.Mutex
	kept map[string]keptEntry
}

type keptEntry struct {
	at    time.Time
	users map[string]time.Time
}

// NewStore uses db, with the real clock.
// changes counts the changes to assignments made in this process (see
// Changes).
var changes atomic.Int64

// Changes is how many times assignments were created, edited or closed
// in this process: pages that show a learner's assignments and are kept
// for a while (the dashboard) are made again when it moves.
func Changes() int64 { return changes.Load() }

func NewStore(db *database.DB) *Store {
	return &Store{db: db, now: time.Now, kept: map[string]keptEntry{}}
}

// SetClock replaces the clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// EnsureIndexes creates the collections' indexes (idempotent); every
// lookup that must be fast is by _id.
func EnsureIndexes(ctx context.Context, db *database.DB) error {
	_, err := db.Collection(peopleCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "assignment", Value: 1}}, Options: options.Index().SetName("assignment"),
	})
	if err != nil {
		return fmt.Errorf("assign: indexes: %w", err)
	}
	return nil
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Create stores a new assignment after checking it against the
// organisation's units (t), its people and the course. A duplicate of an
// open assignment is ErrDuplicate.
func (s *Store) Create(ctx context.Context, a Assignment, t *org.Tree, members []Member, c *course.Course) (*Assignment, []error) {
	defer changes.Add(1)
	now := s.now()
	if errs := a.check(t, members, c, now); len(errs) > 0 {
		return nil, errs
	}
	a.ID, a.Status, a.CreatedAt = newID(), Open, now.UTC().Truncate(time.Millisecond)
	key := a.key()
	for try := 0; ; try++ {
		_, err := s.db.Collection(keysCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "assignment", Value: a.ID}})
		if err == nil {
			break
		}
		if !mongo.IsDuplicateKeyError(err) || try > 0 {
			if mongo.IsDuplicateKeyError(err) {
				return nil, []error{ErrDuplicate}
			}
			return nil, []error{err}
		}
		var k struct {
			Assignment string `bson:"assignment"`
		}
		if err := s.db.Collection(keysCollection).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&k); err != nil {
			return nil, []error{err}
		}
		old, err := s.Get(ctx, k.Assignment)
		switch {
		case errors.Is(err, ErrNotFound):
			// A create cut short before its assignment was written: its
			// key is taken over with its id (a second taker's insert of
			// the assignment fails as a duplicate).
			a.ID = k.Assignment
		case err != nil:
			return nil, []error{err}
		case old.Status == Open:
			return nil, []error{ErrDuplicate}
		default:
			// A close cut short before it freed the key: free it now.
			if _, err := s.db.Collection(keysCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "assignment", Value: old.ID}}); err != nil {
				return nil, []error{err}
			}
			continue
		}
		break
	}
	if _, err := s.db.Collection(assignmentsCollection).InsertOne(ctx, a); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil, []error{ErrDuplicate}
		}
		return nil, []error{err}
	}
	return &a, nil
}

// Get is the assignment with the id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Assignment, error) {
	var a Assignment
	err := s.db.Collection(assignmentsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&a)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// List is the organisation's assignments, open ones first, then by due
// date.
func (s *Store) List(ctx context.Context, code string) ([]Assignment, error) {
	cur, err := s.db.Collection(assignmentsCollection).Find(ctx, bson.D{{Key: "org", Value: code}})
	if err != nil {
		return nil, err
	}
	out := []Assignment{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	sortAssignments(out)
	return out, nil
}

// All is every open assignment (the reminders).
func (s *Store) All(ctx context.Context) ([]Assignment, error) {
	cur, err := s.db.Collection(assignmentsCollection).Find(ctx, bson.D{{Key: "status", Value: Open}})
	if err != nil {
		return nil, err
	}
	out := []Assignment{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	sortAssignments(out)
	return out, nil
}

func sortAssignments(as []Assignment) {
	slices.SortStableFunc(as, func(a, b Assignment) int {
		if (a.Status == Open) != (b.Status == Open) {
			if a.Status == Open {
				return -1
			}
			return 1
		}
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
}

// Edit changes an open assignment's due date and note.
func (s *Store) Edit(ctx context.Context, id string, due time.Time, note string) error {
	defer changes.Add(1)
	a, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if a.Status != Open {
		return ErrClosed
	}
	if due.IsZero() {
		return ErrDue
	}
	if due = Day(due); due.Before(Day(s.now())) {
		return ErrDuePast
	}
	if err := checkNote(&note); err != nil {
		return err
	}
	_, err = s.db.Collection(assignmentsCollection).UpdateByID(ctx, id, bson.D{{Key: "$set", Value: bson.D{{Key: "due", Value: due}, {Key: "note", Value: note}}}})
	return err
}

// Close closes an assignment: it stays in the reports, but is no longer
// shown to learners or reminded of, and the same may be assigned again.
func (s *Store) Close(ctx context.Context, id string) error {
	defer changes.Add(1)
	a, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if a.Status == Closed {
		return nil
	}
	if _, err := s.db.Collection(assignmentsCollection).UpdateByID(ctx, id, bson.D{{Key: "$set", Value: bson.D{
		{Key: "status", Value: Closed}, {Key: "closed_at", Value: s.now().UTC().Truncate(time.Millisecond)}}}}); err != nil {
		return err
	}
	_, err = s.db.Collection(keysCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: a.key()}, {Key: "assignment", Value: a.ID}})
	return err
}

type keptDoc struct {
	ID         string    `bson:"_id"`
	Assignment string    `bson:"assignment"`
	User       string    `bson:"user"`
	Completed  time.Time `bson:"completed_at"`
}

// Kept are the completion dates kept for the assignment, by user.
func (s *Store) Kept(ctx context.Context, id string) (map[string]time.Time, error) {
	s.mu.Lock()
	e, ok := s.kept[id]
	s.mu.Unlock()
	if ok && s.now().Sub(e.at) < keptTTL {
		return e.users, nil
	}
	cur, err := s.db.Collection(peopleCollection).Find(ctx, bson.D{{Key: "assignment", Value: id}})
	if err != nil {
		return nil, err
	}
	var docs []keptDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	users := make(map[string]time.Time, len(docs))
	for _, d := range docs {
		users[d.User] = d.Completed
	}
	s.mu.Lock()
	s.kept[id] = keptEntry{at: s.now(), users: users}
	s.mu.Unlock()
	return clone(users), nil
}

func clone(m map[string]time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// KeptFor is the user's kept completion of the assignment (zero: none).
func (s *Store) KeptFor(ctx context.Context, id, user string) (time.Time, error) {
	var d keptDoc
	err := s.db.Collection(peopleCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id + "|" + user}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return time.Time{}, nil
	}
	return d.Completed, err
}

// Keep records the completions the rows reached now (Row.New): the first
// date recorded stands (an insert under the _id assignment|user).
func (s *Store) Keep(ctx context.Context, id string, rows []Row) error {
	var added map[string]time.Time
	for _, r := range rows {
		if !r.New {
			continue
		}
		at := r.Completed.UTC().Truncate(time.Millisecond)
		_, err := s.db.Collection(peopleCollection).InsertOne(ctx, keptDoc{ID: id + "|" + r.ID, Assignment: id, User: r.ID, Completed: at})
		if err != nil && !mongo.IsDuplicateKeyError(err) {
			return err
		}
		if err == nil {
			if added == nil {
				added = map[string]time.Time{}
			}
			added[r.ID] = at
		}
	}
	if added != nil {
		s.mu.Lock()
		if e, ok := s.kept[id]; ok {
			users := clone(e.users)
			for k, v := range added {
				users[k] = v
			}
			s.kept[id] = keptEntry{at: e.at, users: users}
		}
		s.mu.Unlock()
	}
	return nil
}

// DeleteUser forgets a person's kept completions and takes them off the
// assignments that list them (account deletion).
func (s *Store) DeleteUser(ctx context.Context, user string) error {
	if _, err := s.db.Collection(assignmentsCollection).UpdateMany(ctx, bson.D{{Key: "people", Value: user}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "people", Value: user}}}}); err != nil {
		return err
	}
	if _, err := s.db.Collection(remindersCollection).DeleteMany(ctx, bson.D{{Key: "user", Value: user}}); err != nil {
		return err
	}
	_, err := s.db.Collection(peopleCollection).DeleteMany(ctx, bson.D{{Key: "user", Value: user}})
	s.mu.Lock()
	s.kept = map[string]keptEntry{}
	s.mu.Unlock()
	return err
}

// remindersCollection holds one claim per reminder (assignment, person,
// stage): inserted before the message is queued, so each reminder is
// queued once across instances; Queued is set once the outbox has it.
const remindersCollection = "assignment_reminders"

type reminderClaim struct {
	ID        string    `bson:"_id"`
	User      string    `bson:"user"`
	ClaimedAt time.Time `bson:"claimed_at"`
	Queued    bool      `bson:"queued"`
}

// ClaimReminder claims the reminder key for user. It says to send for the
// one caller whose insert made the claim, and again for a claim made over
// ten minutes ago whose message never reached the outbox (an instance
// stopped in between: the outbox keeps one message a key, so a second
// sender queues nothing twice); otherwise not.
func (s *Store) ClaimReminder(ctx context.Context, key, user string) (bool, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	_, err := s.db.Collection(remindersCollection).InsertOne(ctx, reminderClaim{ID: key, User: user, ClaimedAt: now})
	if err == nil {
		return true, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return false, err
	}
	var c reminderClaim
	if err := s.db.Collection(remindersCollection).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&c); err != nil {
		return false, err
	}
	return !c.Queued && now.Sub(c.ClaimedAt) > 10*time.Minute, nil
}

// ReminderQueued marks a claimed reminder as in the outbox.
func (s *Store) ReminderQueued(ctx context.Context, key string) error {
	_, err := s.db.Collection(remindersCollection).UpdateByID(ctx, key, bson.D{{Key: "$set", Value: bson.D{{Key: "queued", Value: true}}}})
	return err
}

// Invitation collections: the invitations (_id organisation|address), their
// links' tokens (_id the token's SHA-256: the token itself is never
// stored with them), each link's use, claimed by an insert (single use),
// and the files they came in (batches). An import writes its invitations
// and tokens first and its batch last: an invitation counts only once its
// batch exists, so a file stops half-way (an error, a stopped server)
// leaves nothing that works or blocks a new import of the same file.
const (
	invitationsCollection   = "invitations"
	inviteTokensCollection  = "invitation_tokens"
	inviteUsesCollection    = "invitation_uses"
	inviteBatchesCollection = "invitation_batches"
)

// Batch is one imported file of invitations. Its links' tokens stay in it
// only until their e-mails are in the outbox (so that the e-mails of a
// batch whose sending stopped half-way can be queued again: the outbox
// keeps one message a key); then they are removed.
type Batch struct {
	ID     string    `bson:"_id"`
	Org    string    `bson:"org"`
	By     string    `bson:"by"`
	Lang   string    `bson:"lang"`
	At     time.Time `bson:"at"`
	Count  int       `bson:"count"`
	Tokens []string  `bson:"tokens,omitempty"`
	Mailed bool      `bson:"mailed"`
}

// Issued is an invitation made now with its link's token (for its
// e-mail only).
type Issued struct {
	Invitation
	Token string
}

// MailKey is the outbox key of the invitation's e-mail: one message a
// link, however often it is queued.
func (i Issued) MailKey() string { return "invitation/" + i.TokenHash }

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// Invitations are the organisation's invitations (those of a file whose
// import did not finish are not).
func (s *Store) Invitations(ctx context.Context, code string) ([]Invitation, error) {
	cur, err := s.db.Collection(invitationsCollection).Find(ctx, bson.D{{Key: "org", Value: code}})
	if err != nil {
		return nil, err
	}
	var all []Invitation
	if err := cur.All(ctx, &all); err != nil {
		return nil, err
	}
	done := map[string]bool{}
	out := []Invitation{}
	for _, inv := range all {
		if inv.Batch != "" {
			ok, seen := done[inv.Batch]
			if !seen {
				var err error
				if ok, err = s.batchDone(ctx, inv.Batch); err != nil {
					return nil, err
				}
				done[inv.Batch] = ok
			}
			if !ok {
				continue
			}
		}
		out = append(out, inv)
	}
	return out, nil
}

func (s *Store) batchDone(ctx context.Context, id string) (bool, error) {
	n, err := s.db.Collection(inviteBatchesCollection).CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
	return n > 0, err
}

// Invite checks the rows against the organisation's people (members: their
// addresses) and its pending invitations, then stores an invitation for
// each, every one or none: each problem is returned with its line, and a
// failure while storing takes back what was written (what a stopped
// server leaves never counts: its batch was not written). A row whose
// address had an invitation that expired or was used gets a new one.
// lang is the language of the e-mails; the caller queues them and then
// calls InvitationsMailed.
func (s *Store) Invite(ctx context.Context, code, by, lang string, rows []InviteRow, members map[string]bool) ([]Issued, []error) {
	existing, err := s.Invitations(ctx, code)
	if err != nil {
		return nil, []error{err}
	}
	now := s.now()
	pending := map[string]bool{}
	for _, inv := range existing {
		if inv.Pending(now) {
			pending[inv.Email] = true
		}
	}
	var errs []error
	for _, r := range rows {
		switch {
		case members[r.Email]:
			errs = append(errs, ErrInviteAccount.With(r.Line, r.Email))
		case pending[r.Email]:
			errs = append(errs, ErrInvitePending.With(r.Line, r.Email))
		}
		if len(errs) == maxInviteErrors {
			break
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	at := now.UTC().Truncate(time.Millisecond)
	batch := Batch{ID: newID(), Org: code, By: by, Lang: lang, At: at}
	out := make([]Issued, 0, len(rows))
	var written []Invitation // to take back on failure
	fail := func(err error) ([]Issued, []error) {
		s.takeBack(context.WithoutCancel(ctx), written)
		return nil, []error{err}
	}
	for _, r := range rows {
		crashpoint.Reach("invite/row")
		token := newToken()
		inv := Invitation{ID: code + "|" + r.Email, Org: code, Unit: r.Unit, Name: r.Name, Email: r.Email, TokenHash: hashToken(token),
			CreatedBy: by, CreatedAt: at, Expires: at.Add(InviteTTL), Batch: batch.ID}
		// The token first: an invitation is never without its link.
		if _, err := s.db.Collection(inviteTokensCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: inv.TokenHash}, {Key: "invitation", Value: inv.ID}}); err != nil {
			return fail(err)
		}
		written = append(written, Invitation{TokenHash: inv.TokenHash})
		_, err := s.db.Collection(invitationsCollection).InsertOne(ctx, inv)
		if mongo.IsDuplicateKeyError(err) {
			// An expired or used invitation of the address (or one of an
			// import that did not finish) is replaced; a pending one was
			// refused above, and one made meanwhile by another import
			// stays as it is.
			var old Invitation
			if err := s.db.Collection(invitationsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: inv.ID}}).Decode(&old); err != nil {
				return fail(err)
			}
			if old.Pending(now) {
				done := old.Batch == ""
				if !done {
					if done, err = s.batchDone(ctx, old.Batch); err != nil {
						return fail(err)
					}
				}
				if done {
					return fail(ErrInvitePending.With(r.Line, r.Email))
				}
			}
			_, err = s.db.Collection(invitationsCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: inv.ID}, {Key: "token_hash", Value: old.TokenHash}}, inv)
		}
		if err != nil {
			return fail(err)
		}
		written[len(written)-1] = inv
		batch.Tokens = append(batch.Tokens, token)
		out = append(out, Issued{Invitation: inv, Token: token})
	}
	batch.Count = len(out)
	crashpoint.Reach("invite/batch")
	// The batch last: from here the invitations count.
	if _, err := s.db.Collection(inviteBatchesCollection).InsertOne(ctx, batch); err != nil {
		return fail(err)
	}
	return out, nil
}

// takeBack deletes what an import that failed wrote: its invitations (by
// their tokens, so that another import's stay) and their tokens. What it
// cannot delete (the store gone meanwhile) never counts without its batch.
func (s *Store) takeBack(ctx context.Context, written []Invitation) {
	for _, inv := range written {
		if inv.ID != "" {
			_, _ = s.db.Collection(invitationsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: inv.ID}, {Key: "token_hash", Value: inv.TokenHash}})
		}
		_, _ = s.db.Collection(inviteTokensCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: inv.TokenHash}})
	}
}

// InvitationsMailed records that the e-mails of a batch are in the
// outbox: its links' tokens are removed from it.
func (s *Store) InvitationsMailed(ctx context.Context, batch string) error {
	_, err := s.db.Collection(inviteBatchesCollection).UpdateByID(ctx, batch, bson.D{
		{Key: "$set", Value: bson.D{{Key: "mailed", Value: true}}}, {Key: "$unset", Value: bson.D{{Key: "tokens", Value: ""}}}})
	return err
}

// Unmailed are the batches made before `before` whose e-mails were not
// all queued (the server stopped, or the outbox failed, while it queued
// them), each with its invitations still pending: queue their e-mails
// (again: the outbox keeps one message a key), then call
// InvitationsMailed.
func (s *Store) Unmailed(ctx context.Context, before time.Time) (map[*Batch][]Issued, error) {
	cur, err := s.db.Collection(inviteBatchesCollection).Find(ctx, bson.D{{Key: "mailed", Value: false}})
	if err != nil {
		return nil, err
	}
	var batches []Batch
	if err := cur.All(ctx, &batches); err != nil {
		return nil, err
	}
	out := map[*Batch][]Issued{}
	for i := range batches {
		b := &batches[i]
		if !b.At.Before(before) {
			continue
		}
		list := []Issued{}
		for _, token := range b.Tokens {
			inv, err := s.Invitation(ctx, token)
			if errors.Is(err, ErrInviteLink) {
				continue // used, replaced or expired meanwhile
			}
			if err != nil {
				return nil, err
			}
			list = append(list, Issued{Invitation: *inv, Token: token})
		}
		out[b] = list
	}
	return out, nil
}

// Invitation is the pending invitation of the link's token, or
// ErrInviteLink (unknown, replaced, used or expired).
func (s *Store) Invitation(ctx context.Context, token string) (*Invitation, error) {
	if token == "" || len(token) > 200 {
		return nil, ErrInviteLink
	}
	hash := hashToken(token)
	var t struct {
		Invitation string `bson:"invitation"`
	}
	err := s.db.Collection(inviteTokensCollection).FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&t)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrInviteLink
	}
	if err != nil {
		return nil, err
	}
	var inv Invitation
	err = s.db.Collection(invitationsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: t.Invitation}}).Decode(&inv)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrInviteLink
	}
	if err != nil {
		return nil, err
	}
	if inv.TokenHash != hash || !inv.Pending(s.now()) {
		return nil, ErrInviteLink
	}
	if inv.Batch != "" {
		if ok, err := s.batchDone(ctx, inv.Batch); err != nil {
			return nil, err
		} else if !ok {
			return nil, ErrInviteLink // its import did not finish
		}
	}
	if n, err := s.db.Collection(inviteUsesCollection).CountDocuments(ctx, bson.D{{Key: "_id", Value: hash}}); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, ErrInviteLink
	}
	return &inv, nil
}

// UseInvitation claims the link's single use by an insert: one caller
// gets the invitation, every other (a second click, a second tab) gets
// ErrInviteLink.
func (s *Store) UseInvitation(ctx context.Context, token string) (*Invitation, error) {
	inv, err := s.Invitation(ctx, token)
	if err != nil {
		return nil, err
	}
	if _, err := s.db.Collection(inviteUsesCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: inv.TokenHash}, {Key: "at", Value: s.now().UTC()}}); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil, ErrInviteLink
		}
		return nil, err
	}
	_, err = s.db.Collection(invitationsCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: inv.ID}, {Key: "token_hash", Value: inv.TokenHash}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: true}}}})
	return inv, err
}

// PurgeInvitations deletes the invitations that expired before `before`
// (their names and addresses are kept no longer), with their links'
// tokens and uses; it returns how many.
func (s *Store) PurgeInvitations(ctx context.Context, before time.Time) (int, error) {
	cur, err := s.db.Collection(invitationsCollection).Find(ctx, bson.D{{Key: "expires", Value: bson.D{{Key: "$lt", Value: before.UTC()}}}})
	if err != nil {
		return 0, err
	}
	var old []Invitation
	if err := cur.All(ctx, &old); err != nil {
		return 0, err
	}
	// The batches whose invitations have all expired (those never
	// mailed keep tokens that must not outlive their links).
	if _, err := s.db.Collection(inviteBatchesCollection).DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: before.Add(-InviteTTL).UTC()}}}}); err != nil {
		return 0, err
	}
	n := 0
	for _, inv := range old {
		// The invitation first (by its token too: a new one of the same
		// address stays), then what only it pointed to.
		r, err := s.db.Collection(invitationsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: inv.ID}, {Key: "token_hash", Value: inv.TokenHash}})
		if err != nil {
			return n, err
		}
		n += int(r.DeletedCount)
		for _, coll := range []string{inviteTokensCollection, inviteUsesCollection} {
			if _, err := s.db.Collection(coll).DeleteOne(ctx, bson.D{{Key: "_id", Value: inv.TokenHash}}); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}
