package database

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
