package database

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// twoConnections opens the embedded store and a second connection to it
// that attaches like another instance would: no shared write gate, no
// shared process state; only the store between them.
func twoConnections(t *testing.T) (*DB, *DB) {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "db")
	a, err := Open(ctx, Options{Dir: dir, Database: "tk"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, Options{Dir: dir, Database: "tk", Attach: true})
	if err != nil {
		a.Close(ctx)
		t.Fatal(err)
	}
	if !b.Attached || b.gate != nil {
		t.Fatal("the second connection is not a separate instance's")
	}
	t.Cleanup(func() {
		b.Close(context.Background())
		a.Close(context.Background())
	})
	return a, b
}

// Many holders on two connections race for one lease, round after round
// (each round after the last winner's claim ran out): exactly one wins
// each generation, and it is the one the highest claim names.
func TestLeaseOneWinnerPerGeneration(t *testing.T) {
	ctx := context.Background()
	a, b := twoConnections(t)
	const perConn, rounds = 12, 4
	const d = 700 * time.Millisecond
	for round := 1; round <= rounds; round++ {
		var mu sync.Mutex
		var winners []string
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 2 * perConn {
			db := a
			if i%2 == 1 {
				db = b
			}
			holder := fmt.Sprintf("r%d-h%02d", round, i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, err := db.Lease(ctx, "sweep", holder, d)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					winners = append(winners, holder)
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners %v, want exactly one", round, len(winners), winners)
		}
		top, err := b.topClaim(ctx, "sweep")
		if err != nil || top == nil || top.Holder != winners[0] || top.Gen != int64(round) {
			t.Fatalf("round %d: highest claim %+v (%v), want generation %d held by %s", round, top, err, round, winners[0])
		}
		if holder, _, err := a.LeaseHolder(ctx, "sweep"); err != nil || holder != winners[0] {
			t.Fatalf("round %d: LeaseHolder = %q, %v", round, holder, err)
		}
		// The generations below are cleaned up.
		if n, err := a.Collection(leasesCollection).CountDocuments(ctx, bson.D{{Key: "name", Value: "sweep"}}); err != nil || n != 1 {
			t.Fatalf("round %d: %d claims kept (%v), want 1", round, n, err)
		}
		time.Sleep(d + 100*time.Millisecond)
	}
}

// While a lease is held nobody else gets it; its holder renews it (Lease
// again or Renew), others cannot renew it, and a release frees it at once.
func TestLeaseHoldRenewRelease(t *testing.T) {
	ctx := context.Background()
	a, b := twoConnections(t)
	take := func(db *DB, holder string) bool {
		t.Helper()
		ok, err := db.Lease(ctx, "job", holder, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !take(a, "x") {
		t.Fatal("a free lease was not taken")
	}
	if take(b, "y") {
		t.Fatal("a held lease was taken by another holder")
	}
	if !take(b, "x") {
		t.Fatal("the holder could not take its own lease again (renewal)")
	}
	if ok, err := a.Renew(ctx, "job", "y", time.Minute); err != nil || ok {
		t.Fatalf("Renew by a non-holder = %v, %v", ok, err)
	}
	if ok, err := a.Renew(ctx, "job", "x", time.Minute); err != nil || !ok {
		t.Fatalf("Renew by the holder = %v, %v", ok, err)
	}
	if err := b.Release(ctx, "job", "y"); err != nil {
		t.Fatal(err)
	}
	if take(b, "y") {
		t.Fatal("a release by a non-holder freed the lease")
	}
	if err := b.Release(ctx, "job", "x"); err != nil {
		t.Fatal(err)
	}
	if h, _, err := a.LeaseHolder(ctx, "job"); err != nil || h != "" {
		t.Fatalf("after the release the holder is %q (%v)", h, err)
	}
	if ok, err := a.Renew(ctx, "job", "x", time.Minute); err != nil || ok {
		t.Fatalf("Renew after the release = %v, %v", ok, err)
	}
	if !take(a, "y") {
		t.Fatal("a released lease was not free")
	}
	if ok, err := a.Lease(ctx, "job", "", time.Minute); err == nil || ok {
		t.Fatal("a lease without a holder was accepted")
	}
}

// A claim inserted from a stale view, reusing a generation that was
// cleaned up, does not win over the higher generation.
func TestLeaseStaleGenerationLoses(t *testing.T) {
	ctx := context.Background()
	a, _ := twoConnections(t)
	for i := range 3 {
		if ok, err := a.Lease(ctx, "job", fmt.Sprintf("h%d", i), time.Millisecond); err != nil || !ok {
			t.Fatalf("take %d: %v %v", i, ok, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ok, err := a.Lease(ctx, "job", "current", time.Minute); err != nil || !ok {
		t.Fatalf("take: %v %v", ok, err)
	}
	// Generations 1–3 are gone; a slow instance that read generation 1
	// as the highest inserts generation 2 again.
	won, err := a.claimGen(ctx, "job", "slow", 2, time.Now().UTC(), time.Minute)
	if err != nil || won {
		t.Fatalf("stale generation won = %v, %v", won, err)
	}
	if h, _, _ := a.LeaseHolder(ctx, "job"); h != "current" {
		t.Fatalf("holder = %q, want current", h)
	}
}

// AdoptLease carries a lease taken elsewhere over as the first claim,
// once, and only when the name has no claims.
func TestAdoptLease(t *testing.T) {
	ctx := context.Background()
	a, b := twoConnections(t)
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	for range 2 {
		if err := a.AdoptLease(ctx, "retention", "old-instance", until); err != nil {
			t.Fatal(err)
		}
	}
	h, u, err := b.LeaseHolder(ctx, "retention")
	if err != nil || h != "old-instance" || !u.Equal(until) {
		t.Fatalf("adopted lease: %q until %v (%v)", h, u, err)
	}
	if ok, _ := b.Lease(ctx, "retention", "new", time.Minute); ok {
		t.Fatal("an adopted lease that has not run out was taken")
	}
	if err := a.AdoptLease(ctx, "retention", "other", until.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := b.LeaseHolder(ctx, "retention"); h != "old-instance" {
		t.Fatalf("a second adoption replaced the claim: holder %q", h)
	}
}
