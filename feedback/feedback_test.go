package feedback_test

import (
	"errors"
	"testing"

	"github.com/tyokyky/tyokyky/feedback"
	"github.com/tyokyky/tyokyky/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.StartDatabase) }

// A message is validated, kept, answered and detached from a deleted
// sender; an unknown id is feedback.ErrNotFound, never a driver error.
func TestSendAnswerForget(t *testing.T) {
	ctx := t.Context()
	db := env.Database()
	if err := feedback.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := feedback.NewStore(db)
	if _, errs := s.Send(ctx, feedback.Item{Kind: "other", Message: "x", Contact: "<a>"}); len(errs) != 3 ||
		!errors.Is(errs[0], feedback.ErrKind) || !errors.Is(errs[1], feedback.ErrMessage) || !errors.Is(errs[2], feedback.ErrContact) {
		t.Fatalf("bad message: %v", errs)
	}
	f, errs := s.Send(ctx, feedback.Item{Kind: feedback.Accessibility, Message: "Kuvalta puuttuu tekstivastine.", Contact: "a@example.fi", UserID: "u1", Page: "//evil"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if f.Deadline == nil || f.Page != "" || f.Status != feedback.StatusNew {
		t.Fatalf("stored: %+v", f)
	}
	if err := s.Update(ctx, f.ID, "closed", "", "admin"); !errors.Is(err, feedback.ErrStatus) {
		t.Fatalf("bad status: %v", err)
	}
	if err := s.Update(ctx, "no-such", feedback.StatusAnswered, "Kiitos", "admin"); !errors.Is(err, feedback.ErrNotFound) {
		t.Fatalf("update of an unknown id: %v", err)
	}
	if _, err := s.Get(ctx, "no-such"); !errors.Is(err, feedback.ErrNotFound) {
		t.Fatalf("get of an unknown id: %v", err)
	}
	if err := s.Update(ctx, f.ID, feedback.StatusAnswered, "Korjattu.", "admin@example.fi"); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, f.ID)
	if err != nil || got.Status != feedback.StatusAnswered || got.AnsweredAt == nil || got.UserID != "" || got.Contact != "" {
		t.Fatalf("after answer and forget: %+v %v", got, err)
	}
	if mine, err := s.ByUser(ctx, "u1"); err != nil || len(mine) != 0 {
		t.Fatalf("by user after forget: %v %v", mine, err)
	}
}
