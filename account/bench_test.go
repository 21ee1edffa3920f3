package account

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// BenchmarkSignIn: password check (argon2id, m = 19 MiB, t = 2) and a new
// session, from all cores. Sign-ins per second = 1e9 / ns/op.
func BenchmarkSignIn(b *testing.B) {
	ctx := context.Background()
	s := NewStore(env.Database())
	if err := EnsureIndexes(ctx, s.db); err != nil {
		b.Fatal(err)
	}
	if _, errs := s.Register(ctx, reg("penkki@example.fi")); len(errs) > 0 {
		b.Fatal(errs)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u, err := s.Authenticate(ctx, "penkki@example.fi", "pitkä ja oma lause 42")
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.StartSession(ctx, u, false, "bench", "127.0.0.1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signins/s")
}

// BenchmarkUserByEmail finds one of 20,000 accounts by its address: through
// the address's key (UserByEmail) and, for comparison, with the filter on
// users.email that lookups used before the keys (FerretDB reads every
// account for it).
func BenchmarkUserByEmail(b *testing.B) {
	ctx := context.Background()
	s := NewStore(env.Database())
	if err := EnsureIndexes(ctx, s.db); err != nil {
		b.Fatal(err)
	}
	const n = 20_000
	users, keys := make([]any, 0, 1000), make([]any, 0, 1000)
	for i := range n {
		id, email := fmt.Sprintf("u%06d", i), fmt.Sprintf("oppija%06d@example.fi", i)
		users = append(users, bson.D{{Key: "_id", Value: id}, {Key: "email", Value: email}, {Key: "name", Value: "Oppija"}, {Key: "role", Value: RoleLearner}})
		keys = append(keys, emailKey{Email: email, UserID: id})
		if len(users) == cap(users) {
			if _, err := s.db.Collection(usersCollection).InsertMany(ctx, users); err != nil {
				b.Fatal(err)
			}
			if _, err := s.db.Collection(emailKeysCollection).InsertMany(ctx, keys); err != nil {
				b.Fatal(err)
			}
			users, keys = users[:0], keys[:0]
		}
	}
	// The embedded store gives new collections their lookup index by _id
	// within 5 s, as on a running server.
	time.Sleep(6 * time.Second)
	pick := func(i int) string { return fmt.Sprintf("oppija%06d@example.fi", (i*7919)%n) }
	b.Run("key", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if u, err := s.UserByEmail(ctx, pick(i)); err != nil || u.Email != pick(i) {
				b.Fatal(err)
			}
		}
	})
	b.Run("filter-on-email", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			var u User
			if err := s.db.Collection(usersCollection).FindOne(ctx, bson.D{{Key: "email", Value: pick(i)}}).Decode(&u); err != nil {
				b.Fatal(err)
			}
		}
	})
}
