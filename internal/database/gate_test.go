package database

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// queued waits until the gate has n foreground and m background writers
// waiting.
func queued(t *testing.T, g *Gate, n, m int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		g.mu.Lock()
		fg, bg := len(g.fg), len(g.bg)
		g.mu.Unlock()
		if fg == n && bg == m {
			return
		}
	}
	t.Fatalf("the gate's lines never held %d and %d writers", n, m)
}

// A request's write goes before background writes that came earlier;
// within a line, writers go in the order they came.
func TestGateLetsRequestsGoFirst(t *testing.T) {
	g := &Gate{}
	bg := Background(context.Background())
	release := g.Hold(context.Background())
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	start := func(name string, ctx context.Context, fg, bgn int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := g.Hold(ctx)
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			r()
		}()
		queued(t, g, fg, bgn)
	}
	start("background 1", bg, 0, 1)
	start("background 2", bg, 0, 2)
	start("request 1", context.Background(), 1, 2)
	start("request 2", context.Background(), 2, 2)
	release()
	wg.Wait()
	want := []string{"request 1", "request 2", "background 1", "background 2"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
	// Free again: the next writer takes it at once.
	g.Hold(bg)()
}

// A background write that has waited BackgroundWait goes next, however
// many requests' writes wait.
func TestGateBackgroundDoesNotStarve(t *testing.T) {
	var now atomic.Int64
	g := &Gate{now: func() time.Time { return time.Unix(0, now.Load()) }}
	release := g.Hold(context.Background())
	got := make(chan string, 3)
	go func() { r := g.Hold(Background(context.Background())); got <- "background"; r() }()
	queued(t, g, 0, 1)
	for range 2 {
		go func() { r := g.Hold(context.Background()); got <- "request"; r() }()
	}
	queued(t, g, 2, 1)
	now.Add(int64(BackgroundWait))
	release()
	if first := <-got; first != "background" {
		t.Fatalf("after BackgroundWait, %s went first", first)
	}
	<-got
	<-got
}

// Many writers of both kinds: each holds the gate alone, and all get it.
func TestGateOneHolderAtATime(t *testing.T) {
	g := &Gate{}
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for i := range 200 {
		ctx := context.Background()
		if i%3 == 0 {
			ctx = Background(ctx)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := g.Hold(ctx)
			n := inside.Add(1)
			if n > most.Load() {
				most.Store(n)
			}
			time.Sleep(50 * time.Microsecond)
			inside.Add(-1)
			r()
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d writers held the gate at once", most.Load())
	}
	var nilGate *Gate
	nilGate.Hold(context.Background())()
}

// Every write through the gate is reported with its collection, how long
// it waited and how long it held the gate; reads are not.
func TestGatedWritesAreTimed(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[string]int{}
	db, err := Open(ctx, Options{Dir: filepath.Join(t.TempDir(), "db"), Database: "tk",
		OnGatedWrite: func(coll string, waited, held time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			seen[coll]++
			if waited < 0 || held <= 0 {
				t.Errorf("%s: waited %s, held %s", coll, waited, held)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if _, err := db.Collection("c").InsertOne(ctx, bson.M{"_id": "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("c").UpdateByID(ctx, "a", bson.M{"$set": bson.M{"v": 1}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Collection("c").FindOne(ctx, bson.M{"_id": "a"}).Err(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["c"] != 2 {
		t.Errorf("writes reported for c: %d, want 2 (the insert and the update; not the read)", seen["c"])
	}
}
