// Package feedback keeps the site's feedback inbox ("Anna palautetta"):
// messages about the course's content, its technical side or its
// accessibility, and the administrators' answers.
package feedback

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/fault"
)

// Accessibility feedback must be answered within 14 days (law 306/2019).

// Kinds and statuses.
const (
	Content       = "content"
	Technical     = "technical"
	Accessibility = "accessibility"

	StatusNew        = "new"
	StatusInProgress = "in_progress"
	StatusAnswered   = "answered"

	// AccessibilityAnswerDays is the legal answer time of accessibility feedback.
	AccessibilityAnswerDays = 14
	feedbackCollection      = "feedback"
	maxFeedbackLen          = 5000
)

// Item is one message.
type Item struct {
	ID         string     `bson:"_id" json:"id"`
	Kind       string     `bson:"kind" json:"kind"`
	Message    string     `bson:"message" json:"message"`
	Contact    string     `bson:"contact,omitempty" json:"contact,omitempty"`
	Page       string     `bson:"page,omitempty" json:"page,omitempty"`
	UserID     string     `bson:"user_id,omitempty" json:"-"`
	Status     string     `bson:"status" json:"status"`
	CreatedAt  time.Time  `bson:"created_at" json:"created_at"`
	Deadline   *time.Time `bson:"deadline,omitempty" json:"deadline,omitempty"`
	Answer     string     `bson:"answer,omitempty" json:"answer,omitempty"`
	AnsweredAt *time.Time `bson:"answered_at,omitempty" json:"answered_at,omitempty"`
	AnsweredBy string     `bson:"answered_by,omitempty" json:"-"`
}

// Overdue reports whether an accessibility answer is late.
func (f *Item) Overdue(now time.Time) bool {
	return f.Deadline != nil && f.Status != StatusAnswered && now.After(*f.Deadline)
}

// Problems, as codes the UI translates.
var (
	ErrKind    = fault.New(fault.Invalid, "feedback_kind", "kind", "the kind of feedback is not one of content, technical or accessibility")
	ErrMessage = fault.New(fault.Invalid, "feedback_message", "message", "the message must be 3–5000 characters")
	ErrContact = fault.New(fault.Invalid, "feedback_contact", "contact", "the contact is at most 200 characters without < > or line breaks")
	ErrStatus  = fault.New(fault.Invalid, "feedback_status", "status", "the status must be new, in_progress or answered")
	// ErrNotFound: no message has that id.
	ErrNotFound = fault.New(fault.NotFound, "feedback_not_found", "", "no such feedback message")
)

// Store keeps feedback.
type Store struct {
	db  *database.DB
	now func() time.Time
}

// NewStore uses db.
func NewStore(db *database.DB) *Store {
	return &Store{db: db, now: time.Now}
}

// EnsureIndexes creates the feedback indexes.
func EnsureIndexes(ctx context.Context, db *database.DB) error {
	_, err := db.Collection(feedbackCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "user_id", Value: 1}}, Options: options.Index().SetName("user"),
	})
	return err
}

// Send validates and stores a message.
func (s *Store) Send(ctx context.Context, f Item) (*Item, []error) {
	var errs []error
	switch f.Kind {
	case Content, Technical, Accessibility:
	default:
		errs = append(errs, ErrKind)
	}
	f.Message = strings.TrimSpace(f.Message)
	if n := utf8.RuneCountInString(f.Message); n < 3 || n > maxFeedbackLen || !utf8.ValidString(f.Message) {
		errs = append(errs, ErrMessage)
	}
	f.Contact = strings.TrimSpace(f.Contact)
	if utf8.RuneCountInString(f.Contact) > 200 || strings.ContainsAny(f.Contact, "<>\r\n") {
		errs = append(errs, ErrContact)
	}
	if !strings.HasPrefix(f.Page, "/") || len(f.Page) > 300 || strings.HasPrefix(f.Page, "//") {
		f.Page = ""
	}
	if len(errs) > 0 {
		return nil, errs
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	f.ID = fmt.Sprintf("%d-%s", now.UnixMilli(), newID())
	f.Status, f.CreatedAt = StatusNew, now
	if f.Kind == Accessibility {
		d := now.AddDate(0, 0, AccessibilityAnswerDays)
		f.Deadline = &d
	}
	if _, err := s.db.Collection(feedbackCollection).InsertOne(ctx, f); err != nil {
		return nil, []error{err}
	}
	return &f, nil
}

// Inbox lists feedback for administrators. The first page (after "")
// begins with every open message — accessibility feedback by deadline
// first, then the others newest first — which is the inbox's work to do;
// then come answered messages, newest first, a page of at most size at a
// time after the cursor after. next is the following page's cursor (""
// after the last).
func (s *Store) Inbox(ctx context.Context, after string, size int) (list []Item, next string, err error) {
	coll := s.db.Collection(feedbackCollection)
	if after == "" {
		cur, err := coll.Find(ctx, bson.D{{Key: "status", Value: bson.D{{Key: "$ne", Value: StatusAnswered}}}})
		if err != nil {
			return nil, "", err
		}
		if err := cur.All(ctx, &list); err != nil {
			return nil, "", err
		}
		sortItems(list, func(a, b Item) bool {
			if (a.Deadline != nil) != (b.Deadline != nil) {
				return a.Deadline != nil
			}
			if a.Deadline != nil && !a.Deadline.Equal(*b.Deadline) {
				return a.Deadline.Before(*b.Deadline)
			}
			return a.CreatedAt.After(b.CreatedAt)
		})
	}
	ks := database.Keyset{Field: "created_at", Desc: true, Tie: "_id"}
	filter, err := ks.Filter(bson.D{{Key: "status", Value: StatusAnswered}}, after)
	if err != nil {
		return nil, "", err
	}
	cur, err := coll.Find(ctx, filter, ks.Options(size))
	if err != nil {
		return nil, "", err
	}
	var rows []Item
	if err := cur.All(ctx, &rows); err != nil {
		return nil, "", err
	}
	rows, next = database.Page(rows, size, func(f Item) string { return database.CursorOf(f.CreatedAt, f.ID) })
	return append(list, rows...), next, nil
}

func sortItems(list []Item, less func(a, b Item) bool) {
	sort.SliceStable(list, func(i, j int) bool { return less(list[i], list[j]) })
}

// Update sets the status and answer of a message.
func (s *Store) Update(ctx context.Context, id, status, answer, by string) error {
	switch status {
	case StatusNew, StatusInProgress, StatusAnswered:
	default:
		return ErrStatus
	}
	set := bson.D{{Key: "status", Value: status}, {Key: "answer", Value: strings.TrimSpace(answer)}}
	if status == StatusAnswered {
		set = append(set, bson.E{Key: "answered_at", Value: s.now().UTC()}, bson.E{Key: "answered_by", Value: by})
	}
	r, err := s.db.Collection(feedbackCollection).UpdateByID(ctx, id, bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}

// Get returns one message.
func (s *Store) Get(ctx context.Context, id string) (*Item, error) {
	var f Item
	err := s.db.Collection(feedbackCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&f)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// ByUser is everything a user has sent (for their data export).
func (s *Store) ByUser(ctx context.Context, userID string) ([]Item, error) {
	cur, err := s.db.Collection(feedbackCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		return nil, err
	}
	out := []Item{}
	return out, cur.All(ctx, &out)
}

// ForgetUser detaches a deleted user's feedback from them: the message
// stays for the record, the link to the person and their contact go.
func (s *Store) ForgetUser(ctx context.Context, userID string) error {
	_, err := s.db.Collection(feedbackCollection).UpdateMany(ctx, bson.D{{Key: "user_id", Value: userID}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "user_id", Value: ""}, {Key: "contact", Value: ""}}}})
	return err
}

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
