package study

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/course"
)

// Merge rules of offline items (see sync.go).

func syncKey(s string) string { return "key-" + s + "-0123456789" }

const device = "device-aaaaaaaa"

// A delivery repeated (a retry after a lost answer, two tabs, the same
// key twice in one delivery, 20 at once) adds its time once.
func TestSyncDuplicatesCountOnce(t *testing.T) {
	ctx := context.Background()
	p := NewProgress(env.Database())
	sec := fixtureCourse(t).Modules[1].Sections[0] // completion: view
	user := "sync-dup"
	items := []SyncItem{
		{Key: syncKey("a"), Seq: 1, Type: SyncProgress, Section: sec, Event: Event{Kind: "heartbeat", Seconds: 30, Scroll: 0.5}},
		{Key: syncKey("b"), Seq: 2, Type: SyncProgress, Section: sec, Event: Event{Kind: "heartbeat", Seconds: 20}},
		{Key: syncKey("b"), Seq: 2, Type: SyncProgress, Section: sec, Event: Event{Kind: "heartbeat", Seconds: 20}},
	}
	res, err := p.Sync(ctx, user, device, items)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Status != SyncAccepted || res[1].Status != SyncAccepted {
		t.Fatalf("first delivery: %+v", res)
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.Sync(ctx, user, device, items)
			if err != nil {
				t.Error(err)
				return
			}
			for _, r := range res {
				if r.Status != SyncDuplicate {
					t.Errorf("a repeated delivery: %+v", r)
				}
			}
		}()
	}
	wg.Wait()
	all, err := p.ForUser(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if got := all[sec.Module.Slug+"/"+sec.Slug]; got == nil || got.Seconds != 50 || got.Scroll != 0.5 {
		t.Fatalf("record after 21 deliveries: %+v, want 50 s", got)
	}
	// Twenty concurrent first deliveries of one new key: one adds.
	fresh := []SyncItem{{Key: syncKey("c"), Seq: 3, Type: SyncProgress, Section: sec, Event: Event{Kind: "heartbeat", Seconds: 10}}}
	accepted := make(chan string, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.Sync(ctx, user, device, fresh)
			if err != nil {
				t.Error(err)
				return
			}
			accepted <- res[0].Status
		}()
	}
	wg.Wait()
	close(accepted)
	n := 0
	for s := range accepted {
		if s == SyncAccepted {
			n++
		}
	}
	all, _ = p.ForUser(ctx, user)
	if got := all[sec.Module.Slug+"/"+sec.Slug]; n != 1 || got.Seconds != 60 {
		t.Fatalf("20 concurrent deliveries of a new key: %d accepted, %d s, want 1 and 60 s", n, got.Seconds)
	}
}

// A receipt claimed by a server that stopped before applying is applied
// by the next delivery, without its time.
func TestSyncClaimedReceiptIsAppliedWithoutTime(t *testing.T) {
	ctx := context.Background()
	p := NewProgress(env.Database())
	sec := fixtureCourse(t).Modules[1].Sections[0]
	user := "sync-claimed"
	if _, err := p.db.Collection(receiptsCollection).InsertOne(ctx, receipt{ID: user + "|" + syncKey("x"), UserID: user, Device: device, Seq: 1,
		Type: SyncProgress, State: "claimed", Received: time.Now()}); err != nil {
		t.Fatal(err)
	}
	res, err := p.Sync(ctx, user, device, []SyncItem{{Key: syncKey("x"), Seq: 1, Type: SyncProgress, Section: sec, Event: Event{Kind: "heartbeat", Seconds: 30, Scroll: 1}},
		{Key: syncKey("y"), Seq: 2, Type: SyncProgress, Section: sec, Event: Event{Kind: "completed"}}})
	if err != nil {
		t.Fatal(err)
	}
	all, _ := p.ForUser(ctx, user)
	got := all[sec.Module.Slug+"/"+sec.Slug]
	if res[0].Status != SyncDuplicate || res[1].Status != SyncAccepted || got.Seconds != 0 || got.Scroll != 1 || !got.Done() {
		t.Fatalf("results %+v, record %+v", res, got)
	}
}

// Completed stays completed: events after completion (opened, heartbeat,
// a rejected completion of a task page) never undo it; a refused item is
// rejected with its code and not applied again.
func TestSyncCompletedStaysCompleted(t *testing.T) {
	ctx := context.Background()
	p := NewProgress(env.Database())
	c := fixtureCourse(t)
	view, task := c.Modules[1].Sections[0], c.Modules[0].Sections[1]
	user := "sync-completed"
	res, err := p.Sync(ctx, user, device, []SyncItem{
		{Key: syncKey("3"), Seq: 3, Type: SyncProgress, Section: view, Event: Event{Kind: "opened"}},
		{Key: syncKey("1"), Seq: 1, Type: SyncProgress, Section: view, Event: Event{Kind: "completed"}},
		{Key: syncKey("2"), Seq: 2, Type: SyncProgress, Section: view, Event: Event{Kind: "heartbeat", Seconds: 5, Scroll: 0.2}},
		{Key: syncKey("4"), Seq: 4, Type: SyncProgress, Section: task, Event: Event{Kind: "completed"}},
		{Key: "short", Seq: 5, Type: SyncProgress, Section: view, Event: Event{Kind: "opened"}},
		{Key: syncKey("6"), Seq: 6, Type: "bogus", Section: view},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{SyncAccepted, SyncAccepted, SyncAccepted, SyncRejected, SyncRejected, SyncRejected}
	for i, r := range res {
		if r.Status != want[i] {
			t.Errorf("item %d: %+v, want %s", i, r, want[i])
		}
	}
	if res[3].Code != "progress_rule_not_met" || res[4].Code != "sync_bad_key" || res[5].Code != "sync_bad_type" {
		t.Errorf("codes: %+v", res)
	}
	all, _ := p.ForUser(ctx, user)
	if got := all[view.Module.Slug+"/"+view.Slug]; got == nil || !got.Done() || got.Seconds != 5 {
		t.Fatalf("view page: %+v", got)
	}
	if got := all[task.Module.Slug+"/"+task.Slug]; got != nil && got.Done() {
		t.Fatalf("task page completed by an event: %+v", got)
	}
	if res, _ := p.Sync(ctx, user, device, []SyncItem{{Key: syncKey("4"), Seq: 4, Type: SyncProgress, Section: task, Event: Event{Kind: "completed"}}}); res[0].Status != SyncDuplicate {
		t.Errorf("a rejected key again: %+v", res)
	}
}

// Answers: the device's later answer wins whatever order the deliveries
// come in (an earlier sequence number arriving late is superseded); an
// answer changed on the server since the device saw it is not written
// over (conflict with the server's copy, again on a repeat), and the
// learner's choice, sent with the server copy's time, is applied.
func TestSyncAnswersOrderAndConflicts(t *testing.T) {
	ctx := context.Background()
	p := NewProgress(env.Database())
	sec := fixtureCourse(t).Modules[0].Sections[1] // completion: task
	taskID := sec.Body.Tasks[0].ID
	user := "sync-answers"
	ans := func(key string, seq int64, text string, base *time.Time) SyncItem {
		return SyncItem{Key: syncKey(key), Seq: seq, Type: SyncAnswer, Section: sec, TaskID: taskID, Text: text, Base: base}
	}
	// Out of order across deliveries: seq 2 first, then seq 1.
	if res, err := p.Sync(ctx, user, device, []SyncItem{ans("a2", 2, "toinen versio", nil)}); err != nil || res[0].Status != SyncAccepted {
		t.Fatalf("seq 2: %+v %v", res, err)
	}
	if res, err := p.Sync(ctx, user, device, []SyncItem{ans("a1", 1, "ensimmäinen versio", nil)}); err != nil || res[0].Status != SyncSuperseded {
		t.Fatalf("seq 1 after seq 2: %+v %v", res, err)
	}
	// Out of order within a delivery: sorted by seq, so 3 then 4; the
	// server copy 4 finds is the device's own 3, no conflict.
	base := answerTime(t, p, user, sec, taskID)
	if res, err := p.Sync(ctx, user, device, []SyncItem{ans("a4", 4, "neljäs", &base), ans("a3", 3, "kolmas", &base)}); err != nil ||
		res[0].Status != SyncAccepted || res[1].Status != SyncAccepted {
		t.Fatalf("seqs 4, 3 in one delivery: %+v %v", res, err)
	}
	if got := answerText(t, p, user, sec, taskID); got != "neljäs" {
		t.Fatalf("answer after seqs 4, 3 in one delivery = %q, want neljäs", got)
	}
	all, _ := p.ForUser(ctx, user)
	if got := all[sec.Module.Slug+"/"+sec.Slug]; got == nil || !got.Done() {
		t.Fatalf("the task page is not completed by the answer: %+v", got)
	}

	// Meanwhile another device (or the form online) changes it.
	seen := answerTime(t, p, user, sec, taskID)
	time.Sleep(5 * time.Millisecond)
	if _, err := p.SaveAnswer(ctx, user, sec, taskID, "verkossa kirjoitettu"); err != nil {
		t.Fatal(err)
	}
	res, err := p.Sync(ctx, user, device, []SyncItem{ans("c1", 5, "junassa kirjoitettu", &seen)})
	if err != nil || res[0].Status != SyncConflict || res[0].Server == nil || res[0].Server.Text != "verkossa kirjoitettu" {
		t.Fatalf("conflict: %+v %v", res, err)
	}
	if got := answerText(t, p, user, sec, taskID); got != "verkossa kirjoitettu" {
		t.Fatalf("the server's answer was written over: %q", got)
	}
	if res, _ := p.Sync(ctx, user, device, []SyncItem{ans("c1", 5, "junassa kirjoitettu", &seen)}); res[0].Status != SyncConflict || res[0].Server.Text != "verkossa kirjoitettu" {
		t.Fatalf("the conflict repeated: %+v", res)
	}
	// The learner keeps the offline text: sent with the server copy's time.
	server := res[0].Server.UpdatedAt
	if res, err := p.Sync(ctx, user, device, []SyncItem{ans("c2", 6, "junassa kirjoitettu", &server)}); err != nil || res[0].Status != SyncAccepted {
		t.Fatalf("the choice: %+v %v", res, err)
	}
	if got := answerText(t, p, user, sec, taskID); got != "junassa kirjoitettu" {
		t.Fatalf("after the choice: %q", got)
	}
	// The same text is no conflict, whatever the base.
	if res, _ := p.Sync(ctx, user, "device-bbbbbbbb", []SyncItem{ans("d1", 1, "junassa kirjoitettu", nil)}); res[0].Status != SyncAccepted {
		t.Fatalf("same text from another device: %+v", res)
	}
	// Another learner's key is their own: the same key is new for them.
	if res, _ := p.Sync(ctx, "sync-other", device, []SyncItem{ans("c2", 6, "oma", nil)}); res[0].Status != SyncAccepted {
		t.Fatalf("another learner with the same key: %+v", res)
	}
	if got := answerText(t, p, user, sec, taskID); got != "junassa kirjoitettu" {
		t.Fatalf("another learner's sync changed this one's answer: %q", got)
	}
}

func ptr[T any](v T) *T { return &v }

func answerText(t *testing.T, p *Progress, user string, sec *course.Section, taskID string) string {
	t.Helper()
	a, err := p.currentAnswer(context.Background(), user, course.TaskKey(sec, taskID))
	if err != nil || a == nil {
		t.Fatalf("no answer: %v", err)
	}
	return a.Text
}

func answerTime(t *testing.T, p *Progress, user string, sec *course.Section, taskID string) time.Time {
	t.Helper()
	a, err := p.currentAnswer(context.Background(), user, course.TaskKey(sec, taskID))
	if err != nil || a == nil {
		t.Fatalf("no answer: %v", err)
	}
	return a.UpdatedAt
}

// A device's latest accepted answer per task is its head, read by _id:
// no receipt keeps the text; receipts older than their keep are purged
// (an item delivered again after that is taken as new, and an answer
// delivered again is the same text, no change); the heads go with the
// learner.
func TestSyncHeadsAndReceiptsPurged(t *testing.T) {
	ctx := context.Background()
	db := env.Database()
	p := NewProgress(db)
	sec := fixtureCourse(t).Modules[0].Sections[1]
	taskID := sec.Body.Tasks[0].ID
	user := "sync-heads"
	item := SyncItem{Key: syncKey("h1"), Seq: 7, Type: SyncAnswer, Section: sec, TaskID: taskID, Text: "laitteen vastaus"}
	if res, err := p.Sync(ctx, user, device, []SyncItem{item}); err != nil || res[0].Status != SyncAccepted {
		t.Fatalf("%+v %v", res, err)
	}
	h, err := p.deviceHead(ctx, user, device, course.TaskKey(sec, taskID))
	if err != nil || h == nil || h.Seq != 7 || h.Text != "laitteen vastaus" || h.UserID != user {
		t.Fatalf("head %+v %v", h, err)
	}
	var rc bson.M
	if err := db.Collection(receiptsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: user + "|" + item.Key}}).Decode(&rc); err != nil {
		t.Fatal(err)
	}
	if _, ok := rc["text"]; ok {
		t.Fatal("the receipt keeps the answer's text")
	}
	// An earlier answer of the device does not move the head back.
	if err := p.advanceHead(ctx, user, device, course.TaskKey(sec, taskID), SyncItem{Seq: 3, Text: "vanha"}); err != nil {
		t.Fatal(err)
	}
	if h, _ := p.deviceHead(ctx, user, device, course.TaskKey(sec, taskID)); h.Seq != 7 {
		t.Fatalf("the head went back to %d", h.Seq)
	}
	if n, err := p.PurgeReceipts(ctx, time.Now().Add(-ReceiptsKept)); err != nil || n != 0 {
		t.Fatalf("purged %d %v within the keep", n, err)
	}
	if n, err := p.PurgeReceipts(ctx, time.Now().Add(time.Minute)); err != nil || n < 1 {
		t.Fatalf("purged %d %v after the keep", n, err)
	}
	if res, _ := p.Sync(ctx, user, device, []SyncItem{item}); res[0].Status != SyncAccepted || answerText(t, p, user, sec, taskID) != "laitteen vastaus" {
		t.Fatalf("the same item after its receipt was purged: %+v", res)
	}
	if err := p.DeleteUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.Collection(headsCollection).CountDocuments(ctx, bson.D{{Key: "user_id", Value: user}}); n != 0 {
		t.Fatal("the heads outlived the learner")
	}
}
