package cache

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTTL(t *testing.T) {
	c := New[int](time.Second, 3)
	now := time.Now()
	c.Now = func() time.Time { return now }
	c.Put("a", "u1", 1)
	c.Put("b", "u1", 2)
	c.Put("c", "u2", 3)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatal("a missing")
	}
	c.Put("d", "", 4) // full: not stored
	if _, ok := c.Get("d"); ok {
		t.Fatal("stored past max")
	}
	c.DeleteGroup("u1")
	if _, ok := c.Get("a"); ok {
		t.Fatal("group not dropped")
	}
	if _, ok := c.Get("c"); !ok {
		t.Fatal("other group dropped")
	}
	now = now.Add(2 * time.Second)
	if _, ok := c.Get("c"); ok {
		t.Fatal("expired entry served")
	}
	c.Put("e", "", 5) // sweeps the expired
	if v, ok := c.Get("e"); !ok || v != 5 {
		t.Fatal("e missing")
	}
	c.Delete("e")
	if _, ok := c.Get("e"); ok {
		t.Fatal("deleted entry served")
	}
}

func TestGetOrLoadSharesOneLoad(t *testing.T) {
	c := New[int](time.Minute, 10)
	var loads atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.GetOrLoad("k", func() (int, string, error) {
				loads.Add(1)
				<-release
				return 42, "", nil
			})
			if err != nil || v != 42 {
				t.Errorf("got %d %v", v, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads for 20 concurrent misses", n)
	}
	if _, err := c.GetOrLoad("bad", func() (int, string, error) { return 0, "", errors.New("x") }); err == nil {
		t.Fatal("error lost")
	}
	if _, ok := c.Get("bad"); ok {
		t.Fatal("failed load cached")
	}
}

func TestALoadOvertakenByADeleteIsNotStored(t *testing.T) {
	c := New[int](time.Minute, 10)
	v, _ := c.GetOrLoad("k", func() (int, string, error) {
		c.Delete("k") // a write lands while the old value is being read
		return 1, "", nil
	})
	if v != 1 {
		t.Fatal("the caller still gets what was loaded")
	}
	if _, ok := c.Get("k"); ok {
		t.Fatal("a value read before a write was cached after it")
	}
}

func TestRefreshAhead(t *testing.T) {
	c := New[int](10*time.Second, 10)
	now := time.Now()
	c.Now = func() time.Time { return now }
	c.Put("k", "", 1)
	now = now.Add(9 * time.Second) // in the refresh window
	loads := 0
	v, _ := c.GetOrLoad("k", func() (int, string, error) { loads++; return 2, "", nil })
	if v != 2 || loads != 1 {
		t.Fatalf("refresh: %d after %d loads", v, loads)
	}
	v, _ = c.GetOrLoad("k", func() (int, string, error) { loads++; return 3, "", nil })
	if v != 2 || loads != 1 {
		t.Fatalf("a fresh entry was reloaded: %d, %d loads", v, loads)
	}
	now = now.Add(9 * time.Second)
	v, err := c.GetOrLoad("k", func() (int, string, error) { return 0, "", errors.New("db down") })
	if err != nil || v != 2 {
		t.Fatalf("a failed refresh of a live entry: %d %v", v, err)
	}
}

// A caller arriving after a Delete does not share a load that began
// before it (which may have read before the write): it loads again and
// gets what the write left, while the earlier caller gets its own load.
func TestACallerAfterADeleteDoesNotShareAnOlderLoad(t *testing.T) {
	c := New[string](time.Minute, 10)
	started, release := make(chan struct{}), make(chan struct{})
	old := make(chan string, 1)
	go func() {
		v, _ := c.GetOrLoad("k", func() (string, string, error) {
			close(started)
			<-release
			return "before the write", "", nil
		})
		old <- v
	}()
	<-started
	c.Delete("k") // the write
	got := make(chan string, 1)
	go func() {
		v, _ := c.GetOrLoad("k", func() (string, string, error) { return "after the write", "", nil })
		got <- v
	}()
	select {
	case v := <-got:
		if v != "after the write" {
			t.Fatalf("a caller after the Delete got %q", v)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatalf("a caller after the Delete waits on the load that began before it: got %q", <-got)
	}
	close(release)
	if v := <-old; v != "before the write" {
		t.Fatalf("the earlier caller got %q", v)
	}
	if v, ok := c.Get("k"); !ok || v != "after the write" {
		t.Fatalf("cached %q %v: the older load replaced the newer", v, ok)
	}
}
