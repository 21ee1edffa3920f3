package course

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/tyokyky/tyokyky/internal/database"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Feedback ("Anna palautetta") about the course's content, its technical
// side, or its accessibility. Accessibility feedback must be answered
// within 14 days (law 306/2019).

// Feedback kinds and statuses.
const (
	FeedbackContent       = "content"
	FeedbackTechnical     = "technical"
	FeedbackAccessibility = "accessibility"

	StatusNew        = "new"
	StatusInProgress = "in_progress"
	StatusAnswered   = "answered"

	// AccessibilityAnswerDays is the legal answer time of accessibility feedback.
	AccessibilityAnswerDays = 14
	feedbackCollection      = "feedback"
	maxFeedbackLen          = 5000
)

// Feedback is one message.
type Feedback struct {
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
func (f *Feedback) Overdue(now time.Time) bool {
	return f.Deadline != nil && f.Status != StatusAnswered && now.After(*f.Deadline)
}

// Feedback problems, as codes the UI translates.
var (
	ErrFeedbackKind    = errors.New("feedback-kind")
	ErrFeedbackMessage = errors.New("feedback-message")
	ErrFeedbackContact = errors.New("feedback-contact")
	ErrFeedbackStatus  = errors.New("feedback-status")
)

// FeedbackStore keeps feedback.
type FeedbackStore struct {
	db  *database.DB
	now func() time.Time
}

// NewFeedbackStore uses db.
func NewFeedbackStore(db *database.DB) *FeedbackStore {
	return &FeedbackStore{db: db, now: time.Now}
}

// EnsureFeedbackIndexes creates the feedback indexes.
func EnsureFeedbackIndexes(ctx context.Context, db *database.DB) error {
	_, err := db.Collection(feedbackCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "user_id", Value: 1}}, Options: options.Index().SetName("user"),
	})
	return err
}

// Send validates and stores a message.
func (s *FeedbackStore) Send(ctx context.Context, f Feedback) (*Feedback, []error) {
	var errs []error
	switch f.Kind {
	case FeedbackContent, FeedbackTechnical, FeedbackAccessibility:
	default:
		errs = append(errs, ErrFeedbackKind)
	}
	f.Message = strings.TrimSpace(f.Message)
	if n := utf8.RuneCountInString(f.Message); n < 3 || n > maxFeedbackLen || !utf8.ValidString(f.Message) {
		errs = append(errs, ErrFeedbackMessage)
	}
	f.Contact = strings.TrimSpace(f.Contact)
	if utf8.RuneCountInString(f.Contact) > 200 || strings.ContainsAny(f.Contact, "<>\r\n") {
		errs = append(errs, ErrFeedbackContact)
	}
	if !strings.HasPrefix(f.Page, "/") || len(f.Page) > 300 || strings.HasPrefix(f.Page, "//") {
		f.Page = ""
	}
	if len(errs) > 0 {
		return nil, errs
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	f.ID = fmt.Sprintf("%d-%s", now.UnixMilli(), newFeedbackID())
	f.Status, f.CreatedAt = StatusNew, now
	if f.Kind == FeedbackAccessibility {
		d := now.AddDate(0, 0, AccessibilityAnswerDays)
		f.Deadline = &d
	}
	if _, err := s.db.Collection(feedbackCollection).InsertOne(ctx, f); err != nil {
		return nil, []error{err}
	}
	return &f, nil
}

// Inbox lists feedback for administrators: open accessibility feedback by
// deadline first, then other open feedback, newest first, then answered.
func (s *FeedbackStore) Inbox(ctx context.Context) ([]Feedback, error) {
	cur, err := s.db.Collection(feedbackCollection).Find(ctx, bson.D{}, options.Find().SetLimit(1000))
	if err != nil {
		return nil, err
	}
	var list []Feedback
	if err := cur.All(ctx, &list); err != nil {
		return nil, err
	}
	rank := func(f Feedback) int {
		switch {
		case f.Status != StatusAnswered && f.Deadline != nil:
			return 0
		case f.Status != StatusAnswered:
			return 1
		}
		return 2
	}
	sortFeedback(list, func(a, b Feedback) bool {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if rank(a) == 0 {
			return a.Deadline.Before(*b.Deadline)
		}
		return a.CreatedAt.After(b.CreatedAt)
	})
	return list, nil
}

func sortFeedback(list []Feedback, less func(a, b Feedback) bool) {
	sort.SliceStable(list, func(i, j int) bool { return less(list[i], list[j]) })
}

// Update sets the status and answer of a message.
func (s *FeedbackStore) Update(ctx context.Context, id, status, answer, by string) error {
	switch status {
	case StatusNew, StatusInProgress, StatusAnswered:
	default:
		return ErrFeedbackStatus
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
		return mongo.ErrNoDocuments
	}
	return nil
}

// Get returns one message.
func (s *FeedbackStore) Get(ctx context.Context, id string) (*Feedback, error) {
	var f Feedback
	if err := s.db.Collection(feedbackCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&f); err != nil {
		return nil, err
	}
	return &f, nil
}

// ByUser is everything a user has sent (for their data export).
func (s *FeedbackStore) ByUser(ctx context.Context, userID string) ([]Feedback, error) {
	cur, err := s.db.Collection(feedbackCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		return nil, err
	}
	out := []Feedback{}
	return out, cur.All(ctx, &out)
}

// ForgetUser detaches a deleted user's feedback from them: the message
// stays for the record, the link to the person and their contact go.
func (s *FeedbackStore) ForgetUser(ctx context.Context, userID string) error {
	_, err := s.db.Collection(feedbackCollection).UpdateMany(ctx, bson.D{{Key: "user_id", Value: userID}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "user_id", Value: ""}, {Key: "contact", Value: ""}}}})
	return err
}

func newFeedbackID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
