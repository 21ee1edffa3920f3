package account

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// keyOf reads an address's key ("" when there is none).
func keyOf(t *testing.T, s *Store, email string) string {
	t.Helper()
	var k emailKey
	err := s.db.Collection(emailKeysCollection).FindOne(context.Background(), bson.D{{Key: "_id", Value: email}}).Decode(&k)
	if err != nil {
		return ""
	}
	return k.UserID
}

// An account is found by its address through the address's key, which
// follows the account: made at registration, moved by a verified change
// of address, removed with the account. Without its key an address finds
// nothing (no lookup reads the accounts by address).
func TestAddressKeysFindAccounts(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	u, errs := s.Register(ctx, reg("avain@example.fi"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if keyOf(t, s, "avain@example.fi") != u.ID {
		t.Fatal("registering wrote no key")
	}
	// A second registration of the address is refused and leaves the key.
	if _, errs := s.Register(ctx, reg("Avain@example.fi")); len(errs) != 1 || !errors.Is(errs[0], ErrEmailTaken) {
		t.Fatalf("a taken address: %v", errs)
	}
	if keyOf(t, s, "avain@example.fi") != u.ID {
		t.Fatal("a refused registration moved the owner's key")
	}

	// A verified change of address moves the key.
	if _, err := s.RequestEmailChange(ctx, u, "uusi.avain@example.fi"); err != nil {
		t.Fatal(err)
	}
	u, _ = s.User(ctx, u.ID)
	token, _, err := s.IssueVerification(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, old, err := s.Verify(ctx, token); err != nil || old != "avain@example.fi" {
		t.Fatalf("verify = %q, %v", old, err)
	}
	if keyOf(t, s, "avain@example.fi") != "" || keyOf(t, s, "uusi.avain@example.fi") != u.ID {
		t.Fatal("the key did not follow the change of address")
	}
	if _, err := s.UserByEmail(ctx, "avain@example.fi"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the old address = %v", err)
	}
	if got, err := s.UserByEmail(ctx, "uusi.avain@example.fi"); err != nil || got.ID != u.ID {
		t.Fatalf("the new address = %v", err)
	}
	// The old address is free for someone else.
	other, errs := s.Register(ctx, reg("avain@example.fi"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got, err := s.UserByEmail(ctx, "avain@example.fi"); err != nil || got.ID != other.ID {
		t.Fatalf("the freed address = %v", err)
	}

	// No key, nothing found: lookups read keys, not accounts.
	if _, err := s.db.Collection(emailKeysCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: "avain@example.fi"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByEmail(ctx, "avain@example.fi"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an address without its key = %v", err)
	}
	if err := s.setEmailKey(ctx, "avain@example.fi", other.ID); err != nil {
		t.Fatal(err)
	}

	// A key to nobody (a write cut short) is mended when read.
	if err := s.setEmailKey(ctx, "avain@example.fi", "nobody"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserByEmail(ctx, "avain@example.fi"); err != nil || got.ID != other.ID {
		t.Fatalf("behind a stale key = %v", err)
	}
	if keyOf(t, s, "avain@example.fi") != other.ID {
		t.Fatal("the stale key was not mended")
	}

	// Removing the account removes its key.
	if err := s.Delete(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if keyOf(t, s, "avain@example.fi") != "" {
		t.Fatal("the removed account's key is left")
	}
	if _, err := s.UserByEmail(ctx, "avain@example.fi"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a removed account's address = %v", err)
	}

	// A stale key of an address nobody has goes when read.
	if err := s.setEmailKey(ctx, "kukaan@example.fi", "nobody"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByEmail(ctx, "kukaan@example.fi"); !errors.Is(err, ErrNotFound) || keyOf(t, s, "kukaan@example.fi") != "" {
		t.Fatalf("a stale key to nobody = %v, key %q", err, keyOf(t, s, "kukaan@example.fi"))
	}

	// A removal cut short after the account went: done again, it removes
	// the key left behind.
	third, errs := s.Register(ctx, reg("kesken@example.fi"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, err := s.db.Collection(usersCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: third.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, third.ID); err != nil || keyOf(t, s, "kesken@example.fi") != "" {
		t.Fatalf("removing again = %v, key %q", err, keyOf(t, s, "kesken@example.fi"))
	}
}

// Registrations of one new address at once: one account, and its key
// names it.
func TestRacingRegistrationsLeaveTheWinnersKey(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	others := []*Store{s, NewStore(s.db), NewStore(s.db)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []*User
	for i := range 9 {
		wg.Go(func() {
			u, errs := others[i%len(others)].Register(ctx, reg("kilpa@example.fi"))
			if len(errs) == 0 {
				mu.Lock()
				won = append(won, u)
				mu.Unlock()
			} else if !errors.Is(errs[0], ErrEmailTaken) {
				t.Error(errs)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d registrations won", len(won))
	}
	if got, err := s.UserByEmail(ctx, "kilpa@example.fi"); err != nil || got.ID != won[0].ID {
		t.Fatalf("the address finds %v, %v; want the winner", got, err)
	}
	if keyOf(t, s, "kilpa@example.fi") != won[0].ID {
		t.Fatal("the key does not name the winner")
	}
}
